// Everything a replica needs (no zod), then what is built on the contract's zod schemas.
export * from "./replica.js";
export * from "./bundle.js";
export * from "./deployment.js";
export * from "./revision.js";
export * from "./status.js";
export * from "./access.js";
export * from "./store.js";
export * from "./keys.js";
export * from "./deploy-validation.js";
