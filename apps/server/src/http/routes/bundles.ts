import { publishRequestSchema, versionPatchSchema } from "@flowplane/core";
import type { BundleService } from "../../services/bundles.js";
import { route, type RouteDef } from "../route.js";
import { pageOf, pageQuery, param } from "./common.js";

export function bundleRoutes(bundles: BundleService): RouteDef[] {
  return [
    route({
      method: "POST", path: "/bundles", tag: "asset library", summary: "Publish a version of a bundle of Langflow flows", body: publishRequestSchema,
      responses: { 201: "published: digest, parameters, compatibility", 400: "invalid", 403: "no editor role where shared", 409: "tag exists", 413: "too large", 422: "not a flow, or a hard-coded secret" },
      handler: async ({ principal, body, reply }) => (reply.code(201), bundles.publish(principal, body)),
    }),
    route({
      method: "GET", path: "/bundles", tag: "asset library", summary: "List the bundles you can see, with their newest version", query: pageQuery,
      responses: { 200: "a page of bundles" },
      handler: ({ principal, query }) => bundles.list(principal, pageOf(query)),
    }),
    route({
      method: "GET", path: "/bundles/:name", tag: "asset library", summary: "A bundle with every version you can see, newest first",
      responses: { 200: "the bundle", 404: "not found" },
      handler: ({ principal, params }) => bundles.get(principal, param(params, "name")),
    }),
    route({
      method: "GET", path: "/bundles/:name/versions/:tag", tag: "asset library", summary: "One version (`latest` names the newest)",
      responses: { 200: "the version", 404: "not found" },
      handler: ({ principal, params }) => bundles.getVersion(principal, param(params, "name"), param(params, "tag")),
    }),
    route({
      method: "PATCH", path: "/bundles/:name/versions/:tag", tag: "asset library", summary: "Edit a version's description, access or non-credential defaults", body: versionPatchSchema,
      responses: { 200: "edited", 400: "invalid", 403: "no editor role where shared", 404: "not found" },
      handler: ({ principal, params, body }) => bundles.patchVersion(principal, param(params, "name"), param(params, "tag"), body),
    }),
    route({
      method: "DELETE", path: "/bundles/:name/versions/:tag", tag: "asset library", summary: "Delete a version no live deployment pins",
      responses: { 204: "deleted", 403: "no editor role where shared", 404: "not found", 409: "pinned by a deployment" },
      handler: async ({ principal, params, reply }) => {
        await bundles.deleteVersion(principal, param(params, "name"), param(params, "tag"));
        reply.code(204);
        return undefined;
      },
    }),
  ];
}
