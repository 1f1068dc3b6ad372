import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./wait.js";

/**
 * A real OpenTelemetry Collector for the OTLP export tests: the Collector's OTLP receiver with
 * a JSON-lines file exporter, built by scripts/setup-otelcol.sh (FLOWPLANE_OTELCOL_BIN
 * overrides where it is). Null when it is not built (tests skip with a reason, except in CI).
 */
export function otelcolBin(): string | null {
  const bin = process.env.FLOWPLANE_OTELCOL_BIN ?? join(homedir(), ".cache", "flowplane", "otelcol-v0.165.0", "otelcol");
  return existsSync(bin) ? bin : null;
}

/** A reason to skip an OTLP export test, or false; never skips in CI (CI=true), where .ci/run builds the collector. */
export function otelcolSkipReason(): string | false {
  if (process.env.CI === "true" || otelcolBin()) return false;
  return "the OpenTelemetry Collector is not built: run scripts/setup-otelcol.sh (or set FLOWPLANE_OTELCOL_BIN)";
}

/** One span as the collector received it, with its resource's and its own attributes flattened. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  status: { code?: number; message?: string };
  attributes: Record<string, string | number | boolean>;
  resource: Record<string, string | number | boolean>;
}

export interface Collector {
  /** The OTLP/HTTP endpoint (`http://127.0.0.1:<port>`). */
  endpoint: string;
  /** Every span received so far. */
  spans(): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
const flat = (attrs: { key: string; value: AnyValue }[] | undefined): Record<string, string | number | boolean> =>
  Object.fromEntries((attrs ?? []).map(({ key, value: v }) => [key, v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue ?? ""]));

/** Starts the collector on a free loopback port and waits until it accepts OTLP. */
export async function startCollector(): Promise<Collector> {
  const bin = otelcolBin();
  if (!bin) throw new Error("the OpenTelemetry Collector is not built: run scripts/setup-otelcol.sh");
  const dir = await mkdtemp(join(tmpdir(), "flowplane-otelcol-"));
  const out = join(dir, "traces.jsonl");
  const port = await freePort();
  const child: ChildProcess = spawn(bin, ["-addr", `127.0.0.1:${port}`, "-out", out], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const endpoint = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`the collector exited: ${stderr}`);
    const r = await fetch(`${endpoint}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    await r.arrayBuffer();
    return r.ok;
  }, { timeoutMs: 15_000, intervalMs: 50, message: "the collector listens" });
  return {
    endpoint,
    async spans() {
      const text = existsSync(out) ? await readFile(out, "utf8") : "";
      const spans: ReceivedSpan[] = [];
      for (const line of text.split("\n")) {
        if (!line.trim()) continue;
        const batch = JSON.parse(line) as { resourceSpans?: { resource?: { attributes?: { key: string; value: AnyValue }[] }; scopeSpans?: { spans?: (Omit<ReceivedSpan, "attributes" | "resource"> & { attributes?: { key: string; value: AnyValue }[] })[] }[] }[] };
        for (const rs of batch.resourceSpans ?? []) {
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) spans.push({ ...s, parentSpanId: s.parentSpanId ?? "", status: s.status ?? {}, attributes: flat(s.attributes), resource: flat(rs.resource?.attributes) });
          }
        }
      }
      return spans;
    },
    async close() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
