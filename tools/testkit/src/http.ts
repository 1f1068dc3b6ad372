import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type AddressInfo } from "node:net";

/** A throw-away HTTP server on 127.0.0.1 (random port) for tests that need an upstream. */
export async function startHttpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Raw bytes on one new connection to 127.0.0.1:`port` (what no HTTP client sends: pipelined
 * requests in one write, bytes that are no HTTP): everything read until the server closes the
 * connection, or until `ms` pass (then closed here), as latin1 text; `closed` says which.
 */
export function rawExchange(port: number, data: string, ms = 1000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1", () => s.write(data));
    let text = "";
    let closed = false;
    s.on("data", (d: Buffer) => (text += d.toString("latin1")));
    s.on("error", () => undefined);
    s.on("close", () => {
      closed = true;
      clearTimeout(timer);
      resolve({ text, closed });
    });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closed });
    }, ms);
  });
}

/** One answer of the control-plane API, as the e2e tests look at it. */
export interface ApiAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read the fields they assert on
  json: any;
  text: string;
}

/** Calls a running server's `/api/v1` with an access key: JSON in, the status, the parsed body and its text out. */
export function apiCaller(serverUrl: string, key: string): (method: string, path: string, body?: unknown) => Promise<ApiAnswer> {
  return async (method, path, body) => {
    const r = await fetch(`${serverUrl}/api/v1${path}`, {
      method, headers: { "x-access-key": key, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : undefined, text };
  };
}
