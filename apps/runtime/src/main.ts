#!/usr/bin/env node
import { readConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { startHost } from "./host.js";

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
    createLogger("error").error((err as Error).message);
    process.exit(1);
  }
  const log = createLogger(config.logLevel);
  const host = await startHost({ config, log });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("shutdown requested", { signal });
    void host.shutdown().then((drained) => process.exit(drained ? 0 : 1));
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  void host.failed.then(async (reason) => {
    if (stopping) return;
    stopping = true;
    log.error("exiting: the engine stopped serving", { reason });
    await host.app.close().catch(() => undefined);
    await host.state.engine?.close().catch(() => undefined);
    process.exit(1);
  });
  try {
    await host.loaded;
  } catch (err) {
    log.error("start-up failed", { reason: (err as Error).message });
    await host.app.close().catch(() => undefined);
    process.exit(1);
  }
}

void main();
