import type { Logger, RunTrace } from "@flowplane/core";

/**
 * Export of runs' traces to an OpenTelemetry collector over OTLP/HTTP (issue #19 item 2), with
 * the official OpenTelemetry JS SDK. Off unless FLOWPLANE_OTLP_ENDPOINT is set; the SDK's
 * modules are imported at the first export, so a process that exports nothing never loads
 * them. Each RunTrace becomes one OTel trace: a root span for the run (`flow run`) and one
 * child span per component, with their own start and end times, the error status of the one
 * that failed, and the deployment, project, revision and run (request id) as attributes. When
 * the deployment keeps inputs and outputs (runtime.io), they go too, as the replica redacted
 * and cut them, under OpenInference's `input.value` / `output.value` (a component's as JSON),
 * which LLM trace viewers read. The SDK's batch processor sends them off the request path and
 * drops what the collector refuses.
 */
export interface TraceExporter {
  export(deployment: { deploymentId: string; projectId: string | null; deploymentName: string | null }, traces: readonly RunTrace[]): void;
  /** Sends what is pending, then stops. */
  close(): Promise<void>;
}

export interface OtlpExporterOptions {
  /** The collector's OTLP/HTTP base (`http://collector:4318`) or its traces URL (`.../v1/traces`). */
  endpoint: string;
  log: Logger;
  /** The `service.name` resource attribute (default `flowplane`). */
  serviceName?: string;
  /** How long the batch processor waits before sending (default 1 s). */
  scheduledDelayMs?: number;
}

/** The traces URL of an OTLP/HTTP endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT is read. */
export function otlpTracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (!url.pathname.endsWith("/v1/traces")) url.pathname = `${url.pathname.replace(/\/$/, "")}/v1/traces`;
  return url.toString();
}

type Sdk = Awaited<ReturnType<typeof loadSdk>>;

async function loadSdk(o: OtlpExporterOptions) {
  const [api, base, http, resources] = await Promise.all([
    import("@opentelemetry/api"), import("@opentelemetry/sdk-trace-base"), import("@opentelemetry/exporter-trace-otlp-http"), import("@opentelemetry/resources"),
  ]);
  const provider = new base.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ "service.name": o.serviceName ?? "flowplane" }),
    spanProcessors: [new base.BatchSpanProcessor(new http.OTLPTraceExporter({ url: otlpTracesUrl(o.endpoint) }), { scheduledDelayMillis: o.scheduledDelayMs ?? 1000 })],
  });
  return { api, provider, tracer: provider.getTracer("flowplane") };
}

export function createOtlpExporter(o: OtlpExporterOptions): TraceExporter {
  let sdk: Promise<Sdk> | undefined;
  const load = () => (sdk ??= loadSdk(o));
  const ms = (iso: string) => Date.parse(iso);

  function emit({ api, tracer }: Sdk, d: Parameters<TraceExporter["export"]>[0], t: RunTrace): void {
    const start = ms(t.start);
    const common = {
      "flowplane.deployment.id": d.deploymentId,
      ...(d.projectId ? { "flowplane.project.id": d.projectId } : {}),
      ...(d.deploymentName ? { "flowplane.deployment.name": d.deploymentName } : {}),
      ...(t.revision !== null ? { "flowplane.revision": t.revision } : {}),
      "flowplane.run.request_id": t.requestId,
      "flowplane.flow.id": t.flowId,
    };
    const tokens = (x: RunTrace["tokens"]) => (x ? {
      ...(x.input !== undefined ? { "gen_ai.usage.input_tokens": x.input } : {}),
      ...(x.output !== undefined ? { "gen_ai.usage.output_tokens": x.output } : {}),
    } : {});
    const text = (k: "input" | "output", v: string | null | undefined) => (typeof v === "string" ? { [`${k}.value`]: v } : {});
    const json = (k: "input" | "output", v: Record<string, string> | undefined) => (v ? { [`${k}.value`]: JSON.stringify(v), [`${k}.mime_type`]: "application/json" } : {});
    const root = tracer.startSpan("flow run", { startTime: start, kind: api.SpanKind.SERVER, attributes: { ...common, "flowplane.engine": t.engine, ...tokens(t.tokens), ...text("input", t.input), ...text("output", t.output) } }, api.ROOT_CONTEXT);
    if (t.status === "error") root.setStatus({ code: api.SpanStatusCode.ERROR, ...(t.error ? { message: t.error } : {}) });
    const parent = api.trace.setSpan(api.ROOT_CONTEXT, root);
    for (const s of t.spans) {
      const sStart = ms(s.start);
      const span = tracer.startSpan(s.name, {
        startTime: sStart,
        attributes: { ...common, "flowplane.component.id": s.componentId, "flowplane.component.type": s.componentType, ...tokens(s.tokens), ...json("input", s.inputs), ...json("output", s.outputs) },
      }, parent);
      if (s.status === "error") span.setStatus({ code: api.SpanStatusCode.ERROR, ...(s.error ? { message: s.error } : {}) });
      span.end(sStart + s.durationMs);
    }
    root.end(start + t.durationMs);
  }

  return {
    export(d, traces) {
      load().then((s) => {
        for (const t of traces) emit(s, d, t);
      }, (err: unknown) => o.log.warn({ error: (err as Error).message }, "OTLP export: the OpenTelemetry SDK could not be loaded"));
    },
    async close() {
      if (!sdk) return;
      const s = await sdk.catch(() => undefined);
      await s?.provider.shutdown().catch(() => undefined);
    },
  };
}
