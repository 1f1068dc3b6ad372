#!/usr/bin/env node
import { readConfig } from "./config.js";

/**
 * flowplane-runtime: the only place that reads the environment. Exit codes: 0 after a drained
 * shutdown, 1 for a start-up failure (bad configuration, download failed, digest mismatch,
 * flow load error), an engine that stopped serving (lfx died), or a shutdown that had to cut
 * requests off.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = readConfig(process.env);
  } catch (err) {
    const { createLogger } = await import("@flowplane/logging");
    createLogger({ level: "error" }).error((err as Error).message);
    process.exit(1);
  }
  const { createLogger } = await import("@flowplane/logging");
  const log = createLogger({ level: config.logLevel, bindings: config.logBindings });
  let host;
  try {
    const { startHost } = await import("./host.js");
    host = await startHost({ config, log });
  } catch (err) {
    // The port taken, the probe listener refused: a start-up failure, said in one line.
    log.error({ reason: (err as Error).message }, "start-up failed");
    process.exit(1);
  }
  // On the way out after a failure the listeners stay open until the process exits: a port
  // closed while the process lives is free for any process on the machine to bind, and the
  // gateway may still send this replica calls until its driver sees it gone (the local driver
  // learns it from the exit). The exit closes every connection at once.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutdown requested");
    void host.shutdown().then((drained) => process.exit(drained ? 0 : 1), (err: unknown) => {
      log.error({ reason: err instanceof Error ? err.message : String(err) }, "shutdown failed");
      process.exit(1);
    });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  void host.failed.then(async (reason) => {
    if (stopping) return;
    stopping = true;
    log.error({ reason }, "exiting: the engine stopped serving");
    await host.state.engine?.close().catch(() => undefined);
    process.exit(1);
  });
  try {
    await host.loaded;
  } catch (err) {
    log.error({ reason: (err as Error).message }, "start-up failed");
    process.exit(1);
  }
}

void main();
