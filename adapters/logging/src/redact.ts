/**
 * The censoring of secret fields in a log line, as one walk over the line's own fields: every
 * field whose name is in the list has its value replaced, at the top level and up to MAX_DEPTH
 * objects down (arrays included). Nothing the caller passed is changed: an object on the way to a
 * censored value is copied (its prototype kept, so an Error stays an Error for pino's `err`
 * serializer); a line with no secret in it costs one look-up per field and no allocation.
 *
 * (This replaces pino's `redact` with wildcard paths, `*.key` and `*.*.key` for every key: those
 * cost about 450 µs per line, 40 times the rest of the line's formatting.)
 */
export type Redactor = <T extends object>(fields: T) => T;

/** How deep a secret is still found: `a.b.c.d.authorization`. pino's paths went two objects down. */
const MAX_DEPTH = 4;

export function compileRedactor(keys: readonly string[], censor: string, o: { skipTopLevel?: readonly string[] } = {}): Redactor {
  const secret = new Set(keys);
  /** Top-level fields left to a serializer that keeps only safe parts (Fastify's request object). */
  const skip = new Set(o.skipTopLevel ?? []);

  const copyOf = (v: object): Record<string, unknown> => {
    if (v instanceof Error) {
      const e = Object.assign(Object.create(Object.getPrototypeOf(v) as object) as Error, v);
      // Not enumerable, so not copied by assign: pino's err serializer reads them.
      Object.defineProperty(e, "message", { value: v.message, enumerable: false, writable: true, configurable: true });
      Object.defineProperty(e, "stack", { value: v.stack, enumerable: false, writable: true, configurable: true });
      if ("cause" in v) Object.defineProperty(e, "cause", { value: v.cause, enumerable: false, writable: true, configurable: true });
      return e as unknown as Record<string, unknown>;
    }
    return Object.assign(Object.create(Object.getPrototypeOf(v) as object | null) as object, v) as Record<string, unknown>;
  };

  const walk = (v: unknown, depth: number, top: boolean): unknown => {
    if (v === null || typeof v !== "object" || depth > MAX_DEPTH) return v;
    if (ArrayBuffer.isView(v) || v instanceof Date || v instanceof Map || v instanceof Set) return v;
    if (Array.isArray(v)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const w = walk(v[i], depth + 1, false);
        if (w !== v[i]) (copy ??= v.slice())[i] = w;
      }
      return copy ?? v;
    }
    const obj = v as Record<string, unknown>;
    let copy: Record<string, unknown> | undefined;
    for (const k of Object.keys(obj)) {
      if (top && skip.has(k)) continue;
      const val = obj[k];
      const w = secret.has(k) ? (val === undefined ? val : censor) : walk(val, depth + 1, false);
      if (w !== val) (copy ??= copyOf(obj))[k] = w;
    }
    return copy ?? v;
  };

  return <T extends object>(fields: T): T => walk(fields, 0, true) as T;
}
