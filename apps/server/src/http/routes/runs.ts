import { operations as ops } from "@flowplane/core/api";
import type { RunsService } from "../../runs/service.js";
import { route, type RouteDef } from "../route.js";
import { param } from "./common.js";

/** Run history and replica logs (docs/runs-and-logs.md). */
export function runRoutes(runs: RunsService): RouteDef[] {
  const ids = (params: Record<string, string>) => [param(params, "projectId"), param(params, "id")] as const;
  return [
    route(ops.listRuns, ({ principal, params, query }) => runs.list(principal, ...ids(params), query)),
    route(ops.getRun, ({ principal, params }) => runs.get(principal, ...ids(params), param(params, "runId"))),
    route(ops.getRunTrace, ({ principal, params }) => runs.trace(principal, ...ids(params), param(params, "runId"))),
    route(ops.getDeploymentLogs, async ({ principal, reauthenticate, params, query, reply }) => {
      const target = await runs.logsTarget(principal, ...ids(params), query);
      if (!target.follow) return runs.logs(target);
      const release = runs.reserveFollow(principal); // 429 before any byte of the stream is sent
      // A stream of newline-delimited JSON lines, for as long as the client stays (bounded by the
      // service's follow limit). Taken out of Fastify's hands: the answer is written as it comes.
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { "content-type": "application/x-ndjson; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff" });
      res.flushHeaders(); // the client learns at once that it follows, before any line comes
      const gone = new AbortController();
      res.once("close", () => gone.abort());
      void (async () => {
        try {
          // Checked again as the stream goes: a revoked key, a removed role or an undeploy ends it.
          const stillFollowing = async () => runs.mayFollow(await reauthenticate(), ...ids(params));
          for await (const lines of runs.follow(target, gone.signal, stillFollowing)) {
            // A write to a connection the client already closed returns false and no "drain"
            // ever comes, and the abort has already fired: waiting then held the follow slot for good.
            if (!res.write(lines.map((l) => JSON.stringify(l)).join("\n") + "\n") && !gone.signal.aborted) {
              await new Promise<void>((resolve) => {
                res.once("drain", resolve);
                gone.signal.addEventListener("abort", () => resolve(), { once: true });
              });
            }
          }
        } catch {
          // a read that failed mid-stream ends the stream; the client sees it end and may reconnect
        } finally {
          release();
          res.end();
        }
      })();
      return undefined as never;
    }),
  ];
}
