import { z } from "zod";
import { FLOW_ID_MAX } from "./bundles.js";
import { MAX_PAGE_SIZE, decimalInt, timeSchema } from "./common.js";
import { MAX_IO_FIELDS, MAX_SPAN_ERROR, MAX_SPANS_PER_TRACE, MAX_TRACES_PER_BATCH } from "./trace-bounds.js";

/**
 * The run history and the replica logs of a deployment (DESIGN 11 "Runs"; docs/runs-and-logs.md).
 * Neither ever holds a key or a credential; a run's trace holds its inputs and outputs only when
 * the deployment keeps them (runtime.io), with credential values and access keys redacted.
 */

export const runSchema = z.strictObject({
  id: z.string(),
  time: timeSchema.meta({ description: "when the gateway received the call" }),
  revision: z.number().int().nullable().meta({ description: "the deployment's revision that served it; null while revisions are not recorded" }),
  flowId: z.string().nullable().meta({ description: "the flow the path named (/api/v1/run/{flow}, /flows/{flow}/run)" }),
  route: z.enum(["http", "mcp"]),
  tool: z.string().nullable().meta({ description: "the MCP tool of a tools/call" }),
  caller: z.strictObject({ userId: z.string().nullable(), keyId: z.string().nullable().meta({ description: "the access key's id, never the key" }) }),
  sessionId: z.string().nullable(),
  requestId: z.string().meta({ description: "the x-request-id sent to the replica: filter the logs by it" }),
  method: z.string(),
  status: z.number().int().meta({ description: "the HTTP status answered; 499 when the client left first, 408 when its body came too slowly" }),
  latencyMs: z.number(),
  tokens: z.strictObject({ input: z.number().optional(), output: z.number().optional(), total: z.number().optional() }).optional(),
  error: z.strictObject({ code: z.string() }).optional().meta({ description: "a failed call's error code (the gateway's or the replica's)" }),
}).meta({ id: "Run" });
export type Run = z.infer<typeof runSchema>;

export const runPageSchema = z.strictObject({
  items: z.array(runSchema),
  nextCursor: z.string().nullable().meta({ description: "opaque; null on the last page" }),
}).meta({ id: "RunPage" });

/** `2xx`..`5xx`, or `error` (any status from 400 up). */
export const runStatusClassSchema = z.enum(["2xx", "3xx", "4xx", "5xx", "error"], { error: "status must be 2xx, 3xx, 4xx, 5xx or error" });

/** A time: ISO 8601, or a duration back from now (`90s`, `15m`, `1h`, `7d`). */
export const SINCE_PATTERN = /^(\d{1,6})(s|m|h|d)$/;
const sinceSchema = z.string().refine((v) => SINCE_PATTERN.test(v) || !Number.isNaN(Date.parse(v)), "since must be an ISO 8601 time or a duration such as 15m, 1h or 7d");

export const runsQuerySchema = z.object({
  since: sinceSchema.optional(),
  status: runStatusClassSchema.optional(),
  sessionId: z.string().min(1, "sessionId must not be empty").max(200, "sessionId must be at most 200 characters").optional(),
  limit: decimalInt("limit", 1, MAX_PAGE_SIZE).optional(),
  cursor: z.string().optional(),
});

/**
 * The times a `since` is held to: no run is older than 1970 nor newer than 9999, and PostgreSQL
 * refuses JavaScript's far years (`999999d` back is year -711; `-271821-04-20` parses): a since
 * out there would be a 500, so it is clamped to the same answer (everything, or nothing).
 */
const SINCE_MIN = 0;
const SINCE_MAX = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** The time a `since` names, at `now`, within 1970..9999. */
export function sinceTime(since: string, now: number): Date {
  const m = SINCE_PATTERN.exec(since);
  const unit = m ? { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"] : 0;
  const t = m ? now - Number(m[1]) * unit : Date.parse(since);
  return new Date(Math.min(SINCE_MAX, Math.max(SINCE_MIN, t)));
}

/** One line of a replica's log, probes filtered out. */
export const logLineSchema = z.strictObject({
  replica: z.string(),
  time: z.string().nullable().meta({ description: "the line's own time (its JSON `time`), when it has one" }),
  level: z.string().nullable(),
  text: z.string().meta({ description: "the line as the replica wrote it" }),
}).meta({ id: "LogLine" });
export type LogLine = z.infer<typeof logLineSchema>;

export const logPageSchema = z.strictObject({
  items: z.array(logLineSchema).meta({ description: "oldest first; replicas merged by time unless one is named" }),
  replicas: z.array(z.strictObject({ replica: z.string(), error: z.string().optional() })).meta({ description: "the replicas whose logs were read" }),
}).meta({ id: "LogPage" });

export const MAX_LOG_TAIL = 5000;
export const logsQuerySchema = z.object({
  replica: z.string().regex(/^[A-Za-z0-9-]{1,253}$/, "replica must be a replica id").optional(),
  requestId: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, "requestId must be a request id (letters, digits, . _ : -)").optional(),
  tail: decimalInt("tail", 0, MAX_LOG_TAIL).optional(),
  follow: z.enum(["true", "false"], { error: 'follow must be "true" or "false"' }).optional(),
});

export { MAX_BODY_WAIT_MS, MAX_IO_FIELDS, MAX_SPAN_ERROR, MAX_SPANS_PER_TRACE, MAX_TRACES_PER_BATCH } from "./trace-bounds.js";
/** The longest recorded value the control plane stores: the largest io.maxChars and the cut's note. */
const MAX_IO_VALUE = 65_536 + 100;
const ioValue = z.string().max(MAX_IO_VALUE);
const ioRecord = z.record(z.string().max(200), ioValue)
  .refine((r) => Object.keys(r).length <= MAX_IO_FIELDS, `at most ${MAX_IO_FIELDS} values`);

/**
 * A count or a duration a replica reports: finite and at most this (a 1e308 was stored, and any
 * sum of two is Infinity). 10^15 ms is 31,000 years; 10^15 tokens more than any run spends.
 */
const MAX_REPORTED = 1e15;
const reported = () => z.number().min(0).max(MAX_REPORTED);
const tokensSchema = z.strictObject({ input: reported().optional(), output: reported().optional(), total: reported().optional() });

/** The instants PostgreSQL's timestamptz holds that a trace may name: years 0001..9999, in UTC. */
const TRACE_TIME_MIN = Date.parse("0001-01-01T00:00:00.000Z");
const TRACE_TIME_MAX = Date.parse("9999-12-31T23:59:59.999Z");

/**
 * A time a replica sends: ISO 8601 with its zone (what `toISOString` writes), in years 0001..9999
 * once in UTC. A replica runs the deployment's own code, so what it sends is untrusted: any other
 * string reached the store's timestamptz cast and was a 500 instead of a 400 naming the field, and
 * so was year 0000 (PostgreSQL has no year 0) until the range was checked; an offset can carry a
 * time past 9999 in UTC (`9999-12-31T23:59:59-14:00`).
 */
const traceTimeSchema = z.iso.datetime({ offset: true, error: "must be an ISO 8601 time with its zone, such as 2026-01-01T00:00:00.000Z" })
  .refine((s) => {
    const t = Date.parse(s);
    return t >= TRACE_TIME_MIN && t <= TRACE_TIME_MAX;
  }, "must be a time in the years 0001 to 9999 (UTC)")
  .meta({ format: "date-time" });

/** A revision number as stored (a PostgreSQL integer): a larger one was a 500 at the INSERT. */
const MAX_REVISION = 2_147_483_647;

/** One component's span in a run's trace (core/src/traces.ts). */
export const spanSchema = z.strictObject({
  componentId: z.string().min(1).max(200).meta({ description: "the node id in the flow" }),
  componentType: z.string().max(200),
  name: z.string().max(500).meta({ description: "the component's display name" }),
  start: traceTimeSchema,
  durationMs: reported(),
  status: z.enum(["ok", "error"]),
  error: z.string().max(MAX_SPAN_ERROR).nullable(),
  tokens: tokensSchema.nullable(),
  inputs: ioRecord.optional().meta({ description: "the component's inputs by field, as text; only when the deployment keeps inputs and outputs (runtime.io.record): each cut to io.maxChars, credential values and access keys replaced by [redacted]" }),
  outputs: ioRecord.optional().meta({ description: "the component's outputs by name, as text; as inputs" }),
}).meta({ id: "Span" });

/** A run's trace: one span per component that ran, in the order they ended. */
export const traceSchema = z.strictObject({
  requestId: z.string().min(1).max(200),
  flowId: z.string().min(1).max(FLOW_ID_MAX),
  revision: z.number().int().min(1).max(MAX_REVISION).nullable(),
  engine: z.enum(["native", "lfx"]),
  start: traceTimeSchema,
  durationMs: reported(),
  status: z.enum(["ok", "error"]),
  error: z.string().max(MAX_SPAN_ERROR).nullable(),
  tokens: tokensSchema.nullable(),
  spans: z.array(spanSchema).max(MAX_SPANS_PER_TRACE),
  input: ioValue.nullable().optional().meta({ description: "the run's input as text; only when the deployment keeps inputs and outputs (runtime.io.record), redacted and cut as the spans' values" }),
  output: ioValue.nullable().optional().meta({ description: "the run's answer as text (the chat message, else the reported outputs); as input" }),
}).meta({ id: "Trace" });
export type Trace = z.infer<typeof traceSchema>;

/** What a replica sends the control plane (the internal traces endpoint; not a user API). */
export const traceBatchSchema = z.strictObject({ traces: z.array(traceSchema).max(MAX_TRACES_PER_BATCH) });
/**
 * The same batch with its traces left for the receiver to check one by one (traceSchema): a trace
 * that breaks the contract is refused alone, not with every good trace sent beside it.
 */
export const traceEnvelopeSchema = z.strictObject({ traces: z.array(z.unknown()).max(MAX_TRACES_PER_BATCH) });
