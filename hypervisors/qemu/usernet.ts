// QEMU's user-mode network (slirp): host-forward arguments, and reading back
// which host port each forward got (pure). Asking for host port 0 lets the
// kernel pick a free one, so parallel runs never collide.
import type { PortForward } from "../types.js";

/** `-nic` value: a virtio card on slirp, sealed off from the host's networks, with the forwards. */
export function userNetwork(forwardPorts: readonly number[], fixed: readonly PortForward[] = []): string {
  return [
    "user", "model=virtio-net-pci", "restrict=on",
    ...forwardPorts.map((p) => `hostfwd=tcp:127.0.0.1:0-:${p}`),
    ...fixed.map((f) => `hostfwd=tcp:127.0.0.1:${f.host}-:${f.guest}`),
  ].join(",");
}

/**
 * Guest port -> host port, from `info usernet`, whose forward lines read
 * `TCP[HOST_FORWARD]  13  127.0.0.1 41235  10.0.2.15  22  0  0`.
 */
export function hostForwards(infoUsernet: string): Map<number, number> {
  const forwards = new Map<number, number>();
  for (const line of infoUsernet.split("\n")) {
    const m = /^\s*TCP\[HOST_FORWARD\]\s+\d+\s+\S+\s+(\d+)\s+\S+\s+(\d+)\b/.exec(line);
    if (m) forwards.set(Number(m[2]), Number(m[1]));
  }
  return forwards;
}
