import type { Command } from "commander";
import type { LogLine, Run, Trace } from "@flowplane/core/api";
import { usageError } from "../errors.js";
import { out } from "../io.js";
import { parseFormat, printData, shownText, table } from "../output.js";
import type { Session } from "../session.js";

/** A run's route for people: the flow of an HTTP run, the tool of an MCP call. */
const routeOf = (r: Run) => (r.route === "mcp" ? `mcp${r.tool ? `:${r.tool}` : ""}` : `http${r.flowId ? `:${r.flowId}` : ""}`);
/**
 * A log line for the terminal. Its text is whatever the replica's process wrote (a runtime's JSON
 * line, but also raw text: a crash's trace, anything a child process prints): its control
 * characters are shown as escapes, as the trace's text is, so a line cannot recolor, retitle or
 * clear the terminal, set its clipboard (OSC 52), or return to the line's start (`\r`) and write
 * over its `[replica]` prefix to pass as another replica's.
 */
export const logLine = (l: LogLine, merged: boolean) => (merged ? `[${l.replica}] ${shownText(l.text)}` : shownText(l.text));

const BAR = 24;
const tokensText = (t: Trace["tokens"]) => (t ? `${t.input ?? "-"}/${t.output ?? "-"}/${t.total ?? "-"}` : "-");

/** A trace as a waterfall: one row per component, its offset from the run's start, a bar, its status. */
export function traceText(runId: string, trace: Trace, full = false): string {
  const t0 = Date.parse(trace.start);
  const span = Math.max(trace.durationMs, ...trace.spans.map((s) => Date.parse(s.start) - t0 + s.durationMs), 1);
  const rows = [...trace.spans].sort((a, b) => Date.parse(a.start) - Date.parse(b.start)).map((s) => {
    const from = Math.max(0, Date.parse(s.start) - t0);
    const a = Math.min(BAR - 1, Math.floor((from / span) * BAR));
    const len = Math.max(1, Math.round((s.durationMs / span) * BAR));
    const bar = " ".repeat(a) + (s.status === "error" ? "x" : "=").repeat(Math.min(len, BAR - a));
    return [s.name, s.componentType, `+${Math.round(from)} ms`, `${Math.round(s.durationMs)} ms`, `|${bar.padEnd(BAR)}|`, s.status === "error" ? `ERROR: ${s.error ?? ""}` : "ok", tokensText(s.tokens)];
  });
  const head = `run ${runId}: ${trace.status}${trace.error ? ` (${trace.error})` : ""}, ${Math.round(trace.durationMs)} ms, flow ${trace.flowId}, revision ${trace.revision ?? "-"}, engine ${trace.engine}, tokens in/out/total ${tokensText(trace.tokens)}`;
  // The head and the recorded values hold text the flow chose (its error, a model's answer): shown
  // as escapes, like the table's cells, never acted on by the terminal.
  return `${shownText(head)}\n${table(["COMPONENT", "TYPE", "START", "DURATION", "WATERFALL", "STATUS", "TOKENS"], rows)}${shownText(ioText(trace, full))}`;
}

/** One recorded value on one line, shortened unless `full`. */
const oneLine = (v: string, full: boolean) => {
  const flat = v.replace(/\s*\n\s*/g, " ⏎ ");
  return full || flat.length <= 160 ? flat : `${flat.slice(0, 157)}...`;
};

/**
 * The inputs and outputs a deployment that keeps them (runtime.io) recorded: the run's, then each
 * component's, in the order they started. Nothing when none were kept.
 */
function ioText(trace: Trace, full: boolean): string {
  if (trace.input === undefined && trace.output === undefined) return "";
  const lines = ["", `input:  ${trace.input === null || trace.input === undefined ? "-" : oneLine(trace.input, full)}`, `output: ${trace.output === null || trace.output === undefined ? "-" : oneLine(trace.output, full)}`];
  for (const s of [...trace.spans].sort((a, b) => Date.parse(a.start) - Date.parse(b.start))) {
    if (!s.inputs && !s.outputs) continue;
    lines.push("", `${s.name} (${s.componentType})`);
    for (const [k, v] of Object.entries(s.inputs ?? {})) lines.push(`  in  ${k}: ${oneLine(v, full)}`);
    for (const [k, v] of Object.entries(s.outputs ?? {})) lines.push(`  out ${k}: ${oneLine(v, full)}`);
  }
  return `\n${lines.join("\n")}`;
}

/** `runs` (the run history) and `logs` (the replicas' logs, followed with -f): docs/runs-and-logs.md. */
export function registerRunCommands(program: Command, session: Session): void {
  const io = session.io;
  program.command("runs")
    .argument("<deployment>", "name, resource name or id")
    .description("the deployment's recent calls through the gateway, newest first: status, latency, caller, session, error")
    .option("--since <time>", "only runs since then: a duration back from now (15m, 1h, 7d) or an ISO time")
    .option("--status <class>", "only runs answered 2xx, 3xx, 4xx, 5xx, or error (4xx and 5xx)")
    .option("--session <id>", "only the runs of this session")
    .option("--limit <n>", "how many runs at most (1..200)", "50")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action(async (ref: string, o: { since?: string; status?: string; session?: string; limit: string; output: string }) => {
      const format = parseFormat(o.output);
      const { deployment } = await session.deployment(ref);
      const page = await (await session.client()).do("listRuns", {
        params: { projectId: deployment.projectId, id: deployment.id },
        query: { since: o.since, status: o.status, sessionId: o.session, limit: o.limit },
      });
      if (printData(io, format, page.items)) return;
      if (page.items.length === 0) return out(io, `no runs of ${deployment.displayName}${o.since || o.status || o.session ? " that match" : " yet"}`);
      out(io, table(["TIME", "STATUS", "LATENCY", "ROUTE", "CALLER", "SESSION", "ERROR", "REQUEST ID"], page.items.map((r) => [
        r.time, String(r.status), `${Math.round(r.latencyMs)} ms`, routeOf(r), `${r.caller.userId ?? "-"}/${r.caller.keyId ?? "-"}`,
        r.sessionId ?? "-", r.error?.code ?? "-", r.requestId,
      ])));
    });

  program.command("trace")
    .argument("<deployment>", "name, resource name or id")
    .argument("<run>", "the run's id (as `flowplane runs -o json` shows it)")
    .description("a run's trace: each component's start, duration, status, error and tokens, as a waterfall; the failed component marked; then the run's and each component's inputs and outputs when the deployment keeps them (runtime.io)")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .option("--full", "print recorded inputs and outputs whole (default: each shortened to one line of 160 characters)")
    .action(async (ref: string, runId: string, o: { output: string; full?: boolean }) => {
      const format = parseFormat(o.output);
      const { deployment } = await session.deployment(ref);
      const trace = await (await session.client()).do("getRunTrace", { params: { projectId: deployment.projectId, id: deployment.id, runId } });
      if (printData(io, format, trace)) return;
      out(io, traceText(runId, trace, o.full === true));
    });

  program.command("logs")
    .argument("<deployment>", "name, resource name or id")
    .description("the replicas' logs without probe lines, merged by time (or of one replica); -f follows, across rolling restarts")
    .option("-f, --follow", "keep printing new lines until interrupted")
    .option("--request <id>", "only the lines of this request (the x-request-id a run shows)")
    .option("--replica <id>", "only this replica's lines")
    .option("--tail <n>", "lines from the end of each replica's log to start with", "100")
    .option("-o, --output <format>", "text or json (one JSON line each)", "text")
    .action(async (ref: string, o: { follow?: boolean; request?: string; replica?: string; tail: string; output: string }) => {
      if (o.output !== "text" && o.output !== "json") throw usageError(`-o ${o.output}: choose one of text, json`);
      const json = o.output === "json";
      const { deployment } = await session.deployment(ref);
      const client = await session.client();
      const print = (l: LogLine) => out(io, json ? JSON.stringify(l) : logLine(l, o.replica === undefined));
      const query = { replica: o.replica, requestId: o.request, tail: o.tail };
      if (!o.follow) {
        const page = await client.do("getDeploymentLogs", { params: { projectId: deployment.projectId, id: deployment.id }, query });
        for (const r of page.replicas) if (r.error) io.stderr.write(`replica ${r.replica}: ${r.error}\n`);
        return page.items.forEach(print);
      }
      const url = new URL(`${client.server}/api/v1/projects/${encodeURIComponent(deployment.projectId)}/deployments/${encodeURIComponent(deployment.id)}/logs`);
      for (const [k, v] of Object.entries({ ...query, follow: "true" })) if (v !== undefined) url.searchParams.set(k, v);
      // No timeout: the stream lasts until the user stops it (or the server's follow limit ends it).
      const res = await client.fetch(url.toString(), { signal: new AbortController().signal });
      if (!res.ok || !res.body) throw client.errorOf(res.status, await res.text());
      const dec = new TextDecoder();
      let buf = "";
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line) print(JSON.parse(line) as LogLine);
        }
      }
    });
}
