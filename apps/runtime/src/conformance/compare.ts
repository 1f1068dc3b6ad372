/**
 * How the conformance suite compares two engines' answers: by shape (keys and JSON types,
 * recursively; values such as ids, timestamps and durations differ by nature) and by the text a
 * caller reads. Differences are named by a path (`outputs[].results.message.text_key`) so a
 * known-differences entry can explain them with a glob.
 */
export type Kind = "only-native" | "only-lfx" | "type" | "text" | "outcome" | "events";

export interface Difference {
  /** What was compared: an endpoint (`/api/v1/run`) or a component id. */
  where: string;
  path: string;
  kind: Kind;
  native?: string;
  lfx?: string;
}

const typeOf = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/** Shape differences between two JSON values; array items are compared as one merged item shape. */
export function shapeDifferences(where: string, native: unknown, lfx: unknown, path = ""): Difference[] {
  const [a, b] = [typeOf(native), typeOf(lfx)];
  if (a !== b) return [{ where, path: path || "(root)", kind: "type", native: a, lfx: b }];
  if (a === "array") {
    const [ia, ib] = [mergeItems(native as unknown[]), mergeItems(lfx as unknown[])];
    // An empty list on one side says nothing about the shape of its items.
    return ia === undefined || ib === undefined ? [] : shapeDifferences(where, ia, ib, `${path}[]`);
  }
  if (a !== "object") return [];
  const [na, lb] = [native as Record<string, unknown>, lfx as Record<string, unknown>];
  const out: Difference[] = [];
  for (const key of new Set([...Object.keys(na), ...Object.keys(lb)])) {
    const p = path ? `${path}.${key}` : key;
    if (!(key in lb)) out.push({ where, path: p, kind: "only-native" });
    else if (!(key in na)) out.push({ where, path: p, kind: "only-lfx" });
    else out.push(...shapeDifferences(where, na[key], lb[key], p));
  }
  return out;
}

/** One value standing for every item of an array: objects merged key by key, else the first item. */
function mergeItems(items: unknown[]): unknown {
  if (items.length === 0) return undefined;
  if (items.every((i) => typeOf(i) === "object")) {
    const merged: Record<string, unknown> = {};
    for (const item of items as Record<string, unknown>[]) for (const [k, v] of Object.entries(item)) if (!(k in merged) || merged[k] === null) merged[k] = v;
    return merged;
  }
  return items[0];
}

export function textDifference(where: string, path: string, native: string | null, lfx: string | null): Difference[] {
  return native === lfx ? [] : [{ where, path, kind: "text", native: native ?? "(none)", lfx: lfx ?? "(none)" }];
}

/** The text a caller reads from a component's Langflow result: a message's text, else a text output. */
export function resultText(result: unknown): string | null {
  const r = result as { results?: Record<string, unknown>; outputs?: Record<string, unknown> } | null;
  for (const value of Object.values(r?.results ?? {})) {
    if (typeof value === "string") return value;
    const text = (value as { text?: unknown } | null)?.text;
    if (typeof text === "string") return text;
  }
  // Output logs of type text only: lfx also logs outputs nothing read, as "" of type "unknown".
  for (const out of Object.values(r?.outputs ?? {}) as { message?: unknown; type?: unknown }[]) if (out?.type === "text" && typeof out.message === "string") return out.message;
  return null;
}

/** Langflow stream events by name, a run of tokens counted as one (chunking is the model's, not the engine's). */
export function eventSequence(events: { event: string }[]): string[] {
  const out: string[] = [];
  for (const e of events) if (!(e.event === "token" && out.at(-1) === "token*")) out.push(e.event === "token" ? "token*" : e.event);
  return out;
}

export interface KnownDifference {
  /** Fixture file name (without .json) or "*". */
  flow: string;
  /** Endpoint or component id (glob), e.g. "/api/v1/run" or "*". */
  where: string;
  /** Path glob: `*` matches anything, dots included. */
  path: string;
  kind: Kind | "*";
  reason: string;
}

const glob = (pattern: string) => new RegExp(`^${pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);

/** The known difference explaining this one, if any. */
export function explain(known: readonly KnownDifference[], flow: string, d: Difference): KnownDifference | undefined {
  return known.find((k) => (k.flow === "*" || k.flow === flow) && glob(k.where).test(d.where) && glob(k.path).test(d.path) && (k.kind === "*" || k.kind === d.kind));
}
