import { z } from "zod";
import { DEPLOY_STEPS, deployRequestSchema, deploymentPatchSchema, type Deployment, type DeployStep } from "@flowplane/core";
import type { DeploymentService } from "../../services/deployments.js";
import { parse } from "../../services/identity.js";
import { route, type RouteDef } from "../route.js";
import { pageOf, pageQuery, param } from "./common.js";

const createQuery = z.object({
  dryRun: z.enum(["true", "false"], { error: 'dryRun must be "true" or "false"' }).optional(),
  step: z.enum(DEPLOY_STEPS as [DeployStep, ...DeployStep[]], { error: `step must be one of ${DEPLOY_STEPS.join(", ")}` }).optional(),
});

export function deploymentRoutes(deployments: DeploymentService): RouteDef[] {
  const view = (d: Deployment) => deployments.view(d);
  const ids = (params: Record<string, string>) => [param(params, "projectId"), param(params, "id")] as const;
  return [
    route({
      method: "POST", path: "/projects/:projectId/deployments", tag: "deployments",
      summary: "Deploy a bundle version (the Deploy dialog's four steps); ?dryRun=true[&step=...] validates only",
      body: deployRequestSchema, query: createQuery,
      responses: { 201: "created, phase Provisioning", 200: "dry run: {valid, errors}", 400: "invalid", 403: "no editor role", 404: "no such project" },
      handler: async ({ principal, params, query, body, reply }) => {
        const q = parse(createQuery, query);
        const out = await deployments.create(principal, param(params, "projectId"), body, { dryRun: q.dryRun === "true", step: q.step });
        if ("valid" in out) return out;
        reply.code(201);
        return view(out);
      },
    }),
    route({
      method: "GET", path: "/projects/:projectId/deployments", tag: "deployments", summary: "List a project's deployments, newest first", query: pageQuery,
      responses: { 200: "a page of deployments", 404: "no such project" },
      handler: async ({ principal, params, query }) => {
        const page = await deployments.list(principal, param(params, "projectId"), pageOf(query));
        return { items: page.items.map(view), nextCursor: page.nextCursor };
      },
    }),
    route({
      method: "GET", path: "/projects/:projectId/deployments/:id", tag: "deployments", summary: "Get a deployment with its status",
      responses: { 200: "the deployment", 404: "not found" },
      handler: async ({ principal, params }) => view(await deployments.get(principal, ...ids(params))),
    }),
    route({
      method: "PATCH", path: "/projects/:projectId/deployments/:id", tag: "deployments",
      summary: "Change parameters, credentials, version, resources or runtime (a rolling update)", body: deploymentPatchSchema,
      responses: { 200: "accepted; generation incremented", 400: "invalid", 403: "no editor role", 404: "not found", 409: "being undeployed or changed concurrently" },
      handler: async ({ principal, params, body }) => view(await deployments.patch(principal, ...ids(params), body)),
    }),
    route({
      method: "DELETE", path: "/projects/:projectId/deployments/:id", tag: "deployments", summary: "Undeploy (project owners)",
      responses: { 202: "accepted, phase Deleting", 403: "not a project owner", 404: "not found" },
      handler: async ({ principal, params, reply }) => {
        reply.code(202);
        return view(await deployments.remove(principal, ...ids(params)));
      },
    }),
    route({
      method: "GET", path: "/projects/:projectId/deployments/:id/manifests", tag: "deployments",
      summary: "The Kubernetes resources this deployment maps to, as JSON, secret values redacted",
      responses: { 200: "[Namespace, ServiceAccount, Secret, Service, NetworkPolicy, Deployment]", 404: "not found" },
      handler: ({ principal, params }) => deployments.manifests(principal, ...ids(params)),
    }),
    route({
      method: "GET", path: "/projects/:projectId/deployments/:id/events", tag: "deployments",
      summary: "The deployment's events, oldest first: a JSON array; when more follow, the X-Next-Cursor header holds the cursor", query: pageQuery,
      responses: { 200: "[{time, type, reason, message}]", 404: "not found" },
      handler: async ({ principal, params, query, reply }) => {
        const page = await deployments.events(principal, ...ids(params), pageOf(query));
        if (page.nextCursor) reply.header("x-next-cursor", page.nextCursor);
        return page.items;
      },
    }),
  ];
}
