import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "@flowplane/testkit";

/**
 * Test helper: the real flowplane server (`apps/server/dist/main.js`, as `npm start` runs it) in
 * its own process, on free ports, with a throw-away data folder. Spawned by path rather than
 * imported: an app never imports another app.
 */
export interface TestServer {
  url: string;
  privateUrl: string;
  dataDir: string;
  adminKey: string;
  /** SIGTERM (the server removes its runtimes), then kill any replica it left, then remove the data folder. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    }).on("error", reject);
  });
}

/**
 * Replica processes of this server: the local driver marks them with `--flowplane-replica=`,
 * and they inherit the server's working folder, which is this test's own data folder.
 */
async function replicasOf(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const e of await readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = await readFile(`/proc/${e}/cmdline`, "utf8");
      if (cmd.includes("--flowplane-replica=") && (await readlink(`/proc/${e}/cwd`)) === dataDir) pids.push(Number(e));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "flowplane-cli-"));
  const [port, privatePort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  const privateUrl = `http://127.0.0.1:${privatePort}`;
  const child: ChildProcess = spawn(process.execPath, [join(repoRoot, "apps", "server", "dist", "main.js")], {
    cwd: dataDir,
    env: {
      ...process.env, FLOWPLANE_DATA_DIR: dataDir, FLOWPLANE_PORT: String(port), FLOWPLANE_PRIVATE_PORT: String(privatePort),
      FLOWPLANE_EXTERNAL_URL: url, FLOWPLANE_PRIVATE_URL: privateUrl, FLOWPLANE_LOG_LEVEL: "warn",
      FLOWPLANE_STOP_RUNTIMES_ON_EXIT: "true", ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const deadline = Date.now() + 60_000;
  while (!out.includes("admin key:")) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
      throw new Error(`the flowplane server did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const adminKey = (await readFile(join(dataDir, "admin.key"), "utf8")).trim();
  return {
    url, privateUrl, dataDir, adminKey,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        await exited;
        clearTimeout(timer);
      }
      for (const pid of await replicasOf(dataDir)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
