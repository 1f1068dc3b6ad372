import type { IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import { isIP } from "node:net";
import { gatewaySecretMatches } from "@flowplane/core";

/**
 * The client behind a request a gateway worker relays to the control plane (data-plane/
 * fallback.ts: an API call on a connection the worker kept for a gateway call). Such a request
 * reaches the API from the worker's loopback connection, so its socket names 127.0.0.1; the
 * worker names the real client in RELAY_CLIENT_HEADER, and the API believes it only beside the
 * relay secret made at this start (RELAY_SECRET_HEADER), which only this process and its workers
 * hold. Anything else a caller puts in these headers is ignored (and the worker drops them), so
 * no caller, replica or local process can charge another address's bad-key budget or escape its own.
 */
export const RELAY_SECRET_HEADER = "x-flowplane-relay-secret";
export const RELAY_CLIENT_HEADER = "x-flowplane-relay-client";
/**
 * The port of the worker's listener the relayed request came in on (absent for its Unix socket
 * behind a native front, which holds the public port): the admin-key challenge is answered for
 * the public port's callers only (admin-key-proof.ts). Believed only beside the relay secret too.
 */
export const RELAY_PORT_HEADER = "x-flowplane-relay-port";

/** The relayed client's address when the request carries this start's relay secret, else undefined. */
export function relayedClient(headers: IncomingHttpHeaders, secret: string | undefined): string | undefined {
  const given = headers[RELAY_SECRET_HEADER];
  const client = headers[RELAY_CLIENT_HEADER];
  if (!secret || typeof given !== "string" || typeof client !== "string" || isIP(client) === 0) return undefined;
  return gatewaySecretMatches(given, secret) ? client : undefined;
}

/**
 * The local port of the listener a request came in on: the socket's own, or, for a request a
 * worker relays (with this start's secret), the port of the worker's listener it came in on;
 * undefined for a Unix socket.
 */
export function listenerPort(req: { headers: IncomingHttpHeaders; socket: Pick<Socket, "localPort"> | undefined }, secret: string | undefined): number | undefined {
  if (relayedClient(req.headers, secret) === undefined) return req.socket?.localPort;
  const given = req.headers[RELAY_PORT_HEADER];
  return typeof given === "string" && /^\d{1,5}$/.test(given) ? Number(given) : undefined;
}

/** The address a request's failed credentials are charged to: the relayed client's (above), else the socket's peer. */
export function clientAddress(req: { headers: IncomingHttpHeaders; socket: Pick<Socket, "remoteAddress"> }, secret: string | undefined): string {
  return relayedClient(req.headers, secret) ?? req.socket.remoteAddress ?? "";
}
