import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import type { Logger } from "@flowplane/core";
import { checkRefusal } from "../fast-path/config-check.js";
import { frontEnv, type FrontAccount } from "../fast-path/front-account.js";
import { programSocket } from "./config.js";

export interface NginxChildOptions {
  /** The nginx binary (default `nginx` on PATH; Debian's, with libnginx-mod-http-lua). */
  bin: string;
  /** nginx's prefix folder (`-p`): its config, pid file, temp files and programming socket. Made 0700. */
  dir: string;
  /** The configuration (config.ts renderNginxConfig), written to `<dir>/nginx.conf`, 0600. */
  config: string;
  log: Logger;
  /** Called after nginx was started again after a crash: its dictionaries are empty, the programmer pushes everything again. */
  onRestart?: () => void;
  /** How long a stop waits for calls in flight (SIGQUIT) before it kills nginx; default 5 s. */
  graceMs?: number;
  /** How long after a crash nginx is started again; default 500 ms. */
  restartMs?: number;
  /**
   * The control plane runs as root: nginx, master and workers, is started as this account
   * (fast-path/front-account.ts), never as root; `dir` and its files are given to it.
   */
  account?: FrontAccount;
}

const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((f) => existsSync(f));

/**
 * flowplane's own nginx, modelled on haproxy/child.ts: a child in the foreground (`daemon off`,
 * no system service), its config checked first (`nginx -t`), started again after a crash, stopped
 * with the control plane (SIGQUIT: calls in flight finish; then SIGKILL). The kernel ends it if
 * the control plane dies (setpriv --pdeathsig). nginx runs in a process group of its own: its
 * workers outlive a master killed with SIGKILL (they keep the public port), so after a crash, and
 * for one left behind at the last start (its pid file), the whole group is ended.
 */
export class NginxChild {
  private proc: ChildProcess | undefined;
  private stopping = false;
  readonly programSocket: string;
  private readonly pidFile: string;
  private readonly configFile: string;
  /** nginx's master at the last start (the group's id): what a crash leaves behind is ended by it. */
  private group: number | undefined;

  constructor(private readonly o: NginxChildOptions) {
    this.programSocket = programSocket(o.dir);
    this.pidFile = join(o.dir, "nginx.pid");
    this.configFile = join(o.dir, "nginx.conf");
    // However this process ends (short of SIGKILL: setpriv and the pid file cover that), its nginx ends with it.
    process.once("exit", () => this.killGroup("SIGKILL"));
  }

  /** Checks the config (`nginx -t`), starts nginx and resolves once its programming socket accepts connections. */
  async start(): Promise<void> {
    mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.o.dir, 0o700);
    this.endLeftover();
    writeFileSync(this.configFile, this.o.config, { mode: 0o600 });
    chmodSync(this.configFile, 0o600);
    if (this.o.account) for (const f of [this.o.dir, this.configFile]) chownSync(f, this.o.account.uid, this.o.account.gid);
    const check = spawnSync(this.o.bin, ["-t", ...this.args()], { encoding: "utf8", ...this.as() });
    if (check.error) throw new Error(`cannot run ${this.o.bin} (${check.error.message}): install nginx and libnginx-mod-http-lua`);
    if (check.status !== 0) throw new Error(`nginx refused flowplane's config: ${checkRefusal(check, (l) => /\[(emerg|alert|crit|error)\]/.test(l))}`);
    await this.spawn();
  }

  pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Who nginx runs as, and its environment: the account's uid (set before exec, so setpriv's parent-death signal holds), only PATH. */
  private as(): { uid?: number; gid?: number; env: NodeJS.ProcessEnv; cwd: string } {
    // In its own folder: the control plane's working folder may be one the account cannot enter (HAProxy goes back to it and fails).
    return { ...(this.o.account ? { uid: this.o.account.uid, gid: this.o.account.gid } : {}), env: frontEnv(), cwd: this.o.dir };
  }

  private args(): string[] {
    // -e stderr: nginx writes to its compiled-in error log (/var/log/nginx) before it reads the
    // configuration, which a user other than root may not open.
    return ["-p", this.o.dir, "-c", "nginx.conf", "-e", "stderr", "-g", "daemon off;"];
  }

  private spawn(): Promise<void> {
    // nginx does not unlink a Unix socket left by a master that was killed: its bind would fail.
    // Its folder may be its account's (a front taken over can put a folder there): a failure is
    // this start's, never an exception out of the restart's timer, which ended the control plane.
    try {
      rmSync(this.programSocket, { force: true });
    } catch (err) {
      return Promise.reject(new Error(`nginx's programming socket's name is taken and cannot be cleared: ${err instanceof Error ? err.message : String(err)}`));
    }
    const cmd = SETPRIV ? [SETPRIV, "--pdeathsig", "TERM", "--", this.o.bin, ...this.args()] : [this.o.bin, ...this.args()];
    // detached: a process group of its own (setsid), so its workers can be ended with it.
    const p = spawn(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "ignore", "pipe"], detached: true, ...this.as() });
    this.proc = p;
    this.group = p.pid;
    const said = nginxStderr((line) => this.o.log.warn({ nginx: line }, "nginx said"));
    p.stderr!.setEncoding("utf8").on("data", said);
    const started = new Promise<void>((resolve, reject) => {
      const deadline = performance.now() + 10_000;
      const poll = () => {
        if (p.exitCode !== null || p.signalCode !== null) return reject(new Error(`nginx exited at start (code ${p.exitCode}, signal ${p.signalCode})`));
        if (performance.now() > deadline) return reject(new Error("nginx did not open its programming socket within 10 s"));
        if (!existsSync(this.programSocket)) return void setTimeout(poll, 20);
        const s = connect(this.programSocket, () => { s.destroy(); resolve(); });
        s.on("error", () => { s.destroy(); setTimeout(poll, 20); });
      };
      poll();
    });
    p.once("exit", (code, signal) => {
      if (this.stopping) return;
      const restartMs = this.o.restartMs ?? 500;
      this.o.log.error({ code, signal, restartInMs: restartMs }, "nginx exited; starting it again");
      // Its workers may still hold the public port (a master killed with SIGKILL): the group goes first.
      this.killGroup("SIGKILL");
      setTimeout(() => {
        if (!this.stopping) this.spawn().then(() => this.o.onRestart?.(), (err: unknown) => this.o.log.error({ err }, "nginx did not start again"));
      }, restartMs).unref();
    });
    return started;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      await new Promise<void>((resolve) => {
        p.once("exit", () => resolve());
        // SIGQUIT is nginx's graceful stop (calls in flight finish); SIGKILL to the group after the grace.
        p.kill("SIGQUIT");
        const t = setTimeout(() => this.killGroup("SIGKILL"), this.o.graceMs ?? 5_000);
        t.unref();
        p.once("exit", () => clearTimeout(t));
      });
    }
    this.killGroup("SIGKILL");
    rmSync(this.pidFile, { force: true });
  }

  private killGroup(signal: NodeJS.Signals): void {
    if (this.group === undefined) return;
    try {
      process.kill(-this.group, signal);
    } catch {
      // the group is gone
    }
  }

  /**
   * An nginx this folder's pid file names (a control plane killed without setpriv): ended, with its
   * group. A master killed with SIGKILL leaves its workers in its group, holding the public port:
   * those are found by the group id (the kernel gives no new process a pid still in use as a group id).
   */
  private endLeftover(): void {
    if (!existsSync(this.pidFile)) return;
    const pid = Number(readFileSync(this.pidFile, "utf8").trim());
    rmSync(this.pidFile, { force: true });
    if (!Number.isInteger(pid) || pid <= 1) return;
    const ours = (p: string) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
        const stat = readFileSync(`/proc/${p}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === pid && (cmd.startsWith("nginx: ") || cmd.includes(this.o.dir));
      } catch {
        return false;
      }
    };
    if (readdirSync("/proc").some((p) => /^[0-9]+$/.test(p) && ours(p))) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
  }
}

/** Lines of nginx's stderr passed on per 10 s at most; the rest are counted, and the count is said once the window ends. */
export const NGINX_STDERR_LINES_PER_10S = 20;

/**
 * What nginx writes to stderr, made fit for the control plane's log. nginx's error lines end with
 * the request they are about (`, request: "GET /...?x-api-key=..."`, `upstream:`, `host:`,
 * `referrer:`), a caller's words that may hold a key: everything from `, request: ` on is cut.
 * A caller can make nginx write a line per call (a replica that refuses, a workers' socket that
 * is full): at most NGINX_STDERR_LINES_PER_10S pass per 10 s, and nginx writes only `crit` and
 * worse (config.ts), so its per-call upstream errors never reach the pipe.
 */
export function nginxStderr(say: (line: string) => void, now: () => number = Date.now): (chunk: string) => void {
  let windowStart = now();
  let passed = 0;
  let held = 0;
  return (chunk) => {
    for (const raw of chunk.split("\n")) {
      const line = scrubNginxLine(raw);
      if (line === "") continue;
      const t = now();
      if (t - windowStart >= 10_000) {
        if (held > 0) say(`(${held} more lines from nginx in 10 s, not logged)`);
        windowStart = t;
        passed = 0;
        held = 0;
      }
      if (passed < NGINX_STDERR_LINES_PER_10S) {
        passed++;
        say(line);
      } else held++;
    }
  };
}

/** One line of nginx's stderr without the request it names (see nginxStderr), at most 1,000 characters. */
export function scrubNginxLine(line: string): string {
  const at = line.indexOf(", request: ");
  return (at < 0 ? line : line.slice(0, at)).trim().slice(0, 1000);
}
