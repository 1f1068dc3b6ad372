import type { Principal } from "@flowplane/core";
import type { GatewayRoute, GatewaySources } from "../gateway/index.js";
import { fromWire, type FromWorker, type ToWorker } from "./protocol.js";

/**
 * A worker's view of the control plane (the gateway's sources, over IPC): ready sets and
 * secrets as the control plane pushed them, keys and routes asked on a cache miss. The
 * gateway's own TTL caches sit in front, so a lookup here happens once per key or route per
 * TTL (4 s, 1 s), whatever the request rate.
 */
export class WorkerSources implements GatewaySources {
  private readonly ready = new Map<string, string[]>();
  private readonly secrets = new Map<string, string>();
  private readonly pending = new Map<number, { resolve(m: ToWorker): void; reject(e: Error): void }>();
  private next = 1;

  constructor(private readonly send: (m: FromWorker) => void, private readonly onForget: () => void) {}

  /** Every message from the control plane passes here. */
  receive(m: ToWorker): void {
    switch (m.t) {
      case "authenticate": case "route": {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (!p) return;
        if (m.error) p.reject(new Error(`the control plane failed to answer a ${m.t} lookup`));
        else p.resolve(m);
        return;
      }
      case "endpoints":
        this.ready.set(m.resourceName, m.urls);
        return;
      case "forget-routes":
        this.onForget();
        return;
      case "metrics":
        return; // answered by the worker's main
    }
  }

  /** The channel closed: nothing pending will be answered. */
  failAll(): void {
    for (const p of this.pending.values()) p.reject(new Error("the control plane is gone"));
    this.pending.clear();
  }

  private ask(m: { t: "authenticate"; key: string } | { t: "route"; routeId: string }): Promise<ToWorker> {
    const id = this.next++;
    if (this.next > 2 ** 30) this.next = 1;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ ...m, id });
    });
  }

  async authenticate(key: string): Promise<Principal | null> {
    const m = await this.ask({ t: "authenticate", key });
    return m.t === "authenticate" && m.principal ? fromWire(m.principal) : null;
  }

  async resolveRoute(routeId: string): Promise<GatewayRoute | null> {
    const m = await this.ask({ t: "route", routeId });
    if (m.t !== "route" || !m.route) return null;
    this.ready.set(m.route.resourceName, m.endpoints);
    if (m.secret) this.secrets.set(m.route.deploymentId, m.secret);
    return m.route;
  }

  endpoints(resourceName: string): string[] {
    return this.ready.get(resourceName) ?? [];
  }

  gatewaySecret(deploymentId: string): string {
    // Always known: a request is forwarded only after its route was resolved, which brought the secret.
    return this.secrets.get(deploymentId) ?? "";
  }
}
