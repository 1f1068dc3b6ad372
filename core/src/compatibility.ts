import { edgesFrom, edgesInto, type Flow, type FlowNode } from "./flow.js";
import { lfxProblems, type LfxProblem } from "./lfx-support.js";
import { nativeModelProblem } from "./models.js";

/** Which engine runs a bundle: `native` (flowplane's own, in Node) or `lfx` (Langflow's executor). */
export type EngineName = "native" | "lfx";
/** The runtime's engine setting: `auto` picks native when it can run every component, else lfx. */
export type EngineChoice = "auto" | EngineName;

/**
 * Component types (`data.type`) the native engine implements. The native engine's own
 * registry must list exactly these (a test in adapters/engine-native checks it), so the report
 * given at publish time and the engine's behaviour at load time cannot drift apart.
 */
export const NATIVE_COMPONENTS: ReadonlySet<string> = new Set([
  "ChatInput",
  "ChatOutput",
  "TextInput",
  "TextOutput",
  "Prompt",
  "Prompt Template",
  "ParserComponent",
  "parser",
  "ParseData",
  "Webhook",
  "APIRequest",
  "URLComponent",
  "LanguageModelComponent",
  "OpenAIModel",
  "Agent",
  "Memory",
  "URL",
  "CalculatorComponent",
  "MemoryBase",
  "UnifiedWebSearch",
  "SplitText",
  "BatchRunComponent",
  "SaveToFile",
  "File",
  "ArXivComponent",
  "LoopComponent",
  "SQLComponent",
]);

/** A Read File node set to Docling's Advanced Parser. */
const readFileAdvanced = (node: FlowNode): boolean => node.template.advanced_mode?.value === true;

/**
 * Outputs of native components that native does not implement in some settings, by component
 * type: a flow whose edges read one the predicate refuses is not native's (reason
 * `not_implemented`), so the publish-time report and the engine's load-time check agree. The
 * Agent's `structured_response` is lfx's structured-output orchestrator: with tools (lfx counts
 * its built-in date and calculator tools) it is a prompt-and-parse fallback, which native runs;
 * without any, the provider's own structured output, which native does not implement.
 */
export const NATIVE_MISSING_OUTPUTS: Readonly<Record<string, Readonly<Record<string, (node: FlowNode, flow: Flow) => boolean>>>> = {
  // Read File: Docling (the Advanced Parser, and its outputs), the structured readers (pandas for
  // CSV, a Python dict for JSON) and lfx's own parameterless agent tool are not native.
  File: {
    message: (node) => readFileAdvanced(node),
    dataframe: (node) => readFileAdvanced(node) || node.outputs.some((o) => o.name === "dataframe" && o.method === "load_files_structured"),
    path: (node) => readFileAdvanced(node),
    advanced_dataframe: () => true,
    advanced_markdown: () => true,
    json: () => true,
    component_as_tool: () => true,
  },
  Agent: {
    structured_response: (node, flow) =>
      !edgesInto(flow, node.id).some((e) => e.targetHandle.fieldName === "tools") &&
      node.template.add_current_date_tool?.value === false &&
      node.template.add_calculator_tool?.value !== true,
  },
};

/**
 * What a user should know about a component native runs (docs/langflow-compatibility.md says
 * more). Not part of the report's API shape; the docs and the equivalence report print them.
 */
export const NATIVE_NOTES: Readonly<Record<string, string>> = {
  Memory: "message history is kept per replica, in memory: with several replicas a session's history is what the replica serving it has seen, and a restart forgets it",
  MemoryBase: "searches this replica's stored messages by word overlap (Langflow searches a vector store of captured conversations by embedding similarity); per replica, like Memory",
  File: "reads text files (txt, md, mdx, csv, html, htm, py, sh, sql, js, ts, tsx, json) in ASCII or UTF-8 from the replica's private folder (TMPDIR/flowplane-files, where /api/v2/files and /api/v1/files/upload put uploads), per replica; a path elsewhere is refused; PDF, Word, YAML, XML, other encodings, archives, Docling (Advanced Parser), AWS and Google Drive fail the run naming the lfx engine",
  SaveToFile: "Local storage only, into the replica's private folder (TMPDIR/flowplane-files), which goes with the replica; AWS and Google Drive fail the run",
  SQLComponent: "PostgreSQL only (postgresql://...), through the pg driver; loopback and private database hosts are refused unless the operator allows them (FLOWPLANE_MODEL_HOSTS), as lfx refuses them; dates in rows are ISO text",
  UnifiedWebSearch: "calls DuckDuckGo, Google News or the feed through the deployment's egress; results are parsed without BeautifulSoup, so whitespace in scraped page text may differ",
};

/**
 * Why native does not run a component Langflow 1.13's starters use, for load refusals and docs
 * (the report's `reason` stays `not_implemented`; the API's shape is fixed).
 */
export const NATIVE_NOT_RUN: Readonly<Record<string, string>> = {
  StructuredOutput: "the Structured Output component asks the provider's own structured output (tool calling / JSON schema), which native does not implement (the Agent's structured_response with tools does run natively)",
  Agent: "the Agent's structured_response without any tool (no tool connected, the date and calculator tools off) uses the model's own structured output, which native does not implement; with tools lfx's prompt fallback runs natively",
  File: "Read File's Advanced Parser (Docling) and its structured outputs (pandas' CSV reader, a JSON dict) are not reproduced natively; its Raw Content of text files is",
  Knowledge: "Langflow knowledge bases live in Langflow's own database and vector store",
  AssemblyAITranscriber: "no AssemblyAI client in the native engine",
  AstraDB: "no Astra DB client in the native engine",
};

/** The load refusal's words for one missing component. */
export function nativeMissingDetail(m: Pick<MissingComponent, "type" | "reason">): string | null {
  return m.reason === "not_implemented" ? (NATIVE_NOT_RUN[m.type] ?? null) : null;
}

export interface MissingComponent {
  flowId: string;
  flowName: string;
  nodeId: string;
  type: string;
  /**
   * Why native cannot run it:
   * - `not_implemented`: native has no such component;
   * - `custom_code`: its code was edited in the Langflow editor;
   * - `unsupported_provider`: its model's provider is not OpenAI(-compatible) (`nativeModelProblem`).
   */
  reason: "not_implemented" | "custom_code" | "unsupported_provider";
}

export interface CompatibilityReport {
  native: { supported: boolean; missing: MissingComponent[] };
  /** lfx: what `lfxProblems` finds (the lfx engine refuses the same flows at load). */
  lfx: { supported: boolean; missing: LfxProblem[] };
  /** What `auto` resolves to for this bundle. */
  recommendedEngine: EngineName;
}

/**
 * The native half of the report: which components native cannot run. What the native engine
 * checks at load and what `auto` decides on; a replica computes only this, never lfx's half
 * (which reads every component's Python code, a few milliseconds per flow of every start).
 */
export function nativeSupport(flows: readonly Flow[], nativeComponents: ReadonlySet<string> = NATIVE_COMPONENTS): CompatibilityReport["native"] {
  const missing: MissingComponent[] = [];
  for (const flow of flows) {
    for (const node of flow.nodes) {
      if (node.isNote) continue;
      const base = { flowId: flow.id, flowName: flow.name, nodeId: node.id, type: node.type };
      const readOutputs = new Set(edgesFrom(flow, node.id).map((e) => e.sourceHandle.name));
      const missingOutput = Object.entries(NATIVE_MISSING_OUTPUTS[node.type] ?? {}).some(([o, refused]) => readOutputs.has(o) && refused(node, flow));
      if (!nativeComponents.has(node.type) || missingOutput) missing.push({ ...base, reason: "not_implemented" });
      else if (node.edited) missing.push({ ...base, reason: "custom_code" });
      else if (nativeModelProblem(node)) missing.push({ ...base, reason: "unsupported_provider" });
    }
  }
  return { supported: missing.length === 0, missing };
}

export function compatibilityReport(flows: readonly Flow[], nativeComponents: ReadonlySet<string> = NATIVE_COMPONENTS): CompatibilityReport {
  const native = nativeSupport(flows, nativeComponents);
  const lfxMissing = lfxProblems(flows);
  return { native, lfx: { supported: lfxMissing.length === 0, missing: lfxMissing }, recommendedEngine: native.supported ? "native" : "lfx" };
}

export function resolveEngine(choice: EngineChoice, report: Pick<CompatibilityReport, "recommendedEngine">): EngineName {
  return choice === "auto" ? report.recommendedEngine : choice;
}

/**
 * `resolveEngine` for flows without a report (a replica at start): `auto` asks only
 * `nativeSupport`, an explicit choice nothing (the engine checks its flows at load).
 */
export function engineForFlows(choice: EngineChoice, flows: readonly Flow[]): EngineName {
  return choice === "auto" ? (nativeSupport(flows).supported ? "native" : "lfx") : choice;
}
