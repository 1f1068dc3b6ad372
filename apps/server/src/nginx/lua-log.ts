/**
 * The fast path's per-call log on nginx (lua.ts pastes this into the `flowplane` module): what
 * HAProxy's `ring fplog` does (haproxy/config.ts), so the control plane's `LogSink` and
 * `parseFastLine` (haproxy/log-sink.ts, haproxy/log-line.ts) read nginx's lines unchanged.
 *
 * - The line is HAProxy's log-format, field for field: `<token> fpfast <run id> <route id>
 *   <user|key> <method> <path on the replica, no query, at most 512 bytes> <status> <ms>
 *   <revision on the answer or -> <x-flowplane-error, url-encoded, or ->`.
 * - A call that cannot be a run gets no line of its own: it is counted, per route, caller,
 *   revision, status and whole millisecond, and each count goes as one line `<token> fpagg
 *   <route id> <user|key> <revision or -> <status> <ms> <calls>` with the next write. The control
 *   plane reads such a call for its latency histogram and its key's use only (fast-path/state.ts
 *   recordCall), which a count gives (the histogram's sum up to a float's rounding); a run needs
 *   its own line (its id, path, error code).
 *   "Cannot be a run" is a superset test of runs/call.ts's paths: a path without "/run" and
 *   "/stream" (and not "/mcp", which never comes here). At most AGG_CAP counts wait at once; past
 *   that a call gets its own line again, so the counts' memory is bounded whatever the callers do.
 * - The log phase only appends it, framed (`<length> <line>`, RFC 6587 octet counting, as
 *   HAProxy's `log-proto octet-count`), to a buffer of this nginx worker: the log phase may not
 *   use a socket, and a write per call is what the ring exists to avoid (docs/gateway.md,
 *   "Access log and logger cost"). The buffer is one LuaJIT string.buffer: a line's fields are
 *   copied into it, no Lua string is made of the line (the text, then its frame, were two strings
 *   a run, interned and collected: about 2,300 of nginx's instructions a run, bench/haproxy-cost.mjs).
 *   A line's length is written in four digits (leading zeros: the sink reads digits) once the line
 *   is in, where four zeros held its place; the fields are bounded so that no line exceeds MAX_LINE.
 * - One timer per nginx worker, started in init_worker and running until the worker exits, owns
 *   the one loopback connection to the sink (a cosocket lives in the timer that made it): every
 *   LOG_EVERY_S, or at once when LOG_BATCH lines wait, it sends all that waits in one write.
 * - The buffer is bounded (LOG_CAP lines a worker: HAProxy's ring holds RING_BYTES in all, about
 *   40,000 lines, shared by the workers here): beyond it a new line is dropped and counted (HAProxy's
 *   ring drops its oldest), so a sink that is down costs memory up to the cap, never a call. Drops, and lines lost with a
 *   connection that broke under a write, are logged (nginx's error log) at most once per 10 s.
 * - A failed connection is tried again after 0.2 s, doubling up to 5 s; the buffer fills meanwhile.
 *   Before each write, a 1 ms read tells a connection the sink closed (it never writes to us)
 *   from a live one, so lines go to a dead socket only if it died in the last instant.
 * Nothing here can fail a call: the log phase only formats and appends.
 */
import { MCP_PATH } from "@flowplane/core";
import { LOG_PATH_MAX, LOG_TAG } from "../haproxy/config.js";
import { AGG_TAG } from "../haproxy/log-line.js";
import { MAX_LINE, RING_BYTES } from "../haproxy/log-sink.js";

/** Lines a worker keeps at most for the sink: HAProxy's ring (RING_BYTES, about 100 bytes a line) over the workers. */
export const logCap = (workers: number) => Math.max(1_000, Math.floor(RING_BYTES / 100 / Math.max(1, workers)));
/** Lines that wake the sender before its period. */
export const LOG_BATCH = 500;
/** The sender's period. */
export const LOG_EVERY_S = 0.2;
/** Counts (route, caller, revision, status, ms) a worker keeps at most between two writes: past it, calls get lines of their own. */
export const AGG_CAP = 2_000;

/**
 * The most a run line's route id, caller and revision may hold together: what MAX_LINE leaves
 * after the line's other fields at their longest (the frame's 4 digits and space are outside
 * it). The run id is 36 characters; a method 20 at most (lua.ts access); the path PATH_MAX;
 * a status 3 digits (nginx's, or one nginx's error pages set); the milliseconds as LuaJIT writes
 * a number (%.14g, at most 21 characters); the error code 100 bytes, each escaped to at most 3;
 * 8 spaces. A line whose fields exceed it is not written (its call is then unrecorded, as when
 * the line did not fit before).
 */
export const runLineFieldsMax = (prefixLength: number) => MAX_LINE - (prefixLength + 36 + 20 + LOG_PATH_MAX + 3 + 21 + 300 + 8);

export interface LuaLogOptions {
  sink: { port: number; token: string } | undefined;
  workers: number;
  /** AGG_CAP, smaller in tests. */
  aggCap?: number;
}

/** Lua defining `log_call()` (the log phase) and `log_start()` (init_worker); both do nothing without a sink. */
export function luaLog(o: LuaLogOptions): string {
  if (o.aggCap !== undefined && !(Number.isSafeInteger(o.aggCap) && o.aggCap >= 0)) throw new Error("the log's count cap must be a whole number, 0 or more");
  if (!o.sink) return "local function log_call() end\nlocal function log_start() end\n";
  if (!/^[0-9A-Za-z]+$/.test(o.sink.token)) throw new Error("the log sink's token must be letters and digits");
  return String.raw`
local semaphore = require "ngx.semaphore"
local strbuf = require "string.buffer"
local LOG_PREFIX = ${JSON.stringify(`${o.sink.token} ${LOG_TAG} `)}
local AGG_PREFIX = ${JSON.stringify(`${o.sink.token} ${AGG_TAG} `)}
local LOG_PORT, LOG_CAP, LOG_BATCH, LOG_EVERY = ${o.sink.port}, ${logCap(o.workers)}, ${LOG_BATCH}, ${LOG_EVERY_S}
local LOG_MAX, AGG_CAP, FIELDS_MAX = ${MAX_LINE}, ${o.aggCap ?? AGG_CAP}, ${runLineFieldsMax(`${o.sink.token} ${LOG_TAG} `.length)}
-- The buffer: lines framed, nlines of them.
local lbuf, nlines, dropped, lost, woken = strbuf.new(), 0, 0, 0, false
local LOG_KEEP_MAX = 1048576
-- The counts: agg[route][who][revision][status][ms] = calls; agg_n of them.
local agg, agg_n = {}, 0
local wake = semaphore.new()

-- One fast-path call: its run id, route id, "user|key", the route's revision ("-": none), its
-- path on the replica without the query (lua.ts done() takes them from the call's state, which
-- outlives an error page's redirect), and whether nginx wrote the answer itself (its error page).
local function log_call(rid, route, who, rrev, path, own)
  local var = ngx.var
  path = sub(path, 1, PATH_MAX)
  -- The revision on the answer: config.ts's $fp_rev_out, the replica's or the route's, which add_header
  -- sent (a map's value, computed once per call: reading the answer's header back would walk its
  -- headers). An answer nginx wrote itself (an error page), or none at all (the client left before
  -- the head came), named no revision: the route's is logged, as HAProxy logs it. $fp_rev_out is
  -- not read then: a replica that sent half a head before failing would have its revision in it.
  local rev = not own and ngx.headers_sent and var.fp_rev_out
  if not rev or rev == "" then rev = rrev end
  local status = ngx.status
  local ms = floor((ngx.now() - ngx.req.start_time()) * 1000 + 0.5)
  -- Not a run (the header's superset test, on the path the line would carry): counted. A count
  -- that exists takes the call; a new one only below the cap (the walk creates no table until then).
  if not find(path, "/run", 1, true) and not find(path, "/stream", 1, true) and path ~= ${JSON.stringify(MCP_PATH)} then
    local a = agg[route]
    local b = a and a[who]
    local c = b and b[rev]
    local d = c and c[status]
    local n = d and d[ms]
    if n then d[ms] = n + 1; return end
    if agg_n < AGG_CAP then
      if not a then a = {}; agg[route] = a end
      if not b then b = {}; a[who] = b end
      if not c then c = {}; b[rev] = c end
      if not d then d = {}; c[status] = d end
      d[ms] = 1
      agg_n = agg_n + 1
      -- Full: the sender is woken, so calls get lines only until the next write.
      if agg_n >= AGG_CAP and not woken then woken = true; wake:post(1) end
      return
    end
  end
  if nlines >= LOG_CAP then dropped = dropped + 1; return end
  -- Strings all (a put that failed half way would leave a frame without its length in the buffer),
  -- and within the bound that keeps the line within MAX_LINE.
  if type(rid) ~= "string" or type(route) ~= "string" or type(who) ~= "string" or type(rev) ~= "string" or #route + #who + #rev > FIELDS_MAX then return end
  -- The answer's header read as a response header, not as $sent_http_x_flowplane_error: that
  -- variable's name is looked up among nginx's prefixed ones on every read, about 2,000
  -- instructions a run more (and it also matched an "x_flowplane_error" header, which HAProxy and
  -- the workers do not read). Several such headers: the last, as HAProxy's res.fhdr() gives it.
  local err = ngx.header["x-flowplane-error"]
  if type(err) == "table" then err = err[#err] end
  err = (err and err ~= "") and ngx.escape_uri(sub(err, 1, 100)) or "-"
  -- The line, after four zeros that hold its length's place; then its length, written over them.
  local at = #lbuf
  lbuf:put("0000 ", LOG_PREFIX, rid, " ", route, " ", who, " ", ngx.req.get_method(), " ", path, " ", status, " ", ms, " ", rev, " ", err)
  local n = #lbuf - at - 5
  local p = lbuf:ref()
  p[at], p[at + 1], p[at + 2], p[at + 3] = 48 + floor(n / 1000), 48 + floor(n / 100) % 10, 48 + floor(n / 10) % 10, 48 + n % 10
  nlines = nlines + 1
  if not woken and nlines >= LOG_BATCH then woken = true; wake:post(1) end
end

local last_warn = 0
local function warn(what, err)
  local now = ngx.now()
  if now - last_warn < 10 then return end
  last_warn = now
  ngx.log(ngx.CRIT, "flowplane: log sink 127.0.0.1:", LOG_PORT, ": ", what, err and (": " .. err) or "", " (dropped, buffer full: ", dropped, "; lost with a connection: ", lost, ")")
end

local function log_sender(premature)
  local sock, backoff, retry_at = nil, 0, 0
  while true do
    local exiting = premature or ngx.worker.exiting()
    local waiting = nlines > 0 or agg_n > 0
    local full = nlines >= LOG_BATCH or agg_n >= AGG_CAP
    -- The period, or a wake-up, unless something must go now: a full batch, or, told to exit
    -- (nginx stops gracefully), whatever waits; it then goes on every LOG_EVERY while calls are
    -- still under way, whose lines come in their log phase. While a failed connection backs off,
    -- nothing can go, so it always waits: it once went round without yielding while a full batch
    -- waited for a sink that was down, and the nginx worker served nothing more.
    if (not full and not (exiting and waiting)) or (not exiting and ngx.now() < retry_at) then wake:wait(LOG_EVERY) end
    woken = false
    if (nlines > 0 or agg_n > 0) and ngx.now() >= retry_at then
      if sock then
        -- The sink never writes: "timeout" is a live connection, anything else one it closed.
        sock:settimeout(1)
        local _, err = sock:receive(1)
        if err ~= "timeout" then sock:close(); sock = nil end
      end
      if not sock then
        sock = ngx.socket.tcp()
        sock:settimeouts(1000, 5000, 5000)
        local ok, err = sock:connect("127.0.0.1", LOG_PORT)
        if ok then backoff = 0 else
          sock = nil
          backoff = backoff == 0 and 0.2 or (backoff < 2.5 and backoff * 2 or 5)
          retry_at = ngx.now() + backoff
          warn("cannot connect", err)
        end
      end
      if sock then
        -- What waits, taken whole: lines the log phase adds while the write yields wait for the next.
        local sent = nlines
        if agg_n > 0 then
          local counts = agg
          agg, agg_n = {}, 0
          for route, a in pairs(counts) do for who, b in pairs(a) do for rev, c in pairs(b) do for status, d in pairs(c) do for ms, n in pairs(d) do
            local line = AGG_PREFIX .. route .. " " .. who .. " " .. rev .. " " .. status .. " " .. ms .. " " .. n
            if #line <= LOG_MAX then lbuf:put(#line, " ", line); sent = sent + 1 end
          end end end end end
        end
        local batch = lbuf:get()
        nlines = 0
        -- get() keeps the buffer's memory: after a large batch (a sink that was down a while) it is given back.
        if #batch > LOG_KEEP_MAX then lbuf:free() end
        sock:settimeout(5000)
        local ok, err = sock:send(batch)
        if not ok then
          lost = lost + sent
          sock:close(); sock = nil
          warn("a write failed", err)
        end
      end
    end
    -- Done once nothing waits and no call is under way; or when the sink cannot be reached (a
    -- stop is not held up by it: what waits is lost, as when the sink is down at any time).
    if exiting and (not sock or (nlines == 0 and agg_n == 0 and inflight <= 0)) then
      if sock then sock:close() end
      return
    end
  end
end

local function log_start()
  local ok, err = ngx.timer.at(0, function(premature)
    -- A Lua error must not end the sender for good: it is logged and the loop entered again.
    while true do
      local fine, e = pcall(log_sender, premature)
      if fine then return end
      ngx.log(ngx.CRIT, "flowplane: log sender: ", e)
      ngx.sleep(1)
    end
  end)
  if not ok then ngx.log(ngx.CRIT, "flowplane: cannot start the log sender: ", err) end
end
`;
}
