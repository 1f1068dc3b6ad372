import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Who a native front's processes (nginx's workers, HAProxy) run as when the control plane runs as
 * root. They parse every public call, the untrusted bytes of anyone who can reach the port; as
 * root, a flaw in them would have been the control plane's data (the database, the credential
 * key) and every deployment's uid. So they drop to the system's unprivileged account, `nobody`,
 * as Debian's own nginx and HAProxy drop to theirs: its uid and its primary group, by name for
 * nginx (its `user` directive takes names) and by number for HAProxy.
 *
 * Not root: undefined, and the front runs as the control plane's own user, as before.
 */
export interface FrontAccount {
  user: string;
  group: string;
  uid: number;
  gid: number;
}

/** The account's name: the one every Linux system has for "no privilege". */
export const FRONT_USER = "nobody";

export interface FrontAccountOptions {
  /** The control plane's uid (process.getuid()). */
  uid: number | undefined;
  /**
   * The uids handed to deployments (FLOWPLANE_RUNTIME_UID_BASE, its count): the front's must not
   * be one of them, or a replica could signal or trace the front, and reach the workers' socket.
   */
  replicaUids?: { base: number; count: number };
  /** /etc/passwd's and /etc/group's text (tests give their own). */
  passwd?: string;
  groups?: string;
}

/** A line of /etc/passwd or /etc/group, split: `name:x:id:...`. */
const entries = (text: string): string[][] => text.split("\n").map((l) => l.split(":")).filter((f) => f.length >= 4 && f[0] !== "" && !f[0]!.startsWith("#"));

/**
 * The account the front drops to, or undefined when the control plane is not root. Throws, naming
 * what is missing, when root and the system has no `nobody` (or no group for its gid): the front
 * is then not started as root instead.
 */
export function frontAccount(o: FrontAccountOptions): FrontAccount | undefined {
  if (o.uid !== 0) return undefined;
  const passwd = o.passwd ?? readFileSync("/etc/passwd", "utf8");
  const groups = o.groups ?? readFileSync("/etc/group", "utf8");
  const user = entries(passwd).find((f) => f[0] === FRONT_USER);
  const uid = Number(user?.[2]);
  const gid = Number(user?.[3]);
  if (!user || !Number.isSafeInteger(uid) || !Number.isSafeInteger(gid) || uid <= 0 || gid <= 0) {
    throw new Error(`the control plane runs as root, so its gateway proxy runs as the user "${FRONT_USER}", which this system does not have (or has as root): add it, or run flowplane as a user other than root`);
  }
  if (o.replicaUids && uid >= o.replicaUids.base && uid < o.replicaUids.base + o.replicaUids.count) {
    throw new Error(`the gateway proxy runs as "${FRONT_USER}" (uid ${uid}), which is among the uids given to deployments (FLOWPLANE_RUNTIME_UID_BASE ${o.replicaUids.base}, ${o.replicaUids.count} of them): choose a base that leaves it out`);
  }
  const group = entries(groups).find((f) => Number(f[2]) === gid)?.[0];
  if (!group) throw new Error(`the user "${FRONT_USER}"'s group (gid ${gid}) is not in /etc/group: the gateway proxy cannot run as it`);
  return { user: FRONT_USER, group, uid, gid };
}

/**
 * The folder where a front dropped to `account` meets the control plane: the workers' socket and
 * nginx's temporary files. Fresh (mkdtemp, so nothing another local user put in the temporary
 * folder is reused), root's, entered only by the account's group (0710: no listing, no writing),
 * so a replica's uid cannot reach the workers' socket, which believes the client address a peer
 * names. The data folder stays 0700: the front never sees it.
 */
export function makeFrontFolder(account: FrontAccount, parent = tmpdir()): { path: string; remove(): void } {
  const path = mkdtempSync(join(parent, "flowplane-front-"));
  chownSync(path, 0, account.gid);
  chmodSync(path, 0o710);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
