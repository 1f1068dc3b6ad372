import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Gateway } from "./pipeline.js";
import { gatewayParams } from "./paths.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The path switch on an HTTP server that also serves something else (the API's Fastify, or a
 * listener's 404s and /metrics): a request whose path is a gateway path goes to the gateway's
 * pipeline, with no framework work at all; every other request goes to the server's own
 * listeners, unchanged. Installed once, after the framework added its listeners.
 *
 * `Expect: 100-continue` arrives as `checkContinue`: the gateway writes `100 Continue` itself once
 * the request is admitted; other paths get the server's own handling (the API's early refusal
 * when it has one, else Node's immediate `100 Continue`).
 */
export function serveGatewayPaths(server: Server, gateway: Gateway): void {
  const others = server.listeners("request") as Handler[];
  const othersContinue = server.listeners("checkContinue") as Handler[];
  server.removeAllListeners("request");
  server.removeAllListeners("checkContinue");
  const toOthers: Handler = (req, res) => { for (const l of others) l.call(server, req, res); };
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (gatewayParams(req.url ?? "")) gateway.handle(req, res);
    else toOthers(req, res);
  });
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    if (gatewayParams(req.url ?? "")) return gateway.handle(req, res);
    if (othersContinue.length > 0) for (const l of othersContinue) l.call(server, req, res);
    else {
      res.writeContinue();
      toOthers(req, res);
    }
  });
}
