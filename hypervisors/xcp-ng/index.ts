// The xcp-ng adapter: XAPI over XML-RPC for VMs, VDIs, VBDs, tasks and power;
// raw disk upload with PUT /import_raw_vdi; the serial console by SSH to the
// resident host (`xl console -t serial <domid>`). Settings: config.ts.
import { FruixError } from "../../lib/errors.js";
import type { Capabilities, DiskBus, Hypervisor, Machine, MachineSpec } from "../types.js";
import { describeConfig, readConfig, type XcpngConfig } from "./config.js";
import { XcpngMachine } from "./machine.js";
import { XapiSession } from "./xapi.js";
import { asArray, asString, asStruct, type XmlRpcValue } from "./xmlrpc.js";

export interface XcpngOptions {
  readonly accel: string;
  readonly timeoutScale: number;
  readonly log: (line: string) => void;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** What the pool master says about itself, for the report. */
export interface HostIdentity {
  readonly name: string;
  readonly brand: string;
  readonly version: string;
  /** The host says it is Fruix's XCP-ng test double (test/doubles/xcp-ng). */
  readonly testDouble: boolean;
  /**
   * How guests see their disks: Xen PV (xvda, ...) on XCP-ng, whose Linux
   * guests load xen_blkfront; the test double says which bus its QEMU gives
   * them in its other_config ("virtio": vda, ...; "ide": sda, ...).
   */
  readonly diskBus: DiskBus;
}

const DISK_BUS_NOTE: Record<DiskBus, string> = {
  xen: "Xen PV devices (xvda, xvdb, ...)",
  virtio: "virtio disks (vda, vdb, ...: the host says so)",
  ide: "emulated IDE (sda, sdb, ...: the host says so)",
};

const DOUBLE_BUSES: readonly DiskBus[] = ["virtio", "ide"];

function testDoubleDiskBus(said: XmlRpcValue | undefined): DiskBus {
  return DOUBLE_BUSES.find((bus) => bus === said) ?? "xen";
}

export function identifyHost(nameLabel: string, softwareVersion: Readonly<Record<string, XmlRpcValue>>, otherConfig: Readonly<Record<string, XmlRpcValue>>): HostIdentity {
  return {
    name: nameLabel,
    brand: String(softwareVersion.product_brand ?? "unknown product"),
    version: String(softwareVersion.product_version ?? softwareVersion.platform_version ?? "unknown version"),
    testDouble: otherConfig["fruix-test-double"] === "true" || softwareVersion["fruix_test_double"] === "true",
    diskBus: testDoubleDiskBus(otherConfig["fruix-test-double-disk-bus"]),
  };
}

/** The report's line about the host: a test double says so first, in capitals. */
export function hostNote(identity: HostIdentity, origin: string): string {
  if (identity.testDouble) {
    return `host: XCP-ng TEST DOUBLE (fruix xcpng-testhost at ${origin}, VMs under QEMU): passing against it is not passing against XCP-ng`;
  }
  return `host: ${identity.brand} ${identity.version} (${identity.name}) at ${origin}`;
}

export class XcpngHypervisor implements Hypervisor {
  readonly name = "xcp-ng";
  private readonly config: XcpngConfig;
  private chosen: Promise<Capabilities> | undefined;

  constructor(private readonly options: XcpngOptions) {
    if (options.accel !== "auto" && options.accel !== "xen") {
      throw new FruixError(`--accel ${options.accel} does not apply to xcp-ng (XCP-ng runs its VMs under Xen)`, { exitCode: 2 });
    }
    this.config = readConfig(options.env);
  }

  capabilities(): Promise<Capabilities> {
    this.chosen ??= this.probe();
    return this.chosen;
  }

  private async probe(): Promise<Capabilities> {
    const { config } = this;
    const xapi = await XapiSession.login(config.url, config.user, config.password, { tlsSha256: config.tlsSha256, timeoutScale: this.options.timeoutScale, log: this.options.log });
    try {
      const pool = asString(asArray(await xapi.call("pool.get_all"), "pool.get_all")[0] ?? "", "pool");
      const master = await xapi.callString("pool.get_master", pool);
      const identity = identifyHost(
        await xapi.callString("host.get_name_label", master),
        asStruct(await xapi.call("host.get_software_version", master), "software_version"),
        asStruct(await xapi.call("host.get_other_config", master), "other_config"),
      );
      const note = hostNote(identity, xapi.url.origin);
      this.options.log(identity.testDouble ? `WARNING: ${note}` : note);
      return {
        uefi: true,
        accels: ["xen"],
        cdrom: true,
        snapshots: false,
        diskBus: identity.diskBus,
        notes: [
          note,
          describeConfig(config),
          "disks: uploaded into fresh VDIs (PUT /import_raw_vdi) and destroyed afterwards; direct disks are copied back (GET /export_raw_vdi) when the VM stops",
          `guests see their disks as ${DISK_BUS_NOTE[identity.diskBus]}`,
        ],
      };
    } finally {
      await xapi.logout();
    }
  }

  async createMachine(spec: MachineSpec): Promise<Machine> {
    await this.capabilities();
    return new XcpngMachine(spec, { config: this.config, timeoutScale: this.options.timeoutScale, log: this.options.log });
  }
}
