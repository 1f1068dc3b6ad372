import { readFileSync, readdirSync } from "node:fs";

/**
 * Makes a SIGINT or SIGTERM to this process (Ctrl-C, a `kill`) stop the processes it started
 * before it goes: each child process (found in /proc by its parent pid, so every spawn counts,
 * those of libraries too, and those the script starts while this waits) is sent SIGTERM, by
 * pid, and given `graceMs` to stop its own children; those still running then get SIGKILL. For the benchmarks: they start servers, proxies and load
 * generators in sessions of their own (detached, so a terminal's Ctrl-C reaches only the bench),
 * and stopped them only at their own end, so a benchmark killed half-way left nginx, HAProxy or
 * a replica running, holding ports and CPU the next run measures.
 *
 * A script with a handler of its own for the signal keeps it: the children are signalled first
 * (this handler is installed before the script's module body runs), and the script decides when
 * to exit. Alone, this one exits as the signal would have (128 + its number) once they are gone.
 * Linux only (/proc); elsewhere it does nothing. Idempotent.
 */
export function stopChildrenOnSignal(graceMs = 10_000): void {
  if (installed || process.platform !== "linux") return;
  installed = true;
  for (const [signal, number] of [["SIGINT", 2], ["SIGTERM", 15]] as const) {
    const handler = () => {
      const signalled = signalNew(new Map());
      // The script may exit before the wait ends (its own handler, or an error its stopped child
      // caused): any child started since is signalled then.
      process.once("exit", () => signalNew(signalled));
      // Another handler for this signal (the script's own) decides when to exit.
      if (process.listeners(signal).some((l) => l !== handler)) return;
      void until(signalled, graceMs).then(() => process.exit(128 + number));
    };
    process.on(signal, handler);
  }
}

let installed = false;

/** A process, by its pid and its start time (which tells it from a later process given the same pid). */
interface Proc {
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

/** The processes whose parent is `parent`. */
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
function running(p: Proc): boolean {
  const f = statFields(p.pid);
  return f !== null && f[0] !== "Z" && f[19] === p.start;
}

/**
 * Sends SIGTERM to every child not signalled yet (the script runs on until it exits: it may
 * start another process meanwhile), and returns them all, keyed by pid.
 */
function signalNew(signalled: Map<number, Proc>): Map<number, Proc> {
  for (const c of childProcesses(process.pid)) {
    if (signalled.get(c.pid)?.start === c.start) continue;
    signalled.set(c.pid, c);
    signalPid(c.pid, "SIGTERM");
  }
  return signalled;
}

/** Waits until no child runs, signalling those started meanwhile; after `graceMs`, SIGKILL for the rest. */
async function until(signalled: Map<number, Proc>, graceMs: number): Promise<void> {
  const end = Date.now() + graceMs;
  while (Date.now() < end) {
    signalNew(signalled);
    if (![...signalled.values()].some(running)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  // Those started during the last wait too. Only those still the same process (its start time):
  // a pid freed and reused meanwhile is not ours.
  for (const c of signalNew(signalled).values()) if (running(c)) signalPid(c.pid, "SIGKILL");
}
