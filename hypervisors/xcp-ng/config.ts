// The xcp-ng adapter's settings, from the environment. Secrets (the XAPI
// password, the SSH key) are read here and never printed: describe() is the
// only text about the configuration that reaches logs and reports.
import { readFileSync } from "node:fs";
import { FruixError } from "../../lib/errors.js";

export interface XcpngConfig {
  /** The pool's XAPI endpoint (http:// or https://); a pool member's address is followed to the master. */
  readonly url: URL;
  readonly user: string;
  readonly password: string;
  /** Name label of the SR that receives the machines' disks. */
  readonly sr: string;
  /** Name label of the ISO SR that receives uploaded ISOs. */
  readonly isoSr: string;
  /** Name label of the network a machine's VIF joins when a scenario needs to reach a guest port. */
  readonly network: string;
  readonly ssh: {
    readonly user: string;
    readonly port: number;
    /**
     * A private key (OpenSSH/PEM text); without it, password authentication
     * with the XAPI password, which needs a pinned host key (hostKeySha256).
     */
    readonly privateKey?: string;
    /** "SHA256:<base64>" of the host key; without it the host key is not checked (said loudly, key authentication only). */
    readonly hostKeySha256?: string;
  };
  /**
   * SHA-256 fingerprint of XAPI's TLS certificate, "AB:CD:..." (upper case,
   * colons, as Node's fingerprint256); without it the certificate is not checked.
   */
  readonly tlsSha256?: string;
}

export const ENV = {
  url: "FRUIX_XAPI_URL",
  user: "FRUIX_XAPI_USER",
  password: "FRUIX_XAPI_PASSWORD",
  passwordFile: "FRUIX_XAPI_PASSWORD_FILE",
  sr: "FRUIX_XCPNG_SR",
  isoSr: "FRUIX_XCPNG_ISO_SR",
  network: "FRUIX_XCPNG_NETWORK",
  sshUser: "FRUIX_XCPNG_SSH_USER",
  sshPort: "FRUIX_XCPNG_SSH_PORT",
  sshKeyFile: "FRUIX_XCPNG_SSH_KEY_FILE",
  sshHostKey: "FRUIX_XCPNG_SSH_HOST_KEY",
  tlsSha256: "FRUIX_XAPI_TLS_SHA256",
} as const;

const DEFAULT_SR = "Local storage";
const DEFAULT_ISO_SR = "ISO library";
/** The network XCP-ng makes for a host's first NIC. */
const DEFAULT_NETWORK = "Pool-wide network associated with eth0";

type Env = Readonly<Record<string, string | undefined>>;

function readSecretFile(path: string, variable: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new FruixError(`${variable}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { exitCode: 2 });
  }
}

/**
 * A TLS certificate fingerprint as `openssl x509 -fingerprint -sha256` prints
 * it (with or without the "sha256 Fingerprint=" prefix and the colons, either
 * case), normalized to Node's fingerprint256 form; undefined if it is not one.
 */
export function normalizeTlsFingerprint(text: string): string | undefined {
  const hex = text.trim().replace(/^sha256 fingerprint=/i, "").replace(/:/g, "");
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return undefined;
  return hex.toUpperCase().match(/../g)!.join(":");
}

/** Reads and checks the settings; one clear error naming the variable when something is wrong. */
export function readConfig(env: Env = process.env): XcpngConfig {
  // CI passes unset secrets and variables as empty strings: an empty optional setting is an unset one.
  const opt = (name: string): string | undefined => env[name] || undefined;
  const need = (name: string): string => {
    const value = env[name];
    if (!value) throw new FruixError(`the xcp-ng adapter needs ${name} (see docs/xcp-ng.md)`, { exitCode: 2 });
    return value;
  };
  let url: URL;
  try {
    url = new URL(need(ENV.url));
  } catch (error) {
    if (error instanceof FruixError) throw error;
    throw new FruixError(`${ENV.url} is not a URL`, { exitCode: 2 });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new FruixError(`${ENV.url} must be http:// or https://, not ${url.protocol}`, { exitCode: 2 });
  if (url.username || url.password) throw new FruixError(`${ENV.url} must not carry credentials; use ${ENV.user} and ${ENV.password}`, { exitCode: 2 });

  let password: string;
  if (env[ENV.password] !== undefined && opt(ENV.passwordFile) !== undefined) {
    throw new FruixError(`set one of ${ENV.password} and ${ENV.passwordFile}, not both`, { exitCode: 2 });
  } else if (opt(ENV.passwordFile)) {
    password = readSecretFile(opt(ENV.passwordFile)!, ENV.passwordFile).replace(/\r?\n$/, "");
  } else if (env[ENV.password] !== undefined) {
    password = env[ENV.password]!;
  } else {
    throw new FruixError(`the xcp-ng adapter needs ${ENV.password} or ${ENV.passwordFile} (see docs/xcp-ng.md)`, { exitCode: 2 });
  }

  const portText = opt(ENV.sshPort) ?? "22";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new FruixError(`${ENV.sshPort} must be a port number, not ${JSON.stringify(portText)}`, { exitCode: 2 });
  const hostKey = opt(ENV.sshHostKey);
  if (hostKey !== undefined && !/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(hostKey)) {
    throw new FruixError(`${ENV.sshHostKey} must be a host key fingerprint like SHA256:<43 base64 characters> (ssh-keygen -lf)`, { exitCode: 2 });
  }
  const keyFile = opt(ENV.sshKeyFile);
  // Password authentication sends the XAPI root password to whatever answers: only to a pinned host.
  if (!keyFile && hostKey === undefined) {
    throw new FruixError(
      `the xcp-ng console would send the XAPI password over SSH to an unverified host: set ${ENV.sshHostKey} (ssh-keygen -lf of the hosts' key), or use key authentication with ${ENV.sshKeyFile}`,
      { exitCode: 2 },
    );
  }
  const tlsText = opt(ENV.tlsSha256);
  const tlsSha256 = tlsText === undefined ? undefined : normalizeTlsFingerprint(tlsText);
  if (tlsText !== undefined && tlsSha256 === undefined) {
    throw new FruixError(`${ENV.tlsSha256} must be a SHA-256 certificate fingerprint, 64 hex digits with or without colons (openssl x509 -noout -fingerprint -sha256)`, { exitCode: 2 });
  }
  if (tlsSha256 !== undefined && url.protocol !== "https:") {
    throw new FruixError(`${ENV.tlsSha256} is set but ${ENV.url} is not https://`, { exitCode: 2 });
  }
  return {
    url,
    user: need(ENV.user),
    password,
    sr: opt(ENV.sr) ?? DEFAULT_SR,
    isoSr: opt(ENV.isoSr) ?? DEFAULT_ISO_SR,
    network: opt(ENV.network) ?? DEFAULT_NETWORK,
    ssh: {
      user: opt(ENV.sshUser) ?? "root",
      port,
      privateKey: keyFile ? readSecretFile(keyFile, ENV.sshKeyFile) : undefined,
      hostKeySha256: hostKey?.replace(/=$/, ""),
    },
    tlsSha256,
  };
}

/** The configuration as logs and reports may show it: no password, no key, no session. */
export function describeConfig(config: XcpngConfig): string {
  const auth = config.ssh.privateKey ? "key" : "password";
  const hostKey = config.ssh.hostKeySha256 ? "host key pinned" : "host key NOT checked";
  const tls = config.url.protocol !== "https:" ? "" : config.tlsSha256 ? " (TLS certificate pinned)" : " (TLS certificate NOT checked)";
  return `XAPI ${config.url.origin}${tls} as ${config.user}; SR "${config.sr}", ISO SR "${config.isoSr}", network "${config.network}"; console over SSH as ${config.ssh.user} (port ${config.ssh.port}, ${auth} authentication, ${hostKey})`;
}
