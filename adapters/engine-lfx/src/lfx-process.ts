import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import type { Socket } from "node:net";
import type { Dispatcher } from "undici";
import { sharedReads, stillListensAt } from "@flowplane/core/replica";
import { holderOf, readTcp } from "./port-holder.js";

/**
 * One `lfx serve` child process on 127.0.0.1: started on a free port with a random API key,
 * ready once `/health` answers and the key opens `/flows`. It runs in its own process group so
 * stopping it takes everything it started with it.
 */
export interface LfxProcessOptions {
  bin: string;
  /** The folder of flow exports lfx serves (read once at start). */
  flowDir: string;
  /** The child's whole environment (nothing else is inherited). */
  env: Record<string, string>;
  apiKey: string;
  startTimeoutMs: number;
  /** Every output line, already redacted. */
  onLine?: (line: string) => void;
  /** Strips secrets from lfx's output before it is kept or passed on. */
  redact?: (text: string) => string;
  /** The port lfx is told to serve on; default: one free now (freePort). */
  pickPort?: () => Promise<number>;
  /** Reads /proc/net/tcp (port-holder.ts); tests give another. */
  readTable?: () => Promise<string>;
}

export interface LfxExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const TAIL_LINES = 40;

/**
 * util-linux's setpriv, which starts lfx with a parent-death signal: when the runtime dies in
 * any way (SIGKILL, the kernel's OOM kill, a crash), the kernel SIGKILLs lfx too. lfx runs in a
 * session of its own (so it is stopped as a group), so nothing else ends it: outside a sandbox's
 * pid namespace it lived on after its runtime, with its memory and the deployment's credentials.
 * The signal is tied to the thread that spawns, the runtime's main thread, which lives as long as
 * the process. Where setpriv is missing lfx starts without it (the local driver still ends a
 * replica's whole tree when it kills one).
 */
const SETPRIV = "/usr/bin/setpriv";
/** Whether this machine's setpriv takes `--pdeathsig` (util-linux 2.33 and later; RHEL 8 ships 2.32), asked once. */
let pdeathsig: boolean | undefined;
function withParentDeathSignal(bin: string, args: string[]): [string, string[]] {
  pdeathsig ??= existsSync(SETPRIV) && spawnSync(SETPRIV, ["--pdeathsig", "KILL", "--", "true"], { stdio: "ignore", timeout: 5_000 }).status === 0;
  return pdeathsig ? [SETPRIV, ["--pdeathsig", "KILL", "--", bin, ...args]] : [bin, args];
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** What a failed fetch says: its cause (a refused connection, lfx's port no longer lfx's) under fetch's generic "fetch failed". */
export const causeOf = (e: Error): string => (e.cause instanceof Error ? e.cause.message : e.message);

/** A free loopback port (lfx moves to another port itself if this one is taken meanwhile; see `url`). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Replaces every value of at least 6 characters with *** (shorter ones would garble ordinary words). */
export function redactor(values: Iterable<string | undefined>): (text: string) => string {
  const secrets = [...new Set([...values].filter((v): v is string => typeof v === "string" && v.length >= 6))].sort((a, b) => b.length - a.length);
  return (text) => secrets.reduce((t, s) => t.split(s).join("***"), text);
}

export class LfxProcess {
  private readonly lines: string[] = [];
  private stopping = false;
  /** Set once lfx answered on a port its own process holds: `url` is fixed from then on. */
  private healthy = false;
  /** The listener lfx holds on `url`'s port (listenerId), once seen (port-holder.ts): every connection is checked against it. */
  private listener: string | null = null;
  private agent: Dispatcher | undefined;
  private undiciFetch: typeof import("undici").fetch | undefined;
  private readonly killOnExit = () => this.signal("SIGKILL");
  readonly exited: Promise<LfxExit>;

  private constructor(
    private readonly child: ChildProcess,
    public url: string,
    private readonly options: LfxProcessOptions,
  ) {
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    // If the host process exits without closing the engine, lfx must not outlive it.
    process.once("exit", this.killOnExit);
    const redact = options.redact ?? ((t: string) => t);
    let partial = "";
    const onData = (chunk: Buffer) => {
      const parts = (partial + chunk.toString("utf8")).split("\n");
      partial = parts.pop() ?? "";
      for (const raw of parts) {
        const line = redact(raw.replace(/\r$/, ""));
        if (line.trim().length === 0) continue;
        // lfx silently moves to the next free port when ours was taken between our check and its
        // bind, and says so in its banner. Followed only until it is healthy: after that its
        // output carries what flows print, which a run's input can steer.
        // Read from the line as lfx wrote it, colours stripped: redaction could have hidden the
        // address (a parameter whose value is 127.0.0.1), and only the port is taken from it.
        const moved = this.healthy ? null : /Server:\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(raw.replace(/\x1b\[[0-9;]*m/g, ""));
        if (moved?.[1]) this.url = `http://127.0.0.1:${moved[1]}`;
        options.onLine?.(line);
        // The start-up banner (a box drawn with │╭╰) says nothing about why lfx ended.
        if (/^\s*[│╭╰]/.test(line)) continue;
        this.lines.push(line);
        if (this.lines.length > TAIL_LINES) this.lines.shift();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
  }

  static async start(options: LfxProcessOptions): Promise<LfxProcess> {
    const port = await (options.pickPort ?? freePort)();
    const args = ["serve", options.flowDir, "--host", "127.0.0.1", "--port", String(port), "--no-check-variables", "--log-level", "warning"];
    const [file, argv] = withParentDeathSignal(options.bin, args);
    const child = spawn(file, argv, { env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const spawned = new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
    const proc = new LfxProcess(child, `http://127.0.0.1:${port}`, options);
    try {
      await proc.connections();
      await spawned;
      await proc.waitHealthy();
    } catch (err) {
      await proc.stop();
      throw err;
    }
    return proc;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines lfx wrote (redacted), for error messages. */
  tail(n = 8): string {
    return this.lines.slice(-n).join("\n");
  }

  /** Why the process ended, for an operator. */
  describeExit(exit: LfxExit): string {
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const tail = this.tail();
    return `lfx serve ${how}${tail ? `; its last output:\n${tail}` : ""}`;
  }

  /**
   * A request to lfx (`path` under its url), on a connection checked once made, before a byte
   * is written (port-holder.ts): lfx still runs, and the listener it held when it was checked
   * still listens on the port. Anything else (lfx died and another process bound its port) is
   * refused as fetch refuses, TypeError "fetch failed", the reason its cause.
   */
  fetch(path: string, init?: RequestInit): Promise<Response> {
    if (!this.undiciFetch || !this.agent) return Promise.reject(new Error("lfx serve is not started"));
    return this.undiciFetch(`${this.url}${path}`, { ...(init as object), dispatcher: this.agent } as Parameters<typeof import("undici").fetch>[1]) as unknown as Promise<Response>;
  }

  /** undici (imported here, as lfx is started: the native engine's replicas never load it) and a pool whose every connection is checked. */
  private async connections(): Promise<void> {
    const undici = await import("undici");
    const connect = undici.buildConnector({});
    // One table read serves every connection made while the one before it was under way.
    const read = sharedReads(this.options.readTable ?? readTcp);
    this.undiciFetch = undici.fetch;
    this.agent = new undici.Agent({
      connect: (opts, callback) => {
        connect(opts, (err, socket) => {
          if (err || !socket) return callback(err, null);
          const id = this.listener;
          const port = Number(opts.port);
          const refuse = (why: string) => {
            socket.destroy();
            callback(new Error(`lfx's port ${port} is not lfx's: ${why}`), null);
          };
          if (!id) return refuse("lfx was never seen listening there");
          stillListensAt(read, port, id).then((still) => {
            // Checked after the table was read: a pid is not reused before Node reaps lfx.
            if (!this.running) return refuse("lfx has exited");
            if (!still) return refuse("lfx no longer listens there");
            callback(null, socket as Socket);
          }, (e: Error) => refuse(e.message));
        });
      },
    });
  }

  private async waitHealthy(): Promise<void> {
    const deadline = Date.now() + this.options.startTimeoutMs;
    const read = this.options.readTable ?? readTcp;
    let exit: LfxExit | null = null;
    void this.exited.then((e) => (exit = e));
    // What kept lfx from being healthy at the last try, for the timeout's message.
    let why = "lfx did not start";
    while (Date.now() < deadline) {
      if (exit) throw new Error(this.describeExit(exit));
      // Nothing is sent to a port before lfx itself listens there (port-holder.ts): another
      // process may have bound it first, and lfx then moves to another (its banner says where).
      // An unreadable /proc/net/tcp throws here: no wait can mend it.
      const url = this.url;
      const held = this.child.pid === undefined ? { id: null, why } : await holderOf(this.child.pid, Number(new URL(url).port), read);
      // Still running once the check is done: until Node reaps lfx its pid cannot be anyone else's.
      if (held.id === null || !this.running) {
        if (held.id === null) why = held.why;
        await sleep(100);
        continue;
      }
      this.listener = held.id;
      const health = await this.fetch("/health").catch((e: Error) => {
        why = `/health did not answer (${causeOf(e)})`;
        return null;
      });
      if (health?.ok) {
        await health.body?.cancel();
        // Our key opening /flows proves the server on this port is the lfx we started.
        const flows = await this.fetch("/flows", { headers: { "x-api-key": this.options.apiKey } });
        await flows.body?.cancel();
        if (flows.ok) {
          // The port checked, whatever a line printed meanwhile said.
          this.url = url;
          this.healthy = true;
          return;
        }
        throw new Error(`the server on ${url} answered /flows with ${flows.status}: it is not the lfx serve this engine started`);
      }
      if (health) {
        why = `/health answered ${health.status}`;
        await health.body?.cancel();
      }
      await sleep(100);
    }
    const hint = /not held by lfx/.test(why) ? " (another process holds the port, or the lfx command runs lfx as a child instead of exec-ing it)" : "";
    throw new Error(`lfx serve was not healthy within ${this.options.startTimeoutMs} ms: ${why}${hint}${this.tail() ? `; its last output:\n${this.tail()}` : ""}`);
  }

  private signal(sig: NodeJS.Signals): void {
    if (!this.running || this.child.pid === undefined) return;
    try {
      // The whole group: lfx (uvicorn) and anything it spawned.
      process.kill(-this.child.pid, sig);
    } catch {
      this.child.kill(sig);
    }
  }

  /** True once stop() was called: an exit after that is expected, not a failure. */
  get stopRequested(): boolean {
    return this.stopping;
  }

  /** SIGTERM, then SIGKILL after the grace period. */
  async stop(graceMs = 5000): Promise<LfxExit> {
    this.stopping = true;
    process.removeListener("exit", this.killOnExit);
    // Never spawned (e.g. not executable): there is nothing to wait for.
    if (this.child.pid === undefined) {
      await this.agent?.destroy().catch(() => undefined);
      return { code: this.child.exitCode, signal: null };
    }
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    await this.agent?.destroy().catch(() => undefined);
    return exit;
  }
}
