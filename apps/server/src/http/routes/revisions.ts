import { operations as ops } from "@flowplane/core/api";
import type { DeploymentService } from "../../services/deployments.js";
import { route, type RouteDef } from "../route.js";
import { pageOf, param } from "./common.js";

/** `.../deployments/{id}/revisions[...]`, `.../rollback` and the canary's `.../canary`, `.../promote`, `.../abort` (DESIGN 11). */
export function revisionRoutes(deployments: DeploymentService): RouteDef[] {
  const revisions = deployments.revisions;
  const ids = (params: Record<string, string>) => [param(params, "projectId"), param(params, "id")] as const;
  return [
    route(ops.listDeploymentRevisions, async ({ principal, params, query }) => {
      const page = await revisions.list(principal, ...ids(params), pageOf(query));
      return { items: page.items.map((r) => revisions.view(r)), nextCursor: page.nextCursor };
    }),
    route(ops.diffDeploymentRevisions, ({ principal, params, query }) => revisions.diff(principal, ...ids(params), query)),
    route(ops.getDeploymentRevision, async ({ principal, params }) => revisions.view(await revisions.get(principal, ...ids(params), param(params, "revision")))),
    route(ops.rollbackDeployment, async ({ principal, params, body }) => deployments.view(await revisions.rollback(principal, ...ids(params), body))),
    route(ops.setCanaryPercent, async ({ principal, params, body }) => deployments.view(await deployments.traffic.setPercent(principal, ...ids(params), body))),
    route(ops.promoteCanary, async ({ principal, params }) => deployments.view(await deployments.traffic.promote(principal, ...ids(params)))),
    route(ops.abortCanary, async ({ principal, params }) => deployments.view(await deployments.traffic.abort(principal, ...ids(params)))),
  ];
}
