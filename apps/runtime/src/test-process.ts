import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Test helper: the real `flowplane-runtime` binary as a child process on a random loopback port. */
export interface RuntimeProcess {
  child: ChildProcess;
  /** Every stdout/stderr line so far (JSON logs). */
  output: string[];
  url: Promise<string>;
  exited: Promise<number | null>;
  waitReady(timeoutMs?: number): Promise<string>;
  stop(): Promise<number | null>;
}

const main = fileURLToPath(new URL("./main.js", import.meta.url));

/** The test's own variables (not FLOWPLANE_*, not PATH) as the parameter list a driver would give. */
export function parameterNamesOf(env: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.keys(env).filter((k) => !k.startsWith("FLOWPLANE_") && k !== "PATH"));
}

export function spawnRuntime(env: Record<string, string>): RuntimeProcess {
  const child = spawn(process.execPath, [main], {
    // Only what the test gives (plus PATH): the runtime must not depend on the test's environment.
    env: { PATH: process.env.PATH ?? "", FLOWPLANE_RUNTIME_PORT: "0", FLOWPLANE_RUNTIME_HOST: "127.0.0.1", FLOWPLANE_PARAMETER_NAMES: parameterNamesOf(env), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  let resolveUrl: (u: string) => void = () => undefined;
  const url = new Promise<string>((r) => (resolveUrl = r));
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n").filter(Boolean)) {
      output.push(line);
      const m = /"url":"([^"]+)"[^\n]*"msg":"listening"/.exec(line);
      if (m?.[1]) resolveUrl(m[1]);
    }
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return {
    child,
    output,
    url,
    exited,
    async waitReady(timeoutMs = 10_000) {
      const base = await Promise.race([url, exited.then(() => Promise.reject(new Error(`runtime exited: ${output.join("\n")}`)))]);
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const res = await fetch(`${base}/ready`).catch(() => null);
        if (res?.status === 200) return base;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`runtime not ready in ${timeoutMs} ms: ${output.join("\n")}`);
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Test helper: the ids of a process's direct children (Linux /proc), e.g. the lfx serve a runtime started. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent id; the command name (field 2) may contain spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
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
