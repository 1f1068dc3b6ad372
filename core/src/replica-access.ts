import { createHash, createHmac, hash, timingSafeEqual } from "node:crypto";
import { deriveKey } from "./identity-token.js";
import { reservedNameReason } from "./reserved-names.js";
import type { TweaksPolicy } from "./api/tweaks-policy.js";

/**
 * What a replica trusts, and what it is given. A replica listens where other processes on the
 * machine (local driver) or in the cluster can reach it, and it does no user authentication:
 * the gateway does. So every request the gateway forwards carries a per-deployment secret in
 * `GATEWAY_SECRET_HEADER`, and the runtime refuses any other request but its probes.
 *
 * The secret is an HMAC of the deployment id under a key derived from the control plane's
 * secret key: every gateway process computes it without storage, a secret leaked from one
 * deployment opens no other, and nothing about it is in the database.
 */

/** The header the gateway adds to every proxied request (and strips from what clients send). */
export const GATEWAY_SECRET_HEADER = "x-flowplane-gateway-secret";

/**
 * The gateway's own id of a call, a fresh UUID for every request it forwards, never the
 * caller's: the replica names its run and trace with it (the key that joins a trace to its run,
 * and the replica's log lines to the gateway's access line). A caller's `x-request-id` is only a
 * correlation attribute (docs/gateway.md): taken as the key, one caller could collide with
 * another's run and read or pre-empt its trace. The gateway overwrites whatever a client sends here.
 */
export const RUN_ID_HEADER = "x-flowplane-run-id";
/** What a run id may look like at a replica (the gateway's are UUIDs): what lands in a log line or a trace key stays plain and short. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The deployment's revision a replica was started for (docs/revisions.md): the driver sets
 * REVISION_ENV, the runtime names it in REVISION_HEADER on every answer, and the gateway passes
 * that on (or, from a replica that names none, the route's current revision).
 */
export const REVISION_ENV = "FLOWPLANE_REVISION";
export const REVISION_HEADER = "x-flowplane-revision";
/** The replica's copy of its deployment's secret. */
export const GATEWAY_SECRET_ENV = "FLOWPLANE_GATEWAY_SECRET";
/**
 * JSON array of the variable names that are the deployment's parameters (Langflow global
 * variables). Everything else in a replica's environment configures the process, not the flow.
 */
export const PARAMETER_NAMES_ENV = "FLOWPLANE_PARAMETER_NAMES";

/**
 * Inputs and outputs (runtime.io): set only when the deployment keeps them. IO_MAX_CHARS_ENV is
 * the cut of each value; CREDENTIAL_NAMES_ENV (JSON array, names only) says which parameters are
 * credentials, whose values the replica redacts from what it records.
 */
export const IO_MAX_CHARS_ENV = "FLOWPLANE_IO_MAX_CHARS";
export const CREDENTIAL_NAMES_ENV = "FLOWPLANE_CREDENTIAL_NAMES";

/** Those two variables for a spec that keeps inputs and outputs; none otherwise (so a deployment that does not opt in keeps its pod template). */
export function recordIOEnv(recordIO: { maxChars: number; credentialNames: string[] } | undefined): Record<string, string> {
  if (!recordIO) return {};
  return { [IO_MAX_CHARS_ENV]: String(recordIO.maxChars), [CREDENTIAL_NAMES_ENV]: JSON.stringify([...recordIO.credentialNames].sort()) };
}

/**
 * The plain parameters a deployment keeps secret (a deployer gave them under credentials): a JSON
 * array of names, never values. The runtime guards them as it guards the bundle's own credentials
 * (a request may neither replace one nor redirect a component that uses it, nor one its value
 * flows into), where the bundle alone would call them plain. Set only when there is one, so a
 * deployment without any keeps its pod template.
 */
export const SECRET_PARAMETER_NAMES_ENV = "FLOWPLANE_SECRET_PARAMETER_NAMES";

/** That variable for a spec keeping plain parameters secret; none otherwise. */
export function secretParametersEnv(names: readonly string[] | undefined): Record<string, string> {
  return names && names.length > 0 ? { [SECRET_PARAMETER_NAMES_ENV]: JSON.stringify([...names].sort()) } : {};
}

/**
 * The replica's routes that run a flow (apps/runtime registers them from here). The gateway tells
 * a run from its path alone: runs/call.ts's FLOW_PATHS in the workers, and on nginx's front a
 * path holding `/run` or `/stream` (nginx/lua-log.ts; any other call is only counted, its run
 * never recorded). A new route that runs flows belongs here, where apps/server's
 * runs/call.test.ts checks that both read it as a run. `:flowId` is a flow's id or endpoint name,
 * `:id` a flow's id, percent-encoded.
 */
export const FLOW_RUN_ROUTES = {
  /** Langflow's own run endpoint. */
  langflow: "/api/v1/run/:flowId",
  /** `lfx serve`'s run, and its streaming sibling. */
  run: "/flows/:id/run",
  stream: "/flows/:id/stream",
} as const;

/**
 * The replica's MCP endpoint: a `tools/call` there runs a flow, which only the gateway's workers
 * can tell from the body (the native fronts pass every call on this path to them).
 */
export const MCP_PATH = "/mcp";

/** The paths a replica answers without the gateway's secret: the platform's probes. */
export const PROBE_PATHS: ReadonlySet<string> = new Set(["/health", "/ready"]);

/** `deploymentId -> secret`, for the gateway and the drivers. Memoised: the gateway asks on every request. */
export function createGatewaySecrets(secretKey: Buffer): (deploymentId: string) => string {
  const key = deriveKey(secretKey, "gateway to replica");
  const memo = new Map<string, string>();
  return (deploymentId) => {
    let s = memo.get(deploymentId);
    if (s === undefined) {
      s = createHmac("sha256", key).update(deploymentId, "utf8").digest("base64url");
      // Bounded: one entry per deployment served; a flood of ids only costs recomputation.
      if (memo.size >= 10_000) memo.clear();
      memo.set(deploymentId, s);
    }
    return s;
  };
}

/**
 * True when `given` (a header value) is the expected secret. Constant time in the secret: both
 * sides are hashed first, so neither a prefix nor the length of the secret leaks through timing.
 */
export function gatewaySecretMatches(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== "string" || expected.length === 0) return false;
  // Digests as Buffers of their own (never Buffer.from(text): see gatewaySecretChecker).
  return timingSafeEqual(hash("sha256", given, "buffer"), hash("sha256", expected, "buffer"));
}

/**
 * gatewaySecretMatches for one expected secret, its digest computed once: what a replica checks
 * on every request (one hash per request instead of two). The same comparison of SHA-256
 * digests in constant time, the given one made by the one-shot `crypto.hash` (a Hash object and
 * its digest cost a replica about 2 µs per request, this 0.5), as a Buffer of its own.
 *
 * Never `Buffer.from(text)` per request: a short Buffer made from a string is a slice of Node's
 * shared 8 KiB pool, the pool outlives the young generation's collections while it fills (one
 * pool per ~170 requests, the replica's semi-spaces being 2 MiB), so each is promoted, and once
 * full it is garbage that only a full collection frees. Under sustained load that held a
 * replica's malloc heap at about 25 MiB instead of 3 (77-78 MiB of RSS instead of about 56);
 * replica-access.test.ts checks that the check takes nothing from the pool.
 */
export function gatewaySecretChecker(expected: string): (given: string | string[] | undefined) => boolean {
  const b = createHash("sha256").update(expected, "utf8").digest();
  return (given) => typeof given === "string" && expected.length > 0 && timingSafeEqual(hash("sha256", given, "buffer"), b);
}

/**
 * A deployment's parameters split into those that may reach a replica and those whose names
 * are reserved (`reservedNameReason`). The API refuses reserved names; drivers call this as a
 * last line of defence for records written before that check, and report `dropped` (names
 * only, never values).
 */
export function partitionParameters(env: Readonly<Record<string, string>>): { kept: Record<string, string>; dropped: string[] } {
  const kept: Record<string, string> = {};
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (reservedNameReason(name) === null) kept[name] = value;
    else dropped.push(name.replace(/\0/g, "\\0"));
  }
  return { kept, dropped: dropped.sort() };
}

/**
 * The deployment's runtime.tweaksPolicy (api/tweaks-policy.ts says what each means), set only
 * for a policy other than `permissive`, so a deployment that keeps the default keeps its pod template.
 */
export const TWEAKS_POLICY_ENV = "FLOWPLANE_TWEAKS_POLICY";

export function tweaksPolicyEnv(policy: TweaksPolicy | undefined): Record<string, string> {
  return policy && policy !== "permissive" ? { [TWEAKS_POLICY_ENV]: policy } : {};
}
