import type { IncomingHttpHeaders } from "node:http";
import { REVISION_TARGET_HEADER, chooseRevision, isSplit, sessionIdOf, type RevisionChoice } from "@flowplane/core";
import type { GatewayRoute } from "./types.js";

/**
 * The gateway's side of the traffic split (docs/revisions.md): which live revision a call goes
 * to, from core's pure `chooseRevision`, and the replicas to pick from. Two calls from the
 * gateway's pipeline; everything else here is core's, so a gateway of another shape makes the
 * same two calls.
 */

/** The revision for this call: by the target header, else by its session id (read only while the route splits), else by its request id. */
export function revisionFor(route: GatewayRoute, headers: IncomingHttpHeaders, body: unknown, requestId: string): RevisionChoice & { targeted: boolean } {
  const t = headers[REVISION_TARGET_HEADER];
  const target = typeof t === "string" ? t : undefined;
  const session = isSplit(route.live) ? sessionIdOf(headers, Buffer.isBuffer(body) ? body : undefined) : undefined;
  return { ...chooseRevision(route.live, session ?? requestId, target), targeted: target !== undefined };
}

/**
 * The replicas a call may go to: those of its revision (`runs`); while that revision has none
 * ready (its replicas are starting: a rolling update, a cold rollback), any ready replica of the
 * deployment, so no call fails meanwhile. A call that targeted its revision gets that
 * revision's replicas or none.
 */
export function candidatesFor(endpoints: (resourceName: string, revision?: number) => string[], resourceName: string, runs: number | undefined, targeted: boolean): string[] {
  if (runs === undefined) return endpoints(resourceName);
  const mine = endpoints(resourceName, runs);
  return mine.length > 0 || targeted ? mine : endpoints(resourceName);
}
