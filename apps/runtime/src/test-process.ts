import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { REPLICA_NODE_FLAGS } from "@flowplane/core";

/** Test helper: the real `flowplane-runtime` binary as a child process on a random loopback port. */
export interface RuntimeProcess {
  child: ChildProcess;
  /** Every stdout/stderr line so far (JSON logs). */
  output: string[];
  url: Promise<string>;
  /** The probe listener's URL (FLOWPLANE_PROBE_PORT set), from its "probes listening" line. */
  probeUrl: Promise<string>;
  exited: Promise<number | null>;
  /** Resolves with the URL once /ready answers 200, polling every `intervalMs` (25 by default). */
  waitReady(timeoutMs?: number, intervalMs?: number): Promise<string>;
  stop(): Promise<number | null>;
}

const main = fileURLToPath(new URL("./main.js", import.meta.url));
/** The `flowplane-runtime` command: the bundle when fresh, else dist/main.js (bin/flowplane-runtime.js says why). */
const bin = fileURLToPath(new URL("../bin/flowplane-runtime.js", import.meta.url));

/**
 * How a driver starts a replica (apps/server/src/serve.ts, the runtime image's entrypoint): the
 * command with core's REPLICA_NODE_FLAGS. What a measured start must run.
 */
export const REPLICA_ARGS: readonly string[] = [...REPLICA_NODE_FLAGS, bin];

/** The test's own variables (not FLOWPLANE_*, not PATH) as the parameter list a driver would give. */
export function parameterNamesOf(env: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.keys(env).filter((k) => !k.startsWith("FLOWPLANE_") && k !== "PATH"));
}

/**
 * Starts the runtime with `env`: dist/main.js by default, or `args` (REPLICA_ARGS: as a driver
 * starts a replica).
 */
export function spawnRuntime(env: Record<string, string>, args: readonly string[] = [main]): RuntimeProcess {
  const child = spawn(process.execPath, [...args], {
    // Only what the test gives (plus PATH): the runtime must not depend on the test's environment.
    env: { PATH: process.env.PATH ?? "", FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_RUNTIME_HOST: "127.0.0.1", FLOWPLANE_PARAMETER_NAMES: parameterNamesOf(env), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  let resolveUrl: (u: string) => void = () => undefined;
  const url = new Promise<string>((r) => (resolveUrl = r));
  let resolveProbeUrl: (u: string) => void = () => undefined;
  const probeUrl = new Promise<string>((r) => (resolveProbeUrl = r));
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) {
      output.push(line);
      const m = /"url":"([^"]+)"[^\n]*"msg":"listening"/.exec(line);
      if (m?.[1]) resolveUrl(m[1]);
      const p = /"url":"([^"]+)"[^\n]*"msg":"probes listening"/.exec(line);
      if (p?.[1]) resolveProbeUrl(p[1]);
    }
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return {
    child,
    output,
    url,
    probeUrl,
    exited,
    async waitReady(timeoutMs = 10_000, intervalMs = 25) {
      const base = await Promise.race([url, exited.then(() => Promise.reject(new Error(`runtime exited: ${output.join("\n")}`)))]);
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const res = await fetch(`${base}/ready`).catch(() => null);
        if (res?.status === 200) return base;
        await new Promise((r) => setTimeout(r, intervalMs));
      }
      throw new Error(`runtime not ready in ${timeoutMs} ms: ${output.join("\n")}`);
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Every live process's parent id (Linux /proc). */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent id; the command name (field 2) may contain spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      out.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Test helper: the ids of a process's direct children (Linux /proc), e.g. the lfx serve a runtime started. */
export function childPids(pid: number): number[] {
  return [...parents()].filter(([, ppid]) => ppid === pid).map(([child]) => child);
}

/**
 * Test helper: the resident memory of a process and all its descendants (the sum of their
 * VmRSS, in bytes), e.g. a runtime with the lfx serve it started and whatever that started.
 * Pages shared between the tree's processes count once per process, as `ps` counts them.
 */
export function treeRssBytes(pid: number): number {
  const table = parents();
  let bytes = 0;
  const walk = (p: number) => {
    try {
      bytes += Number(/^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0) * 1024;
    } catch {
      // the process ended while we looked
    }
    for (const [child, ppid] of table) if (ppid === p) walk(child);
  };
  walk(pid);
  return bytes;
}

/** True while a process exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
