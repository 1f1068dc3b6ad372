import type { Command } from "commander";
import { metricsWindowSchema, type Deployment, type DeploymentMetrics } from "@flowplane/core/api";
import { usageError } from "../errors.js";
import { out } from "../io.js";
import { parseFormat, printData, table } from "../output.js";
import type { Session } from "../session.js";

/** `120m` of a core, as `kubectl top` writes CPU; `-` when not measured. */
export const cpuText = (cores: number | null) => (cores === null ? "-" : `${Math.round(cores * 1000)}m`);
/** `85Mi`; `-` when not measured. */
export const memoryText = (bytes: number | null) => (bytes === null ? "-" : bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)}Gi` : `${Math.round(bytes / 2 ** 20)}Mi`);
const ms = (v: number | null) => (v === null ? "-" : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
const rate = (v: number) => (v === 0 ? "0" : v < 0.1 ? v.toFixed(3) : v.toFixed(2));

interface Row {
  deployment: Deployment;
  metrics: DeploymentMetrics | null;
  error?: string;
}

function render(rows: Row[], window: string): string {
  return table(["NAME", "REV", "REQ/S", "REQUESTS", "ERRORS", "P50", "P99", "IN-FLIGHT", "READY", "CPU", "MEMORY"], rows.map(({ deployment: d, metrics: m, error }) => {
    if (!m) return [d.displayName, String(d.revision), "-", "-", "-", "-", "-", "-", "-", "-", error ?? "-"];
    const s = m.summary;
    const errors = s.requests === 0 ? "0" : `${s.errors} (${Math.round((s.errors / s.requests) * 100)}%)`;
    return [d.displayName, String(d.revision), rate(s.requestsPerSecond), String(s.requests), errors, ms(s.p50), ms(s.p99),
      s.inFlight === null ? "-" : String(s.inFlight), `${s.replicasReady ?? "-"}/${s.replicasDesired}`, cpuText(s.cpuCores), memoryText(s.memoryBytes)];
  })) + `\n(requests, errors and latency over the last ${window}; in-flight, replicas, CPU and memory at the last sample)`;
}

/** `top`: each live deployment's traffic and resources at a glance (docs/metrics.md). */
export function registerTop(program: Command, session: Session): void {
  const io = session.io;
  program.command("top")
    .argument("[deployment]", "only this one (name, resource name or id)")
    .description("deployments with requests/s, errors, p50/p99 latency, in-flight requests, ready replicas, CPU and memory")
    .option("--window <w>", "what requests, errors and latency cover: 5m, 1h or 24h", "5m")
    .option("-w, --watch [seconds]", "redraw every few seconds (default 5) until interrupted")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (ref: string | undefined, o: { window: string; watch?: true | string; output: string }) => {
      const format = parseFormat(o.output);
      const window = metricsWindowSchema.safeParse(o.window);
      if (!window.success) throw usageError(`--window ${o.window}: choose one of 5m, 1h, 24h`);
      const every = o.watch === undefined ? 0 : o.watch === true ? 5 : Number(o.watch);
      if (!Number.isInteger(every) || every < 0 || (o.watch !== undefined && every < 1) || every > 3600) throw usageError(`--watch ${String(o.watch)}: a whole number of seconds, 1..3600`);
      const client = await session.client();
      const deployments = async (): Promise<Deployment[]> => {
        if (ref) return [(await session.deployment(ref)).deployment];
        const project = await session.project();
        return (await client.all("listDeployments", { params: { projectId: project.id } })).filter((d) => !d.deletionRequestedAt);
      };
      const once = async (): Promise<Row[]> => Promise.all((await deployments()).map(async (d): Promise<Row> => {
        try {
          return { deployment: d, metrics: await client.do("getDeploymentMetrics", { params: { projectId: d.projectId, id: d.id }, query: { window: window.data } }) };
        } catch (e) {
          return { deployment: d, metrics: null, error: e instanceof Error ? e.message : String(e) };
        }
      }));
      const show = (rows: Row[]) => {
        const data = rows.map((r) => ({ name: r.deployment.displayName, id: r.deployment.id, revision: r.deployment.revision, ...(r.metrics ? { window: r.metrics.window, ...r.metrics.summary } : { error: r.error }) }));
        if (printData(io, format, data)) return;
        out(io, rows.length === 0 ? "no deployments" : render(rows, window.data));
      };
      if (!every) return show(await once());
      for (;;) {
        const rows = await once();
        // On a terminal, each frame replaces the last; piped, frames follow one another.
        if (io.stdout.isTTY) io.stdout.write("\x1b[H\x1b[2J");
        else if (format === "table") out(io, `--- ${new Date().toISOString()}`);
        show(rows);
        await new Promise((r) => setTimeout(r, every * 1000));
      }
    });
}
