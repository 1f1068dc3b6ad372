import type { Flow, FlowNode } from "./flow.js";
import { LFX_MODULES } from "./lfx-modules.js";

/**
 * Whether lfx (Langflow's executor, as flowplane pins and installs it) can run a flow. lfx
 * runs each component from the Python code embedded in the export (`template.code.value`), so
 * what it needs is readable from the flow: the modules that code imports, and whether the
 * component needs Langflow's application (its database and services) rather than lfx alone.
 *
 * The publish-time compatibility report and the lfx engine's load both call `lfxProblems`: a
 * flow the report calls unsupported is refused at load with the same reasons, and a test loads
 * every Langflow 1.13 starter project to check that lfx itself agrees with the rest.
 */

/**
 * Component types that cannot work outside Langflow's application, with the reason: lfx
 * serves flows without Langflow's database, users or background services.
 */
export const LANGFLOW_APP_ONLY: ReadonlyMap<string, string> = new Map([
  // lfx 1.13 lfx/components/files_and_knowledge/{knowledge,retrieval,ingestion}.py: every operation
  // goes through langflow.api.utils.knowledge_base_service and the knowledge-base storage of
  // Langflow's database (imported lazily inside the methods, absent under lfx).
  ["Knowledge", "knowledge bases live in Langflow's database and services, which lfx does not have"],
  ["KnowledgeBase", "knowledge bases live in Langflow's database and services, which lfx does not have"],
  ["KnowledgeIngestion", "knowledge bases live in Langflow's database and services, which lfx does not have"],
]);

/**
 * Why lfx cannot run a node:
 * - `missing_module`: its code imports, when the component is loaded, a Python module the
 *   pinned install lacks (lfx refuses the flow at load);
 * - `needs_langflow_app`: it needs Langflow's application services (see LANGFLOW_APP_ONLY).
 */
export type LfxProblemReason = "missing_module" | "needs_langflow_app";

export interface LfxProblem {
  flowId: string;
  flowName: string;
  nodeId: string;
  type: string;
  reason: LfxProblemReason;
  detail: string;
}

export interface PythonImport {
  /** The top-level module (`langchain_openai` for `from langchain_openai.chat import X`). */
  module: string;
  /**
   * - `load`: at module or class level, run when lfx loads the component;
   * - `run`: inside a function, guarded by `try`, or under `if TYPE_CHECKING:` (only when that path runs, if ever).
   */
  when: "load" | "run";
}

const IMPORT = /^(\s*)(?:import\s+([\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*)|from\s+([\w.]+)\s+import\s)/;
const BLOCK = /^(\s*)(?:(?:async\s+)?def\s|try\s*:|if\s+(?:typing\.)?TYPE_CHECKING\s*:)/;

/** How many brackets a line opens minus how many it closes (string literals and comments left out). */
function bracketDelta(line: string): number {
  const code = line.replace(/(["'])(?:\\.|(?!\1).)*\1/g, "").replace(/#.*/, "");
  return (code.match(/[([{]/g)?.length ?? 0) - (code.match(/[)\]}]/g)?.length ?? 0);
}

/**
 * The imports of a component's Python source, by a line scan (no Python at publish time):
 * enough for the import forms Langflow's components use. Relative imports (`from .x`) and
 * text inside triple-quoted strings are ignored.
 */
export function pythonImports(code: string): PythonImport[] {
  const out: PythonImport[] = [];
  const blocks: number[] = []; // indents of the enclosing def / try / TYPE_CHECKING blocks
  let inString: string | null = null;
  let brackets = 0; // open ( [ { carried over from earlier lines: a continuation line says nothing about blocks
  for (const line of code.split("\n")) {
    if (inString) {
      if (line.split(inString).length % 2 === 0) inString = null;
      continue;
    }
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const continuation = brackets > 0;
    brackets = Math.max(0, brackets + bracketDelta(line));
    if (continuation) continue;
    const indent = line.length - line.trimStart().length;
    while (blocks.length > 0 && indent <= (blocks.at(-1) ?? 0)) blocks.pop();
    for (const q of ['"""', "'''"]) if (line.split(q).length % 2 === 0) inString = q;
    if (inString) continue;
    const block = BLOCK.exec(line);
    if (block) {
      blocks.push(indent);
      continue;
    }
    const m = IMPORT.exec(line);
    if (!m) continue;
    const when = blocks.length > 0 ? "run" : "load";
    const modules = m[2] ? m[2].split(",").map((p) => p.trim().split(/\s+/)[0] ?? "") : [m[3] ?? ""];
    for (const full of modules) {
      const module = full.split(".")[0] ?? "";
      if (module) out.push({ module, when });
    }
  }
  return out;
}

/**
 * Modules lfx resolves without them being installed: when a component is loaded, lfx retries a
 * failed `langflow.*` import as `lfx.*` (lfx/custom/validate.py, `_get_module_fallbacks`), which
 * is how exports from older Langflow releases load. The same fallback does not apply to imports
 * inside methods, run later by plain Python.
 */
const LOAD_FALLBACKS: ReadonlySet<string> = new Set(["langflow"]);

/** The modules a node's code imports at load that the pinned lfx install lacks. */
export function missingModules(node: FlowNode, available: ReadonlySet<string> = LFX_MODULES): string[] {
  const code = node.template.code?.value;
  if (typeof code !== "string") return [];
  const missing = pythonImports(code).filter((i) => i.when === "load" && !available.has(i.module) && !LOAD_FALLBACKS.has(i.module));
  return [...new Set(missing.map((i) => i.module))].sort();
}

/** Every reason lfx cannot run these flows, per node. */
export function lfxProblems(flows: readonly Flow[], available: ReadonlySet<string> = LFX_MODULES): LfxProblem[] {
  const problems: LfxProblem[] = [];
  for (const flow of flows) {
    for (const node of flow.nodes) {
      if (node.isNote) continue;
      const base = { flowId: flow.id, flowName: flow.name, nodeId: node.id, type: node.type };
      const appOnly = LANGFLOW_APP_ONLY.get(node.type);
      if (appOnly) problems.push({ ...base, reason: "needs_langflow_app", detail: appOnly });
      const missing = missingModules(node, available);
      if (missing.length > 0) problems.push({ ...base, reason: "missing_module", detail: `its code imports ${missing.map((m) => `'${m}'`).join(", ")}, not installed with lfx` });
    }
  }
  return problems;
}
