// Each test file gets its own TMPDIR (vitest `setupFiles`). Files run two at
// a time, and tests that look for what a run left behind (work directories,
// QEMU processes named after their work directory) must see only their own.
// Short, because QEMU's unix sockets go below it and a socket path has at most
// 107 bytes.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll } from "vitest";

const parent = process.env.FRUIX_TEST_TMP_PARENT ?? "/tmp";
const dir = mkdtempSync(join(parent, "ft-"));
// As /tmp is: tests that run fruix as another user (setpriv) need to pass through and make temporaries.
chmodSync(dir, 0o1777);
process.env.TMPDIR = dir;

afterAll(() => rmSync(dir, { recursive: true, force: true }));
