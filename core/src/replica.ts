/**
 * `@flowplane/core/replica`: the part of core a replica loads (the runtime, both engines, the
 * logger). None of it imports zod, whose module graph alone costs a replica about 14 MiB and a
 * quarter of a second of its cold start (docs/contracts.md, "Runtime"); the contract's schemas
 * and what is built on them (bundles, deployments, revisions, keys, the store) stay in the root
 * entry, which re-exports everything here. apps/runtime/src/lean-imports.test.ts checks that a
 * replica serving a native flow never loads zod.
 */
export * from "./errors.js";
export * from "./flow.js";
export * from "./flow-graph.js";
export * from "./parameters.js";
export * from "./models.js";
export * from "./reserved-names.js";
export * from "./parameter-values.js";
export * from "./compatibility.js";
export * from "./lfx-support.js";
export * from "./lfx-modules.js";
export * from "./validation.js";
export * from "./quantity.js";
export * from "./loopback-listeners.js";
export * from "./loopback-peers.js";
export * from "./live-revisions.js";
export * from "./traffic-split.js";
export * from "./names.js";
export * from "./secretbox.js";
export * from "./credentials-blob.js";
export * from "./runs.js";
export * from "./traces.js";
export * from "./io-capture.js";
export * from "./json-depth.js";
export * from "./storable-json.js";
export * from "./runtime-contract.js";
export * from "./driver.js";
export * from "./identity-token.js";
export * from "./replica-access.js";
export * from "./replica-process.js";
export * from "./status-rules.js";
export * from "./manifests.js";
export * from "./dns-egress.js";
export * from "./logging.js";
export * from "./key-param.js";
export * from "./limits.js";
export { IO_BOUNDS } from "./api/trace-bounds.js";
export { TWEAKS_POLICIES, type TweaksPolicy } from "./api/tweaks-policy.js";
