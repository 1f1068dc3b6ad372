import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Agent, type Dispatcher } from "undici";
import { RELAY_CLIENT_HEADER, RELAY_PORT_HEADER, RELAY_SECRET_HEADER } from "../http/relayed-client.js";

/**
 * A non-gateway request on a connection a worker kept (a client that reuses one connection for
 * a gateway call, then an API call): passed through to the control plane's own loopback
 * listener, body streamed, answer streamed, and answered with `Connection: close`, so the
 * client's next request opens a connection that the switch (connections.ts) hands to the control
 * plane directly. Not the API's fast path, but not rare either: a browser calls the gateway (the
 * Playground) and the API (the UI, a log tail held open for minutes) on one connection.
 *
 * So the connections to the control plane are not pooled to a fixed count: with 16, sixteen
 * relayed log tails, any users', held every other relayed request of this worker in undici's
 * queue until one ended. Instead each client connection relays at most one request: its answer
 * closes the connection, so a request pipelined behind it could never be answered and is not
 * sent. And each relay connection closes with its answer (`reset`): kept alive, it stayed open
 * idle for the control plane's keep-alive (72 s), counted there against its bound on connections
 * (http/connection-cap.ts) long after its client had gone. The connections to the control plane
 * are then bounded by the clients' own.
 */
export class ControlPlanePassThrough {
  private readonly agent = new Agent({ connections: null, pipelining: 1 });
  private readonly relaying = new WeakSet<Socket>();

  constructor(private readonly origin: string, private readonly relaySecret: string) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    // Left unread: the connection ends with the relayed answer before it (Node sends nothing after a `Connection: close` answer).
    if (this.relaying.has(req.socket)) return;
    this.relaying.add(req.socket);
    if (/100-continue/i.test(String(req.headers.expect ?? ""))) res.writeContinue();
    const headers: Record<string, string | string[] | undefined> = { ...req.headers };
    for (const h of ["connection", "keep-alive", "expect", "transfer-encoding", "upgrade", "host", "proxy-connection", "te", "trailer"]) delete headers[h];
    const prior = headers["x-forwarded-for"];
    const ip = req.socket.remoteAddress;
    if (ip) headers["x-forwarded-for"] = typeof prior === "string" && prior ? `${prior}, ${ip}` : ip;
    // The client, for the API's per-address budgets: believed only beside this start's secret. Whatever a client sent here is dropped.
    delete headers[RELAY_SECRET_HEADER];
    delete headers[RELAY_CLIENT_HEADER];
    delete headers[RELAY_PORT_HEADER];
    if (ip) Object.assign(headers, { [RELAY_SECRET_HEADER]: this.relaySecret, [RELAY_CLIENT_HEADER]: ip });
    // Which of the worker's listeners (public or private port; none for the front's Unix socket).
    if (ip && req.socket.localPort !== undefined) headers[RELAY_PORT_HEADER] = String(req.socket.localPort);
    const hasBody = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    if (!hasBody) delete headers["content-length"];
    this.agent.stream({
      origin: this.origin, path: req.url ?? "/", method: req.method as Dispatcher.HttpMethod, headers,
      body: hasBody ? req : null, headersTimeout: 0, bodyTimeout: 0, reset: true,
    }, ({ statusCode, headers: h }) => {
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(h)) if (v !== undefined && k !== "connection" && k !== "keep-alive" && k !== "transfer-encoding") out[k] = v;
      out.connection = "close";
      res.writeHead(statusCode, out);
      return res;
    }).catch(() => {
      if (!res.headersSent) {
        res.writeHead(502, { "content-type": "application/json; charset=utf-8", connection: "close" });
        res.end(JSON.stringify({ error: { code: "bad_gateway", message: "the control plane did not answer" } }));
      } else res.destroy();
    });
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
