// Run by the xcp-ng adapter on Ctrl-C (see XcpngMachine.reapNow): reads
// {url, user, password, vm, vdis, tlsSha256} on stdin, then shuts the VM down and
// destroys it and its VDIs. Best effort, quiet unless something is left.
import { XapiSession } from "./xapi.js";

async function main(): Promise<void> {
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  const job = JSON.parse(input) as { url: string; user: string; password: string; vm: string; vdis: string[]; tlsSha256?: string };
  const xapi = await XapiSession.login(new URL(job.url), job.user, job.password, { tlsSha256: job.tlsSha256 });
  const left: string[] = [];
  try {
    await xapi.call("VM.hard_shutdown", job.vm).catch(() => undefined);
    await xapi.call("VM.destroy", job.vm).catch((e: Error) => left.push(`VM: ${e.message}`));
    for (const vdi of job.vdis) {
      for (let attempt = 0; ; attempt++) {
        try {
          await xapi.call("VDI.destroy", vdi);
          break;
        } catch (error) {
          const code = (error as { code?: string }).code;
          if (code === "HANDLE_INVALID") break;
          if (code !== "VDI_IN_USE" || attempt >= 20) {
            left.push(`VDI: ${(error as Error).message}`);
            break;
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
  } finally {
    await xapi.logout();
  }
  if (left.length) process.stderr.write(`fruix: xcp-ng cleanup left: ${left.join("; ")}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`fruix: xcp-ng cleanup failed: ${error.message}\n`);
  process.exit(1);
});
