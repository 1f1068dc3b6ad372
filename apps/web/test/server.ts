import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { startServer as startProcess } from "@flowplane/testkit";

/**
 * The real `flowplane-server` process for the browser tests (testkit's shared helper: an app
 * never imports another app, so this is a process, not a module).
 */
export interface Server {
  url: string;
  adminKey: string;
  out(): string;
  stop(): Promise<void>;
}

export async function startServer(dataDir: string, env: Record<string, string>): Promise<Server> {
  // With FLOWPLANE_STOP_RUNTIMES_ON_EXIT the server stops its replicas when it gets SIGTERM.
  const p = await startProcess(dataDir, { FLOWPLANE_STOP_RUNTIMES_ON_EXIT: "true", ...env });
  const adminKey = (await readFile(join(dataDir, "admin.key"), "utf8")).trim();
  return {
    url: p.url,
    adminKey,
    out: p.out,
    async stop() {
      await p.stop();
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
