// The native build as one POSIX sh script: the family's build sequence
// (its guest/native-build.sh) followed by the shared driver
// (lib/guest/native-build.sh). `fruix native-build run` sends it over SSH;
// development-enabled closures carry it as fruix-self-hosted-native-build.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { guestDir as sharedGuestDir } from "../paths.js";
import { fruixVersion } from "../version.js";
import type { Family } from "./family.js";

export async function nativeBuildScript(family: Pick<Family, "guestDir" | "nativeBuild">, shebang = "#!/bin/sh"): Promise<string> {
  const sequence = await readFile(join(family.guestDir, family.nativeBuild.script), "utf8");
  const driver = await readFile(join(sharedGuestDir, "native-build.sh"), "utf8");
  return `${shebang}\n: "\${FRUIX_NATIVE_BUILD_EXECUTOR_VERSION:=${fruixVersion}}"\n${sequence}\n${driver}`;
}
