import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * `/health` and `/ready` on a port of their own (FLOWPLANE_PROBE_PORT), served by the main
 * thread from the status it keeps here: no routing, no secret check, no run, nothing that
 * queues a probe behind a flow's work. A run holds the event loop only for its synchronous
 * slices (microseconds for the native engine; the lfx engine's runs are another process), so a
 * probe is answered in the loop turn its bytes arrive, under any number of in-flight runs.
 *
 * Why not a thread of its own (sessions 10 to 18 had one): a Node worker is an isolate and an
 * environment, about 10 MiB of every replica's memory (docs/contracts.md), and it answered
 * "ready" for a main thread stuck in one synchronous step, whose callers then waited on it. Here
 * a stuck main thread answers nothing: its probes time out, the driver takes it out of the
 * endpoints after its failure threshold, and the liveness probe's threshold (about a minute:
 * core's manifests) restarts it if it stays stuck, the drivers' policy, not the replica's.
 */
/**
 * The replica's readiness, as /ready names it:
 * - `loading`: downloading the bundle, loading flows;
 * - `ready`: serving;
 * - `draining`: SIGTERM received, finishing in-flight requests;
 * - `failed`: the engine stopped serving; the process is about to exit.
 */
export type ProbeStatus = "loading" | "ready" | "draining" | "failed";

export interface ProbeServer {
  /** `http://host:port` of the probe listener. */
  url: string;
  publish(status: ProbeStatus, flows: number): void;
  close(): Promise<void>;
}

/**
 * How long a connection to the probe listener may stay silent, and how long its request may take
 * to arrive whole. A prober (the kubelet, the local driver) writes its request as soon as it
 * connects and gives up after 2-5 s; nothing else has business here. Node's defaults would keep a
 * connection that never sends a byte open for ever, and one dripping its headers for 60-90 s, each
 * an fd and about 8 KiB of this process: any local process (another replica's flow, on the local
 * driver's shared loopback) could pile them up until the replica runs out of either. With these,
 * what it can hold is bounded by how fast it connects. No cap on the number of connections: a
 * full cap would refuse the real prober, which is worse than what it guards against.
 */
const PROBE_IDLE_MS = 5_000;
const PROBE_REQUEST_MS = 5_000;

export async function startProbeServer(o: { host: string; port: number; fd?: number }): Promise<ProbeServer> {
  let status: ProbeStatus = "loading";
  let flows = 0;
  const server = createServer(
    // Checked every second (Node's default is every 30 s), so a request's bound is kept within one.
    { headersTimeout: PROBE_REQUEST_MS, requestTimeout: PROBE_REQUEST_MS, connectionsCheckingInterval: 1_000 },
    (req, res) => answer(req, res, status, flows),
  );
  server.keepAliveTimeout = 5_000;
  // Silent that long (never a byte, or nothing since the last one): destroyed.
  server.setTimeout(PROBE_IDLE_MS);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const listening = () => {
      server.off("error", reject);
      resolve();
    };
    if (o.fd === undefined) server.listen(o.port, o.host, listening);
    else server.listen({ fd: o.fd }, listening);
  }).catch((err: Error) => {
    throw new Error(`probe listener: ${err.message}`);
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    publish(s, n) {
      status = s;
      flows = n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function answer(req: IncomingMessage, res: ServerResponse, status: ProbeStatus, flows: number): void {
  const send = (code: number, body: unknown) => {
    // With its length, so the driver's kept-alive probe connection reads it without chunk framing.
    const text = JSON.stringify(body);
    res.writeHead(code, { "content-type": "application/json", "cache-control": "no-store", "content-length": Buffer.byteLength(text) }).end(req.method === "HEAD" ? undefined : text);
  };
  if (req.method !== "GET" && req.method !== "HEAD") return send(405, { error: { code: "method_not_allowed", message: "GET only", details: null } });
  const path = (req.url ?? "").split("?")[0];
  // Alive whenever it answers: a stuck event loop answers nothing, and the prober's timeout says so.
  if (path === "/health") return send(200, { status: "ok" });
  if (path === "/ready") return send(status === "ready" ? 200 : 503, { status, flows });
  return send(404, { error: { code: "not_found", message: "the probe listener serves /health and /ready", details: null } });
}
