/**
 * The nginx configuration for the gateway's fast path with nginx + Lua (docs/gateway.md, "Not
 * built yet: what replacing HAProxy with nginx + Lua takes"): the same contract as
 * haproxy/config.ts, which stays the reference. nginx takes the public port; a call goes to a
 * replica only when every condition of haproxy/config.ts's frontend holds (lua.ts `access`, same
 * order); anything else goes, as the client sent it, to the workers' Unix socket, with the
 * client's address in CLIENT_ADDRESS_HEADER (nginx's HTTP proxy cannot send a PROXY line).
 *
 * What programs it at run time: POSTs of JSON batches to `<dir>/program.sock` (program-client.ts),
 * written into two shared dictionaries every nginx worker reads; never a reload:
 * - fp_routes: `projects/<p>/apps/<a>/routes/<r>` (haproxy routeMapKey) -> the route and its
 *   replicas' addresses (`ip:port`; the balancer connects to addresses only);
 * - fp_keys: `sha256(key)/<project>` -> `user|key id`, each entry expiring by itself within 4 s.
 *
 * Where it differs from haproxy/config.ts (nginx cannot, or not yet; the parity suites would show them):
 * - a replica that sends two x-flowplane-revision headers: the answer names the first (nginx 1.22 reads
 *   only the first upstream header; HAProxy names the route's); a replica's Server header is dropped (HAProxy passes it);
 * - nginx's own refusals are the workers' answers (lua.ts refuse), but nginx refuses what node:http accepts (a repeated Host: 400), and
 *   bounds the head as 1 KiB + one 16 KiB buffer, near the workers' 16 KiB for the whole head; a head slower than 30 s, or a
 *   fast-path body slower than 30 s, is closed unanswered (the workers answer 408: nginx ends a 408 without writing it, error_page or not);
 * - the replica's Host header is the first replica picked; a retry on another replica keeps it (HAProxy's http-send-name-header renames it);
 * - an absolute-form target (GET http://host/projects/...) reaches the workers in origin form: nginx's proxy sends the path only;
 * - the workers get Connection: close (or upgrade), and never the client's TE, Keep-Alive or Expect (nginx answers 100-continue itself);
 * - nginx's own error answers (500/502/503/504) carry nginx's Date; HAProxy's carry none (the refusals carry none);
 * - the log's latency is from the request's first byte to the log phase (HAProxy's %Ta, near enough), in whole ms;
 * - nginx answers some requests itself before any location: TRACE (405), a transfer coding other than chunked (501), a
 *   version it does not speak (505), without a Server header; where the workers would answer with their own shape;
 * - a header name with a byte outside HTTP's token set, or a control byte in a header value, is
 *   served on the fast path (ignore_invalid_headers off, so as not to drop a header silently): the replica's own node:http
 *   refuses it with its 400, where the workers refuse it with theirs (a byte past 0x7f in the path is the workers': lua.ts access);
 */
import { GATEWAY_SECRET_HEADER, RUN_ID_HEADER } from "@flowplane/core";
import { ORIGIN_WIDE_ANSWER_HEADERS, REDIRECT_ANSWER_HEADERS } from "../gateway/headers.js";
import { CLIENT_ADDRESS_HEADER } from "../data-plane/client-header.js";
import { luaModule } from "./lua.js";

/**
 * Where Debian's packages put the modules (libnginx-mod-http-ndk, libnginx-mod-http-lua,
 * libnginx-mod-http-headers-more-filter). headers-more clears nginx's own Server header in C:
 * the same done in a Lua header filter cost about a fifth of the throughput on `GET /flows`
 * (bench/gateway.mjs, session 34: 0.62x against 0.83x nginx at c16 without that filter).
 */
/** Debian's packages that hold them, and nginx itself (the image and scripts/test-all.sh install these). */
export const NGINX_PACKAGES = ["nginx", "libnginx-mod-http-lua", "lua-resty-core", "libnginx-mod-http-headers-more-filter"] as const;
export const NGINX_LUA_MODULES = ["/usr/lib/nginx/modules/ndk_http_module.so", "/usr/lib/nginx/modules/ngx_http_lua_module.so", "/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so"] as const;

export interface NginxConfigOptions {
  /** nginx's prefix folder (mode 0700: only the control plane's user reaches the programming socket in it); its temp files and pid file live here. */
  dir: string;
  /** Where clients connect (the public gateway port). */
  bind: { host: string; port: number };
  /** The workers' listener behind nginx: a Unix socket in the data folder. */
  node: { path: string };
  /** nginx worker processes. */
  workers: number;
  /** Connections each nginx worker holds at once (`worker_connections`): a proxied call takes two. */
  maxConnections: number;
  /** A body this long at most is read and searched (the run record's `session_id` rule). */
  fastBodyMax: number;
  /** CORS is on: every request with an Origin header goes to the workers (haproxy/config.ts corsToNode). */
  corsToNode?: boolean;
  /**
   * The user nginx's workers run as, by name, with its group, when nginx's master is root. flowplane
   * never starts nginx as root (fast-path/front-account.ts: as root it starts nginx as an account of
   * its own, which cannot change users, so no `user` is written); tests of the Lua alone and the
   * instruction-count benchmark, run as root, give root.
   */
  user?: { name: string; group: string };
  /** Where the fast path's per-call log goes (haproxy/log-sink.ts LogSink: its loopback port and token; lua-log.ts). None: no log. */
  logSink?: { port: number; token: string };
  /** How many counts of calls that are not runs a worker keeps between two writes (lua-log.ts AGG_CAP). Tests shorten it. */
  aggCap?: number;
  /** How long a fast-path body may take to arrive, in seconds (HAProxy's wait-for-body, 30 s; then nginx closes the connection, unanswered). Tests shorten it. */
  bodyWaitS?: number;
  /** The shared dictionaries' sizes in MiB (a full one refuses new entries: the programmer hears of it, the calls go to the workers). */
  dictMiB?: { routes: number; keys: number };
}

/**
 * nginx's own refusals, answered as the workers answer them (lua.ts refuse): 400 (a bad request
 * line or header, a repeated Host or Content-Length), 414 (a request line past 16 KiB) and 494 (a
 * header, or the head, past it). Not 408: nginx closes a timed-out request without an answer. Through a URI, not a named
 * location: nginx redirects to a named location only once it has read a request line. The URI is
 * one a client cannot ask for (nginx resolves a client's `/../`), so no path is taken from the workers.
 */
const REFUSALS = [400, 414, 494] as const;
const refusalUri = (status: number) => `/fp-refused/../${status}`;
const refusalPages = (indent: string) => REFUSALS.map((s) => `${indent}error_page ${s} = ${refusalUri(s)};\n`).join("");

/** The programming socket, in `dir`. */
export const programSocket = (dir: string) => `${dir}/program.sock`;

/** Answer headers HAProxy passes from the replica untouched, which nginx would otherwise replace or hide (its own Date and Server, X-Accel-*). */
const PASSED_ANSWER_HEADERS = ["date", "server", "x-pad", "x-accel-redirect", "x-accel-expires", "x-accel-limit-rate", "x-accel-buffering", "x-accel-charset"];
/** An upstream's instructions to nginx, never obeyed: a replica (directly, or through the workers' proxy) must not send nginx to another location or change how it buffers. */
const IGNORED_ANSWER_HEADERS = "X-Accel-Redirect X-Accel-Expires X-Accel-Limit-Rate X-Accel-Buffering X-Accel-Charset Expires Cache-Control Set-Cookie Vary";

/** What both kinds of upstream answer share: headers passed as HAProxy passes them, nginx's own failures in flowplane's shape. */
const answerCommon = (indent: string) => [
  ...PASSED_ANSWER_HEADERS.map((h) => `proxy_pass_header ${h};`),
  `proxy_ignore_headers ${IGNORED_ANSWER_HEADERS};`,
  "proxy_redirect off;",
  "proxy_buffering off;",
  "error_page 500 = @fp_500;",
  "error_page 502 = @fp_502;",
  "error_page 504 = @fp_504;",
].map((l) => `${indent}${l}\n`).join("") + refusalPages(indent);

/** The workers' location: the request as the client sent it (its raw target, its body streamed), the client's address in a header nginx always sets. */
const toWorkers = (indent: string) => `${indent}proxy_pass http://fp_workers;
${indent}proxy_http_version 1.1;
${indent}proxy_request_buffering off;
${indent}proxy_next_upstream off;
${indent}proxy_connect_timeout 5s;
${indent}proxy_read_timeout 1h;
${indent}proxy_send_timeout 1h;
${indent}client_body_timeout 1h;
${indent}proxy_set_header host $http_host;
${indent}proxy_set_header upgrade $http_upgrade;
${indent}proxy_set_header connection $fp_workers_connection;
${indent}proxy_set_header ${CLIENT_ADDRESS_HEADER} $remote_addr;
${indent}# The workers' answer as they sent it, without nginx's Server header (the workers send none).
${indent}more_clear_headers server;
${answerCommon(indent)}`;

export function renderNginxConfig(o: NginxConfigOptions): string {
  const dict = o.dictMiB ?? { routes: 16, keys: 32 };
  const listen = o.bind.host.includes(":") ? `[${o.bind.host}]:${o.bind.port}` : `${o.bind.host}:${o.bind.port}`;
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${o.dir}/${t}-temp;\n`).join("");
  // The hop-by-hop answer headers the Node gateway drops (gateway/headers.ts HOP_BY_HOP) that nginx
  // would pass: it drops Connection, Keep-Alive and Transfer-Encoding itself, not these.
  const hopByHop = ["upgrade", "proxy-authenticate", "proxy-connection", "trailer", "te"];
  const answerDrops = ["x-request-id", "content-security-policy", "x-content-type-options", ...ORIGIN_WIDE_ANSWER_HEADERS, ...REDIRECT_ANSWER_HEADERS, ...hopByHop];
  return `# Written by flowplane at start: do not edit, it is rewritten on every start.
${NGINX_LUA_MODULES.map((m) => `load_module ${m};\n`).join("")}worker_processes ${o.workers};
${o.user ? `user ${o.user.name} ${o.user.group};\n` : ""}pid ${o.dir}/nginx.pid;
# crit and worse only: nginx writes an [error] line per failed upstream call, which a caller can
# cause at will (a replica that refuses); the runs record those calls. child.ts scrubs and bounds what comes.
error_log stderr crit;
events { worker_connections ${o.maxConnections}; }

http {
${temp}  access_log off;
  server_tokens off;
  # No Server header on anything nginx answers, its own refusals before a location is chosen (a TRACE's 405) included.
  more_clear_headers server;
  # The fast path's variables are read unset: $fp_failed on a fast-path call's error page unless the balancer or a 1xx set it,
  # and $fp_failed, $fp_rid on the workers' calls (lua.ts error). Unset, they read as "".
  uninitialized_variable_warn off;
  # The request as the client sent it: no merged slashes, headers with underscores or odd names kept (HAProxy passes them).
  merge_slashes off;
  underscores_in_headers on;
  ignore_invalid_headers off;
  # HAProxy's timeouts: 30 s for a request's head (timeout http-request), 75 s idle (http-keep-alive), 1 h otherwise.
  client_header_timeout 30s;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  keepalive_time 24h;
  send_timeout 1h;
  # The workers' head limit (16 KiB for the whole head, node:http's): nginx keeps the first 1 KiB
  # and one 16 KiB buffer more (a line past it is a 414 or 494; lua.ts refuse answers 431 as they do).
  # A body of any size is theirs to bound (their 413): nginx never answers 413.
  client_header_buffer_size 1k;
  large_client_header_buffers 1 16k;
  client_max_body_size 0;

  lua_package_path "/usr/share/lua/5.1/?.lua;;";
  # The log sender's 1 ms read (lua-log.ts) times out by design: it logs its own failures.
  lua_socket_log_errors off;
  lua_shared_dict fp_routes ${dict.routes}m;
  lua_shared_dict fp_keys ${dict.keys}m;
  lua_shared_dict fp_stats 1m;
  init_by_lua_block {
    package.loaded.flowplane = (function()
${luaModule({ fastBodyMax: o.fastBodyMax, corsToNode: o.corsToNode === true, sink: o.logSink, workers: o.workers, ...(o.aggCap !== undefined ? { aggCap: o.aggCap } : {}) })}
    end)()
  }
  init_worker_by_lua_block { require("flowplane").init_worker() }
  # A replica's slot is given back however the call ended (an error page included).
  log_by_lua_block { require("flowplane").done() }

  # X-Forwarded-For appended when the client sent a non-empty one (HAProxy's rule; nginx's own
  # $proxy_add_x_forwarded_for would make ", addr" of an empty one).
  map $http_x_forwarded_for $fp_xff {
    "" $remote_addr;
    default "$http_x_forwarded_for, $remote_addr";
  }
  # X-Forwarded-Host is the Host when there is one; else the client's own stays (HAProxy sets it only then).
  map $http_host $fp_xfh {
    "" $http_x_forwarded_host;
    default $http_host;
  }
  # The answer's revision (haproxy/config.ts: the replica's when it is a plain number, else the route's; none when the route has none).
  map $upstream_http_x_flowplane_revision $fp_rev_out {
    "~^[1-9][0-9]{0,9}$" $upstream_http_x_flowplane_revision;
    default $fp_rev;
  }
  map $http_upgrade $fp_workers_connection {
    "" close;
    default upgrade;
  }

  upstream fp_replicas {
    server 0.0.0.1;
    balancer_by_lua_block { require("flowplane").balance() }
    keepalive 256;
  }
  # One connection per call, never reused: the workers' per-connection switch sees one client's calls only.
  upstream fp_workers {
    server unix:${o.node.path};
  }

  server {
    # HTTP/1 only (no http2 here), as the workers are.
    listen ${listen} backlog=4096;
${refusalPages("    ")}${REFUSALS.map((s) => `    location = ${refusalUri(s)} { internal; content_by_lua_block { require("flowplane").refuse(${s}) } }\n`).join("")}

    location / {
${toWorkers("      ")}    }

    # The variables lua.ts sets and the directives read, declared (a \`set\` anywhere declares one
    # for every location) where no request reaches: a call starts with them unset, and the fast
    # path sets those it uses (a \`set\` in /projects/ would run on every call, before Lua's).
    location = /fp-variables/../declared {
      internal;
${["fp_rid", "fp_secret", "fp_prefix", "fp_host", "fp_failed", "fp_rev"].map((v) => `      set $${v} "";\n`).join("")}      return 404;
    }

    location /projects/ {
      # A fast-path body (at most fastBodyMax) is read into one buffer and searched; a slow one
      # gets 30 s (HAProxy's wait-for-body), a call for the workers their pace (@workers).
      client_body_buffer_size ${o.fastBodyMax};
      client_body_in_single_buffer on;
      client_body_timeout ${o.bodyWaitS ?? 30}s;
      access_by_lua_block { require("flowplane").access() }
      # A replica's 1xx answer ends the call as a broken replica's (lua.ts interim): nginx would pass what follows it unframed.
      header_filter_by_lua_block { require("flowplane").interim() }
      proxy_pass http://fp_replicas;
      proxy_http_version 1.1;
      # A retry only after a failed connection, once (lua.ts balance: set_more_tries(1)).
      proxy_next_upstream error;
      proxy_next_upstream_tries 2;
      # The Node gateway's request headers (gateway/headers.ts), as HAProxy's slot backends set them.
      proxy_set_header host $fp_host;
      proxy_set_header connection "";
      proxy_set_header x-access-key "";
      proxy_set_header keep-alive "";
      proxy_set_header proxy-connection "";
      proxy_set_header proxy-authenticate "";
      proxy_set_header proxy-authorization "";
      proxy_set_header te "";
      proxy_set_header trailer "";
      proxy_set_header expect "";
      proxy_set_header x-forwarded-for $fp_xff;
      proxy_set_header x-forwarded-proto http;
      proxy_set_header x-forwarded-host $fp_xfh;
      proxy_set_header x-forwarded-prefix $fp_prefix;
      proxy_set_header x-request-id $fp_rid;
      proxy_set_header ${RUN_ID_HEADER} $fp_rid;
      proxy_set_header ${GATEWAY_SECRET_HEADER} $fp_secret;
      # The answer: nothing that sets state for the whole origin or sends the caller elsewhere; a
      # sandboxed, unsniffed document; the run id; the revision: the replica's own when it sends
      # one plain revision number, else the route's ($fp_rev_out); no Server header (replicas send none).
${answerDrops.map((h) => `      proxy_hide_header ${h};\n`).join("")}      proxy_hide_header x-flowplane-revision;
      add_header content-security-policy sandbox always;
      add_header x-content-type-options nosniff always;
      add_header x-request-id $fp_rid always;
      add_header x-flowplane-revision $fp_rev_out always;
      more_clear_headers server;
${answerCommon("      ")}    }

    location @workers {
${toWorkers("      ")}    }

    location @fp_500 { content_by_lua_block { require("flowplane").error(500) } }
    location @fp_502 { content_by_lua_block { require("flowplane").error(502) } }
    location @fp_504 { content_by_lua_block { require("flowplane").error(504) } }
  }

  # The programming socket: only the control plane's user reaches it (the folder is 0700).
  server {
    listen unix:${programSocket(o.dir)};
    client_max_body_size 64m;
    client_body_buffer_size 64m;
    location / { content_by_lua_block { require("flowplane").program() } }
  }
}
`;
}

