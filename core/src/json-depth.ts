/**
 * How deep untrusted JSON may nest. JSON.parse itself is iterative, but most code that reads a
 * parsed value back is recursive (a template's values, canonical JSON, digests, the v1 answer's
 * projection, JSON.stringify), and a value nested a few thousand levels deep overflowed its
 * stack: a 500 "Maximum call stack size exceeded" instead of a 400 naming the field. So every
 * boundary taking JSON from a tenant (the control plane's request bodies, a replica's) refuses
 * what nests deeper than this, before anything recursive sees it.
 *
 * Real Langflow exports nest at most 15 levels (vector-store-rag, openrag-agent; a bundle
 * request adds 2), and a grouped component embeds a sub-flow about 9 levels deeper, so 64
 * leaves room for several levels of groups while staying far from any stack limit.
 */
export const MAX_JSON_DEPTH = 64;

/** A key as a path shows it: at most this many characters (the path is an error message, not an echo of the input). */
const SHOWN_KEY = 64;

/**
 * The path (`tweaks.Prompt-1.template[0][0]`) of the first object or array in `value` that
 * nests deeper than MAX_JSON_DEPTH, counting each object or array as one level, or null.
 * Iterative, and it stops at the limit: any shape is walked in time linear in its size and in
 * memory bounded by the limit (one frame per open level, not one entry per value, so a body of
 * millions of tiny objects costs no more memory than one). `root` prefixes the path.
 */
export function tooDeepAt(value: unknown, root = ""): string | null {
  if (typeof value !== "object" || value === null) return null;
  const frames: JsonFrame[] = [jsonFrameOf(value, "")];
  for (let key = nextJsonKey(frames); key !== undefined; key = nextJsonKey(frames)) {
    const child = (frames[frames.length - 1]!.v as Record<string | number, unknown>)[key];
    if (typeof child !== "object" || child === null) continue;
    frames.push(jsonFrameOf(child, key));
    if (frames.length > MAX_JSON_DEPTH) return pathOf(frames, root);
  }
  return null;
}

/**
 * One open object or array of an iterative walk: its keys (an object's own, enumerable), the
 * next one to visit. Shared with the control plane's input check (http/input-hygiene.ts).
 */
export interface JsonFrame {
  v: object;
  key: string | number;
  keys: string[] | null;
  size: number;
  i: number;
}

/**
 * The next key of the innermost open frame (its value is `frames.at(-1).v[key]`), the frames
 * that are done popped first; undefined when the walk is over.
 */
export function nextJsonKey(frames: JsonFrame[]): string | number | undefined {
  for (let top = frames[frames.length - 1]; top; top = frames[frames.length - 1]) {
    if (top.i < top.size) return top.keys ? top.keys[top.i++]! : top.i++;
    frames.pop();
  }
  return undefined;
}

export function jsonFrameOf(v: object, key: string | number): JsonFrame {
  const keys = Array.isArray(v) ? null : Object.keys(v);
  return { v, key, keys, size: keys ? keys.length : (v as unknown[]).length, i: 0 };
}

function pathOf(frames: readonly JsonFrame[], root: string): string {
  let path = root;
  for (const { key: k } of frames.slice(1)) {
    if (typeof k === "number") path += `[${k}]`;
    else {
      const shown = k.length > SHOWN_KEY ? `${k.slice(0, SHOWN_KEY)}…` : k;
      path += path ? `.${shown}` : shown;
    }
  }
  return path;
}
