import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EngineRunRequest, Flow, FlowEngine, LoadedFlow } from "@flowplane/core/replica";
import { fixturePath } from "@flowplane/testkit";

/**
 * A stand-in engine for tests of the host around it (startHost's `createEngine`): it loads any
 * flow with no components and runs none, so what a test sees is the host's own doing. `close`
 * is the engine's close (a test of a failing close gives one that rejects).
 */
export function standInEngine(close: () => Promise<void> = async () => undefined): FlowEngine {
  return {
    name: "lfx",
    load: async (flows: readonly Flow[]): Promise<LoadedFlow[]> => flows.map((flow) => ({ flow, inputComponents: [], outputComponents: [] })),
    run: (_id: string, _r: EngineRunRequest) => Promise.reject(new Error("unused")),
    stream: () => Promise.reject(new Error("unused")),
    close,
  };
}

/** A fresh bundle folder (`<prefix>XXXXXX` in the system's temporary folder) holding one real export, simple-chat-no-llm. */
export function oneFlowBundle(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  copyFileSync(fixturePath("simple-chat-no-llm"), join(dir, "a.json"));
  return dir;
}
