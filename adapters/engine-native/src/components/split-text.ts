import { FlowRunError } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext } from "../component.js";
import { Data, DataFrame, Message } from "../values.js";

/**
 * Langflow 1.13's Split Text (lfx/components/processing/split_text.py): each input's text cut
 * by LangChain's CharacterTextSplitter (a literal separator, chunks merged up to `chunk_size`
 * characters with up to `chunk_overlap` carried over, each chunk stripped), one row per chunk
 * with the input's other fields, content columns first and system columns last.
 */

/** Python's len: code points, not UTF-16 units. */
const len = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** LangChain's `_split_text_with_regex` for a literal separator; `keep`: false, "start" (true) or "end". */
function splitWithSeparator(text: string, separator: string, keep: false | "start" | "end"): string[] {
  if (!separator) return [...text].filter(Boolean);
  if (!keep) return text.split(separator).filter(Boolean);
  const parts = text.split(separator).flatMap((p, i) => (i === 0 ? [p] : [separator, p]));
  const out: string[] = [];
  if (keep === "end") {
    for (let i = 0; i < parts.length - 1; i += 2) out.push((parts[i] ?? "") + (parts[i + 1] ?? ""));
    if (parts.length % 2 === 0) out.push(...parts.slice(-1));
    out.push(parts.at(-1) ?? "");
  } else {
    for (let i = 1; i < parts.length; i += 2) out.push((parts[i] ?? "") + (parts[i + 1] ?? ""));
    if (parts.length % 2 === 0) out.push(...parts.slice(-1));
    out.unshift(parts[0] ?? "");
  }
  return out.filter(Boolean);
}

/** LangChain's TextSplitter `_merge_splits`, with `strip_whitespace` on. */
function mergeSplits(splits: string[], separator: string, size: number, overlap: number): string[] {
  const sepLen = len(separator);
  const docs: string[] = [];
  let current: string[] = [];
  let total = 0;
  const join = (parts: string[]) => {
    const t = parts.join(separator).trim();
    if (t) docs.push(t);
  };
  for (const d of splits) {
    const l = len(d);
    if (total + l + (current.length > 0 ? sepLen : 0) > size && current.length > 0) {
      join(current);
      while (total > overlap || (total + l + (current.length > 0 ? sepLen : 0) > size && total > 0)) {
        total -= len(current[0] ?? "") + (current.length > 1 ? sepLen : 0);
        current = current.slice(1);
      }
    }
    current.push(d);
    total += l + (current.length > 1 ? sepLen : 0);
  }
  join(current);
  return docs;
}

/** CharacterTextSplitter.split_text. */
export function splitText(text: string, options: { separator: string; size: number; overlap: number; keep: false | "start" | "end" }): string[] {
  if (options.overlap > options.size) throw new Error(`Got a larger chunk overlap (${options.overlap}) than chunk size (${options.size}), should be smaller.`);
  const splits = splitWithSeparator(text, options.separator, options.keep);
  return mergeSplits(splits, options.keep ? "" : options.separator, options.size, options.overlap);
}

const CONTENT = new Set(["text", "content", "output", "summary", "result", "answer", "response"]);
const SYSTEM = new Set(["timestamp", "sender", "sender_name", "session_id", "context_id", "flow_id", "files", "error", "edit"]);

/** lfx's DataFrame.smart_column_order, applied to each row's keys (every row has the same ones here). */
function smartOrder(row: Record<string, unknown>): Record<string, unknown> {
  const keys = Object.keys(row);
  const content = keys.filter((k) => CONTENT.has(k.toLowerCase()));
  const system = keys.filter((k) => SYSTEM.has(k.toLowerCase()) || k.startsWith("_"));
  const regular = keys.filter((k) => !content.includes(k) && !system.includes(k));
  return Object.fromEntries([...content, ...regular, ...system].map((k) => [k, row[k]]));
}

/** The documents lfx makes of the input: `[text, metadata]` per Data, Message or DataFrame row. */
function documents(ctx: NodeContext, textKey: string): [string, Record<string, unknown>][] {
  const input = ctx.value("data_inputs");
  const asDocWith = (data: Record<string, unknown>, key: string): [string, Record<string, unknown>] => {
    const { [key]: text, ...meta } = data;
    return [typeof text === "string" ? text : text === undefined ? "" : String(text), meta];
  };
  const asDoc = (data: Record<string, unknown>) => asDocWith(data, textKey);
  if (input instanceof DataFrame) {
    if (input.rows.length === 0) throw new FlowRunError("DataFrame is empty");
    return input.rows.map(asDoc);
  }
  // lfx: `[message.to_data()]`, read with the default text key.
  if (input instanceof Message) return [asDocWith(input.toJSON().data as Record<string, unknown>, "text")];
  if (input instanceof Data) return [asDoc(input.data)];
  const items = Array.isArray(input) ? input.flat() : [];
  if (!input || (Array.isArray(input) && items.length === 0)) throw new FlowRunError("No data inputs provided");
  const docs = items.filter((i): i is Data => i instanceof Data && !(i instanceof Message)).map((d) => asDoc(d.data));
  if (docs.length === 0) throw new FlowRunError(`No valid Data inputs found in ${Array.isArray(input) ? "list" : typeof input}`);
  return docs;
}

function keepSeparator(value: unknown): false | "start" | "end" {
  const v = typeof value === "string" ? value.toLowerCase() : value;
  if (v === true || v === "true" || v === "start") return "start";
  if (v === "end") return "end";
  return false;
}

const splitTextComponent: ComponentDef = {
  methods: {
    split_text(ctx) {
      let separator = ctx.text("separator");
      if (separator === "/n") separator = "\n";
      else if (separator === "/t") separator = "\t";
      separator = separator.replaceAll("\\n", "\n");
      const textKey = ctx.text("text_key") || "text";
      const clean = ctx.bool("clean_output", false);
      const options = { separator, size: ctx.number("chunk_size", 1000), overlap: ctx.number("chunk_overlap", 200), keep: keepSeparator(ctx.value("keep_separator")) };
      const rows: Record<string, unknown>[] = [];
      for (const [text, meta] of documents(ctx, textKey)) {
        let chunks: string[];
        try {
          chunks = splitText(text, options);
        } catch (err) {
          throw new FlowRunError(`Error splitting text: ${(err as Error).message}`);
        }
        // lfx: Data(text=chunk, data=metadata), so the text follows the metadata's keys.
        for (const chunk of chunks) rows.push(clean ? { text: chunk } : { ...meta, text: chunk });
      }
      return new DataFrame(clean ? rows : rows.map(smartOrder));
    },
  },
};

export const splitTextComponents: Record<string, ComponentDef> = { SplitText: splitTextComponent };
