import { createKeySchema, createProjectSchema, createUserSchema, setMemberSchema, type IdentityService } from "../../services/identity.js";
import { route, type RouteDef } from "../route.js";
import { pageOf, pageQuery, param } from "./common.js";

export function identityRoutes(identity: IdentityService): RouteDef[] {
  return [
    route({
      method: "GET", path: "/me", tag: "identity", summary: "The caller: user, org-owner flag and project roles",
      responses: { 200: "the caller", 401: "no valid key" },
      handler: async ({ principal: p }) => ({
        id: p.userId, name: p.name, kind: p.kind, orgOwner: p.orgOwner,
        roles: Object.fromEntries(p.roles),
      }),
    }),
    route({
      method: "POST", path: "/users", tag: "identity", summary: "Create a user or machine user (org owners)", body: createUserSchema,
      responses: { 201: "created", 400: "invalid", 403: "not an org owner" },
      handler: async ({ principal, body, reply }) => (reply.code(201), identity.createUser(principal, body)),
    }),
    route({
      method: "GET", path: "/users", tag: "identity", summary: "List users (org owners)", query: pageQuery,
      responses: { 200: "a page of users", 403: "not an org owner" },
      handler: ({ principal, query }) => identity.listUsers(principal, pageOf(query)),
    }),
    route({
      method: "GET", path: "/users/:userId", tag: "identity", summary: "Get a user (org owners, or yourself)",
      responses: { 200: "the user", 404: "not found" },
      handler: ({ principal, params }) => identity.getUser(principal, param(params, "userId")),
    }),
    route({
      method: "POST", path: "/users/:userId/access-keys", tag: "identity", summary: "Create an access key; the key is in this answer only", body: createKeySchema,
      responses: { 201: "created: {id, key, prefix, expiresAt}", 400: "invalid expiry", 404: "no such user", 409: "live key limit reached" },
      handler: async ({ principal, params, body, reply }) => (reply.code(201), identity.createKey(principal, param(params, "userId"), body)),
    }),
    route({
      method: "GET", path: "/users/:userId/access-keys", tag: "identity", summary: "List a user's keys (never the keys themselves)",
      responses: { 200: "the keys", 404: "no such user" },
      handler: async ({ principal, params }) => ({ items: await identity.listKeys(principal, param(params, "userId")) }),
    }),
    route({
      method: "DELETE", path: "/access-keys/:keyId", tag: "identity", summary: "Revoke an access key",
      responses: { 200: "revoked", 404: "not found" },
      handler: ({ principal, params }) => identity.revokeKey(principal, param(params, "keyId")),
    }),
    route({
      method: "POST", path: "/projects", tag: "projects", summary: "Create a project (org owners)", body: createProjectSchema,
      responses: { 201: "created", 400: "invalid", 403: "not an org owner", 409: "name taken" },
      handler: async ({ principal, body, reply }) => (reply.code(201), identity.createProject(principal, body)),
    }),
    route({
      method: "GET", path: "/projects", tag: "projects", summary: "List the projects you have a role in (all, for org owners)", query: pageQuery,
      responses: { 200: "a page of projects" },
      handler: ({ principal, query }) => identity.listProjects(principal, pageOf(query)),
    }),
    route({
      method: "GET", path: "/projects/:projectId", tag: "projects", summary: "Get a project",
      responses: { 200: "the project", 404: "not found" },
      handler: ({ principal, params }) => identity.getProject(principal, param(params, "projectId")),
    }),
    route({
      method: "GET", path: "/projects/:projectId/members", tag: "projects", summary: "List a project's members and roles",
      responses: { 200: "the members", 404: "not found" },
      handler: async ({ principal, params }) => ({ items: await identity.listMembers(principal, param(params, "projectId")) }),
    }),
    route({
      method: "PUT", path: "/projects/:projectId/members/:userId", tag: "projects", summary: "Give a user a role in the project (project owners)", body: setMemberSchema,
      responses: { 200: "set", 400: "invalid role", 403: "not a project owner", 404: "no such project or user" },
      handler: ({ principal, params, body }) => identity.setMember(principal, param(params, "projectId"), param(params, "userId"), body),
    }),
    route({
      method: "DELETE", path: "/projects/:projectId/members/:userId", tag: "projects", summary: "Remove a user's role in the project (project owners)",
      responses: { 204: "removed", 403: "not a project owner", 404: "not a member" },
      handler: async ({ principal, params, reply }) => {
        await identity.removeMember(principal, param(params, "projectId"), param(params, "userId"));
        reply.code(204);
        return undefined;
      },
    }),
  ];
}
