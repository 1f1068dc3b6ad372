/**
 * The HAProxy configuration flowplane writes for its own HAProxy child (docs/gateway.md,
 * FLOWPLANE_GATEWAY_PROXY=haproxy). HAProxy takes the public port; a request goes on its native
 * fast path only when every condition below holds, which makes the answer certain to be the one
 * the Node gateway would give. Anything else goes, untouched, to the Node listener on loopback
 * (PROXY protocol, so Node still sees the client's address): errors, wake-ups, traffic splits,
 * the revision-target header, the kill switch, limits, MCP, unusual keys, paths and bodies.
 *
 * What programs the fast path at run time (program.ts, over the stats socket; never a reload):
 * - routes.map: `projects/<project>/apps/<app>/routes/<route>` (routeMapKey) ->
 *   `slot|deployment|project|app|revision|timeout ms|secret|route id`;
 *   only routes the control plane found eligible (fast-path/state.ts `fastRoute`);
 * - keys.map: `sha256hex(key)/project` -> `user|key id`: the same sha256 the store keeps
 *   (core's hashAccessKey), an entry only for a live key whose user may call that project,
 *   dropped after the Node gateway's own key cache TTL (4 s) unless read again before (a key in use);
 * - the slot backends' servers: a deployment's candidate replicas (`add server`, `del server`).
 */
import { GATEWAY_SECRET_HEADER, MCP_PATH, RUN_ID_HEADER } from "@flowplane/core";
import { ORIGIN_WIDE_ANSWER_HEADERS, REDIRECT_ANSWER_HEADERS } from "../gateway/headers.js";
import { REPLICA_FAILURE } from "../gateway/replies.js";
import { MAX_LINE, RING_BYTES } from "./log-sink.js";

export interface HaproxyConfigOptions {
  /** Where clients connect (the public gateway port). */
  bind: { host: string; port: number };
  /**
   * The workers' public listener, for every request not on the fast path: a Unix socket in the
   * data folder (the server's), or a loopback port (benchmarks).
   */
  node: { path: string } | { host: string; port: number };
  /** The stats socket (runtime API), mode 0600. */
  socket: string;
  routesMap: string;
  keysMap: string;
  /** Backends a deployment can be given (`s0`..); more eligible deployments than this stay on Node. */
  slots: number;
  threads: number;
  /**
   * HAProxy's `maxconn`: client connections it holds at once (more wait in the listen queue).
   * Unset, HAProxy 2.6 sizes itself from the open-files limit, and allocates its descriptor table
   * for all of it at start: about 64 MB at a container's usual 1,048,576, and an OOM kill where
   * the limit is unbounded (a systemd host's LimitNOFILE=infinity). Each connection in use holds
   * up to two buffers (tune.bufsize below).
   */
  maxConnections: number;
  /** A body this long at most is waited for and searched (the run record's `session_id` rule). */
  fastBodyMax: number;
  /** Where the fast path's log goes (log-sink.ts): its loopback port, and the token every line starts with. */
  logSink: { port: number; token: string };
  /**
   * CORS is on (FLOWPLANE_GATEWAY_CORS_ORIGINS): every request with an Origin header goes to the
   * workers, which answer it with the CORS headers (gateway/cors.ts); the fast path writes none.
   * Off: the fast path is as it was.
   */
  corsToNode?: boolean;
}

/** The fields of a routes.map value, in order (the `field(n,|)` numbers below). */
export const ROUTE_FIELDS = ["slot", "deployment", "project", "app", "revision", "timeoutMs", "secret", "route"] as const;

export const LOG_TAG = "fpfast";
/** HAProxy's own error messages on the fast path: the workers' words (log-format text: the timeout is HAProxy's variable). */
const MESSAGES = {
  bad_gateway: REPLICA_FAILURE.failed,
  unavailable: REPLICA_FAILURE.refused,
  gateway_timeout: REPLICA_FAILURE.timeout("%[var(txn.fp_to),div(1000)]"),
  request_timeout: "the request body did not arrive in time",
} as const;

/**
 * One of HAProxy's own answers in flowplane's error shape (gateway/replies.ts), with its code
 * in x-flowplane-error (the run history records it); `detail`: a variable holding Langflow's
 * `detail` member, set only below a route's Langflow API.
 */
function httpError(status: number, code: keyof typeof MESSAGES, extraHeaders = "", detail = ""): string {
  return `  http-error status ${status} content-type "application/json; charset=utf-8" hdr x-flowplane-error ${code}${extraHeaders} lf-string '{"error":{"code":"${code}","message":"${MESSAGES[code]}"}${detail}}'`;
}
/** How much of the path on the replica a log line carries: a longer path is not the fast path's (below; nginx/lua.ts the same), so no run's path is ever cut. */
export const LOG_PATH_MAX = 512;

/** A route's key in routes.map: what HAProxy reads off a gateway path (its parts 2 to 7), so the path's project and app are checked by the lookup itself. */
export function routeMapKey(route: { projectId: string; appId: string; routeId: string }): string {
  return `projects/${route.projectId}/apps/${route.appId}/routes/${route.routeId}`;
}

export function renderConfig(o: HaproxyConfigOptions): string {
  const f = (name: (typeof ROUTE_FIELDS)[number]) => `var(txn.fp_route),field(${ROUTE_FIELDS.indexOf(name) + 1},|)`;
  // Everything only a fast-path call needs is in its slot backend: the frontend decides, a slot
  // backend is chosen only by `fast`, so these rules run there without a condition each (with
  // the path-keyed routes map and field() for a regex, a third less HAProxy CPU per call).
  const fastRules = `
  # The fast path: the Node gateway's headers (gateway/headers.ts), byte for byte where the replica reads them.
  # The run id is always the gateway's own (headers.ts newRequestId), never the caller's X-Request-Id.
  http-request set-var(txn.fp_rid) uuid
  http-request set-var(txn.fp_to) ${f("timeoutMs")}
  http-request set-var(txn.fp_rev) ${f("revision")}
  http-request set-timeout server var(txn.fp_to)
  http-request del-header x-access-key
  http-request del-header keep-alive
  http-request del-header proxy-connection
  http-request del-header proxy-authenticate
  http-request del-header proxy-authorization
  http-request del-header te
  http-request del-header trailer
  http-request del-header expect
  http-request set-header x-forwarded-for "%[req.fhdr(x-forwarded-for)], %[src]" if { req.fhdr(x-forwarded-for) -m len gt 0 }
  http-request set-header x-forwarded-for %[src] if !{ req.fhdr(x-forwarded-for) -m len gt 0 }
  http-request set-header x-forwarded-proto http
  http-request set-header x-forwarded-host %[req.fhdr(host)] if { req.fhdr_cnt(host) eq 1 }
  http-request set-header x-forwarded-prefix /%[path,field(2,/,6)]
  http-request set-header x-request-id %[var(txn.fp_rid)]
  http-request set-header ${RUN_ID_HEADER} %[var(txn.fp_rid)]
  http-request set-header ${GATEWAY_SECRET_HEADER} %[${f("secret")}]
  # The route's prefix off the path (fields 2-7 of /projects/p/apps/a/routes/r/...; the query stays).
  http-request set-path /%[path,field(8,/,0)]
  http-request set-var(txn.fp_up) path
  # Below the route's Langflow API (now the path), HAProxy's own errors also carry Langflow's
  # \`detail\` beside flowplane's shape, as the workers' do (gateway/replies.ts sendError).
  acl langflow_api path_beg /api/v1/
  http-request set-var-fmt(txn.fp_d502) ',"detail":"${MESSAGES.bad_gateway}"' if langflow_api
  http-request set-var-fmt(txn.fp_d503) ',"detail":"${MESSAGES.unavailable}"' if langflow_api
  http-request set-var-fmt(txn.fp_d504) ',"detail":"${MESSAGES.gateway_timeout}"' if langflow_api
  # The answer: the replica's own revision when it names one plainly, else the route's (headers.ts setRevisionHeader).
  http-response set-var(txn.fp_given) res.fhdr(x-flowplane-revision) if { res.fhdr_cnt(x-flowplane-revision) eq 1 } { res.fhdr(x-flowplane-revision) -m reg ^[1-9][0-9]{0,9}$ }
  http-response set-header x-flowplane-revision %[var(txn.fp_rev)] if !{ var(txn.fp_given) -m found } { var(txn.fp_rev) -m len gt 0 }
  http-response del-header x-flowplane-revision if !{ var(txn.fp_given) -m found } !{ var(txn.fp_rev) -m len gt 0 }
  http-response set-var(txn.fp_rev) res.fhdr(x-flowplane-revision)
  # What the Node gateway sets on every replica answer (headers.ts clientResponseHeaders): no origin-wide state (cookies, reporting, ...), a sandboxed, unsniffed document.
${[...ORIGIN_WIDE_ANSWER_HEADERS, ...REDIRECT_ANSWER_HEADERS].map((h) => `  http-response del-header ${h}\n`).join("")}  http-response set-header content-security-policy sandbox
  http-response set-header x-content-type-options nosniff
`;
  const slots = Array.from({ length: o.slots }, (_, i) => `
backend s${i}
  balance leastconn
  option redispatch 1
  retries 1
  http-send-name-header host${fastRules}`).join("");
  return `# Written by flowplane at start (0600): do not edit, it is rewritten on every start.
global
  stats socket ${o.socket} mode 600 level admin
  nbthread ${o.threads}
  maxconn ${o.maxConnections}
  tune.bufsize ${Math.max(16384, o.fastBodyMax * 2)}

# The fast path's log: one line per call into HAProxy's memory, forwarded in batches to the
# control plane (log-sink.ts), never a write per call.
ring fplog
  format raw
  maxlen ${MAX_LINE}
  size ${RING_BYTES}
  timeout connect 5s
  timeout server 30s
  server sink 127.0.0.1:${o.logSink.port} log-proto octet-count

defaults
  mode http
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  timeout http-request 30s
  timeout http-keep-alive 75s
  option http-keep-alive
  # HAProxy's own answers (a replica that refuses, resets or is too slow on the fast path; the
  # workers unreachable) in flowplane's one error shape with its code (gateway/replies.ts), which
  # the run history records (fp_err below); below a route's Langflow API, Langflow's \`detail\` too (fp_d5xx).
${httpError(502, "bad_gateway", "", "%[var(txn.fp_d502)]")}
${httpError(503, "unavailable", " hdr retry-after 1", "%[var(txn.fp_d503)]")}
${httpError(408, "request_timeout")}
${httpError(504, "gateway_timeout", "", "%[var(txn.fp_d504)]")}

frontend gateway
  # HTTP/1 only, as the Node workers (node:http) are: an h2c request carries a body without a
  # length, which the conditions below could not bound.
  bind ${o.bind.host}:${o.bind.port} proto h1
  # Only this frontend logs, and only fast-path calls: HAProxy's own notices (a server up, down,
  # in maintenance) never reach the ring, whose every line must carry the token (log-sink.ts).
  # The path and the error code are cut short so a line always fits (MAX_LINE).
  log ring@fplog len ${MAX_LINE} local0
  log-format "${o.logSink.token} ${LOG_TAG} %[var(txn.fp_rid)] %[var(txn.fp_route),field(8,|)] %[var(txn.fp_key)] %HM %[var(txn.fp_up),bytes(0,${LOG_PATH_MAX})] %ST %Ta %[var(txn.fp_rev)] %[var(txn.fp_err),bytes(0,100),url_enc]"
  # Candidates: a gateway path, plain bytes (no escapes, no dots: the Node side decodes and checks '..').
  # The routes map is keyed by the path's first six parts (routeMapKey): one lookup finds the
  # route and proves the path's project and app are the route's.
  acl odd_path path -m sub % .
  acl odd_query query -m sub -i key %
  # \`url_beg\`, not \`path_beg\`: an absolute-form target (\`GET http://host/projects/...\`) is not a gateway path to Node.
  http-request set-var(txn.fp_route) path,field(2,/,6),map(${o.routesMap}) if { url_beg /projects/ } !odd_path !odd_query
  acl route_ok var(txn.fp_route) -m found
  http-request set-var(txn.fp_mp) ${f("project")} if route_ok
  # The key: x-access-key alone, once (accessKeyOf's other sources, and any doubt, are Node's).
  acl one_key req.fhdr_cnt(x-access-key) eq 1
  acl other_keys req.hdr_cnt(x-api-key) gt 0
  acl other_keys req.hdr_cnt(authorization) gt 0
  acl empty_key req.fhdr(x-access-key) -m len 0
  # Per-request features only Node has, and framing that needs Node's exact rules.
  acl node_only req.hdr_cnt(x-flowplane-revision-target) gt 0
  acl node_only req.hdr_cnt(upgrade) gt 0
  acl node_only req.hdr_cnt(transfer-encoding) gt 0
  acl node_only req.fhdr_cnt(x-forwarded-for) gt 1
  acl node_only req.fhdr_cnt(content-length) gt 1
  acl node_only req.fhdr(content-length) -m int gt ${o.fastBodyMax}
  acl node_only req.hdr(connection) -m reg -i ^(?!keep-alive$|close$).+
  # A path longer than a log line carries (LOG_PATH_MAX): cut short there, a run's path would no
  # longer read as one (runs/call.ts) and the run would go unrecorded. Node records it whole.
  acl node_only path,length gt ${LOG_PATH_MAX}
  # The replica's MCP endpoint under an HTTP route: a tools/call there is a run, which only Node
  # sees (a fast-path record has no body, and runs/call.ts finds the tool call in it).
  acl node_only path,field(8,/,0) -m str ${MCP_PATH.slice(1)}${o.corsToNode ? `
  # CORS is on: a browser's call is answered by the workers, with the CORS headers (gateway/cors.ts).
  acl node_only req.hdr_cnt(origin) gt 0` : ""}
  http-request set-var(txn.fp_key) req.fhdr(x-access-key),sha2(256),hex,lower,concat(/,txn.fp_mp,),map(${o.keysMap}) if route_ok one_key !other_keys !empty_key !node_only
  acl key_ok var(txn.fp_key) -m found
  # The run record's session id is read from a run's body (runs/call.ts): a body that names one is Node's.
  # Waited for 30 s (the bound headers have too, timeout http-request; the two windows follow each
  # other): a slow client's small body is served, not refused with a 408 (the workers wait for it too).
  http-request wait-for-body time 30s at-least ${o.fastBodyMax} if key_ok { req.fhdr(content-length) -m int gt 0 }
  acl names_session req.body -m sub session_id
  # ... or may name one with a JSON escape in the key (\`session\\u005fid\`): an escape of an ASCII
  # character (\\u00..; the only ones that can spell it) goes to Node, which parses.
  acl names_session req.body -m sub \\\\u00
  acl fast var(txn.fp_key) -m found
  http-request unset-var(txn.fp_key) if names_session
  http-request set-log-level silent if !fast
  http-after-response set-header x-request-id %[var(txn.fp_rid)] if { var(txn.fp_rid) -m found }
  http-after-response set-var(txn.fp_err) res.fhdr(x-flowplane-error)
  use_backend %[${f("slot")}] if fast
  default_backend node

backend node
  # Everything the fast path does not take, as the client sent it; the PROXY line keeps its address.
  # One server connection per client connection: Node's per-connection switch and its PROXY line stay the client's.
  http-reuse never
  server node ${"path" in o.node ? `unix@${o.node.path}` : `${o.node.host}:${o.node.port}`} send-proxy
${slots}`;
}
