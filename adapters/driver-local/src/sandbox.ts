import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { chmod, chown, lstat, mkdir, readdir, rm } from "node:fs/promises";
import { setPriority, tmpdir } from "node:os";
import type { Readable, Writable } from "node:stream";
import { basename, delimiter, dirname, isAbsolute, join, resolve, sep } from "node:path";
import type { RuntimeIsolation } from "@flowplane/core";
import { emptyUid } from "./containment.js";
import { readProcessTableSync } from "./process-usage.js";
import { replicaSeccompFilter } from "./seccomp.js";

/**
 * How a replica is kept from the control plane's data folder (admin key, secret key, database)
 * and from other deployments. A flow on the lfx engine runs arbitrary Python, so this is the
 * only thing between a flow and every credential.
 *
 * Modes, strongest first; `auto` takes the first one this machine allows:
 * - `sandbox`: bubblewrap (`bwrap`): own mount, pid, IPC and UTS namespaces. The replica sees
 *   the system folders (/usr, the libraries, a short list of /etc files), the runtime it runs
 *   from and the lfx venv read-only; its working folder and /tmp are tmpfs mounts of its own,
 *   of a bounded size (scratchBytes), so it cannot fill the disk the control plane writes to;
 *   the data folder is not in its view, and it sees no other process. A seccomp filter
 *   (seccomp.ts) refuses every process in it the calls that reach into another process of the
 *   sandbox (lfx's Python into the runtime, same uid), fallocate, memfd_create and io_uring; where bwrap
 *   cannot apply it there is no `sandbox` mode. When the control plane
 *   is root, bwrap runs privileged (no user namespace needed) and the replica is dropped to the
 *   deployment's own uid with `setpriv` (no capability left). When it is not root, bwrap needs
 *   unprivileged user namespaces and the replica keeps the control plane's uid.
 * - `user`: the control plane is root but bwrap cannot run: the replica is started under the
 *   deployment's own uid. The data folder (0700) and other deployments' working folders (0700,
 *   their own uid) are unreadable, but visible by path, and the runtime must be readable by
 *   other users (it is checked at start).
 * - `none`: neither is possible (not root, no bwrap or no user namespaces), or it was turned
 *   off: the replica runs as the control plane and can read the data folder. Loudly reported.
 *
 * One uid per deployment, from a reserved range (default 1500000000..+65536): replicas of two
 * deployments cannot read each other's files or /proc entries (environment: credentials).
 * Which uid a deployment holds is recorded by the owner of its working folder, so it survives
 * restarts and adoption without a separate file.
 */
export type IsolationRequest = "auto" | "user" | "none";

export interface IsolationOptions {
  /** `auto` (default): the strongest available; `user`: never bubblewrap; `none`: no isolation (tests, or accepted risk). */
  request?: IsolationRequest;
  /** The bubblewrap executable (default: `bwrap` on the replicas' PATH). */
  bwrap?: string;
  /** First uid of the reserved range and its size: one uid per deployment (root only). */
  uidBase?: number;
  uidCount?: number;
  /**
   * Where each deployment's working folder (its HOME and TMPDIR, owned by its uid) is made:
   * outside the data folder, which the replicas must not reach. Default: a folder in the OS
   * temp folder named after the driver's root.
   */
  workRoot?: string;
  /** Paths replicas must never see even when they lie inside a folder the sandbox exposes (the data folder). */
  hide?: string[];
  /** The lfx executable replicas run: its venv (and the venv's base Python) are exposed read-only and FLOWPLANE_LFX_BIN points to it. */
  lfxBin?: string;
  /**
   * Bytes a sandboxed replica may write: its working folder and its /tmp are each a tmpfs of
   * this size, private to the replica (default DEFAULT_SCRATCH_BYTES, the Kubernetes pod's
   * /tmp sizeLimit). A replica that fills one gets ENOSPC; the machine's disk, where the
   * control plane's database lives, is never its to fill.
   */
  scratchBytes?: number;
  /**
   * The largest file a replica may write (RLIMIT_FSIZE, through prlimit; default
   * `defaultMaxFileBytes(scratchBytes)`). Its stdout and stderr are a file in the control plane's
   * data folder (`replica-<id>.log`), opened by the driver and handed to it: without a bound, a
   * flow writing to stderr in a loop (lfx lines at the debug log level the deployment chooses)
   * put 50 MB there in a second, on the disk where the database lives. Past the limit a write
   * fails (EFBIG; Node and Python ignore SIGXFSZ) and the replica goes on; the driver rotates the
   * log well before it (log-rotation.ts), so only a burst within one check can reach it.
   */
  maxFileBytes?: number;
  /**
   * Processes and threads a deployment's uid may hold at once, all its replicas together
   * (RLIMIT_NPROC; default DEFAULT_MAX_PROCESSES). Only where each deployment has a uid of its
   * own (root, not `none`): the kernel counts a uid's tasks machine-wide, so under a shared uid
   * it would count the control plane's too.
   */
  maxProcesses?: number;
  /**
   * The seccomp program bubblewrap applies to everything in the sandbox (default: seccomp.ts
   * `replicaSeccompFilter` for this machine's architecture; none for an architecture it does not
   * know, and then there is no `sandbox` mode). The sandbox is only used where bwrap applies it:
   * the start's probe carries it, and a launch whose bwrap refuses it never runs the runtime.
   */
  seccompFilter?: Buffer | null;
}

/** Who a deployment's replicas run as and where they may write. */
export interface ReplicaIdentity {
  uid: number;
  gid: number;
  /** HOME and TMPDIR of the replica: 0700, owned by `uid`. */
  workDir: string;
}

export interface Launched {
  child: ChildProcess;
  /** The runtime's own pid (inside bubblewrap it is not the spawned process's): signals and liveness go to it. */
  pid: Promise<number>;
}

type LocalMode = "sandbox" | "user" | "none";

export const DEFAULT_UID_BASE = 1_500_000_000;
/** 256 MiB: what the Kubernetes driver gives a pod's /tmp (core manifests.ts, emptyDir sizeLimit). */
export const DEFAULT_SCRATCH_BYTES = 256 * 1024 * 1024;
/** A replica's largest file: its scratch size (a tmpfs holds nothing larger anyway), and at least 64 MiB for its log. */
export const defaultMaxFileBytes = (scratchBytes: number): number => Math.max(scratchBytes, 64 * 1024 * 1024);
/**
 * Every replica's OOM score adjustment, inherited by all it starts: when the machine runs out of
 * memory the kernel kills a replica, never the control plane (whose adjustment stays 0). A
 * replica can lower it again down to 0 unless the control plane holds CAP_SYS_RESOURCE (the
 * kernel's `oom_score_adj_min`): the driver's memory check kills one that did
 * (memory-limit.ts loweredOomScore).
 */
export const REPLICA_OOM_SCORE_ADJ = 1000;
/**
 * Every replica's CPU niceness, inherited by all it starts (lfx's Python too): a flow that spins
 * on the CPU takes its share only after the control plane (API, gateway, reconciler: niceness 0)
 * has had what it asks for, so it cannot slow every tenant's calls. On an idle machine it runs
 * at full speed. A replica cannot lower it again: that needs CAP_SYS_NICE, which no replica
 * holds (its own uid, no capability), or an RLIMIT_NICE above the default, inherited from the
 * control plane. Where the kernel schedules each session as a group (autogroup: on when
 * `kernel.sched_autogroup_enabled` is 1 and the control plane is in the root cpu cgroup, as in a
 * terminal on many distributions) niceness orders processes only within a session, and each
 * replica starts one of its own (so does lfx's Python): there it does nothing (README).
 */
export const REPLICA_NICE = 10;
export const DEFAULT_UID_COUNT = 65_536;
/**
 * A deployment's processes and threads at once (RLIMIT_NPROC of its uid): a flow that forks
 * without end gets EAGAIN at this count instead of taking the machine's whole pid space
 * (kernel.pid_max, 32,768 on many machines), after which neither the control plane nor any other
 * deployment could start a process. A replica holds a few dozen (Node's threads, lfx's Python and
 * its threads); a deployment at most a dozen replicas during a rollout with a warm revision.
 */
export const DEFAULT_MAX_PROCESSES = 1024;

/**
 * The cap bounds one deployment, not their sum: on a machine whose kernel.pid_max is small (32,768
 * is the kernel's default; systemd raises it to 4,194,304), a few dozen deployments forking to
 * their cap at once exhaust it, and then no replica of any deployment can start. Enforcing a
 * machine-wide budget needs a cgroup above every replica; until then the operator is told, at
 * start, when fewer than this many deployments at their cap would do it.
 */
const PID_SPACE_DEPLOYMENTS = 64;

/** A warning when `deployments at their cap x maxProcesses` exhaust pid_max for fewer than PID_SPACE_DEPLOYMENTS deployments; null otherwise. */
export function pidSpaceWarning(maxProcesses: number, pidMax: number): string | null {
  if (!Number.isFinite(pidMax) || pidMax <= 0 || pidMax >= maxProcesses * PID_SPACE_DEPLOYMENTS) return null;
  const n = Math.max(1, Math.floor(pidMax / maxProcesses));
  return `kernel.pid_max is ${pidMax}: ${n} deployment(s) forking to their process cap (${maxProcesses} each) would use every process id on this machine, and then no replica of any deployment could start; raise it (sysctl -w kernel.pid_max=4194304, systemd's default) or lower FLOWPLANE_RUNTIME_MAX_PROCESSES`;
}

/** What every replica reads from /etc: name resolution, TLS roots, time zone, the dynamic linker. Nothing else of /etc. */
const ETC_FILES = [
  "resolv.conf", "hosts", "nsswitch.conf", "host.conf", "gai.conf", "services", "protocols", "passwd", "group",
  "localtime", "timezone", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "ssl", "ca-certificates", "ca-certificates.conf",
  "pki", "crypto-policies", "alternatives", "mime.types", "os-release",
];
/** The system folders, bound read-only (or recreated as the symlinks they are on merged-/usr systems). */
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];
const SETPRIV = "/usr/bin/setpriv";
/** util-linux's choom: sets the OOM score adjustment, then execs the command (so everything it starts inherits it). */
const CHOOM = "/usr/bin/choom";
/** util-linux's prlimit: sets a resource limit, then execs the command. */
const PRLIMIT = "/usr/bin/prlimit";
/** coreutils' nice: sets the niceness, then execs the command. */
const NICE = "/usr/bin/nice";

const isUnder = (path: string, dir: string): boolean => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/**
 * Walks up from `start` to the highest folder holding a node_modules (the install the runtime
 * resolves its packages from), no higher than npm's install root (the nearest folder holding a
 * package-lock.json): a node_modules above that is another project's, such as one an `npm install`
 * left in a home folder, and binding its folder would show every replica the whole home folder
 * (SSH keys, the CLI's contexts with their access keys), readable where replicas share
 * flowplane's uid.
 */
function installRoot(start: string): string {
  let found: string | undefined;
  for (let d = start; d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, "node_modules"))) found = d;
    if (existsSync(join(d, "package-lock.json"))) return found ?? d;
  }
  return found ?? start;
}

/** True when a user other than the owner and group can reach `path` (x on every folder above, r on it). */
export function readableByOthers(path: string): boolean {
  try {
    const st = statSync(path);
    if ((st.mode & 0o004) === 0 || (st.isDirectory() && (st.mode & 0o001) === 0)) return false;
    for (let d = dirname(path); ; d = dirname(d)) {
      if ((statSync(d).mode & 0o001) === 0) return false;
      if (d === dirname(d)) return true;
    }
  } catch {
    return false;
  }
}

/**
 * True when a user other than the owner and group can reach `path` inside the sandbox: there
 * the folders above the outermost bound one that holds it are bwrap's own (0755), so only the
 * bound folder and what lies below it count (a clone under /root, 0700, runs; a runtime in a
 * 0700 folder that is itself bound does not, whatever the folders above it are).
 */
export function readableInSandbox(path: string, bound: readonly string[]): boolean {
  try {
    const inView = [...SYSTEM_DIRS, ...bound];
    // The replica is started by the path as given, not its real one: a symlink on the way that
    // lies outside the sandbox's view (a release folder's `current` link) is not there, whatever
    // it points to, and the runtime would exit at every start ("Cannot find module").
    if (!inView.some((b) => isUnder(resolve(path), b))) return false;
    const real = realpathSync(path);
    const top = inView.filter((b) => isUnder(real, b)).sort((a, b) => a.length - b.length)[0];
    if (!top) return false; // not in the replica's view at all
    const st = statSync(real);
    if ((st.mode & 0o004) === 0 || (st.isDirectory() && (st.mode & 0o001) === 0)) return false;
    for (let d = dirname(real); isUnder(d, top); d = dirname(d)) {
      if ((statSync(d).mode & 0o001) === 0) return false;
      if (d === dirname(d)) break;
    }
    return true;
  } catch {
    return false;
  }
}

const LFX_UNREADABLE = (lfxBin: string) =>
  `; lfx at ${lfxBin} is not readable by other users, so lfx deployments fail: install it in a folder others can read and set FLOWPLANE_LFX_BIN`;

function which(name: string, searchPath: string): string | undefined {
  if (isAbsolute(name)) return existsSync(name) ? name : undefined;
  for (const d of searchPath.split(delimiter)) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * The uids owning the folders under `root`: each deployment's working folder is its uid's.
 * A folder removed between the listing and its lstat (another deployment's undeploy) holds no
 * uid, and its end must not fail the start that asked.
 */
export async function folderUids(root: string, stat: (path: string) => Promise<{ uid: number }> = lstat): Promise<Set<number>> {
  const uids = new Set<number>();
  for (const e of await readdir(root, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const held = await stat(join(root, e.name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (held) uids.add(held.uid);
  }
  return uids;
}

export class Confinement {
  private allocating: Promise<unknown> = Promise.resolve();
  private readonly root = process.getuid?.() === 0;
  private readonly base: number;
  private readonly count: number;
  private readonly readOnly: string[];
  private readonly hide: string[];
  private readonly extraEnv: Record<string, string>;
  private readonly scratchBytes: number;
  private readonly maxProcesses: number;
  /** What bwrap gets with `--seccomp` (seccomp.ts); null only outside `sandbox` mode. */
  private readonly seccomp: Buffer | null;
  /** The choom prefix every launch goes through, or none where util-linux's choom is missing (then written after the spawn: best effort). */
  private readonly choom: string[] = existsSync(CHOOM) ? [CHOOM, "-n", String(REPLICA_OOM_SCORE_ADJ), "--"] : [];
  /** The nice prefix every launch goes through (before choom), or none where coreutils' nice is missing (then set after the spawn: best effort). */
  private readonly nice: string[] = existsSync(NICE) ? [NICE, "-n", String(REPLICA_NICE), "--"] : [];
  /**
   * The prlimit prefix: every replica's largest file (maxFileBytes), and, with a uid per
   * deployment, that uid's process count; none where util-linux's prlimit is missing.
   */
  private readonly limits: string[];
  /**
   * The OOM score adjustment every process of a replica is started with and must keep
   * (memory-limit.ts loweredOomScore), or undefined where choom is missing: the adjustment is
   * then written after the spawn, and what a replica started before that keeps 0 legitimately.
   */
  get oomScoreAdj(): number | undefined {
    return this.choom.length > 0 ? REPLICA_OOM_SCORE_ADJ : undefined;
  }

  private constructor(
    readonly mode: LocalMode,
    /** The how (or why not), for logs, the banner and each deployment's Isolated condition. */
    readonly detail: string,
    readonly workRoot: string,
    private readonly bwrap: string | undefined,
    o: IsolationOptions & { readOnly: string[]; hide: string[] },
  ) {
    this.base = o.uidBase ?? DEFAULT_UID_BASE;
    this.count = o.uidCount ?? DEFAULT_UID_COUNT;
    this.readOnly = o.readOnly;
    this.hide = o.hide;
    this.extraEnv = o.lfxBin ? { FLOWPLANE_LFX_BIN: o.lfxBin } : {};
    this.scratchBytes = o.scratchBytes ?? DEFAULT_SCRATCH_BYTES;
    this.maxProcesses = o.maxProcesses ?? DEFAULT_MAX_PROCESSES;
    this.seccomp = o.seccompFilter ?? null;
    // Inherited through nice, choom, bwrap and setpriv; enforced once the replica runs as its uid
    // (a root process, such as bwrap itself, is not held to it).
    const nproc = this.root && mode !== "none" ? [`--nproc=${this.maxProcesses}`] : [];
    const fsize = `--fsize=${o.maxFileBytes ?? defaultMaxFileBytes(this.scratchBytes)}`;
    this.limits = existsSync(PRLIMIT) ? [PRLIMIT, ...nproc, fsize, "--"] : [];
  }

  /**
   * Decides the mode by trying it: bubblewrap is run once with the arguments a replica would
   * get. `root` is the driver's folder (hidden like the data folder), `command` the runtime's,
   * `searchPath` the PATH that bwrap is looked up in.
   */
  static async create(o: IsolationOptions & { root: string; command: string[]; searchPath?: string }): Promise<Confinement> {
    const request = o.request ?? "auto";
    const workRoot = resolve(o.workRoot ?? join(tmpdir(), `flowplane-run-${createHash("sha256").update(o.root).digest("hex").slice(0, 12)}`));
    // By the path given and by its real one: the sandbox binds the runtime's install by its real
    // path (runtimePaths), so a data folder named through a symlink (~/flowplane/.flowplane, with
    // ~/flowplane a link to the install) is in the replica's view under its real path.
    const hide = [...new Set([o.root, ...(o.hide ?? [])].flatMap((p) => [resolve(p), realPathOf(p)]))];
    const inside = hide.find((h) => isUnder(workRoot, h));
    if (inside) throw new Error(`the replicas' working folder ${workRoot} is inside ${inside}, which replicas must not reach: choose another`);
    await prepareWorkRoot(workRoot);
    // lfx by its real path: an installer's link (uv's or pipx's ~/.local/bin/lfx, into a venv under
    // ~/.local/share) would make its venv, two folders up, ~/.local, all of it in every replica's view.
    const lfxBin = o.lfxBin && existsSync(o.lfxBin) ? realpathSync(o.lfxBin) : o.lfxBin;
    const readOnly = runtimePaths(o.command, lfxBin);
    const isRoot = process.getuid?.() === 0;
    const seccompFilter = o.seccompFilter === undefined ? replicaSeccompFilter() : o.seccompFilter;
    const opts = { ...o, ...(lfxBin ? { lfxBin } : {}), readOnly, hide, seccompFilter };
    const make = (mode: LocalMode, detail: string, bwrap?: string) => new Confinement(mode, detail, workRoot, bwrap, opts);
    if (request === "none") return make("none", "isolation is turned off: replicas run as the control plane's user and can read its data folder");

    let whyNoSandbox = "";
    let blocked: string | undefined;
    if (request === "auto") {
      const bwrap = which(o.bwrap ?? "bwrap", o.searchPath ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
      if (!bwrap) whyNoSandbox = "bubblewrap (bwrap) is not installed";
      // The sandbox's guarantees include the seccomp filter (seccomp.ts): without one for this
      // architecture there is no sandbox, rather than one whose flow can reach into its runtime.
      else if (!seccompFilter) whyNoSandbox = `no seccomp filter is known for ${process.arch}`;
      else if (isRoot && !existsSync(SETPRIV)) whyNoSandbox = `${SETPRIV} (util-linux) is missing`;
      // As root the replica drops to the deployment's uid inside the sandbox: a runtime that uid
      // cannot read would exit at every start ("Cannot find module"), a crash loop, not isolation.
      else if (isRoot && (blocked = o.command.find((c) => isAbsolute(c) && existsSync(c) && !readableInSandbox(c, readOnly)))) {
        whyNoSandbox = `the runtime at ${blocked} is not readable by other users, or is reached through a symlink outside what the sandbox shows, so the deployment's uid could not run it in the sandbox`;
      } else {
        const candidate = make("sandbox", "", bwrap);
        const failure = await candidate.probe();
        if (!failure) {
          const who = isRoot ? "under the deployment's own uid" : "as the control plane's user, in a user namespace";
          const lfx = isRoot && lfxBin && existsSync(lfxBin) && !readableInSandbox(lfxBin, readOnly) ? LFX_UNREADABLE(lfxBin) : "";
          return make("sandbox", `bubblewrap sandbox ${who}: sees only its runtime (read-only), its own working folder and /tmp (private, ${Math.round((o.scratchBytes ?? DEFAULT_SCRATCH_BYTES) / 1048576)} MiB each); no data folder, no other process; seccomp refuses ptrace, pidfd_getfd, process_vm_*, kcmp, fallocate, memfd_create and io_uring${lfx}`, bwrap);
        }
        whyNoSandbox = `bubblewrap cannot run here (${failure})`;
      }
    }
    if (isRoot) {
      // Without a sandbox the dropped uid reads the runtime by its real path: every folder above it must let others pass.
      const unreachable = o.command.find((c) => isAbsolute(c) && existsSync(c) && !readableByOthers(c));
      if (!unreachable) {
        const why = whyNoSandbox ? ` (no sandbox: ${whyNoSandbox})` : "";
        const lfx = lfxBin && existsSync(lfxBin) && !readableByOthers(lfxBin) ? LFX_UNREADABLE(lfxBin) : "";
        return make("user", `runs under the deployment's own uid${why}: the data folder and other deployments' folders are unreadable but visible by path${lfx}`);
      }
      if (unreachable === blocked) return make("none", `replicas run as root and can read the data folder: the runtime at ${blocked} is not readable by other users, so no uid can be dropped to, in the sandbox or out of it`);
      return make("none", `replicas run as root and can read the data folder: ${whyNoSandbox || "the sandbox is turned off"}, and the runtime at ${unreachable} is not readable by other users, so no uid can be dropped to`);
    }
    return make("none", `replicas run as the control plane's user and can read its data folder: ${whyNoSandbox || "the sandbox is turned off"}, and only root can give them a uid of their own`);
  }

  /** The driver-wide isolation (for the banner). */
  get isolation(): RuntimeIsolation {
    return { mode: this.mode, detail: this.detail };
  }

  /** One deployment's isolation, naming its uid. */
  isolationOf(id: ReplicaIdentity): RuntimeIsolation {
    const uid = this.mode !== "none" && this.root ? ` (uid ${id.uid})` : "";
    return { mode: this.mode, detail: `${this.detail}${uid}` };
  }

  /**
   * The deployment's uid and working folder, made if missing. Serialised, so two new
   * deployments never pick the same free uid.
   */
  prepare(resourceName: string): Promise<ReplicaIdentity> {
    const next = this.allocating.then(() => this.allocate(resourceName));
    this.allocating = next.catch(() => undefined);
    return next;
  }

  /**
   * The deployment's working folder, and (when it has a uid of its own) every process still
   * running under that uid: once the folder is gone the uid is free for another deployment,
   * which must not share it with anything this one left behind (containment.ts).
   */
  async remove(resourceName: string): Promise<void> {
    const dir = join(this.workRoot, resourceName);
    const st = await lstat(dir).catch(() => undefined);
    // Best effort: a uid is emptied again, strictly, before it is handed out (allocate).
    if (this.ownsUids && st?.isDirectory() && this.inRange(st.uid)) await emptyUid(st.uid).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }

  /** Each deployment has a uid of its own (root, not `none`): its processes can be found by it. */
  private get ownsUids(): boolean {
    return this.root && this.mode !== "none";
  }

  /**
   * Whether a process that leaves a replica's tree stays contained: in the sandbox it is still
   * in the replica's pid namespace; in `user` mode the driver finds it by the deployment's uid
   * (containment.ts `strays`); in `none` mode nothing finds it.
   */
  get findsStrays(): boolean {
    return this.mode === "user" && this.root;
  }

  /**
   * The descriptor numbers the replica's process gets the `count` descriptors handed to
   * `launch` under: after stdin, stdout, stderr and, in the sandbox, bubblewrap's info pipe (3).
   * bubblewrap, prlimit, nice, choom and setpriv pass inherited descriptors on as they are.
   */
  passedFds(count: number): number[] {
    const first = this.mode === "sandbox" ? 4 : 3;
    return Array.from({ length: count }, (_, i) => first + i);
  }

  /** Whether a process running as `uid` may be one of this deployment's replicas: with a uid per deployment, only its own. */
  mayRunAs(id: ReplicaIdentity, uid: number | undefined): boolean {
    return uid !== undefined && (!this.ownsUids || uid === id.uid);
  }

  /**
   * Starts `command` as the deployment's replica, confined; stdout and stderr go to `logFd`,
   * and `fds` (listening sockets) are inherited under passedFds' numbers.
   */
  launch(id: ReplicaIdentity, command: string[], env: NodeJS.ProcessEnv, logFd: number, fds: number[] = []): Launched {
    const fullEnv = { ...env, ...this.extraEnv, HOME: id.workDir, TMPDIR: id.workDir };
    if (this.mode !== "sandbox") {
      const drop = this.mode === "user" ? { uid: id.uid, gid: id.gid } : {};
      const [file, ...args] = [...this.limits, ...this.nice, ...this.choom, ...command];
      const child = spawn(file!, args, { detached: true, stdio: ["ignore", logFd, logFd, ...fds], env: fullEnv, cwd: id.workDir, ...drop });
      this.afterSpawn(child.pid);
      return { child, pid: Promise.resolve(child.pid ?? 0) };
    }
    // The filter's descriptor comes after the listeners, so theirs stay passedFds' numbers.
    const seccompFd = 4 + fds.length;
    const [file, ...args] = [...this.limits, ...this.nice, ...this.choom, this.bwrap!, ...this.bwrapArgs(id, true, seccompFd), ...command];
    const child = spawn(file!, args, { detached: true, stdio: ["ignore", logFd, logFd, "pipe", ...fds, "pipe"], env: fullEnv, cwd: id.workDir });
    sendFilter(child, seccompFd, this.seccomp!);
    this.afterSpawn(child.pid);
    return { child, pid: sandboxPid(child) };
  }

  /**
   * Where choom or nice is missing, what its prefix would have set, set just after the spawn
   * (best effort: what the process started before that keeps the defaults); a process already
   * gone is left alone.
   */
  private afterSpawn(pid: number | undefined): void {
    if (!pid) return;
    const attempt = (set: () => void) => {
      try {
        set();
      } catch {
        // exited already
      }
    };
    if (this.choom.length === 0) attempt(() => writeFileSync(`/proc/${pid}/oom_score_adj`, String(REPLICA_OOM_SCORE_ADJ)));
    if (this.nice.length === 0) attempt(() => setPriority(pid, REPLICA_NICE));
  }

  private async allocate(resourceName: string): Promise<ReplicaIdentity> {
    const workDir = join(this.workRoot, resourceName);
    if (!this.root || this.mode === "none") {
      await mkdir(workDir, { recursive: true, mode: 0o700 });
      return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, workDir };
    }
    const st = await lstat(workDir).catch(() => undefined);
    if (st?.isDirectory() && this.inRange(st.uid)) return { uid: st.uid, gid: st.uid, workDir };
    if (st) await rm(workDir, { recursive: true, force: true });
    const taken = await folderUids(this.workRoot);
    // A uid some process is seen running under is not free either, whoever started it (a
    // deployment's process left by a control plane that died before removing it, or another
    // install given the same range): nothing that may be someone else's is killed to make room.
    for (const p of readProcessTableSync().values()) if (this.inRange(p.uid) && !p.zombie) taken.add(p.uid);
    if (taken.size >= this.count) throw new Error(`no free uid left in ${this.base}..${this.base + this.count - 1}`);
    let uid = preferredUid(resourceName, this.base, this.count);
    while (taken.has(uid)) uid = this.base + ((uid - this.base + 1) % this.count);
    // What no reading of /proc shows (a process forking and exiting in a loop) is ended before
    // the uid is given: a new deployment never shares its uid with a process it did not start.
    await emptyUid(uid).catch((e: unknown) => {
      throw new Error(`uid ${uid} could not be emptied of processes before use (${e instanceof Error ? e.message : String(e)}): is /bin/sh runnable by other users?`);
    });
    await mkdir(workDir, { mode: 0o700 });
    await chown(workDir, uid, uid);
    return { uid, gid: uid, workDir };
  }

  private inRange(uid: number): boolean {
    return uid >= this.base && uid < this.base + this.count;
  }

  /**
   * bwrap's arguments up to and including the command's own start (`--` and, as root, the uid
   * drop); `seccompFd` is where bwrap reads the filter from (seccomp.ts). bwrap (0.8.0) reads
   * and closes that descriptor in the sandbox's first process, so the runtime never holds it, and
   * applies the filter last, just before it executes the command, exiting instead when the
   * kernel refuses it: no process of the sandbox ever runs without it.
   */
  private bwrapArgs(id: ReplicaIdentity, infoFd: boolean, seccompFd: number): string[] {
    const a = ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--new-session",
      // The runtime is pid 1 of its namespace: SIGTERM from the driver reaches it (it has a
      // handler), and when it exits the kernel ends everything it started (lfx included).
      "--as-pid-1", ...(infoFd ? ["--info-fd", "3"] : []), "--seccomp", String(seccompFd)];
    if (this.root) a.push("--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP");
    const made = new Set<string>(["/"]);
    // Folders bwrap makes on the way to a mount point would be 0700 root: the replica's uid could not pass.
    const parents = (p: string) => {
      const chain: string[] = [];
      for (let d = dirname(p); !made.has(d); d = dirname(d)) chain.unshift(d);
      for (const d of chain) {
        a.push("--perms", "0755", "--dir", d);
        made.add(d);
      }
    };
    for (const d of SYSTEM_DIRS) {
      let st;
      try {
        st = lstatSync(d);
      } catch {
        continue;
      }
      if (st.isSymbolicLink()) a.push("--symlink", readlinkSync(d), d);
      else a.push("--ro-bind", d, d);
    }
    a.push("--perms", "0755", "--dir", "/etc");
    made.add("/etc");
    for (const f of ETC_FILES) a.push("--ro-bind-try", `/etc/${f}`, `/etc/${f}`);
    const scratch = ["--size", String(this.scratchBytes), "--perms", "1777", "--tmpfs"];
    a.push("--proc", "/proc", "--dev", "/dev", ...scratch, "/tmp");
    made.add("/tmp");
    const bound: string[] = [];
    for (const p of this.readOnly) {
      if (SYSTEM_DIRS.some((d) => isUnder(p, d)) || bound.some((b) => isUnder(p, b))) continue;
      parents(p);
      a.push("--ro-bind", p, p);
      bound.push(p);
    }
    parents(id.workDir);
    // Its working folder is a tmpfs of its own, not the host folder of that name (which only
    // records the deployment's uid): bounded, and gone with the replica, as a pod's emptyDir.
    a.push(...scratch, id.workDir);
    for (const h of this.hide) if (bound.some((b) => isUnder(h, b)) && existsSync(h)) a.push("--tmpfs", h);
    a.push("--chdir", id.workDir, "--");
    if (this.root) a.push(SETPRIV, `--reuid=${id.uid}`, `--regid=${id.gid}`, "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--");
    return a;
  }

  /** pidSpaceWarning for this machine, where the per-deployment cap applies (as root, with a uid per deployment); null elsewhere. */
  pidSpaceWarning(): string | null {
    if (!this.root || this.mode === "none") return null;
    let pidMax: number;
    try {
      pidMax = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8").trim());
    } catch {
      return null;
    }
    return pidSpaceWarning(this.maxProcesses, pidMax);
  }

  /**
   * Runs `true` in a sandbox shaped like a replica's, seccomp filter included (a kernel or bwrap
   * that refuses it gives no `sandbox` mode): an error message, or null when it works.
   */
  private async probe(): Promise<string | null> {
    const id = { uid: this.base, gid: this.base, workDir: this.workRoot };
    if (!this.seccomp) return `no seccomp filter is known for ${process.arch}`;
    return new Promise((done) => {
      const child = spawn(this.bwrap!, [...this.bwrapArgs(id, false, 3), "/usr/bin/true"], { stdio: ["ignore", "ignore", "pipe", "pipe"] });
      sendFilter(child, 3, this.seccomp!);
      let stderr = "";
      child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const finish = (why: string | null) => {
        clearTimeout(timer);
        done(why);
      };
      child.once("error", (err) => finish(err.message));
      child.once("close", (code, signal) => finish(code === 0 ? null : (stderr.trim().split("\n").pop() || `bwrap exited (${signal ?? `code ${code}`})`)));
    });
  }
}

/** A path with every symlink on it resolved, as far as it exists (the rest as given). */
function realPathOf(path: string): string {
  const p = resolve(path);
  if (p === dirname(p)) return p;
  try {
    return realpathSync(p);
  } catch {
    return join(realPathOf(dirname(p)), basename(p));
  }
}

/** The uid a deployment is given when it is free: a hash of its resource name in the range. */
export function preferredUid(resourceName: string, base: number, count: number): number {
  return base + (createHash("sha256").update(resourceName).digest().readUInt32BE(0) % count);
}

/** The working folders' parent: ours, not writable by others (it lives in a shared temp folder), passable by the replicas' uids. */
async function prepareWorkRoot(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o711 });
  const st = await lstat(dir);
  if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? st.uid)) {
    throw new Error(`the replicas' working folder ${dir} is not a folder owned by this user: remove it, or choose another`);
  }
  await chmod(dir, 0o711);
}

/** A folder that is a Node installation's own (nvm's, the official archive's): its headers or its npm beside the binary. */
const isNodePrefix = (dir: string): boolean => existsSync(join(dir, "include", "node")) || existsSync(join(dir, "lib", "node_modules", "npm"));

/** What a replica must read besides the system folders: the runtime's install, the node binary's prefix, the lfx venv and its Python. */
function runtimePaths(command: string[], lfxBin: string | undefined): string[] {
  const out: string[] = [];
  const add = (p: string | undefined) => {
    if (p && p !== "/" && !out.includes(p)) out.push(p);
  };
  command.forEach((arg, i) => {
    if (!isAbsolute(arg) || !existsSync(arg)) return;
    const real = realpathSync(arg);
    if (statSync(real).isDirectory()) add(real);
    // The executable: its prefix (…/bin/node -> …) when that is Node's own install, else the file
    // alone (a node binary copied to ~/bin has the home folder for prefix); a script: the install
    // it resolves packages from.
    else add(i === 0 ? (isNodePrefix(dirname(dirname(real))) ? dirname(dirname(real)) : real) : installRoot(dirname(real)));
  });
  if (lfxBin && existsSync(lfxBin)) {
    const venv = dirname(dirname(lfxBin));
    add(venv);
    // A venv's interpreter is a symlink to its base Python (pyvenv.cfg `home`), which must be there too.
    try {
      const home = /^home\s*=\s*(.+)$/m.exec(readFileSync(join(venv, "pyvenv.cfg"), "utf8"))?.[1]?.trim();
      if (home) add(dirname(realpathSync(home)));
    } catch {
      // not a venv: the executable alone
    }
  }
  return out;
}

/**
 * Writes the seccomp program into the spawned bwrap's descriptor `fd` (a socket Node made for
 * that stdio entry) and closes our end: bwrap reads it to its end (it fits the socket's buffer,
 * so nothing waits on bwrap) once the sandbox is set up, closes it, and applies it. A bwrap that
 * died first makes the write fail; that is its exit's to report, not an error here.
 */
function sendFilter(child: ChildProcess, fd: number, filter: Buffer): void {
  const w = child.stdio[fd] as Writable | null | undefined;
  if (!w) return; // no descriptor: bwrap reads nothing, refuses to start, and its exit says why
  w.on("error", () => undefined);
  w.end(filter, () => w.destroy());
}

/** Reads bwrap's `--info-fd` (`{"child-pid": N}`); falls back to bwrap's own pid when it dies before writing it. */
function sandboxPid(child: ChildProcess): Promise<number> {
  return new Promise((done) => {
    let text = "";
    const info = child.stdio[3] as Readable | null;
    const fallback = () => done(child.pid ?? 0);
    if (!info) return fallback();
    info.on("data", (b: Buffer) => {
      text += b.toString();
      const m = /"child-pid"\s*:\s*(\d+)/.exec(text);
      // bwrap writes this once and closes its end, so the pipe never holds this process open.
      if (m) done(Number(m[1]));
    });
    info.on("end", fallback);
    info.on("error", fallback);
    child.once("error", fallback);
  });
}
