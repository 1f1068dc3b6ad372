import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { KubeConfig } from "@kubernetes/client-node";

type RequestContext = Parameters<KubeConfig["applySecurityAuthentication"]>[0];

/** At most this many pooled agents (a rotated client certificate makes a new one; the oldest goes). */
const MAX_AGENTS = 4;

/**
 * A KubeConfig whose API clients keep their connections to the API server open. The client
 * library makes a new `https.Agent` for every request, so every request paid a TCP connection,
 * a TLS handshake and a new TLS context: at a thousand deployments that was the control plane's
 * largest CPU cost after PGlite (`npm run bench -- k8s`, BENCH_K8S_PROFILE). Here the agent the
 * library made is swapped for a keep-alive one with the same TLS options, kept per distinct set
 * of options (CA, client certificate and key, verification, server name), so a rotated
 * certificate still gets an agent of its own; a proxy's agent is left as the library made it.
 * Idle pooled sockets are unref'd by Node's agent: they never hold a stopping process open.
 *
 * The agent sets no `maxSockets`: a request must never wait in it for a socket. The library's
 * node-fetch 2.7.0 takes a chunked answer for cut short when, at the answer's `close`, its socket
 * has a `data` listener; a socket the agent hands straight to a request queued for it has that
 * request's, so answers that arrived whole failed with "Premature close" (kube-config.test.ts;
 * 16 to 32 applies in each 1,000-deployment run of `npm run bench -- k8s`; node-fetch's issue
 * 1767). The requests in flight are bounded before the agent instead (the driver's `send`), so
 * a socket is taken only by a request made after the one before it was read. `maxFreeSockets`
 * bounds the idle connections kept.
 */
export class PooledKubeConfig extends KubeConfig {
  private readonly agents = new Map<string, http.Agent>();

  constructor(private readonly maxFreeSockets = 64) {
    super();
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getAgent();
    if (!fresh || (fresh.constructor !== https.Agent && fresh.constructor !== http.Agent)) return;
    const o = (fresh as https.Agent).options;
    const h = createHash("sha256").update(fresh.constructor === https.Agent ? "https" : "http");
    for (const v of [o.ca, o.cert, o.key, o.pfx, o.passphrase, o.servername, String(o.rejectUnauthorized)]) {
      for (const part of Array.isArray(v) ? v : [v]) h.update(part === undefined ? "\0" : typeof part === "string" || Buffer.isBuffer(part) ? part : JSON.stringify(part)).update("\0");
    }
    const key = h.digest("hex");
    let agent = this.agents.get(key);
    if (!agent) {
      const options = { ...o, keepAlive: true, maxSockets: Infinity, maxFreeSockets: this.maxFreeSockets, scheduling: "lifo" as const };
      agent = fresh.constructor === https.Agent ? new https.Agent(options) : new http.Agent(options);
      this.agents.set(key, agent);
      while (this.agents.size > MAX_AGENTS) {
        const [oldest, old] = this.agents.entries().next().value!;
        this.agents.delete(oldest);
        old.destroy();
      }
    }
    fresh.destroy();
    context.setAgent(agent);
  }
}
