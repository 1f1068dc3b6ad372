import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";

/**
 * Who a native front (nginx, HAProxy) runs as when the control plane runs as root. It reads every
 * public call, the untrusted bytes of anyone who can reach the port; as root, a flaw in it would
 * have been the control plane's data (the database, the credential key) and every deployment's uid.
 *
 * So it runs as a uid of its own, the one just past the deployments' range
 * (FLOWPLANE_RUNTIME_UID_BASE + FLOWPLANE_RUNTIME_UID_COUNT, its gid the same number), started as
 * that uid (never started as root and dropped later): no process but the front's own runs as it,
 * so none can read its memory (keys in transit, the log sink's token) or signal it, and the
 * kernel's parent-death signal (setpriv --pdeathsig), which a uid change would clear, still ends
 * it with the control plane. Not the system's `nobody`: any other daemon running as `nobody`
 * could have read a worker's memory. Its environment holds only PATH (FRONT_ENV): never the
 * control plane's secrets.
 *
 * Not root: undefined, and the front runs as the control plane's own user, in the data folder.
 */
export interface FrontAccount {
  uid: number;
  gid: number;
}

/** The environment a front is started with, whoever it runs as: never the control plane's (FLOWPLANE_SECRET_KEY, DATABASE_URL...). */
export const frontEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" });

export interface FrontAccountOptions {
  /** The control plane's uid (process.getuid()). */
  uid: number | undefined;
  /** The uids handed to deployments (FLOWPLANE_RUNTIME_UID_BASE and its count): the front's is the next one. */
  replicaUids: { base: number; count: number };
  /** The public port the front binds, and the lowest port an unprivileged process may bind (net.ipv4.ip_unprivileged_port_start; read when not given). */
  port: number;
  unprivilegedPortStart?: number;
}

/**
 * The account the front runs as, or undefined when the control plane is not root. Throws, saying
 * why, when it cannot be: a port below the unprivileged start, which only root may bind.
 */
export function frontAccount(o: FrontAccountOptions): FrontAccount | undefined {
  if (o.uid !== 0) return undefined;
  const id = o.replicaUids.base + o.replicaUids.count;
  if (!Number.isSafeInteger(id) || id <= 0 || id > 2 ** 31 - 2) {
    throw new Error(`the gateway proxy runs as the uid just past the deployments' (FLOWPLANE_RUNTIME_UID_BASE ${o.replicaUids.base} + ${o.replicaUids.count}), which is out of range: choose a lower base`);
  }
  const start = o.unprivilegedPortStart ?? unprivilegedPortStart();
  if (o.port < start) {
    throw new Error(`the gateway proxy runs unprivileged (uid ${id}) and cannot bind port ${o.port}: this machine lets only root bind ports below ${start} (net.ipv4.ip_unprivileged_port_start). Use a port of ${start} or more (FLOWPLANE_PORT), or lower that setting`);
  }
  return { uid: id, gid: id };
}

function unprivilegedPortStart(): number {
  try {
    const n = Number(readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8").trim());
    return Number.isInteger(n) && n >= 0 ? n : 1024;
  } catch {
    return 1024;
  }
}

/** The proxies a front may be: each leaves its links in the data folder (`<proxy>`, `<proxy>-socket`). */
const FRONT_KINDS = ["haproxy", "nginx"] as const;

/** Where a front runs as its account: its folder (0700, the account's), the proxy's own folder in it, and the workers' socket's folder. */
export interface FrontFolder {
  /** The folder (`flowplane-front-XXXXXX` in the system's temporary folder). */
  path: string;
  /** The proxy's folder in it (`<path>/<proxy>`): its configuration, sockets, pid file, temporary files. */
  proxyDir: string;
  /**
   * The workers' socket's folder (`flowplane-sock-XXXXXX` beside it): root's, 0710, the account's
   * group may enter it (not list it, not write it). Not in the account's folder: the workers (root)
   * change the socket's owner and mode after they listen, by its path, and in a folder the
   * account may write it could put a link there first, to have root give it any file.
   */
  socketDir: string;
  /** Gives a file or folder the control plane made in it to the account (its mode kept). */
  own(file: string): void;
  /** Ends every process of the account (the front's, and any it left), then removes it all, as the account (never a walk as root of what the account could change); says nothing on failure. */
  remove(): Promise<void>;
}

/**
 * Makes the front's folder: fresh (mkdtemp, so nothing another local user put in the temporary
 * folder is reused), the account's, 0700; and the workers' socket's folder (`socketDir`), so only
 * the front reaches the socket, and a replica's uid does not. `<dataDir>/<proxy>` becomes
 * a link to the proxy's folder (the data folder is root's: only root follows it), where the
 * operator and the tests find its files; a folder that link named at the last start (a control
 * plane killed before it could remove it) is removed first.
 */
export async function makeFrontFolder(account: FrontAccount, o: { dataDir: string; proxy: string; parent?: string; endAll: (uid: number) => Promise<void> }): Promise<FrontFolder> {
  // Nothing runs as the account before root writes into a folder of its own: a process a
  // taken-over front left detached (or a leftover from a killed control plane) could otherwise
  // put a link at a name root is about to write. Every process of the uid ends, in one step.
  await o.endAll(account.uid);
  for (const proxy of FRONT_KINDS) {
    removeLeftover(join(o.dataDir, proxy), { folderOf: dirname, prefix: "flowplane-front-", owner: account.uid, remove: (f) => removeAs(account, f) });
    removeLeftover(join(o.dataDir, `${proxy}-socket`), { folderOf: (t) => t, prefix: "flowplane-sock-", owner: 0, remove: (f) => rmSync(f, { recursive: true, force: true }) });
  }
  const link = join(o.dataDir, o.proxy);
  const socketLink = join(o.dataDir, `${o.proxy}-socket`);
  const path = mkdtempSync(join(o.parent ?? tmpdir(), "flowplane-front-"));
  const proxyDir = join(path, o.proxy);
  mkdirSync(proxyDir, { mode: 0o700 });
  for (const p of [path, proxyDir]) {
    chownSync(p, account.uid, account.gid);
    chmodSync(p, 0o700);
  }
  rmSync(link, { recursive: true, force: true }); // the data folder is root's alone: nothing in it can change under this walk
  symlinkSync(proxyDir, link);
  // In the sticky temporary folder, root's: the account can neither add to it nor move it away.
  const socketDir = mkdtempSync(join(o.parent ?? tmpdir(), "flowplane-sock-"));
  chownSync(socketDir, 0, account.gid);
  chmodSync(socketDir, 0o710);
  rmSync(socketLink, { force: true });
  symlinkSync(socketDir, socketLink);
  return {
    path,
    proxyDir,
    socketDir,
    own: (file) => chownSync(file, account.uid, account.gid),
    remove: async () => {
      await o.endAll(account.uid).catch(() => undefined);
      rmSync(socketDir, { recursive: true, force: true }); // root's alone: nothing in it is the account's to change
      removeAs(account, path);
      for (const [l, target] of [[link, proxyDir], [socketLink, socketDir]] as const) {
        try {
          if (lstatSync(l).isSymbolicLink() && readlinkSync(l) === target) rmSync(l);
        } catch {
          // gone already
        }
      }
    },
  };
}

/**
 * What a data folder's link named at a killed control plane's last start, if it is still one of
 * ours (its name's prefix, a folder, the expected owner, never a link the account swapped in):
 * removed. The account's folder by the account (`removeAs`); root's socket folder, holding only
 * root's socket, by root.
 */
function removeLeftover(link: string, o: { folderOf: (target: string) => string; prefix: string; owner: number; remove: (folder: string) => void }): void {
  try {
    if (!lstatSync(link).isSymbolicLink()) return;
    const folder = o.folderOf(readlinkSync(link));
    const st = lstatSync(folder);
    if (basename(folder).startsWith(o.prefix) && st.isDirectory() && st.uid === o.owner) o.remove(folder);
  } catch {
    // no link, or what it named is gone
  }
}

/**
 * `rm -rf` run as the account: it can remove only what the account may, so a link or a swapped
 * folder inside (the front is the account, and a flaw in it could make them) aims nothing of
 * root's. Never throws: a leftover is a few empty folders, not a reason to stop a shutdown.
 */
function removeAs(account: FrontAccount, path: string): void {
  if (!existsSync(path)) return;
  spawnSync("rm", ["-rf", "--one-file-system", "--", path], { uid: account.uid, gid: account.gid, stdio: "ignore", env: frontEnv(), timeout: 30_000 });
}
