import { operations as ops } from "@flowplane/core/api";
import type { IdentityService } from "../../services/identity.js";
import { route, type RouteDef } from "../route.js";
import { pageOf, param } from "./common.js";

export function identityRoutes(identity: IdentityService): RouteDef[] {
  return [
    route(ops.getMe, async ({ principal: p }) => ({
      id: p.userId, name: p.name, kind: p.kind, orgOwner: p.orgOwner,
      roles: Object.fromEntries(p.roles),
    })),
    route(ops.createUser, async ({ principal, body, reply }) => (reply.code(201), identity.createUser(principal, body))),
    route(ops.listUsers, ({ principal, query }) => identity.listUsers(principal, pageOf(query))),
    route(ops.getUser, ({ principal, params }) => identity.getUser(principal, param(params, "userId"))),
    route(ops.deactivateUser, ({ principal, params }) => identity.deactivateUser(principal, param(params, "userId"))),
    route(ops.createAccessKey, async ({ principal, params, body, reply }) => (reply.code(201), identity.createKey(principal, param(params, "userId"), body))),
    route(ops.listAccessKeys, async ({ principal, params }) => ({ items: await identity.listKeys(principal, param(params, "userId")) })),
    route(ops.revokeAccessKey, ({ principal, params }) => identity.revokeKey(principal, param(params, "keyId"))),
    route(ops.createProject, async ({ principal, body, reply }) => (reply.code(201), identity.createProject(principal, body))),
    route(ops.listProjects, ({ principal, query }) => identity.listProjects(principal, pageOf(query))),
    route(ops.getProject, ({ principal, params }) => identity.getProject(principal, param(params, "projectId"))),
    route(ops.listMembers, async ({ principal, params }) => ({ items: await identity.listMembers(principal, param(params, "projectId")) })),
    route(ops.setMember, ({ principal, params, body }) => identity.setMember(principal, param(params, "projectId"), param(params, "userId"), body)),
    route(ops.removeMember, async ({ principal, params, reply }) => {
      await identity.removeMember(principal, param(params, "projectId"), param(params, "userId"));
      reply.code(204);
      return undefined;
    }),
  ];
}
