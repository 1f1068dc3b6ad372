import type { ComponentDef, NodeContext } from "../component.js";
import { Data, DataFrame, Message } from "../values.js";

/**
 * Langflow 1.13's Loop (`LoopComponent`): its `done` output runs the loop's body once per item
 * (the executor's `runLoopBody`, lfx's `execute_loop_body`) and gives one row per pass; its
 * `item` output, read by the body's first node in the outer graph, only shows what the loop
 * dispatches (lfx stops that branch: the body runs inside the loop, not in the outer run).
 */

/** lfx's `_validate_data`: a Message becomes `{text}`, a DataFrame its rows, a Data itself. */
export function loopItems(value: unknown): Data[] {
  const one = (v: unknown): Data[] => {
    if (v instanceof Message) return [new Data({ text: v.text })];
    if (v instanceof DataFrame) return v.rows.map((r) => new Data(r));
    if (v instanceof Data) return [v];
    throw new Error(`Data input must be a DataFrame, Data object, or list of Data objects, got ${v === null || v === undefined ? "None" : typeof v}`);
  };
  return Array.isArray(value) ? value.flatMap(one) : one(value);
}

/**
 * lfx's `extract_loop_output`: what the body's last node gave, as a Data. A Message arrives as
 * `{text}` only (what lfx 1.13 aggregates for a model's answer, checked against lfx by the
 * equivalence suite's derived Loop flow).
 */
export function passResult(value: unknown): Data {
  if (value instanceof Message) return new Data({ text: value.text });
  if (value instanceof Data) return new Data(value.data);
  if (value === undefined || value === null) return new Data({ text: "" });
  if (value instanceof DataFrame) return new Data({ text: JSON.stringify(value.rows) });
  return new Data({ text: typeof value === "string" ? value : JSON.stringify(value) });
}

/** Each node runs once per run (the executor caches it), so `done` iterates once whoever reads it. */
async function done(ctx: NodeContext): Promise<DataFrame> {
  const items = loopItems(ctx.value("data"));
  ctx.log(`Starting loop over ${items.length} item(s)`);
  const results = items.length === 0 ? [] : (await ctx.runLoopBody(items)).map(passResult);
  ctx.log(`Completed ${results.length} iteration(s)`);
  return new DataFrame(results.map((d) => d.data));
}

async function item(ctx: NodeContext): Promise<Data> {
  const items = loopItems(ctx.value("data"));
  // lfx iterates from `item` only when nothing reads `done`.
  if (!ctx.run.flow.edges.some((e) => e.source === ctx.node.id && e.sourceHandle.name === "done")) await ctx.runLoopBody(items);
  return new Data({ count: items.length, items: items.map((d) => d.data) });
}

const loop: ComponentDef = { methods: { item_output: item, done_output: done } };

export const loopComponents: Record<string, ComponentDef> = { LoopComponent: loop };
