import { FlowRunError, nativeModelProblem, type FlowNode } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext } from "../component.js";
import { chatCompletion, type ChatMessage } from "../chat.js";
import { DataFrame } from "../values.js";
import { modelOf } from "./llm.js";

/**
 * Langflow 1.13's Batch Run (lfx/components/llm_operations/batch_run.py): the model answers
 * each row of a DataFrame, all rows at once (LangChain's `abatch`), under one system message;
 * the row's `column_name` value is the user's message, or, with no column named, the whole row
 * as TOML. Each answer goes into `output_column_name` beside the row's columns, with
 * `batch_index` (and `metadata` when enabled).
 */

/** Python's `str()` of a JSON value, as `str(val)` prints what pandas holds. */
export function pyStr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  return JSON.stringify(v);
}

/** The `toml` package's string dump: Python's repr escapes, in double quotes. */
function tomlString(s: string): string {
  const body = s.replace(/[\\"\u0000-\u001f\u007f]/g, (c) =>
    c === "\\" ? "\\\\" : c === '"' ? '\\"' : c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return `"${body}"`;
}

/** `toml.dumps({col: {"value": str(val)}})`: one `[col]` table per column, separated by a blank line. */
export function rowAsToml(row: Record<string, unknown>): string {
  return Object.entries(row)
    .map(([k, v]) => `[${/^[A-Za-z0-9_-]+$/.test(k) ? k : tomlString(k)}]\nvalue = ${tomlString(pyStr(v))}\n`)
    .join("\n");
}

const len = (s: string): number => [...s].length;

async function runBatch(ctx: NodeContext): Promise<DataFrame> {
  const df = ctx.value("df");
  if (!(df instanceof DataFrame)) throw new FlowRunError(`Expected DataFrame input, got ${df === null || df === undefined ? "NoneType" : typeof df}`);
  const model = modelOf(ctx);
  const system = ctx.text("system_message");
  const column = ctx.text("column_name");
  const outColumn = ctx.text("output_column_name") || "model_response";
  const metadata = ctx.bool("enable_metadata", false);
  if (column && !df.columns.includes(column)) throw new FlowRunError(`Column '${column}' not found in the DataFrame. Available columns: ${df.columns.join(", ")}`);
  const texts = df.rows.map((row) => (column ? pyStr(row[column]) : rowAsToml(row)));
  const answers = await Promise.all(
    texts.map((text) => {
      const messages: ChatMessage[] = system ? [{ role: "system", content: system }, { role: "user", content: text }] : [{ role: "user", content: text }];
      return chatCompletion(ctx.run.services.fetch, model, messages, { signal: ctx.run.signal });
    }),
  );
  return new DataFrame(
    df.rows.map((original, i) => {
      const row: Record<string, unknown> = { ...original, [outColumn]: answers[i]?.content ?? "", batch_index: i };
      if (metadata) {
        row.metadata = { has_system_message: system !== "", input_length: len(String(row.text_input ?? "")), response_length: len(String(row[outColumn])), processing_status: "success" };
      }
      return row;
    }),
  );
}

const batchRun: ComponentDef = {
  check(node: FlowNode) {
    const problem = nativeModelProblem(node);
    return problem ? [problem] : [];
  },
  methods: { run_batch: runBatch },
};

export const batchRunComponents: Record<string, ComponentDef> = { BatchRunComponent: batchRun };
