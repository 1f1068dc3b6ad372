import type { Server as HttpServer } from "node:http";
import { createServer, type Server } from "node:net";

/**
 * The same port on the other address family, held by this process and served by it.
 *
 * Local replicas share this machine's network. With flowplane on 127.0.0.1:8080 only, a flow's
 * code could listen on [::1]:8080, and a client that resolves `localhost` to ::1 first (the
 * usual /etc/hosts; Node's fetch tries ::1 as well) sent its requests there, access keys and all
 * (the CLI's and the banner's default URL is `http://localhost:8080`). So the twin address is
 * taken too, and its connections go to the same server as the main address's (the API, and the
 * gateway pipeline behind its path switch). 0.0.0.0 is twinned with :: (IPv6 only); a specific
 * address has no twin a client would reach by the same name.
 */
export function twinHost(host: string): string | null {
  if (host === "127.0.0.1") return "::1";
  if (host === "::1") return "127.0.0.1";
  if (host === "0.0.0.0") return "::";
  return null;
}

export type TwinResult =
  | { state: "held"; server: Server }
  /** The machine has no such address (no IPv6): nothing there for anyone to take. */
  | { state: "unavailable" }
  /** Another process listens there. */
  | { state: "taken" };

/** Listens on `host:port` and hands each connection to `server`. */
export function holdTwin(host: string, port: number, server: HttpServer): Promise<TwinResult> {
  return new Promise((resolve, reject) => {
    const twin = createServer((socket) => server.emit("connection", socket));
    twin.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EADDRINUSE") resolve({ state: "taken" });
      else if (e.code === "EADDRNOTAVAIL" || e.code === "EAFNOSUPPORT") resolve({ state: "unavailable" });
      else reject(e);
    });
    twin.listen({ host, port, ipv6Only: host.includes(":"), exclusive: true }, () => resolve({ state: "held", server: twin }));
  });
}
