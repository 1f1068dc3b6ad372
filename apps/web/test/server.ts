import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { repoRoot } from "@flowplane/testkit";

/**
 * The real `flowplane-server` process for the browser tests, started from its built file (an
 * app never imports another app, so this is a process, not a module).
 */
const MAIN = join(repoRoot, "apps", "server", "dist", "main.js");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    }).on("error", reject);
  });
}

export interface Server {
  url: string;
  adminKey: string;
  out(): string;
  stop(): Promise<void>;
}

export async function startServer(dataDir: string, env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const privatePort = await freePort();
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      FLOWPLANE_DATA_DIR: dataDir, FLOWPLANE_PORT: String(port), FLOWPLANE_PRIVATE_PORT: String(privatePort),
      FLOWPLANE_EXTERNAL_URL: `http://127.0.0.1:${port}`, FLOWPLANE_PRIVATE_URL: `http://127.0.0.1:${privatePort}`,
      FLOWPLANE_LOG_LEVEL: "warn", FLOWPLANE_STOP_RUNTIMES_ON_EXIT: "true", ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 60_000;
  while (!out.includes("admin key:")) {
    if (child.exitCode !== null) throw new Error(`server exited: ${out}`);
    if (Date.now() > deadline) throw new Error(`server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const adminKey = (await readFile(join(dataDir, "admin.key"), "utf8")).trim();
  return {
    url: `http://127.0.0.1:${port}`,
    adminKey,
    out: () => out,
    // SIGTERM: with FLOWPLANE_STOP_RUNTIMES_ON_EXIT the server stops its replicas before exiting.
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A JSON call to the API with a key (the test's own client, for what the UI does not do: machine users). */
export async function api(server: Server, method: string, path: string, body?: unknown, key = server.adminKey): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read answers loosely
  const r = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { "x-access-key": key, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined };
}
