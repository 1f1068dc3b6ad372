import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "@flowplane/core";
import { checkRefusal } from "../fast-path/config-check.js";
import { frontEnv, type FrontAccount } from "../fast-path/front-account.js";

export interface HaproxyChildOptions {
  /** The haproxy binary (FLOWPLANE_HAPROXY_BIN; default `haproxy` on PATH). */
  bin: string;
  /** Where its config, maps, socket and pid file live (the data folder's `haproxy/`). */
  dir: string;
  config: string;
  log: Logger;
  /**
   * The control plane runs as root: HAProxy is started as this account (fast-path/front-account.ts),
   * never as root; its config is given to it (its maps are, by the front).
   */
  account?: FrontAccount;
}

const RESTART_MS = 500;
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((f) => existsSync(f));

/**
 * flowplane's own HAProxy: a child process in the foreground (`-db`, no daemon, no system
 * service), supervised (started again after a crash) and stopped with the control plane; if the
 * control plane dies, the kernel ends it (setpriv --pdeathsig). Its files are written 0600. A
 * pid file names it, so one left behind anyway (no setpriv) is ended at the next start.
 */
export class HaproxyChild {
  private proc: ChildProcess | undefined;
  private stopping = false;
  readonly socket: string;
  private readonly pidFile: string;
  private readonly configFile: string;

  constructor(private readonly o: HaproxyChildOptions) {
    this.socket = join(o.dir, "haproxy.sock");
    this.pidFile = join(o.dir, "haproxy.pid");
    this.configFile = join(o.dir, "haproxy.cfg");
    // However this process ends (short of SIGKILL: the pid file covers that), its HAProxy ends with it.
    process.once("exit", () => { if (this.proc && this.proc.exitCode === null) this.proc.kill("SIGTERM"); });
  }

  /** Checks the config, starts HAProxy and resolves once its runtime API answers. */
  async start(): Promise<void> {
    this.endLeftover();
    writeFileSync(this.configFile, this.o.config, { mode: 0o600 });
    chmodSync(this.configFile, 0o600);
    if (this.o.account) chownSync(this.configFile, this.o.account.uid, this.o.account.gid);
    const check = spawnSync(this.o.bin, ["-c", "-f", this.configFile], { encoding: "utf8", ...this.as() });
    if (check.error) throw new Error(`FLOWPLANE_GATEWAY_PROXY=haproxy: cannot run ${this.o.bin} (${check.error.message}); install it (apt-get install haproxy) or set FLOWPLANE_HAPROXY_BIN`);
    if (check.status !== 0) throw new Error(`haproxy refused flowplane's config: ${checkRefusal(check, (l) => l.includes("ALERT"))}`);
    await this.spawn();
  }

  pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Who HAProxy runs as, and its environment: the account's uid, only PATH (never the control plane's secrets). */
  private as(): { uid?: number; gid?: number; env: NodeJS.ProcessEnv; cwd: string } {
    // In its own folder: the control plane's working folder may be one the account cannot enter (HAProxy goes back to it and fails).
    return { ...(this.o.account ? { uid: this.o.account.uid, gid: this.o.account.gid } : {}), env: frontEnv(), cwd: this.o.dir };
  }

  private spawn(): Promise<void> {
    // Its folder may be its account's (a front taken over can put a folder at these names): a
    // failure is this start's, never an exception out of the restart's timer, which ended the control plane.
    try {
      rmSync(this.socket, { force: true });
      rmSync(this.pidFile, { force: true });
    } catch (err) {
      return Promise.reject(new Error(`haproxy's socket or pid file's name is taken and cannot be cleared: ${err instanceof Error ? err.message : String(err)}`));
    }
    // With util-linux's setpriv (Debian's, always there), the kernel ends HAProxy when this process
    // dies, SIGKILL included (PR_SET_PDEATHSIG survives the exec): it never outlives the control plane.
    const args = ["-db", "-f", this.configFile];
    // Started as its account (its uid set before exec: the parent-death signal, which a uid change clears, holds), with only PATH.
    const p = SETPRIV ? spawn(SETPRIV, ["--pdeathsig", "TERM", "--", this.o.bin, ...args], { stdio: ["ignore", "ignore", "pipe"], ...this.as() }) : spawn(this.o.bin, args, { stdio: ["ignore", "ignore", "pipe"], ...this.as() });
    this.proc = p;
    // Written again at every restart, into a folder HAProxy's account may write (as root): never
    // through what is there (a link it put at that name would have root write any file), always a
    // new file (O_EXCL refuses anything, a link included).
    try {
      writeFileSync(this.pidFile, String(p.pid ?? ""), { mode: 0o600, flag: "wx" });
    } catch (err) {
      this.o.log.warn({ err: err instanceof Error ? err.message : String(err) }, "haproxy: its pid file could not be written (something else took its name); a HAProxy this process leaves behind is ended only by the parent-death signal");
    }
    p.stderr!.setEncoding("utf8").on("data", (c: string) => this.o.log.warn({ haproxy: c.trim().slice(0, 1000) }, "haproxy said"));
    const started = new Promise<void>((resolve, reject) => {
      const deadline = performance.now() + 10_000;
      const poll = () => {
        if (p.exitCode !== null || p.signalCode !== null) return reject(new Error(`haproxy exited at start (code ${p.exitCode}, signal ${p.signalCode})`));
        if (existsSync(this.socket)) return resolve();
        if (performance.now() > deadline) return reject(new Error("haproxy did not open its runtime API within 10 s"));
        setTimeout(poll, 20);
      };
      poll();
    });
    p.once("exit", (code, signal) => {
      if (this.stopping) return;
      this.o.log.error({ code, signal, restartInMs: RESTART_MS }, "haproxy exited; starting it again");
      setTimeout(() => {
        if (!this.stopping) this.spawn().then(() => this.onRestart?.(), (err: unknown) => this.o.log.error({ err }, "haproxy did not start again"));
      }, RESTART_MS).unref();
    });
    return started;
  }

  /** Called after a restart (its maps and servers are empty again: the programmer fills them). */
  onRestart?: () => void;

  async stop(): Promise<void> {
    this.stopping = true;
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      // SIGUSR1 is HAProxy's soft stop (finish what is in flight); SIGTERM after 5 s.
      p.kill("SIGUSR1");
      const t = setTimeout(() => p.kill("SIGTERM"), 5_000);
      t.unref();
      p.once("exit", () => clearTimeout(t));
    });
    rmSync(this.pidFile, { force: true });
  }

  /** A HAProxy this folder's pid file names and that still runs with this folder's config: ended. */
  private endLeftover(): void {
    if (!existsSync(this.pidFile)) return;
    const pid = Number(readFileSync(this.pidFile, "utf8"));
    if (!Number.isInteger(pid) || pid <= 1) return;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes(this.configFile)) process.kill(pid, "SIGTERM");
    } catch {
      // gone already
    }
  }
}
