/**
 * The Lua that nginx runs for the fast path (config.ts loads it once, in `init_by_lua_block`, as
 * the module `flowplane`; each phase then calls one of its functions). It is kept as text here,
 * not as a .lua file, so that the build (tsc, rolldown) carries it without an asset step, and the
 * rendered nginx.conf is the whole of what nginx runs.
 *
 * Per call: `access` decides (haproxy/config.ts's frontend conditions, in the same order), picks a
 * replica and sets the variables the header directives read; `balance` connects (the route's
 * timeout, one retry on another replica after a failed connection); `answer` names the revision
 * on the replica's answer; `done` (log phase) gives the replica's slot back and logs the call
 * (lua-log.ts); `error` writes nginx's own answers in flowplane's error shape, `refuse` its
 * refusals as the workers write theirs. `program` is the programming socket's handler (a batch, or
 * GET /stats: the calls served on the fast path so far, over every nginx worker).
 */
import { MCP_PATH } from "@flowplane/core";
import { MAX_KEY_TTL_MS, READMIT_AFTER_MS } from "../gateway/admission.js";
import { REPLICA_FAILURE } from "../gateway/replies.js";
import { clientErrorAnswer } from "../http/client-errors.js";
import { LOG_PATH_MAX } from "../haproxy/config.js";
import { luaLog, type LuaLogOptions } from "./lua-log.js";

/** The longest a key entry lives, in seconds: the Node key cache's TTL (docs/gateway.md "The key map"). */
export const KEY_TTL_MAX_S = MAX_KEY_TTL_MS / 1000;

/** A Lua string literal for plain ASCII text (JSON's escapes for `"` and `\` are Lua's too). */
const lua = (s: string) => JSON.stringify(s);

/**
 * nginx's own refusals of a request it could not read (config.ts REFUSALS), answered with the
 * workers' words (http/client-errors.ts, what node:http's parser refuses): nginx status -> the
 * status, code and body the workers give. A request line or a header too long (414, 494) is the
 * workers' 431: their 16 KiB bound is on the whole head.
 */
function refusals(): string {
  const worker = (code: string) => {
    const raw = clientErrorAnswer(Object.assign(new Error(code), { code }));
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(raw)?.[1]);
    const errorCode = /\r\nx-flowplane-error: ([^\r]+)\r\n/.exec(raw)?.[1] ?? "";
    return `{ ${status}, ${lua(errorCode)}, ${lua(raw.slice(raw.indexOf("\r\n\r\n") + 4))} }`;
  };
  const malformed = worker("HPE_INVALID_HEADER_TOKEN");
  const tooLarge = worker("HPE_HEADER_OVERFLOW");
  return `{ [400] = ${malformed}, [414] = ${tooLarge}, [494] = ${tooLarge} }`;
}

export function luaModule(o: { fastBodyMax: number; corsToNode: boolean } & LuaLogOptions): string {
  return String.raw`
local ffi = require "ffi"
local balancer = require "ngx.balancer"
local find, sub, lower, byte, char, format, gsub, gmatch, match = string.find, string.sub, string.lower, string.byte, string.char, string.format, string.gsub, string.gmatch, string.match
local concat, floor, tonumber, type, ipairs, pcall, error, rawget = table.concat, math.floor, tonumber, type, ipairs, pcall, error, rawget

local FAST_BODY_MAX = ${o.fastBodyMax}
local CORS_TO_NODE = ${o.corsToNode ? "true" : "false"}
local KEY_TTL_MAX = ${KEY_TTL_MAX_S}
local READMIT_AFTER = ${READMIT_AFTER_MS / 1000}
local REFUSED = ${lua(REPLICA_FAILURE.refused)}
local FAILED = ${lua(REPLICA_FAILURE.failed)}
local TIMEOUT = ${lua(REPLICA_FAILURE.timeout("%d"))}
local REFUSALS = ${refusals()}

-- The key's SHA-256, OpenSSL's low-level calls through LuaJIT's FFI: nginx is linked with
-- libcrypto, so its symbols are already loaded (the one-shot SHA256() goes through OpenSSL 3's
-- provider lookup, about 4,000 instructions more a call: bench/lib/nginx-lua-fast-path.mjs).
ffi.cdef[[
  typedef struct { unsigned int h[8]; unsigned int Nl, Nh; unsigned int data[16]; unsigned int num, md_len; } FP_SHA256_CTX;
  int SHA256_Init(FP_SHA256_CTX *c);
  int SHA256_Update(FP_SHA256_CTX *c, const void *d, size_t n);
  int SHA256_Final(unsigned char *md, FP_SHA256_CTX *c);
]]
local C = ffi.C
if not pcall(function() return C.SHA256_Init end) then C = ffi.load("libcrypto.so.3") end
local shactx, md = ffi.new("FP_SHA256_CTX"), ffi.new("unsigned char[32]")
local function sha256(s)
  C.SHA256_Init(shactx)
  C.SHA256_Update(shactx, s, #s)
  C.SHA256_Final(md, shactx)
  return ffi.string(md, 32)
end

-- A key's fp_keys entry for a project (its SHA-256, "/", the project), kept per nginx worker for
-- the keys seen lately: a hash costs about 2,300 instructions, a call in three on the run path's
-- margin (bench/haproxy-cost.mjs), a lookup here almost none. What admits a call is still the
-- entry's presence in fp_keys, so a key revoked or expired is refused as before; this keeps only
-- keys some call sent lately, in the worker that read them from that call's head anyway. At most
-- ENTRIES_MAX entries, one per key and project (a caller may name any key on the routes of many
-- projects): past that all are dropped at once, so made-up keys cost memory up to that, no more.
-- A value longer than any key (KEY_CACHED_MAX) is hashed every time and never kept.
local ENTRIES_MAX, KEY_CACHED_MAX = 1000, 128
local entries, nentries = {}, 0
local function entry_of(k, project)
  if #k > KEY_CACHED_MAX then return sha256(k) .. "/" .. project end
  local e = entries[k]
  local v = e and e[project]
  if v then return v end
  if nentries >= ENTRIES_MAX then entries, nentries, e = {}, 0, nil end
  if not e then
    e = {}
    entries[k] = e
  end
  v = sha256(k) .. "/" .. project
  e[project], nentries = v, nentries + 1
  return v
end

-- fp_stats: "fast", the calls nginx served itself (given back by the programming socket's GET /stats).
local routes, keys, stats = ngx.shared.fp_routes, ngx.shared.fp_keys, ngx.shared.fp_stats
-- Each fast-path call's state, by its request: set by access, read by balance and error, taken by
-- done (the log phase), keyed by the request's address. Not ngx.ctx: an error page's redirect
-- drops ngx.ctx, where the request stays the same, so the state of a call that ended on an error
-- page is still here, with no variable set per call to carry it (a variable set is a lookup by
-- name: about 1,100 instructions a call for the one this replaced; ngx.ctx is its own reference
-- per request). Every fast-path call's log phase takes its entry, as it gives back inflight and
-- the replica's slot: nginx logs every main request in ngx_http_free_request before it destroys
-- the request's pool, which holds the request itself, so no other request has that address while
-- the entry lives. That is the guarantee; the start time kept in the entry is only a tripwire (it
-- has a millisecond's resolution, and the requests of one keep-alive connection often share both
-- the address and the millisecond): an entry found where it should not be is logged (crit).
local get_request = require("resty.core.base").get_request
local intptr = ffi.typeof("intptr_t")
-- The request's address as a number: get_request() gives a new cdata each phase, and a table
-- keyed by cdata compares the objects, not the addresses they hold.
local function request_key() return tonumber(ffi.cast(intptr, get_request())) end
local req_start = ngx.req.start_time
local under_way = {}
local LEFT_BEHIND = "flowplane: a call's state left behind at its request's address"
local M = {}
-- The longest path nginx serves itself: a log line holds the path on the replica whole (lua-log.ts).
local PATH_MAX = ${LOG_PATH_MAX}
-- Fast-path calls under way in this nginx worker: its log sender, told to exit, waits for their lines.
local inflight = 0
${luaLog(o)}

-- The run id: a UUID's shape (the run history and traces key on it, as on HAProxy's uuid), made
-- of 74 random bits drawn once per nginx worker and a 48-bit counter. A UUID drawn per call
-- (nginx's $request_id, OpenSSL's RAND_bytes) costs about 7,000 instructions a call.
local rid_prefix, calls = nil, 0
function M.init_worker()
  local f = assert(io.open("/dev/urandom", "rb"))
  local b = { byte(f:read(10), 1, 10) }
  f:close()
  local h = format("%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x", b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10])
  rid_prefix = sub(h, 1, 8) .. "-" .. sub(h, 9, 12) .. "-4" .. sub(h, 13, 15) .. "-" .. sub("89ab", b[10] % 4 + 1, b[10] % 4 + 1) .. sub(h, 16, 18) .. "-"
  log_start()
end

-- A routes entry, parsed once per nginx worker: deployment|project|app|revision|timeout ms|secret|route id|addr,addr
-- (program() refuses '|' and ',' in the fields). Cleared wholesale when it grows: a parse is cheap.
local parsed, nparsed = {}, 0
local function route_of(v)
  local r = parsed[v]
  if r then return r end
  local f = {}
  for x in gmatch(v .. "|", "([^|]*)|") do f[#f + 1] = x end
  local addrs = {}
  for a in gmatch(f[8], "[^,]+") do
    local host, port = match(a, "^%[(.+)%]:(%d+)$")
    if not host then host, port = match(a, "^([^:]+):(%d+)$") end
    addrs[#addrs + 1] = { name = a, host = host, port = tonumber(port) }
  end
  r = { deployment = f[1], project = f[2], app = f[3], rev = f[4], timeoutMs = tonumber(f[5]), secret = f[6], route = f[7], addrs = addrs, logrev = f[4] ~= "" and f[4] or "-" }
  if nparsed >= 1000 then parsed, nparsed = {}, 0 end
  parsed[v], nparsed = r, nparsed + 1
  return r
end

-- Least connections: calls in flight per replica address, counted by this nginx worker; ties
-- taken in turn (as HAProxy's leastconn does within a group of equal load).
local active, turn = {}, 0
local function pick(addrs, avoid)
  local n = #addrs
  turn = turn + 1
  local best, least
  for i = 0, n - 1 do
    local a = addrs[(turn + i) % n + 1]
    if a.name ~= avoid then
      local c = active[a.name] or 0
      if not best or c < least then best, least = a, c end
    end
  end
  return best
end

-- A call's state taken (its log phase, or left behind): its replica's slot and inflight given back.
local function release(s)
  active[s.addr.name] = (active[s.addr.name] or 1) - 1
  inflight = inflight - 1
end

local function workers() return ngx.exec("@workers") end

-- How many bytes of a path nginx would escape as it sends the path upstream: nginx's own
-- ngx_escape_uri with NGX_ESCAPE_URI (0), the call and table its proxy module uses for a request
-- whose URI was set (ngx_http_proxy_create_request). Not lua-nginx-module's
-- ngx_http_lua_ffi_uri_escaped_length: its type 0 is a copy of nginx's table from before 1.21.1,
-- which leaves the double quote, '<', '>', the backslash, '^', the backquote, '{', '|' and '}'
-- unescaped where nginx 1.22 escapes them. nginx exports its symbols for its dynamic modules, so
-- ffi.C finds it (ffi.C, not the local C, which may be libcrypto). ngx_uint_t is uintptr_t.
ffi.cdef[[ uintptr_t ngx_escape_uri(unsigned char *dst, const unsigned char *src, size_t size, uintptr_t type); ]]
local ngx_escape_uri = ffi.C.ngx_escape_uri

local fast
function M.access()
  local var = ngx.var
  local raw = var.request_uri
  -- A gateway path in origin form (an absolute-form target is not: url_beg /projects/).
  -- (A method past 20 characters is the workers' too: the log line, bounded, must hold it.)
  local mlen = #ngx.req.get_method()
  if sub(raw, 1, 10) ~= "/projects/" or mlen > 20 or byte(var.request, mlen + 2) ~= 47 then return workers() end
  local q = find(raw, "?", 11, true)
  -- An empty query ("...?"): nginx passes a query only when it has one (access's end), so the
  -- replica would not see the "?" the client sent; the workers forward it as sent.
  if q == #raw then return workers() end
  local path = q and sub(raw, 1, q - 1) or raw
  -- A path longer than a log line carries is the workers': cut short, a run's path would no longer
  -- read as one (runs/call.ts), and the run would go unrecorded (haproxy/config.ts: the same bound).
  if #path > PATH_MAX then return workers() end
  -- Plain bytes only: no escape or dot in the path, no 'key' or escape in the query (Node decodes ids, refuses '..', strips the x-api-key parameter).
  -- (Plain finds: a pattern is a function LuaJIT does not compile, and the whole access phase ran in its interpreter.)
  if find(path, "%", 11, true) or find(path, ".", 11, true) then return workers() end
  -- (Nor a "#" in the query: nginx's query, which it sends upstream, ends there; access's end.)
  if q and (find(raw, "%", q + 1, true) or find(raw, "#", q + 1, true) or find(lower(sub(raw, q + 1)), "key", 1, true)) then return workers() end
  -- The routes key: the path's parts 2 to 7 (projects/<p>/apps/<a>/routes/<r>); j: the slash after them.
  local i = 10
  for _ = 1, 4 do
    i = find(path, "/", i + 1, true)
    if not i then return workers() end
  end
  local j = find(path, "/", i + 1, true)
  local key = j and sub(path, 2, j - 1) or sub(path, 2)
  local v = routes:get(key)
  if not v then return workers() end
  return fast(var, raw, path, q, j, key, route_of(v))
end

-- The rest of the access phase, for a known route. A function of its own so that LuaJIT compiles
-- it: it starts traces at loops and function entries, and the code after get_headers' loop ran in
-- its interpreter when it was part of access (LuaJIT's profiler, jit.p, showed it).
-- The headers are read with rawget: get_headers' table holds lower-case names, and its __index
-- (any other spelling) would be a metamethod call for every header the request lacks.
fast = function(var, raw, path, q, j, key, r)
  local h, err = ngx.req.get_headers(100)
  if err == "truncated" then return workers() end
  -- The key: x-access-key alone, once (accessKeyOf's other sources, and any doubt, are Node's).
  local k = rawget(h, "x-access-key")
  if type(k) ~= "string" or k == "" or rawget(h, "x-api-key") or rawget(h, "authorization") then return workers() end
  -- Per-request features only Node has, and framing that needs Node's exact rules.
  if rawget(h, "x-flowplane-revision-target") or rawget(h, "upgrade") or rawget(h, "transfer-encoding") or type(rawget(h, "x-forwarded-for")) == "table" then return workers() end
  local cl = rawget(h, "content-length")
  if type(cl) == "table" then return workers() end
  local len = cl and tonumber(cl)
  if len and len > FAST_BODY_MAX then return workers() end
  local conn = rawget(h, "connection")
  if conn and conn ~= "keep-alive" and conn ~= "close" then
    if type(conn) == "table" then conn = concat(conn, ",") end
    for t in gmatch(conn, "[^,]+") do
      t = lower(match(t, "^[ \t]*(.-)[ \t]*$"))
      if t ~= "" and t ~= "keep-alive" and t ~= "close" then return workers() end
    end
  end
  -- The replica's MCP endpoint under an HTTP route: a tools/call there is a run only Node records.
  if j and sub(path, j) == ${lua(MCP_PATH)} then return workers() end
  if CORS_TO_NODE and rawget(h, "origin") then return workers() end
  local entry = entry_of(k, r.project)
  local who = keys:get(entry)
  if not who then return workers() end
  -- The run record reads a run's session id from its body: a body that names one, plainly or
  -- with an escape that could spell it (\u00..), is Node's.
  if len and len > 0 then
    ngx.req.read_body()
    local body = ngx.req.get_body_data()
    if not body or find(body, "session_id", 1, true) or find(body, "\\u00", 1, true) then return workers() end
    -- The key again once the body is in, when it took READMIT_AFTER (the workers' rule,
    -- gateway/pipeline.ts step 4b): it was looked up on the headers, and a body may come long
    -- after them (client_body_timeout bounds each read, not the whole body). A key revoked
    -- (deleted here) or whose entry expired meanwhile is Node's to admit or refuse. A quicker body
    -- is within the revocation promise already (an entry lives 4 s at most), and is not looked up
    -- again: about 1,000 instructions a run (bench/haproxy-cost.mjs).
    if ngx.now() - ngx.req.start_time() >= READMIT_AFTER and not keys:get(entry) then return workers() end
  end
  local under = j and sub(path, j) or "/"
  if ngx_escape_uri(nil, under, #under, 0) ~= 0 then return workers() end
  local a = pick(r.addrs, nil)
  active[a.name] = (active[a.name] or 0) + 1
  inflight = inflight + 1
  calls = calls + 1
  -- Counted here, not in the log phase: a caller that has its answer can read the count with it.
  stats:incr("fast", 1, 0)
  local rid = rid_prefix .. format("%012x", calls % 281474976710656)
  -- What the balancer, the error answers and the log phase read (under_way, above): done() must
  -- give the slot back and log the call however it ended, an error page included.
  local req = request_key()
  local left = under_way[req]
  if left then
    -- Cannot be (above): another request's entry at this address. Its slot and inflight given back.
    ngx.log(ngx.CRIT, LEFT_BEHIND)
    release(left)
  end
  under_way[req] = { route = r, addr = a, who = who, rid = rid, under = under, t = req_start(), tried = false, own = false }
  var.fp_rid = rid
  var.fp_rev = r.rev
  var.fp_secret = r.secret
  var.fp_prefix = "/" .. key
  var.fp_host = a.name
  -- The path on the replica: proxy_pass names no URI (config.ts), so nginx sends the request's
  -- URI, now this one, then "?" and the query as the client sent it (r->args). Not a variable in
  -- proxy_pass: that makes nginx build the upstream's URL, parse it and find the upstream by its
  -- name on every call (this way a run costs about 500-850 instructions less, the escape check
  -- included: bench/haproxy-cost.mjs). As nginx's own "rewrite ... break", set_uri marks the
  -- request internal, so nginx escapes the path as it sends it (NGX_ESCAPE_URI): a path it would
  -- change (a byte past 127, '#', and the nine above) was sent to the workers above
  -- (ngx_escape_uri), so these bytes go as the client sent them.
  ngx.req.set_uri(under)
end

-- The connect time of the last try that got that far ("-": its connection failed; none: no try yet).
local function last_connect() return match(ngx.var.upstream_connect_time or "", "([^ ,:]+)[ ,:]*$") end

function M.balance()
  local s = under_way[request_key()]
  if not s then
    ngx.log(ngx.CRIT, "flowplane: a call reached the balancer without its access phase's state")
    return ngx.exit(500)
  end
  local r, a = s.route, s.addr
  if s.tried then
    -- Called again after an error (proxy_next_upstream error), which for nginx also covers a
    -- replica that failed after the request was sent (a GET's): HAProxy retries only a failed
    -- connection, so only that is tried again, on another replica if there is one.
    -- (ngx.exit in this phase ends the call with a 500: the flag makes error() answer it as the 502 it is.)
    if last_connect() ~= "-" then
      ngx.var.fp_failed = "sent"
      return ngx.exit(502)
    end
    local other = pick(r.addrs, a.name)
    if other then
      active[a.name] = (active[a.name] or 1) - 1
      active[other.name] = (active[other.name] or 0) + 1
      s.addr, a = other, other
    end
  else
    s.tried = true
    local to = r.timeoutMs / 1000
    balancer.set_timeouts(5, to, to)
    balancer.set_more_tries(1)
  end
  local ok, err = balancer.set_current_peer(a.host, a.port)
  if not ok then
    ngx.log(ngx.CRIT, "flowplane: replica address ", a.name, ": ", err)
    return ngx.exit(502)
  end
end

-- A replica's interim answer (1xx: 100, 102, 103, and a 101 nobody asked for: the fast path takes no
-- Upgrade). nginx 1.22 takes it for the final one, and a 1xx has no body, so it would pass what the
-- replica wrote after it unframed: the client reads those bytes as the answer's next head, never
-- filtered (a Location followed with the caller's key, a Set-Cookie, an HTML page without the CSP
-- sandbox on the console's origin). The workers' undici skips a 1xx and HAProxy frames it: here the
-- call fails as a broken replica does (502 bad_gateway, error's answer), the replica's bytes dropped.
function M.interim()
  if ngx.status < 200 then
    ngx.var.fp_failed = "sent"
    return ngx.exit(502)
  end
end

-- No Server header on an answer that has none of its own (nginx would add "Server: nginx"; HAProxy
-- and the workers' own refusals send none). nginx adds its own when no Server header is set, and
-- Lua cannot unset that: an empty value only hides a header that exists. So one is set, then
-- hidden (headers-more's more_clear_headers does the same; that module is not installed here).
local function unbrand(date_too)
  local h = ngx.header
  if h["server"] == nil then h["server"] = "-"; h["server"] = nil end
  if date_too then h["date"] = "-"; h["date"] = nil end
end
M.unbrand = unbrand

function M.done()
  local req = request_key()
  local s = under_way[req]
  -- None: a call for the workers.
  if not s then return end
  under_way[req] = nil
  release(s)
  -- Another request's entry, left behind (it cannot be: every call's log phase takes its own):
  -- its slot given back above, no line for it, none for this call of the workers'.
  if s.t ~= req_start() then
    ngx.log(ngx.CRIT, LEFT_BEHIND)
    return
  end
  local r = s.route
  return log_call(s.rid, r.route, s.who, r.logrev, s.under, s.own)
end

-- nginx's own refusal of a request it could not read (config.ts REFUSALS: a repeated Host or
-- Content-Length, a bad request line, a head past 16 KiB):
-- the workers' answer to the same (http/client-errors.ts): their status, shape and code, no
-- Server or Date, and the connection closed after it (nginx closes it after these anyway).
function M.refuse(nginx_status)
  local r = REFUSALS[nginx_status] or REFUSALS[400]
  ngx.status = r[1]
  local h = ngx.header
  h["content-type"] = "application/json; charset=utf-8"
  h["content-length"] = #r[3]
  h["x-flowplane-error"] = r[2]
  unbrand(true)
  ngx.print(r[3])
end

-- nginx's own answer for a call that failed upstream (a fast-path replica, or the workers), in
-- flowplane's error shape with its code in x-flowplane-error; below a route's Langflow API also
-- Langflow's detail (gateway/replies.ts). A connection never made (refused, or its 5 s connect
-- timeout) is 503, as HAProxy answers a failed connection.
function M.error(status)
  local var = ngx.var
  -- A fast-path call's state (none for the workers' calls): its answer is nginx's own now.
  local s = under_way[request_key()]
  if s and s.t ~= req_start() then s = nil end
  if s then s.own = true end
  local connected = last_connect()
  local code, message
  if status == 500 and var.fp_failed ~= "sent" then
    code, message = "internal_error", "the gateway failed while handling the request"
  elseif var.fp_failed == "sent" then
    status, code, message = 502, "bad_gateway", FAILED
  elseif connected == "-" or connected == nil then
    status, code, message = 503, "unavailable", REFUSED
  elseif status == 504 then
    code, message = "gateway_timeout", format(TIMEOUT, floor((s and s.route.timeoutMs or 3600000) / 1000))
  else
    status, code, message = 502, "bad_gateway", FAILED
  end
  local path = s and s.under
  local detail = path and sub(path, 1, 8) == "/api/v1/" and format(',"detail":"%s"', message) or ""
  local body = format('{"error":{"code":"%s","message":"%s"}%s}', code, message, detail)
  ngx.status = status
  ngx.header["content-type"] = "application/json; charset=utf-8"
  ngx.header["x-flowplane-error"] = code
  ngx.header["content-length"] = #body
  if status == 503 then ngx.header["retry-after"] = "1" end
  unbrand()
  local rid = var.fp_rid
  if rid and rid ~= "" then ngx.header["x-request-id"] = rid end
  ngx.print(body)
end

-- The programming socket's JSON: a strict decoder (no lua-cjson in Debian's module; only the
-- control plane writes here, so speed does not matter).
local NULL = {}
local ESC = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
local function decode(s)
  local pos = 1
  local function fail(what) error(what .. " at byte " .. pos, 0) end
  local function skip() pos = find(s, "[^ \t\r\n]", pos) or #s + 1 end
  local function str()
    local out, i = {}, pos + 1
    while true do
      local j = find(s, '[%z\1-\31"\\]', i)
      if not j then fail("unterminated string") end
      out[#out + 1] = sub(s, i, j - 1)
      local c = sub(s, j, j)
      if c == '"' then pos = j + 1; return concat(out) end
      if c ~= "\\" then pos = j; fail("control character in a string") end
      local e = sub(s, j + 1, j + 1)
      if e == "u" then
        local hex = sub(s, j + 2, j + 5)
        local cp = find(hex, "^%x%x%x%x$") and tonumber(hex, 16)
        if not cp or (cp >= 0xD800 and cp <= 0xDFFF) then pos = j; fail("unsupported escape") end
        if cp < 0x80 then out[#out + 1] = char(cp)
        elseif cp < 0x800 then out[#out + 1] = char(0xC0 + floor(cp / 64), 0x80 + cp % 64)
        else out[#out + 1] = char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64) end
        i = j + 6
      elseif ESC[e] then out[#out + 1] = ESC[e]; i = j + 2
      else pos = j; fail("bad escape") end
    end
  end
  local value
  function value(depth)
    if depth > 20 then fail("too deep") end
    skip()
    local c = sub(s, pos, pos)
    if c == "{" or c == "[" then
      local t, n, close = {}, 0, c == "{" and "}" or "]"
      pos = pos + 1; skip()
      if sub(s, pos, pos) == close then pos = pos + 1; return t end
      while true do
        skip()
        if c == "{" then
          if sub(s, pos, pos) ~= '"' then fail("expected a name") end
          local name = str(); skip()
          if sub(s, pos, pos) ~= ":" then fail("expected ':'") end
          pos = pos + 1
          t[name] = value(depth + 1)
        else
          n = n + 1; t[n] = value(depth + 1)
        end
        skip()
        local d = sub(s, pos, pos); pos = pos + 1
        if d == close then return t end
        if d ~= "," then pos = pos - 1; fail("expected ',' or '" .. close .. "'") end
      end
    elseif c == '"' then return str()
    elseif find(s, "^true", pos) then pos = pos + 4; return true
    elseif find(s, "^false", pos) then pos = pos + 5; return false
    elseif find(s, "^null", pos) then pos = pos + 4; return NULL
    end
    local num = match(s, "^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not num or not tonumber(num) then fail("unexpected character") end
    pos = pos + #num
    return tonumber(num)
  end
  local v = value(0); skip()
  if pos <= #s then fail("trailing characters") end
  return v
end
local function quote(s) return '"' .. gsub(s, '[%z\1-\31"\\]', function(c) return format("\\u%04x", byte(c)) end) .. '"' end

-- What may go into an entry: printable, without the entry's own separators.
local function plain(s) return type(s) == "string" and s ~= "" and #s < 1024 and not find(s, "[%z\1-\32\127|,]") end
local function replica(a)
  if type(a) ~= "string" then return false end
  local host, port = match(a, "^(%d+%.%d+%.%d+%.%d+):(%d+)$")
  if host then
    for o in gmatch(host, "%d+") do if tonumber(o) > 255 then return false end end
  else
    host, port = match(a, "^%[([%x:.]+)%]:(%d+)$")
  end
  port = tonumber(port)
  return host ~= nil and port ~= nil and port >= 1 and port <= 65535
end
local function list(x) return type(x) == "table" and x or {} end
local function unhex(s) return (gsub(s, "%x%x", function(h) return char(tonumber(h, 16)) end)) end

-- One batch: deletes first, then sets (haproxy/program.ts's order); "reset" empties both
-- dictionaries first (after a restart the programmer pushes everything again).
function M.program()
  local function answer(status, body)
    ngx.status = status
    ngx.header["content-type"] = "application/json"
    ngx.print(body)
  end
  local method = ngx.req.get_method()
  if method == "GET" and ngx.var.uri == "/stats" then return answer(200, format('{"fast":%d}', stats:get("fast") or 0)) end
  if method ~= "POST" then return answer(405, '{"error":"POST a batch, or GET /stats"}') end
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if not body then return answer(400, '{"error":"no body, or one larger than the buffer"}') end
  local ok, batch = pcall(decode, body)
  if not ok or type(batch) ~= "table" then return answer(400, '{"error":' .. quote(ok and "not an object" or batch) .. '}') end
  local errors, n = {}, { rs = 0, rd = 0, ks = 0, kd = 0 }
  local function bad(where, i, what) errors[#errors + 1] = quote(format("%s[%d]: %s", where, i, what)) end
  if batch.reset == true then
    routes:flush_all(); routes:flush_expired()
    keys:flush_all(); keys:flush_expired()
  end
  local rb, kb = list(batch.routes), list(batch.keys)
  for i, k in ipairs(list(rb.delete)) do
    if type(k) == "string" then routes:delete(k); n.rd = n.rd + 1 else bad("routes.delete", i, "not a string") end
  end
  for i, k in ipairs(list(kb.delete)) do
    local hex, project = match(type(k) == "string" and k or "", "^(%x+)/(.+)$")
    if hex and #hex == 64 then keys:delete(unhex(hex) .. "/" .. project); n.kd = n.kd + 1 else bad("keys.delete", i, "not <sha256 hex>/<project>") end
  end
  for i, e in ipairs(list(rb.set)) do
    e = type(e) == "table" and e or {}
    local p, a = match(type(e.key) == "string" and e.key or "", "^projects/([^/]+)/apps/([^/]+)/routes/[^/]+$")
    local rev = e.revision
    local addrs = list(e.addresses)
    local good = #addrs > 0
    for _, x in ipairs(addrs) do good = good and replica(x) end
    if not p then bad("routes.set", i, "key is not projects/<p>/apps/<a>/routes/<r>")
    elseif e.project ~= p or e.app ~= a then bad("routes.set", i, "project and app are not the key's")
    elseif not (plain(e.deployment) and plain(e.route) and plain(e.secret)) then bad("routes.set", i, "deployment, route and secret: printable, no space, '|' or ','")
    elseif not (rev == nil or rev == NULL or (type(rev) == "number" and rev >= 1 and rev % 1 == 0 and rev < 1e10)) then bad("routes.set", i, "revision: a positive integer or null")
    elseif not (type(e.timeoutMs) == "number" and e.timeoutMs >= 1 and e.timeoutMs % 1 == 0) then bad("routes.set", i, "timeoutMs: a positive integer")
    elseif not good then bad("routes.set", i, "addresses: one or more ip:port ([ip]:port for IPv6)")
    else
      local v = concat({ e.deployment, p, a, (rev == nil or rev == NULL) and "" or format("%d", rev), format("%d", e.timeoutMs), e.secret, e.route, concat(addrs, ",") }, "|")
      local stored, err = routes:safe_set(e.key, v)
      if stored then n.rs = n.rs + 1 else bad("routes.set", i, err) end
    end
  end
  for i, e in ipairs(list(kb.set)) do
    e = type(e) == "table" and e or {}
    local hex, project = match(type(e.key) == "string" and e.key or "", "^(%x+)/(.+)$")
    local ttl = e.ttlMs
    if not hex or #hex ~= 64 or not plain(project) or find(project, "/", 1, true) then bad("keys.set", i, "key is not <sha256 hex>/<project>")
    elseif not (plain(e.userId) and plain(e.keyId)) then bad("keys.set", i, "userId and keyId: printable, no space, '|' or ','")
    elseif ttl ~= nil and not (type(ttl) == "number" and ttl > 0) then bad("keys.set", i, "ttlMs: a positive number")
    else
      -- Every key entry expires by itself, in at most KEY_TTL_MAX seconds: the safety bound if the programmer stops renewing.
      local exptime = ttl and ttl / 1000 or KEY_TTL_MAX
      if exptime > KEY_TTL_MAX then exptime = KEY_TTL_MAX end
      local stored, err = keys:safe_set(unhex(hex) .. "/" .. project, e.userId .. "|" .. e.keyId, exptime)
      if stored then n.ks = n.ks + 1 else bad("keys.set", i, err) end
    end
  end
  answer(200, format('{"routes":{"set":%d,"deleted":%d},"keys":{"set":%d,"deleted":%d},"errors":[%s]}', n.rs, n.rd, n.ks, n.kd, concat(errors, ",")))
end

return M
`;
}
