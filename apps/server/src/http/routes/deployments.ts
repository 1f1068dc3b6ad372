import type { Deployment } from "@flowplane/core";
import { createDeploymentQuerySchema, operations as ops } from "@flowplane/core/api";
import type { DeploymentService } from "../../services/deployments.js";
import { parse } from "../../services/identity.js";
import { route, type RouteDef } from "../route.js";
import { pageOf, param } from "./common.js";
import { revisionRoutes } from "./revisions.js";

export function deploymentRoutes(deployments: DeploymentService): RouteDef[] {
  const view = (d: Deployment) => deployments.view(d);
  const ids = (params: Record<string, string>) => [param(params, "projectId"), param(params, "id")] as const;
  return [
    route(ops.createDeployment, async ({ principal, params, query, body, reply }) => {
      const q = parse(createDeploymentQuerySchema, query);
      const out = await deployments.create(principal, param(params, "projectId"), body, { dryRun: q.dryRun === "true", step: q.step });
      if ("valid" in out) return out;
      reply.code(201);
      return view(out);
    }),
    route(ops.listDeployments, async ({ principal, params, query }) => {
      const page = await deployments.list(principal, param(params, "projectId"), pageOf(query));
      return { items: page.items.map(view), nextCursor: page.nextCursor };
    }),
    route(ops.getDeployment, async ({ principal, params }) => view(await deployments.get(principal, ...ids(params)))),
    route(ops.patchDeployment, async ({ principal, params, body }) => view(await deployments.patch(principal, ...ids(params), body))),
    route(ops.deleteDeployment, async ({ principal, params, reply }) => {
      reply.code(202);
      return view(await deployments.remove(principal, ...ids(params)));
    }),
    route(ops.disableDeployment, async ({ principal, params, body }) => view(await deployments.disable(principal, ...ids(params), body))),
    route(ops.enableDeployment, async ({ principal, params }) => view(await deployments.enable(principal, ...ids(params)))),
    ...revisionRoutes(deployments),
    route(ops.getDeploymentManifests, ({ principal, params }) => deployments.manifests(principal, ...ids(params))),
    route(ops.listDeploymentEvents, async ({ principal, params, query, reply }) => {
      const page = await deployments.events(principal, ...ids(params), pageOf(query));
      if (page.nextCursor) reply.header("x-next-cursor", page.nextCursor);
      return page.items;
    }),
  ];
}
