import { spawn, type ChildProcess } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** Test helpers: the real `flowplane-server` process, and a look at the replica processes it runs. */
const MAIN = fileURLToPath(new URL("./main.js", import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    }).on("error", reject);
  });
}

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  privatePort: number;
  url: string;
  privateUrl: string;
  out(): string;
  /** SIGTERM and wait. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait: a crash. */
  kill(): Promise<void>;
}

/** Starts the server and waits for its banner; `ports` keeps the same listeners across restarts. */
export async function startServer(dataDir: string, env: Record<string, string> = {}, ports?: { port: number; privatePort: number }): Promise<ServerProcess> {
  const port = ports?.port ?? (await freePort());
  const privatePort = ports?.privatePort ?? (await freePort());
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env, FLOWPLANE_DATA_DIR: dataDir, FLOWPLANE_PORT: String(port), FLOWPLANE_PRIVATE_PORT: String(privatePort),
      FLOWPLANE_LOG_LEVEL: "warn", FLOWPLANE_EXTERNAL_URL: `http://127.0.0.1:${port}`, FLOWPLANE_PRIVATE_URL: `http://127.0.0.1:${privatePort}`, ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const deadline = Date.now() + 60_000;
  while (!out.includes("admin key:")) {
    if (child.exitCode !== null) throw new Error(`server exited: ${out}`);
    if (Date.now() > deadline) throw new Error(`server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child, port, privatePort, url: `http://127.0.0.1:${port}`, privateUrl: `http://127.0.0.1:${privatePort}`,
    out: () => out,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const code = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
      child.kill("SIGTERM");
      return code;
    },
    async kill() {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Pids of live processes whose command line holds an argument containing `fragment` (replica markers). */
export async function pidsMatching(fragment: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = await readFile(`/proc/${e}/cmdline`, "utf8");
      if (cmd.split("\0").some((a) => a.startsWith("--flowplane-replica=") && a.includes(fragment))) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
