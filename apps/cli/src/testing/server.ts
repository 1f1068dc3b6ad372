import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killAll, replicaPidsOf, startServer, type ServerProcess } from "@flowplane/testkit";

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

export async function startTestServer(env: Record<string, string> = {}, ports?: { port: number; privatePort: number }): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "flowplane-cli-"));
  let server: ServerProcess;
  try {
    server = await startServer(dataDir, { FLOWPLANE_STOP_RUNTIMES_ON_EXIT: "true", ...env }, ports);
  } catch (e) {
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  const adminKey = (await readFile(join(dataDir, "admin.key"), "utf8")).trim();
  return {
    url: server.url, privateUrl: server.privateUrl, dataDir, adminKey,
    async stop() {
      await server.stop();
      killAll(await replicaPidsOf(dataDir));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
