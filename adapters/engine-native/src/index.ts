export * from "./engine.js";
export * from "./registry.js";
export * from "./memory-store.js";
export * from "./values.js";
