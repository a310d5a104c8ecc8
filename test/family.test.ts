// The family switch (pure): one object per base family, chosen from a base or
// a built system; its guest scripts are where the family says; its guest
// profile is what validation reads.
import { access, readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDeclaration, selectSystem } from "../lib/declaration/index.js";
import { FAMILIES, familyOf } from "../lib/family/index.js";
import { requireValidatable, withValidationShell } from "../lib/validate/instrument.js";

const system = (base: string) =>
  selectSystem(parseDeclaration(`(define os (operating-system (host-name "h") (base ${base}) (users '()) (services '())))`, "f.scm"));

describe("the family switch", () => {
  it("gives each base its family, from the declaration's base and from a built system", () => {
    expect(FAMILIES.map((f) => f.name)).toEqual(["linux-busybox", "freebsd"]);
    expect(familyOf(system("(linux-busybox-base)").base).name).toBe("linux-busybox");
    expect(familyOf(system("(freebsd-base)").base).name).toBe("freebsd");
    expect(familyOf({ family: "freebsd" }).name).toBe("freebsd");
  });

  it("gives each family's probe every fact of the runtime contract, the family's own commands in their place", () => {
    const keys = ["current_system", "host_name", "activation_logged", "users", "processes", "current_link", "current_generation", "generation_closure", "generation_files", "gcroot_current", "gcroot_generation", "esp_mounted", "helper_current"];
    for (const family of FAMILIES) {
      const printed = [...family.guest.probeScript.matchAll(/echo "(\w+)=/g)].map((m) => m[1]);
      expect(printed, family.name).toEqual(keys);
    }
    expect(familyOf({ family: "linux-busybox" }).guest.probeScript).toContain(`echo "esp_mounted=$(grep -c ' /boot/efi ' /proc/mounts)"`);
    expect(familyOf({ family: "freebsd" }).guest.probeScript).toContain(`echo "processes=$(ps -ax -o comm= | sort -u | tr '\\n' ' ')"`);
  });

  it("finds every guest script the families read in their own guest/ folder", async () => {
    const expected: Record<string, string[]> = {
      "linux-busybox": ["activate-development.sh", "activate.sh", "boot-init.sh", "initramfs-init.sh", "installer.sh", "native-build.sh", "shutdown.sh"],
      freebsd: ["activate-development.sh", "activate.sh", "installer.sh", "native-build.sh", "rc.d-fruix-installer.sh", "rc.d-fruix.sh"],
    };
    for (const family of FAMILIES) {
      expect(family.guestDir).toMatch(new RegExp(`lib/family/${family.name}/guest$`));
      expect((await readdir(family.guestDir)).sort()).toEqual(expected[family.name]);
      for (const name of expected[family.name]!) await access(join(family.guestDir, name));
    }
  });
});

describe("validation through the family", () => {
  it("puts the validation shell on the family's console", () => {
    const os = withValidationShell(system("(linux-busybox-base)"));
    expect(os.services.at(-1)?.config).toEqual({ tty: "ttyS0" });
    expect(familyOf({ family: "freebsd" }).guest.consoleTty).toBe("ttyu0");
  });

  it("refuses FreeBSD with the family's one line, and runs linux-busybox", () => {
    expect(() => requireValidatable(system("(linux-busybox-base)"))).not.toThrow();
    expect(() => requireValidatable(system("(freebsd-base)"))).toThrow(
      /^validate cannot run FreeBSD systems yet: no FreeBSD guest has been booted on this project's test host \(docs\/freebsd\.md\); build, image and install them with fruix system \.\.\.$/,
    );
  });

  it("knows FreeBSD's failure lines", () => {
    const failed = (line: string) => familyOf({ family: "freebsd" }).guest.failurePatterns.some((p) => p.test(line));
    expect(failed("panic: vm_fault: fault on nofault entry")).toBe(true);
    expect(failed("mountroot> ")).toBe(true);
    expect(failed("fruix-installer: error: /dev/vtbd1 does not exist")).toBe(true);
    expect(failed("Trying to mount root from ufs:/dev/gpt/fruix-root []...")).toBe(false);
  });
});
