// A base's `(native-build "/frx/store/...")` field: promoted native-build
// artifacts (docs/native-builds.md) standing in for the Debian-built or
// set-built items. The field names a result bundle
// (`...-fruix-native-build-result-...`) or one artifact
// (`...-fruix-native-<kind>-...`); each promoted item records its kind and
// family in native-build.scm, which is checked here.
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { SourceLocation } from "../declaration/types.js";
import { DeclarationError } from "../errors.js";
import type { Store } from "../store/index.js";

type Kind = "world" | "kernel" | "headers" | "bootloader";

function field(record: string, name: string): string | undefined {
  return new RegExp(`^ *\\(${name} "([^"]*)"\\)`, "m").exec(record)?.[1];
}

/**
 * The promoted items of `kinds` the field names, checked: present in the store,
 * made by a build of `family`, holding `required` files. Errors point at the base.
 */
export async function promotedArtifacts(
  store: Store,
  path: string,
  family: string,
  required: Readonly<Partial<Record<Kind, readonly string[]>>>,
  location: SourceLocation,
): Promise<Partial<Record<Kind, string>>> {
  const fail = (why: string) => new DeclarationError(location.file, location.line, location.column, `native-build ${path}: ${why}`);
  const record = async (item: string): Promise<string> => {
    if (!(await store.has(item))) throw fail(`${item === path ? "it" : item} is not in the store (fruix native-build promote puts it there)`);
    const text = await readFile(join(store.toHostPath(item), "native-build.scm"), "utf8").catch(() => undefined);
    if (text === undefined) throw fail(`${item} is not a promoted native-build item (no native-build.scm)`);
    const built = field(text, "family");
    if (built !== family) throw fail(`${item} was built for ${built ?? "an unknown family"}, not ${family}`);
    return text;
  };
  const top = await record(path);
  const found: Partial<Record<Kind, string>> = {};
  const kind = field(top, "kind") as Kind | undefined;
  if (kind !== undefined) found[kind] = path; // one artifact
  else for (const k of Object.keys(required) as Kind[]) {
    const item = new RegExp(`\\(${k} "(/frx/store/[^"]+)"\\)`).exec(top)?.[1];
    if (item !== undefined) found[k] = item;
  }
  for (const [k, files] of Object.entries(required) as [Kind, readonly string[]][]) {
    const item = found[k];
    if (item === undefined) throw fail(`it has no ${k} artifact`);
    if (item !== path) await record(item);
    for (const f of files) {
      await access(join(store.toHostPath(item), f)).catch(() => {
        throw fail(`the ${k} artifact ${item} lacks ${f}`);
      });
    }
  }
  return found;
}
