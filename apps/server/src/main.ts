#!/usr/bin/env node
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { openStore } from "@flowplane/store";
import { ensureOrgOwner, loadSecretKey } from "./bootstrap.js";
import { ConfigError, loadConfig } from "./config.js";
import { createControlPlane } from "./control-plane.js";

/** `npm start`: the control plane on its embedded defaults (PGlite in the data folder). */
async function main(): Promise<void> {
  const config = loadConfig(process.env, process.cwd());
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const { store } = await openStore({ databaseUrl: config.databaseUrl, pgliteDir: join(config.dataDir, "pglite") });
  const secretKey = await loadSecretKey(config.dataDir, config.secretKey);
  const cp = createControlPlane({
    store,
    secretKey,
    urls: { public: config.externalUrl, private: config.privateUrl },
    bodyLimit: config.bodyLimitBytes,
    logLevel: config.logLevel,
  });
  const admin = await ensureOrgOwner({ store, identity: cp.identity, dataDir: config.dataDir, now: () => new Date() });
  await cp.app.listen({ host: config.host, port: config.port });
  const where = config.databaseUrl ? "PostgreSQL (DATABASE_URL)" : `PGlite in ${join(config.dataDir, "pglite")}`;
  process.stdout.write(
    `flowplane is running at ${config.externalUrl}\n` +
    `  API:      ${config.externalUrl}/api/v1 (OpenAPI: ${config.externalUrl}/api/v1/openapi.json)\n` +
    `  storage:  ${where}\n` +
    `  admin key: ${admin.path}${admin.created ? " (new)" : ""} - send it as the x-access-key header\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    cp.app.log.info({ signal }, "shutting down");
    await cp.app.close();
    await store.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((e: unknown) => {
  const msg = e instanceof ConfigError ? e.message : `flowplane failed to start: ${e instanceof Error ? e.message : String(e)}`;
  process.stderr.write(`${msg}\n`);
  process.exit(1);
});
