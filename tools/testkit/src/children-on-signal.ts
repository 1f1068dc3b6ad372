import { readFileSync, readdirSync, readlinkSync } from "node:fs";

/**
 * Makes a SIGINT or SIGTERM to this process (Ctrl-C, a `kill`) stop the processes it started
 * before it goes: each child process (found in /proc by its parent pid, so every spawn counts,
 * those of libraries too, and those the script starts while this waits) is sent SIGTERM, by
 * pid, and given `graceMs` to stop its own children; a child still running then is frozen
 * (SIGSTOP) with everything under it and SIGKILLed, so that a server killed half-way through
 * its own shutdown leaves none of its replicas behind. A second signal skips the rest of the
 * grace. For the benchmarks: they start servers, proxies and load generators in sessions of
 * their own (detached, so a terminal's Ctrl-C reaches only the bench), and stopped them only at
 * their own end, so a benchmark killed half-way left nginx, HAProxy or a replica running,
 * holding ports and CPU the next run measures.
 *
 * A script with a handler of its own for the signal keeps it: its handler stops what it started
 * and decides when to exit; whatever still runs at the exit is sent SIGTERM then. Alone, this
 * one keeps the process until the children are gone (errors that their end causes in the
 * script are printed, not fatal), leaves the script's `finally` blocks `settleMs` to finish,
 * runs its exit listeners, then ends the process by the signal itself, as it would have ended
 * without a handler: a shell running benchmarks in a loop stops at a Ctrl-C only when the
 * command it waited for died of SIGINT, not when it exited 130.
 *
 * Linux only (/proc, and only when /proc is this process's pid namespace's); elsewhere it does
 * nothing. Idempotent (the first call's durations hold). As pid 1 or a subreaper, the orphans
 * adopted count as children.
 */
export function stopChildrenOnSignal(graceMs = 30_000, settleMs = 1_000): void {
  if (installed || process.platform !== "linux" || !procIsOurs()) return;
  installed = true;
  const signalled = new Map<number, Proc>();
  let stopping = false;
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const [signal, number] of [["SIGINT", 2], ["SIGTERM", 15]] as const) {
    const handler = () => {
      if (stopping) {
        // Asked again (a second Ctrl-C): no more grace.
        killRunning(signalled);
        return;
      }
      stopping = true;
      // Whatever still runs when the script exits (its own handler's exit, its own
      // process.exit before the wait ends) is signalled then.
      process.once("exit", () => signalNew(signalled));
      // Another handler for this signal (the script's own) stops what it started, in its own
      // order and way (a server before the cluster it uses, HAProxy's soft stop), and exits.
      if (process.listeners(signal).some((l) => l !== handler)) return;
      signalNew(signalled);
      // A child's end fails what the script awaited from it (a load generator's exit code, a
      // refused connection): said, but the exit stays this handler's, after the grace.
      process.on("uncaughtException", (err) => console.error("(stopping on", signal, "):", err));
      void until(signalled, graceMs)
        .then(() => new Promise((r) => setTimeout(r, settleMs)))
        .then(() => {
          // The script's exit listeners (a folder removed there) run as on process.exit; then
          // the signal ends the process.
          process.exitCode = 128 + number;
          process.emit("exit", 128 + number);
          for (const [s, h] of handlers) process.removeListener(s, h);
          // No listener left: Node restores the default action, and the process ends by the signal
          // (or, should the script have added a listener since, by the exit code the shell gives it).
          process.kill(process.pid, signal);
          setTimeout(() => process.exit(128 + number), 1_000);
        });
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
}

let installed = false;

/** Whether /proc shows this process's pid namespace (its pids are the ones `kill` reaches). */
function procIsOurs(): boolean {
  try {
    return readlinkSync("/proc/self") === String(process.pid);
  } catch {
    return false;
  }
}

/** A process, by its pid and its start time (which tells it from a later process given the same pid). */
export interface Proc {
  pid: number;
  start: string;
}

/** /proc/<pid>/stat's fields from the 3rd on (state, ppid, ...), or null when the process is gone. */
function statFields(pid: number | string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (2nd field) is in parentheses and may hold spaces: read after its end.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** The processes whose parent is `parent` (zombies too). */
export function childProcesses(parent: number): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(name);
    // ppid is the 4th field, the start time the 22nd.
    if (f && Number(f[1]) === parent) out.push({ pid: Number(name), start: f[19]! });
  }
  return out;
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** Still running, and still that process: not gone, not a zombie waiting to be reaped, not its pid reused. */
export function running(p: Proc): boolean {
  const f = statFields(p.pid);
  return f !== null && f[0] !== "Z" && f[19] === p.start;
}

/**
 * Sends SIGTERM to every child not signalled yet (the script runs on until it exits: it may
 * start another process meanwhile), and returns them all, keyed by pid. A child of this
 * process cannot be reaped between the reading and the kill (only this thread's event loop
 * reaps it, and it is busy here), so its pid cannot have been given to another process.
 */
function signalNew(signalled: Map<number, Proc>): Map<number, Proc> {
  for (const c of childProcesses(process.pid)) {
    if (signalled.get(c.pid)?.start === c.start) continue;
    signalled.set(c.pid, c);
    signalPid(c.pid, "SIGTERM");
  }
  return signalled;
}

/**
 * SIGKILL for every child still running and everything under it. Each process is stopped
 * (SIGSTOP) before its own children are read: a stopped parent reaps nothing, so no pid read
 * under it can be freed and given to another process before the kill.
 */
function killRunning(signalled: Map<number, Proc>): void {
  const frozen: number[] = [];
  const freeze = (p: Proc) => {
    if (!running(p)) return;
    signalPid(p.pid, "SIGSTOP");
    frozen.push(p.pid);
    // A stop takes effect when the process next runs in user space: read its children only then.
    for (let i = 0; i < 1_000 && !/^[TtZ]/.test(statFields(p.pid)?.[0] ?? "Z"); i++);
    for (const c of childProcesses(p.pid)) freeze(c);
  };
  for (const c of signalNew(signalled).values()) freeze(c);
  for (const pid of frozen) signalPid(pid, "SIGKILL");
}

/** Waits until no child runs, signalling those started meanwhile; after `graceMs`, SIGKILL for the rest and what is under them. */
async function until(signalled: Map<number, Proc>, graceMs: number): Promise<void> {
  const end = Date.now() + graceMs;
  while (Date.now() < end) {
    signalNew(signalled);
    if (![...signalled.values()].some(running)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  killRunning(signalled);
  // A SIGKILL takes effect when the process next runs: wait for that too (bounded), so the
  // children are gone when this process goes.
  for (const end = Date.now() + 5_000; Date.now() < end && [...signalled.values()].some(running);) await new Promise((r) => setTimeout(r, 20));
}
