/**
 * Run history (issue #19, DESIGN 11 "Runs"): one record per call through the gateway, written
 * off the request path by the server's recorder and kept under a retention setting. Never an
 * input, an output, a key or a header value: only what identifies and measures the call.
 */

/**
 * How the call reached the deployment:
 * - `http`: its HTTP route (Langflow's `/api/v1/run/...`, `/flows/{id}/run`, anything else on it);
 * - `mcp`: its MCP route (`tool` then names the tool of a `tools/call`, when the gateway saw one).
 */
export type RunRouteKind = "http" | "mcp";

/** Token counts as the replica's answer reported them (absent when it reported none). */
export interface RunTokens {
  input?: number;
  output?: number;
  total?: number;
}

export interface RunRecord {
  /** The run's id, given by the store when it is written (increasing), the key of `GET .../runs/{runId}`. */
  id: string;
  /** When the gateway received the call (ISO 8601). */
  time: string;
  deploymentId: string;
  projectId: string;
  /** The deployment's revision that served the call; null until revisions are recorded. */
  revision: number | null;
  /** The flow the path named (`/api/v1/run/{flow}`, `/flows/{flow}/run`), else null. */
  flowId: string | null;
  route: RunRouteKind;
  /** For an MCP `tools/call`: the tool's name; else null. */
  tool: string | null;
  /** Who called: the access key's user and the key's id (never the key). Null when not authenticated. */
  caller: { userId: string | null; keyId: string | null };
  /** Langflow's `session_id` from a run's JSON body, or the MCP session header. */
  sessionId: string | null;
  /** The request id the gateway sent upstream (`x-request-id`): the key into the replicas' logs. */
  requestId: string;
  method: string;
  /** The HTTP status answered; 499 when the client left before the answer began, 408 when its body came too slowly (the body pace). */
  status: number;
  /** From arrival to the last byte of the answer (or the client's leaving), in ms. */
  latencyMs: number;
  tokens: RunTokens | null;
  /** The error code of a failed call (the gateway's own, or the replica's `x-flowplane-error`), else null. */
  errorCode: string | null;
}

/** A run as the recorder hands it to the store, which gives it its id. */
export type NewRun = Omit<RunRecord, "id">;

/**
 * Which runs a list answers:
 * - `statusClass`: `2xx`, `3xx`, `4xx`, `5xx`, or `error` (any status from 400 up);
 * - `since`: runs at or after this time;
 * - `sessionId`: runs of this session only.
 */
export type RunStatusClass = "2xx" | "3xx" | "4xx" | "5xx" | "error";
export interface RunFilter {
  since?: Date;
  statusClass?: RunStatusClass;
  sessionId?: string;
}

/** What retention keeps: runs younger than `maxAgeMs`, and at most `maxPerDeployment` newest runs of each deployment. */
export interface RunRetention {
  maxAgeMs: number;
  maxPerDeployment: number;
}

/**
 * The header a replica sets on an error answer with its error code (`run_failed`, `not_found`,
 * ...), and the gateway on its own: the run history records it without reading a body.
 */
export const RUN_ERROR_HEADER = "x-flowplane-error";

/** Which runs `RunStore.runStats` aggregates: a deployment's runs in [from, to), in buckets of `stepMs` from `from`. */
export interface RunStatsQuery {
  from: Date;
  to: Date;
  stepMs: number;
}

/**
 * One bucket's aggregate, for one revision or (revision `"all"`) for every revision together.
 * Latencies are percentiles of the runs' `latencyMs` (continuous: interpolated between runs).
 */
export interface RunStatsRow {
  /** The bucket's index from `from` (0 is [from, from + step)); null for the whole window (revision `"all"`). */
  bucket: number | null;
  revision: number | null | "all";
  requests: number;
  /** Runs answered with a status from 400 up (the run history's `status=error`). */
  errors: number;
  /** Runs answered with a status from 500 up. */
  serverErrors: number;
  p50: number;
  p95: number;
  p99: number;
}
