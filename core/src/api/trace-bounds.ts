/**
 * Bounds a stored trace is held to, at the replica and again at the control plane. A module of
 * its own, importing nothing: the contract's schemas (runs.ts) and the replica's side
 * (core/src/traces.ts, which a replica loads without zod) share the same numbers.
 */
export const MAX_SPANS_PER_TRACE = 500;
export const MAX_SPAN_ERROR = 1000;
export const MAX_TRACES_PER_BATCH = 200;
/**
 * The longest the control plane keeps a large body waiting for room before it answers 429 (its
 * body budget, apps/server http/body-budget.ts). A replica's trace send outlasts it (apps/runtime
 * traces.ts): one that hung up sooner would lose its place and never get the 429 whose
 * Retry-After asks for the batch later.
 */
export const MAX_BODY_WAIT_MS = 30_000;
/** At most this many inputs, and this many outputs, kept per span (runtime.io). */
export const MAX_IO_FIELDS = 64;
/** The bounds of a deployment's runtime.io (the replica reads its max chars from FLOWPLANE_IO_MAX_CHARS). */
export const IO_BOUNDS = { maxChars: { min: 16, max: 65_536 } } as const;
