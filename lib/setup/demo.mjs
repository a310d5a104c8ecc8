#!/usr/bin/env node
// `npm run demo`: the main job on the default example — build
// examples/minimal.scm, boot its disk image in a VM and check it:
// `fruix validate image-boot`, which writes a phase report under reports/.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const args = ["validate", "image-boot", "--declaration", "examples/minimal.scm"];
process.stderr.write(`demo: fruix ${args.join(" ")}\n`);
const result = spawnSync(process.execPath, [join(root, "dist/lib/cli/main.js"), ...args], { stdio: "inherit", cwd: root });
if (result.status === 0) process.stderr.write("demo: the phase report is reports/latest/image-boot/report.md\n");
process.exit(result.status ?? 1);
