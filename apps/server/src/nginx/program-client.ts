import { request } from "node:http";

/** A route on nginx's fast path (lua.ts `program`): what HAProxy's routes.map value and slot servers held. */
export interface NginxRouteEntry {
  /** haproxy/config.ts routeMapKey: `projects/<p>/apps/<a>/routes/<r>`. */
  key: string;
  deployment: string;
  project: string;
  app: string;
  /** The route's revision, named on an answer whose replica names none; null: none. */
  revision: number | null;
  /** The replica's inactivity timeout (HAProxy's `timeout server`). */
  timeoutMs: number;
  /** The deployment's gateway secret, sent to the replica. */
  secret: string;
  /** The route id (the run record's). */
  route: string;
  /** The replicas, `ip:port` or `[ipv6]:port` (nginx's balancer connects to addresses, not names: server-addresses.ts resolves them). */
  addresses: string[];
}

/** A key on nginx's fast path: `sha256hex(key)/projectId` -> who. */
export interface NginxKeyEntry {
  key: string;
  userId: string;
  keyId: string;
  /** How long the entry lives; nginx caps it at 4 s (lua.ts KEY_TTL_MAX_S), the default too. */
  ttlMs?: number;
}

/** One programming batch: deletes are applied first, then sets; `reset` empties both dictionaries first. */
export interface NginxBatch {
  reset?: boolean;
  routes?: { set?: NginxRouteEntry[]; delete?: string[] };
  keys?: { set?: NginxKeyEntry[]; delete?: string[] };
}

export interface NginxBatchResult {
  routes: { set: number; deleted: number };
  keys: { set: number; deleted: number };
  /** Entries nginx refused (`routes.set[2]: ...`, 1-based), a full dictionary's "no memory" among them; the others were applied. */
  errors: string[];
}

export interface NginxProgramClientOptions {
  /** The programming socket (config.ts programSocket). */
  socketPath: string;
  /** How long a batch may take; default 5 s. */
  timeoutMs?: number;
}

/** Sends batches to nginx's programming socket (a Unix socket in its 0700 folder), one request each. */
export class NginxProgramClient {
  constructor(private readonly o: NginxProgramClientOptions) {}

  /** Applies a batch; rejects when nginx refuses it whole (not JSON, a transport error, a timeout). */
  async send(batch: NginxBatch): Promise<NginxBatchResult> {
    return (await this.call("POST", "/batch", Buffer.from(JSON.stringify(batch)))) as NginxBatchResult;
  }

  /** The calls nginx served on its fast path since it started (every nginx worker's; a restart starts again from 0). */
  async stats(): Promise<{ fast: number }> {
    return (await this.call("GET", "/stats")) as { fast: number };
  }

  private call(method: "GET" | "POST", path: string, body?: Buffer): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = request({
        socketPath: this.o.socketPath, method, path, agent: false, timeout: this.o.timeoutMs ?? 5_000,
        headers: body ? { "content-type": "application/json", "content-length": body.length } : {},
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode !== 200) return reject(new Error(`nginx refused the ${method === "POST" ? "batch" : "request"} (${res.statusCode}): ${text.slice(0, 500)}`));
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new Error(`nginx's answer is not JSON: ${text.slice(0, 200)}`));
          }
        });
      });
      req.on("timeout", () => req.destroy(new Error("nginx's programming socket did not answer in time")));
      req.on("error", reject);
      req.end(body);
    });
  }
}
