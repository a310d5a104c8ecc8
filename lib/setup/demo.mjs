#!/usr/bin/env node
// `npm run demo`: the main job on the default example. Until the validation
// engine lands, that is: build examples/minimal.scm and materialize its rootfs.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const rootfs = join(tmpdir(), "fruix-demo-rootfs");
const fruix = (...args) => {
  process.stderr.write(`demo: fruix ${args.join(" ")}\n`);
  const result = spawnSync(process.execPath, [join(root, "dist/lib/cli/main.js"), ...args], { stdio: "inherit", cwd: root });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

// The previous demo's tree is ours to replace (store copies inside it are read-only).
spawnSync("chmod", ["-R", "u+w", rootfs], { stdio: "ignore" });
rmSync(rootfs, { recursive: true, force: true });

fruix("system", "build", "examples/minimal.scm");
fruix("system", "rootfs", "examples/minimal.scm", rootfs);
fruix("store", "verify");
process.stderr.write(`demo: inspect the tree with: FRUIX_ROOT=${rootfs} ${rootfs}/usr/local/bin/fruix system status\n`);
