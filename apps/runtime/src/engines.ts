import { engineForFlows, type EngineChoice, type Flow, type FlowEngine } from "@flowplane/core/replica";
import type { RuntimeConfig } from "./config.js";
import type { Logger } from "@flowplane/core/replica";

export interface EngineHooks {
  /** The engine can no longer serve (lfx died): the host stops being ready and exits. */
  onFatal(reason: string): void;
  log: Logger;
}

/**
 * Picks the engine for a bundle. `auto` takes native when the compatibility report says it can
 * run every component, else lfx (Langflow's own executor, `lfx serve` behind this host). Only
 * the chosen engine's adapter is imported: a native replica never loads the lfx one, nor an
 * lfx replica the native component registry.
 */
export async function createEngine(choice: EngineChoice, flows: readonly Flow[], lfx?: RuntimeConfig["lfx"], hooks?: EngineHooks): Promise<FlowEngine> {
  const engine = engineForFlows(choice, flows);
  if (engine === "native") {
    const { NativeEngine } = await import("@flowplane/engine-native");
    return new NativeEngine({ privateHosts: lfx?.modelHosts ?? [] });
  }
  const { LfxEngine } = await import("@flowplane/engine-lfx");
  return new LfxEngine({
    bin: lfx?.bin ?? null,
    ...(lfx ? { startTimeoutMs: lfx.startTimeoutMs, processEnv: lfx.processEnv, modelHosts: lfx.modelHosts } : {}),
    ...(hooks
      ? {
          onExit: hooks.onFatal,
          // lfx's own lines (already stripped of parameter values) for whoever runs at debug.
          onLine: (line: string) => hooks.log.debug({ line }, "lfx"),
        }
      : {}),
  });
}
