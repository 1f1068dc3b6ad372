import { compatibilityReport, resolveEngine, UnprocessableFlowError, type EngineChoice, type Flow, type FlowEngine } from "@flowplane/core";
import { NativeEngine } from "@flowplane/engine-native";

/**
 * Picks the engine for a bundle. `auto` takes native when it can run every component. The lfx
 * engine (Langflow's own executor behind this host) plugs in here as another FlowEngine.
 */
export function createEngine(choice: EngineChoice, flows: readonly Flow[]): FlowEngine {
  const report = compatibilityReport(flows);
  const engine = resolveEngine(choice, report);
  if (engine === "native") return new NativeEngine();
  const why = choice === "lfx" ? "FLOWPLANE_ENGINE=lfx was asked for" : `the native engine cannot run ${[...new Set(report.native.missing.map((m) => m.type))].join(", ")}`;
  throw new UnprocessableFlowError(`${why}, but the lfx engine is not available in this runtime yet`, report.native.missing);
}
