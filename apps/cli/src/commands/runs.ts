import type { Command } from "commander";
import type { LogLine, Run } from "@flowplane/core/api";
import { usageError } from "../errors.js";
import { out } from "../io.js";
import { parseFormat, printData, table } from "../output.js";
import type { Session } from "../session.js";

/** A run's route for people: the flow of an HTTP run, the tool of an MCP call. */
const routeOf = (r: Run) => (r.route === "mcp" ? `mcp${r.tool ? `:${r.tool}` : ""}` : `http${r.flowId ? `:${r.flowId}` : ""}`);
const logLine = (l: LogLine, merged: boolean) => (merged ? `[${l.replica}] ${l.text}` : l.text);

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
