import { operations as ops } from "@flowplane/core/api";
import type { BundleService } from "../../services/bundles.js";
import { route, type RouteDef } from "../route.js";
import { pageOf, param } from "./common.js";

export function bundleRoutes(bundles: BundleService): RouteDef[] {
  return [
    route(ops.publishBundle, async ({ principal, body, reply }) => (reply.code(201), bundles.publish(principal, body, bodyBytes(reply.request.headers["content-length"])))),
    route(ops.listBundles, ({ principal, query }) => bundles.list(principal, pageOf(query))),
    route(ops.getBundle, ({ principal, params }) => bundles.get(principal, param(params, "name"))),
    route(ops.getBundleVersion, ({ principal, params }) => bundles.getVersion(principal, param(params, "name"), param(params, "tag"))),
    route(ops.getFlowGraph, ({ principal, params }) => bundles.flowGraph(principal, param(params, "name"), param(params, "tag"), param(params, "flowId"))),
    route(ops.patchBundleVersion, ({ principal, params, body }) => bundles.patchVersion(principal, param(params, "name"), param(params, "tag"), body)),
    route(ops.deleteBundleVersion, async ({ principal, params, reply }) => {
      await bundles.deleteVersion(principal, param(params, "name"), param(params, "tag"));
      reply.code(204);
      return undefined;
    }),
  ];
}

/** The body's size from its Content-Length (Node checked it against the bytes read); undefined for a chunked body. */
const bodyBytes = (length: string | undefined): number | undefined => (length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined);
