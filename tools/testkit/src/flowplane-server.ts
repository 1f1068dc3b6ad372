import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { repoRoot } from "./fixtures.js";
import { freePortBelowEphemeral, waitFor } from "./wait.js";

/**
 * The real flowplane server (`apps/server/dist/main.js`, as `npm start` runs it) as a child
 * process on free loopback ports, for the end-to-end tests of the server, the CLI and the web
 * UI, and for the benchmarks. Spawned by path: apps never import one another.
 */
export interface ServerProcess {
  child: ChildProcess;
  port: number;
  privatePort: number;
  url: string;
  privateUrl: string;
  out(): string;
  /** SIGTERM and wait (SIGKILL after 20 s). */
  stop(): Promise<number | null>;
  /** SIGKILL and wait: a crash. */
  kill(): Promise<void>;
}

export const SERVER_MAIN = join(repoRoot, "apps", "server", "dist", "main.js");

/**
 * The command of one of the images' Dockerfiles (deploy/docker/<name>.Dockerfile): its exec-form
 * ENTRYPOINT as words, and its ENV assignments, for tests that hold an image to a launcher.
 */
export function imageCommand(name: string): { entrypoint: string[]; env: string[] } {
  const lines = readFileSync(join(repoRoot, "deploy", "docker", `${name}.Dockerfile`), "utf8").split("\n");
  const entry = lines.find((l) => l.startsWith("ENTRYPOINT "));
  if (!entry) throw new Error(`${name}.Dockerfile has no ENTRYPOINT`);
  return {
    entrypoint: JSON.parse(entry.slice("ENTRYPOINT ".length)) as string[],
    env: lines.filter((l) => l.startsWith("ENV ")).flatMap((l) => l.slice(4).trim().split(/\s+/)),
  };
}

/** How `npm start` runs the server: the environment it sets and Node's options before the script. */
export interface StartCommand {
  env: Record<string, string>;
  nodeOptions: string[];
}

/**
 * The server's command in package.json's `start` script, read rather than copied: the control
 * plane's Node options and environment hold 30-40 MiB of its memory (docs/performance.md, "The
 * control plane's process settings"), so the tests and benchmarks start it exactly as a user's
 * `npm start` does, and the image's entrypoint is held to the same (flowplane-server.test.ts).
 * Expects `[NAME=value ...] node [--option ...] apps/server/dist/main.js`.
 */
export function npmStartCommand(packageJson = readFileSync(join(repoRoot, "package.json"), "utf8")): StartCommand {
  const start = (JSON.parse(packageJson) as { scripts?: { start?: string } }).scripts?.start ?? "";
  const command = start.split("&&").map((s) => s.trim()).find((s) => s.endsWith(" apps/server/dist/main.js"));
  const words = command?.split(/\s+/) ?? [];
  const node = words.indexOf("node");
  const assignments = words.slice(0, Math.max(node, 0));
  const nodeOptions = words.slice(node + 1, -1);
  // Words taken literally: a quote, `$`, a backslash or a backquote would mean something to the
  // shell that runs `npm start`, so a script with one is refused rather than misread.
  const literal = (w: string) => !/['"$`\\]/.test(w);
  if (node < 0 || !words.every(literal) || assignments.some((w) => !/^[A-Z_][A-Z0-9_]*=/.test(w)) || nodeOptions.some((w) => !w.startsWith("--"))) {
    throw new Error(`package.json's start script does not run the server as [NAME=value ...] node [--option ...] apps/server/dist/main.js: ${start}`);
  }
  return { env: Object.fromEntries(assignments.map((w) => [w.slice(0, w.indexOf("=")), w.slice(w.indexOf("=") + 1)])), nodeOptions };
}

/** Starts the server on `dataDir` and waits for its banner; `ports` keeps the same listeners across restarts. */
export async function startServer(dataDir: string, env: Record<string, string> = {}, ports?: { port: number; privatePort: number }): Promise<ServerProcess> {
  // A free port is free when asked, not when bound: another test's server may pick the same one
  // in between (ports below the ephemeral range, so no outgoing connection or port-0 listener
  // takes them, and a restart on the same ports finds them free). Without fixed ports a start
  // that lost that race tries new ones.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(dataDir, env, ports);
    } catch (e) {
      if (ports || attempt === 3 || !(e instanceof Error && e.message.includes("EADDRINUSE"))) throw e;
    }
  }
}

async function startOnce(dataDir: string, env: Record<string, string>, ports?: { port: number; privatePort: number }): Promise<ServerProcess> {
  const port = ports?.port ?? (await freePortBelowEphemeral());
  const privatePort = ports?.privatePort ?? (await freePortBelowEphemeral([port]));
  const url = `http://127.0.0.1:${port}`;
  const privateUrl = `http://127.0.0.1:${privatePort}`;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const start = npmStartCommand();
  const child = spawn(process.execPath, [...start.nodeOptions, SERVER_MAIN], {
    cwd: dataDir,
    env: {
      ...process.env, ...start.env, FLOWPLANE_DATA_DIR: dataDir, FLOWPLANE_PORT: String(port), FLOWPLANE_PRIVATE_PORT: String(privatePort),
      FLOWPLANE_LOG_LEVEL: "warn", FLOWPLANE_EXTERNAL_URL: url, FLOWPLANE_PRIVATE_URL: privateUrl, ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  // Stops waiting at the banner or at an early exit, whichever comes first. The bound is generous:
  // on a two-core CI machine running lfx tests beside this one, a start has taken close to a minute.
  const t0 = Date.now();
  const started = await waitFor(() => child.exitCode !== null || out.includes("admin key:"), { timeoutMs: 150_000, intervalMs: 50 }).catch(() => false);
  if (!started || !out.includes("admin key:")) {
    child.kill("SIGKILL");
    const why = child.exitCode !== null ? `it exited with code ${child.exitCode}` : `no banner after ${Math.round((Date.now() - t0) / 1000)} s`;
    throw new Error(`the flowplane server did not start (${why}):\n${out}`);
  }
  return {
    child, port, privatePort, url, privateUrl,
    out: () => out,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const code = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const c = await code;
      clearTimeout(timer);
      return c;
    },
    async kill() {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Pids of live replica runtimes (the local driver's `--flowplane-replica=` marker) whose marker contains `fragment`. */
export async function pidsMatching(fragment: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = await readFile(`/proc/${e}/cmdline`, "utf8");
      const argv = cmd.split("\0");
      // A sandboxed replica's bubblewrap process carries the marker too; the runtime is the replica (killing it ends bwrap).
      if (argv[0]?.endsWith("bwrap")) continue;
      if (argv.some((a) => a.startsWith("--flowplane-replica=") && a.includes(fragment))) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Pids of the replica runtimes a server on `dataDir` started:
 * the local driver's marker names a hash of its folder, `<dataDir>/deployments`.
 */
export async function replicaPidsOf(dataDir: string): Promise<number[]> {
  return pidsMatching(`=${createHash("sha256").update(resolve(dataDir, "deployments")).digest("hex").slice(0, 12)}/`);
}

/** SIGKILL to each pid; one that exited since it was listed is skipped (a test's cleanup must not fail on ESRCH). */
export function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone between the listing and now
    }
  }
}
