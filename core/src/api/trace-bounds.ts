/**
 * Bounds a stored trace is held to, at the replica and again at the control plane. A module of
 * its own, importing nothing: the contract's schemas (runs.ts) and the replica's side
 * (core/src/traces.ts, which a replica loads without zod) share the same numbers.
 */
export const MAX_SPANS_PER_TRACE = 500;
export const MAX_SPAN_ERROR = 1000;
export const MAX_TRACES_PER_BATCH = 200;
/** At most this many inputs, and this many outputs, kept per span (runtime.io). */
export const MAX_IO_FIELDS = 64;
/** The bounds of a deployment's runtime.io (the replica reads its max chars from FLOWPLANE_IO_MAX_CHARS). */
export const IO_BOUNDS = { maxChars: { min: 16, max: 65_536 } } as const;
