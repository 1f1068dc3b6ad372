import { FlowRunError } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext } from "../component.js";
import { formatFString, formatMustache, fStringVariables, mustacheVariables } from "../template.js";
import { Data, DataFrame, Message, toText } from "../values.js";

/** Prompt templates and parsers: components that turn values into text. */

const prompt: ComponentDef = {
  methods: {
    build_prompt(ctx) {
      const template = ctx.text("template");
      const mustache = ctx.bool("use_double_brackets", false);
      const names = mustache ? mustacheVariables(template) : fStringVariables(template);
      // Each variable is a field of the node (Langflow adds one per variable), often connected.
      const values = Object.fromEntries(names.map((n) => [n, ctx.text(n)]));
      const text = mustache ? formatMustache(template, values) : formatFString(template, values, `${ctx.node.displayName} (${ctx.node.id})`);
      return new Message({ text });
    },
  },
};

function rowsOf(value: unknown): Record<string, unknown>[] | null {
  if (value instanceof DataFrame) return value.rows;
  if (value instanceof Data) return [value.data];
  if (value instanceof Message) return [{ text: value.text }];
  if (Array.isArray(value)) return value.flatMap((v) => rowsOf(v) ?? []);
  return null;
}

const stringValues = (row: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === "string" ? v : v === null || v === undefined ? "None" : toText(v)]));

function parse(ctx: NodeContext): Message {
  const input = ctx.value("input_data");
  const what = `${ctx.node.displayName} (${ctx.node.id})`;
  if (ctx.text("mode") === "Stringify") return new Message({ text: toText(input) });
  const rows = rowsOf(input);
  if (rows === null) throw new FlowRunError(`${what}: input_data must be a DataFrame or Data`, ctx.node.id, ctx.node.displayName);
  const pattern = ctx.text("pattern");
  const sep = ctx.text("sep");
  // lfx formats a DataFrame's rows with `format(**row)` (a missing key fails) but Data items with
  // `format_map` over a dict whose missing keys give the item's default value ("").
  const items = Array.isArray(input) ? input : [input];
  if (items.length > 0 && items.every((v) => v instanceof Data && !(v instanceof Message))) {
    return new Message({ text: (items as Data[]).map((d) => formatFString(pattern, stringValues(d.data), what, d.defaultValue)).join(sep) });
  }
  return new Message({ text: rows.map((row) => formatFString(pattern, stringValues(row), what)).join(sep) });
}

const parser: ComponentDef = {
  methods: {
    parse_combined_text(ctx) {
      return parse(ctx);
    },
  },
};

/** The legacy "Parse Data": `template` applied to each Data, with `{data}` meaning the whole object. */
function parseDataItems(ctx: NodeContext): { texts: string[]; items: Data[] } {
  const input = ctx.value("data");
  const items = (Array.isArray(input) ? input : [input]).filter((v): v is Data => v instanceof Data);
  const template = ctx.text("template") || "{text}";
  const what = `${ctx.node.displayName} (${ctx.node.id})`;
  const texts = items.map((d) => formatFString(template, { data: JSON.stringify(d.data), ...stringValues(d.data) }, what));
  return { texts, items };
}

const parseData: ComponentDef = {
  methods: {
    parse_data(ctx) {
      return new Message({ text: parseDataItems(ctx).texts.join(ctx.text("sep") || "\n") });
    },
    parse_data_as_list(ctx) {
      const { texts, items } = parseDataItems(ctx);
      return items.map((d, i) => new Data({ ...d.data, text: texts[i] }));
    },
  },
};

export const textComponents: Record<string, ComponentDef> = {
  Prompt: prompt,
  "Prompt Template": prompt,
  ParserComponent: parser,
  parser,
  ParseData: parseData,
};
