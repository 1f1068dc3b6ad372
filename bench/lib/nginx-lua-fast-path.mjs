// A candidate for the gateway's native fast path, measured by bench/haproxy-cost.mjs beside
// flowplane's HAProxy configuration (issue 16: "move the proxying to a well-kept native proxy
// programmed by flowplane ... say which and why"). Not product code: nothing in apps/ uses it.
//
// Debian's nginx with its Lua module (libnginx-mod-http-lua, OpenResty's ngx_lua on LuaJIT),
// doing per call what haproxy/config.ts's fast path does, so that the two counts compare like
// for like:
// - the route looked up from the raw path's parts 2 to 7 (a Lua table here, as a programmed
//   worker would hold it: filled by the control plane, never by a reload);
// - the calls the fast path leaves to the workers sent there (an odd path or query, another key
//   header, an upgrade, a chunked or large body, a repeated X-Forwarded-For or Content-Length, an
//   unusual Connection, MCP) through the same checks, as cheap string tests;
// - the key checked exactly: its SHA-256 (OpenSSL's, through LuaJIT's FFI) with the route's
//   project, looked up among the live keys' hashes;
// - a run id unique per call (a per-process random prefix and a counter; a UUID from OpenSSL's
//   RAND_bytes, nginx's $request_id, costs 7,000 instructions more);
// - the forwarding headers, the gateway secret and the hop-by-hop headers dropped, as nginx
//   directives (nginx compiles them once: a few hundred instructions each per call);
// - the answer's rules: the revision header (the replica's when well formed, else the route's),
//   the origin-wide headers dropped, CSP sandbox, nosniff, the request id;
// - a log line per call (nginx's buffered access log; HAProxy's goes to a ring).
// What it leaves out, as costs a real one would add: the body check for `session_id` (POSTs
// only; the bench calls GET), per-route timeouts and retries in the balancer, error answers in
// flowplane's shape (only on errors), and the programming channel (off the call path).
//
// `rulesOnly`: the same nginx without Lua: fixed routes and upstreams, no key check, a fixed run
// id; only the header directives and the answer's rules, to show what the contract's headers cost
// nginx by themselves.

const LUA_MODULES = ["/usr/lib/nginx/modules/ndk_http_module.so", "/usr/lib/nginx/modules/ngx_http_lua_module.so"];
/** Where Debian's package puts the Lua module (bench/haproxy-cost.mjs checks for it before using this). */
export const NGINX_LUA_MODULE = LUA_MODULES[1];

/** The headers the fast path's answer drops (haproxy/config.ts: ORIGIN_WIDE_ANSWER_HEADERS, REDIRECT_ANSWER_HEADERS). */
const headerRules = (answerDrops) => `
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_set_header connection "";
      proxy_set_header x-access-key "";
      proxy_set_header keep-alive "";
      proxy_set_header proxy-connection "";
      proxy_set_header proxy-authenticate "";
      proxy_set_header proxy-authorization "";
      proxy_set_header te "";
      proxy_set_header trailer "";
      proxy_set_header expect "";
      proxy_set_header x-forwarded-for $proxy_add_x_forwarded_for;
      proxy_set_header x-forwarded-proto http;
      proxy_set_header x-forwarded-host $host;
      proxy_set_header x-forwarded-prefix $fp_prefix;
      proxy_set_header x-request-id $fp_rid;
      proxy_set_header x-flowplane-run-id $fp_rid;
      proxy_set_header x-flowplane-gateway-secret $fp_secret;
      proxy_hide_header x-flowplane-revision;
${answerDrops.map((h) => `      proxy_hide_header ${h};\n`).join("")}      add_header x-flowplane-revision $fp_rev_out always;
      add_header content-security-policy sandbox always;
      add_header x-content-type-options nosniff always;
      add_header x-request-id $fp_rid always;`;

/**
 * nginx's configuration, in `dir`, on 127.0.0.1:`port`, the key `key` live for project `p`.
 * `routes`: route id -> upstream ({ hostname, port }), each at `projects/p/apps/a/routes/<id>`;
 * or `upstream` alone, the route `r`. `workers`: 1 (the default) runs one worker and no master,
 * so callgrind sees the process that serves (bench/haproxy-cost.mjs); `master`: a master too, as
 * bench/gateway.mjs runs nginx. `answerDrops`: the answer headers to drop.
 */
export function nginxFastPathConfig({ dir, port, upstream, routes = { r: upstream }, key, answerDrops, rulesOnly = false, workers = 1, master = workers > 1 }) {
  const head = `daemon off;
master_process ${master ? "on" : "off"};
worker_processes ${workers};
${master && process.getuid?.() === 0 ? "user root root;\n" : ""}pid ${dir}/nginx-fast-path.pid;
error_log ${dir}/nginx-fast-path-error.log warn;
events { worker_connections 4096; }
`;
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${dir}/${t};\n`).join("");
  const revision = `
  map $upstream_http_x_flowplane_revision $fp_rev_out {
    "~^[1-9][0-9]{0,9}$" $upstream_http_x_flowplane_revision;
    default $fp_rev;
  }`;
  if (rulesOnly) {
    // One location per route, each with its own upstream: the route's prefix and path from the
    // location's regex, a fixed run id, secret and revision.
    const locations = Object.entries(routes).map(([id, u]) => `
    location ~ ^(/projects/p/apps/a/routes/${id})(/.*)$ {
      set $fp_prefix $1;
      set $fp_path $2;
      set $fp_rid 0123456789abcdef-1;
      set $fp_secret secret-0123456789;
      set $fp_rev 7;
      proxy_pass http://fp_${id}$fp_path$is_args$args;${headerRules(answerDrops)}
    }`).join("");
    return `${head}http {
${temp}  access_log off;${revision}
${Object.entries(routes).map(([id, u]) => `  upstream fp_${id} { server ${u.hostname}:${u.port}; keepalive 128; }\n`).join("")}  server {
    listen 127.0.0.1:${port};${locations}
  }
}
`;
  }
  return `${LUA_MODULES.map((m) => `load_module ${m};\n`).join("")}${head}http {
${temp}  log_format fp '$fp_rid $fp_dep $status $request_time $upstream_addr $fp_path';
  access_log ${dir}/nginx-fast-path-access.log fp buffer=64k flush=1s;
  lua_package_path "/usr/share/lua/5.1/?.lua;;";
  init_by_lua_block {
    local ffi = require "ffi"
    -- OpenSSL's one-shot SHA256() goes through its provider lookup (about 4,000 instructions a
    -- call in OpenSSL 3); the low-level calls do not.
    ffi.cdef[[
      typedef struct { unsigned int h[8]; unsigned int Nl, Nh; unsigned int data[16]; unsigned int num, md_len; } FP_SHA256_CTX;
      int SHA256_Init(FP_SHA256_CTX *c);
      int SHA256_Update(FP_SHA256_CTX *c, const void *d, size_t n);
      int SHA256_Final(unsigned char *md, FP_SHA256_CTX *c);
    ]]
    local C = ffi.load("crypto")
    local ctx = ffi.new("FP_SHA256_CTX")
    local md = ffi.new("unsigned char[32]")
    local fstr = ffi.string
    function fp_sha256(s)
      C.SHA256_Init(ctx)
      C.SHA256_Update(ctx, s, #s)
      C.SHA256_Final(md, ctx)
      return fstr(md, 32)
    end
    fp_routes = {}
    fp_keys = {}
    fp_calls = 0
  }
  init_worker_by_lua_block {
    local f = io.open("/dev/urandom", "rb")
    local b = f:read(8)
    f:close()
    fp_rid_prefix = string.format("%02x%02x%02x%02x%02x%02x%02x%02x-", b:byte(1, 8))
${Object.entries(routes).map(([id, u]) => `    fp_routes["p/apps/a/routes/${id}"] = { host = "${u.hostname}", port = ${u.port}, dep = "dep-${id}", project = "p", rev = "7", secret = "secret-0123456789" }\n`).join("")}    fp_keys[fp_sha256(${JSON.stringify(key)}) .. "/p"] = true
  }${revision}
  upstream fp_slot {
    server 0.0.0.1;
    balancer_by_lua_block {
      local r = ngx.ctx.r
      require("ngx.balancer").set_current_peer(r.host, r.port)
    }
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port};
    location /projects/ {
      set $fp_secret "";
      set $fp_rid "";
      set $fp_rev "";
      set $fp_dep "";
      set $fp_path "";
      set $fp_prefix "";
      access_by_lua_block {
        local find, sub, lower = string.find, string.sub, string.lower
        local var = ngx.var
        local raw = var.request_uri
        local q = find(raw, "?", 1, true)
        local path = q and sub(raw, 1, q - 1) or raw
        if find(path, "%", 1, true) or find(path, ".", 1, true) then return ngx.exec("@workers") end
        if q and (find(raw, "%", q + 1, true) or find(lower(sub(raw, q + 1)), "key", 1, true)) then return ngx.exec("@workers") end
        local i = 1
        for _ = 1, 6 do
          i = find(path, "/", i + 1, true)
          if not i then return ngx.exec("@workers") end
        end
        local r = fp_routes[sub(path, 11, i - 1)]
        if not r then return ngx.exec("@workers") end
        local h = ngx.req.get_headers(100)
        local key = h["x-access-key"]
        if type(key) ~= "string" or key == "" or h["x-api-key"] or h["authorization"] or h["upgrade"]
          or h["transfer-encoding"] or h["x-flowplane-revision-target"] or type(h["x-forwarded-for"]) == "table" then
          return ngx.exec("@workers")
        end
        local cl = h["content-length"]
        if cl and (type(cl) == "table" or (tonumber(cl) or math.huge) > 16384) then return ngx.exec("@workers") end
        local conn = h["connection"]
        if conn then
          if type(conn) == "table" then return ngx.exec("@workers") end
          conn = lower(conn)
          if conn ~= "keep-alive" and conn ~= "close" then return ngx.exec("@workers") end
        end
        if sub(path, i) == "/mcp" then return ngx.exec("@workers") end
        if not fp_keys[fp_sha256(key) .. "/" .. r.project] then return ngx.exec("@workers") end
        ngx.ctx.r = r
        fp_calls = fp_calls + 1
        var.fp_rid = fp_rid_prefix .. fp_calls
        var.fp_secret = r.secret
        var.fp_rev = r.rev
        var.fp_dep = r.dep
        var.fp_path = sub(path, i) .. (q and sub(raw, q) or "")
        var.fp_prefix = sub(path, 1, i - 1)
      }
      proxy_pass http://fp_slot$fp_path;${headerRules(answerDrops)}
    }
    # The bench sends nothing here; a real one passes these to the workers.
    location @workers { return 503; }
  }
}
`;
}
