import { createHash } from "node:crypto";
import { mkdir, open, readFile, realpath, rename, unlink } from "node:fs/promises";
import { createConnection, createServer, type Server } from "node:net";
import { join } from "node:path";
import { evictReplicaListeners, type ReplicaUidRange } from "@flowplane/driver-local";

/**
 * One flowplane process per data folder. Two processes on one PGlite folder corrupt it (the
 * second opens the database before failing on its port, and after a crash of the first no
 * start succeeds), so the folder is locked before anything in it is opened, for the life of
 * the process.
 *
 * Mechanism, on Linux: a listening Unix socket in the *abstract* namespace, named after the
 * folder's real path. Binding a name is atomic and exclusive (EADDRINUSE for the second
 * process), and the kernel releases the name the moment the holder dies, however it dies
 * (`kill -9`, OOM): there is no file to go stale, no pid to be reused, no race when two
 * processes start together. The holder answers its pid on the socket, so the refused process
 * can name it. libuv opens sockets close-on-exec, so replicas the holder spawned (which may
 * outlive it) never hold the lock.
 *
 * Elsewhere (macOS, Windows) abstract sockets do not exist: a lock file created with
 * O_CREAT|O_EXCL holding the pid, with a liveness check of that pid to clear a crashed holder's
 * file. That is exclusive, and crash-safe except for the unlikely reuse of the dead holder's pid.
 */

export class DataFolderLockedError extends Error {
  constructor(readonly dataDir: string, readonly holderPid: number | null) {
    super(`the data folder ${dataDir} is in use by another flowplane process${holderPid ? ` (pid ${holderPid})` : ""}: stop it first, or set FLOWPLANE_DATA_DIR to another folder`);
    this.name = "DataFolderLockedError";
  }
}

export interface DataLock {
  /** Releases the lock (also released by the process's end, however it ends). */
  release(): Promise<void>;
}

export type LockMechanism = "abstract-socket" | "pid-file";

/** Locks `dataDir` (created 0700 if missing) or throws DataFolderLockedError. */
export async function lockDataFolder(dataDir: string, mechanism: LockMechanism = process.platform === "linux" ? "abstract-socket" : "pid-file", replicaUids?: ReplicaUidRange): Promise<DataLock> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const dir = await realpath(dataDir);
  return mechanism === "abstract-socket" ? socketLock(dir, replicaUids) : pidFileLock(dir);
}

/** The abstract socket name for a folder: NUL-prefixed, at most 107 bytes. */
export function lockName(realDir: string): string {
  return `\0flowplane-data-${createHash("sha256").update(realDir).digest("hex")}`;
}

/**
 * The abstract name is bound, or its holder named. Abstract names belong to the network
 * namespace, which local replicas share with the control plane and outlive it in: a flow's code
 * that bound this name (listed in /proc/net/unix) while the control plane was down kept it from
 * ever starting again, answering "pid 1". A holder running as a replica's uid is no control plane:
 * its deployment's processes are ended and the name taken (driver-local squatters.ts).
 */
async function socketLock(dir: string, replicaUids?: ReplicaUidRange): Promise<DataLock> {
  const name = lockName(dir);
  for (let attempt = 0; ; attempt++) {
    const server: Server = createServer((socket) => socket.end(`${process.pid}\n`));
    const bound = await new Promise<boolean>((resolve, reject) => {
      server.once("error", (e: NodeJS.ErrnoException) => (e.code === "EADDRINUSE" ? resolve(false) : reject(e)));
      server.listen(name, () => resolve(true));
    });
    if (bound) {
      server.unref(); // the lock lives as long as the process, but does not keep it alive
      return { release: () => new Promise<void>((r) => server.close(() => r())) };
    }
    const eviction = replicaUids && attempt < 5 ? await evictReplicaListeners({ abstractName: name }, replicaUids) : undefined;
    if (!eviction || eviction.evicted.length === 0 || eviction.others.length > 0) throw new DataFolderLockedError(dir, await askHolder(name));
    process.stderr.write(`the data folder's lock was held by a replica's process: every process of uid ${eviction.evicted.join(", ")} was ended\n`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The holder's pid, as it answers on the lock socket (null if it does not answer in time). */
function askHolder(name: string): Promise<number | null> {
  return new Promise((resolve) => {
    let data = "";
    const s = createConnection(name);
    const done = (pid: number | null) => {
      clearTimeout(timer);
      s.destroy();
      resolve(pid);
    };
    const timer = setTimeout(() => done(null), 2_000);
    s.on("data", (b: Buffer) => (data += b.toString()));
    s.on("end", () => done(/^\d+$/.test(data.trim()) ? Number(data.trim()) : null));
    s.on("error", () => done(null));
  });
}

const LOCK_FILE = "flowplane.lock";

async function pidFileLock(dir: string): Promise<DataLock> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, "wx", 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return { release: () => unlink(path).catch(() => undefined) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const text = await readFile(path, "utf8").catch(() => "");
    const pid = /^\d+$/.test(text.trim()) ? Number(text.trim()) : null;
    if (pid !== null && alive(pid)) throw new DataFolderLockedError(dir, pid);
    if (pid === null && text === "") throw new DataFolderLockedError(dir, null); // being written by a starting process
    // A crashed holder's file: move it aside (atomic) and try again.
    await rename(path, `${path}.stale-${process.pid}`).catch(() => undefined);
    await unlink(`${path}.stale-${process.pid}`).catch(() => undefined);
  }
  throw new DataFolderLockedError(dir, null);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
