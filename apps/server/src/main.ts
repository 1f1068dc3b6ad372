#!/usr/bin/env node
import { join } from "node:path";
import { createLogger } from "@flowplane/logging";
import { openStore, useBaselineWasmCompiler } from "@flowplane/store";
import { ConfigError, loadConfig } from "./config.js";
import { DataFolderLockedError, lockDataFolder } from "./data-lock.js";
import { secureDataDir } from "./data-dir.js";

/**
 * `npm start`: everything in one process on the embedded defaults (API, gateway listeners,
 * reconciler with the local driver, PGlite in the data folder). FLOWPLANE_ROLES runs a subset.
 */
async function main(): Promise<void> {
  // Everything this process (and PGlite, and the replicas it starts) creates is private to its user.
  process.umask(0o077);
  const config = loadConfig(process.env, process.cwd());
  // The process's one logger: every listener, the driver, the reconciler (docs/logging.md).
  const log = createLogger({ level: config.logLevel });
  // Before anything in the folder is opened or changed: one process per data folder (data-lock.ts).
  // A replica's process holding the lock's name (replicas share the network namespace) is killed, not obeyed.
  await lockDataFolder(config.dataDir, undefined, { base: config.runtimeUidBase, count: config.runtimeUidCount });
  await secureDataDir(config.dataDir);
  // PGlite's WebAssembly on V8's baseline compiler only: ~55 MiB less for the process's life
  // (pglite-compiler.ts says why; docs/ARCHITECTURE.md, "Storage rules", has the figures).
  if (!config.databaseUrl) useBaselineWasmCompiler();
  // The rest of the process's modules (serve.ts: Fastify, the API, the gateway, the drivers)
  // load while the database opens, instead of before it: PGlite compiles its WebAssembly on
  // other threads meanwhile, and a start is that much shorter (`npm run bench -- embedded`).
  const composition = import("./serve.js");
  composition.catch(() => undefined); // awaited below; an early failure must not be "unhandled"
  const { store } = await openStore({ databaseUrl: config.databaseUrl, pgliteDir: join(config.dataDir, "pglite") });
  // PGlite (emscripten) sets its files' modes itself, past the umask: close them again once it has opened.
  if (!config.databaseUrl) await secureDataDir(config.dataDir);
  const { serve } = await composition;
  await serve({ config, log, store });
}

main().catch((e: unknown) => {
  const msg = e instanceof ConfigError || e instanceof DataFolderLockedError ? e.message : `flowplane failed to start: ${e instanceof Error ? e.message : String(e)}`;
  process.stderr.write(`${msg}\n`);
  process.exit(1);
});
