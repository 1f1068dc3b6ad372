import type { FastifyInstance, FastifyRequest } from "fastify";
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from "prom-client";
import { toHttpError } from "./http/errors.js";
import { clientAddress } from "./http/relayed-client.js";
import { RequestDurationHistogram, type RequestDurations, type RequestLabels } from "./request-durations.js";

/**
 * The control plane's Prometheus metrics, in one registry per process (no prom-client global
 * registry: tests build several control planes in one process). Every metric is created here,
 * so names, labels and buckets are reviewed in one place; the code that observes them receives
 * this object in its options.
 */
export interface Metrics {
  registry: Registry;
  /**
   * Gateway request latency, from the request's arrival to the last byte of the answer (streams
   * included), by route, kind, status class, deployment and revision. Bounded by REVISIONS_PER_DEPLOYMENT (request-durations.ts).
   */
  gatewayRequestDuration: RequestDurations;
  /**
   * Requests the gateways are proxying right now, by route kind. Plain counters read at scrape
   * time: a prom-client gauge costs label hashing on every inc/dec, twice per proxied request.
   */
  gatewayInFlight: { add(kind: string, delta: number): void };
  /**
   * Upstream failures seen by the gateway, by reason: `refused` (connect refused), `reset`
   * (the replica closed the connection before answering), `timeout`, `other`; `retried` says
   * whether the request was sent to another replica.
   */
  gatewayUpstreamErrors: Counter<"reason" | "retried">;
  /**
   * Requests the gateway answered 429, by reason (rate-limit.ts `RefusalReason`): `failed-auth`,
   * `deployment-rate`, `deployment-concurrency`, `key-rate`, `key-concurrency`.
   */
  gatewayRateLimited: Counter<"reason">;
  /** One reconcile pass of one deployment; `result` is `ok`, `error` or `requeued`. */
  reconcileDuration: Histogram<"result">;
  /** Deployments by their current phase (set by the reconciler after each pass). */
  deploymentsByPhase: Gauge<"phase">;
}

export type { RequestDurations, RequestLabels } from "./request-durations.js";

/**
 * How many revisions of one deployment keep their series (per process): the current one, the
 * one a rolling update replaces, and one before. When a fourth appears, the oldest one's series
 * are removed. So the label set stays bounded: deployments × 2 kinds × 5 status classes × 3
 * revisions (a route id belongs to one deployment and kind, so it adds no series).
 */
export const REVISIONS_PER_DEPLOYMENT = 3;

/** The deployment and revision labels of a request to a resolved route (gateway/pipeline.ts: one call, at finish). */
export function deploymentLabels(route: { resourceName: string; revision?: number } | undefined, revisionHeader: unknown): Pick<RequestLabels, "deployment" | "revision"> {
  if (!route) return {};
  // The revision named to the client: the replica's own when it said, else the route's.
  const revision = Number(revisionHeader) || route.revision;
  return { deployment: route.resourceName, ...(revision ? { revision: String(revision) } : {}) };
}

/**
 * A metric of flowplane's own (request-durations.ts) in prom-client's registry, which reads it
 * through `get()` and `reset()` as it reads its own (its `Metric` type names only its classes).
 */
function registered(registry: Registry, metric: RequestDurationHistogram): RequestDurationHistogram {
  registry.registerMetric(metric as unknown as Metric);
  return metric;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event-loop lag, GC). Default true; tests turn them off. */
  defaultMetrics?: boolean;
  /** Prefix of the default process metrics. */
  prefix?: string;
}

// Latency buckets from 1 ms (a proxied cache-hit) to 5 minutes (the longest run timeout):
// flow runs are slow and streams are long, so the tail needs coarse buckets up there.
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export function createMetrics(o: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const inFlight = new Map<string, number>();
  // The event-loop delay monitor samples every 10 ms by default: 0.7% of a core on an idle
  // control plane, most of its idle cost. Every 100 ms still shows a blocked loop.
  if (o.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: o.prefix ?? "flowplane_", eventLoopMonitoringPrecision: 100 });
  new Gauge({
    name: "flowplane_gateway_in_flight_requests",
    help: "Requests being proxied to a runtime replica right now.",
    labelNames: ["kind"] as const,
    registers: [registry],
    collect() {
      for (const [kind, n] of inFlight) this.set({ kind }, n);
    },
  });
  return {
    registry,
    gatewayRequestDuration: registered(registry, new RequestDurationHistogram(
      "flowplane_gateway_request_duration_seconds",
      "Gateway request latency by route, route kind (http, mcp), status class (2xx..5xx), deployment (its resource name) and revision (the last 3 per deployment).",
      LATENCY_BUCKETS,
      REVISIONS_PER_DEPLOYMENT,
    )),
    gatewayInFlight: {
      add: (kind, delta) => void inFlight.set(kind, (inFlight.get(kind) ?? 0) + delta),
    },
    gatewayUpstreamErrors: new Counter({
      name: "flowplane_gateway_upstream_errors_total",
      help: "Failures talking to a runtime replica, by reason (refused, reset, timeout, other) and whether the request was retried elsewhere.",
      labelNames: ["reason", "retried"] as const,
      registers: [registry],
    }),
    gatewayRateLimited: new Counter({
      name: "flowplane_gateway_rate_limited_total",
      help: "Requests answered 429 by the gateway's rate limits, by reason (failed-auth, deployment-rate, deployment-concurrency, key-rate, key-concurrency, body-budget).",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: "flowplane_reconcile_duration_seconds",
      help: "Duration of one reconcile pass of one deployment, by result (ok, error, requeued).",
      labelNames: ["result"] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    deploymentsByPhase: new Gauge({
      name: "flowplane_deployments",
      help: "Deployments by phase (Provisioning, Starting, Ready, Updating, Degraded, Failed, Deleting).",
      labelNames: ["phase"] as const,
      registers: [registry],
    }),
  };
}

/** `2xx`, `4xx`, …: a bounded label (exact statuses would multiply the series for little gain). */
export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

/**
 * GET /metrics in Prometheus' text format. `others` adds the registries of other processes (the
 * gateway's data-plane workers, as prom-client JSON): counters and histograms are summed with
 * this process's own, so a scrape sees one gateway whatever the number of workers. `access`
 * decides who may read them (metrics-access.ts); a refusal is answered before anything is read.
 * `relaySecret`: the API's (http/relayed-client.ts), so a scrape a gateway worker relays from its
 * loopback is charged to the client it names, as an API call is, not to the worker's address.
 */
export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics, o: { access: (headers: FastifyRequest["headers"], address: string) => Promise<void>; others?: () => Promise<unknown[][]>; relaySecret?: string }): void {
  app.get("/metrics", { logLevel: "warn" }, async (req, reply) => {
    // Mapped here, whatever app the route is on (the listeners' error handler maps it the same way: http/listener.ts).
    try {
      await o.access(req.headers, clientAddress(req, o.relaySecret));
    } catch (err) {
      const { status, body, unexpected, headers } = toHttpError(err);
      if (unexpected) req.log.error({ err }, "unexpected error");
      if (headers) void reply.headers(headers);
      return reply.code(status).send(body);
    }
    let registry: Registry = metrics.registry;
    if (o.others) {
      const all = [await metrics.registry.getMetricsAsJSON(), ...(await o.others())] as Parameters<typeof AggregatorRegistry.aggregate>[0];
      registry = AggregatorRegistry.aggregate(all);
    }
    return reply.header("content-type", metrics.registry.contentType).send(await registry.metrics());
  });
}
