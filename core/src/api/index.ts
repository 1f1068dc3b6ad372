/**
 * `@flowplane/core/api`: the HTTP contract of `/api/v1`, in zod. Only zod is imported here
 * (the lint checks it), so browsers and the CLI import it without core's Node code.
 */
export * from "./common.js";
export * from "./names.js";
export * from "./identity.js";
export * from "./bundles.js";
export * from "./deployments.js";
export * from "./revisions.js";
export * from "./runs.js";
export * from "./metrics.js";
export * from "./operations.js";
export * from "./check.js";
export * from "./client.js";
export * from "./mcp-clients.js";
export * from "./curl-snippet.js";
export * from "./model-providers.js";
export * from "./secret-parameters.js";
export * from "./admin-proof.js";
