export * from "./fake-openai.js";
export * from "./fixtures.js";
export * from "./http.js";
export * from "./flowplane-server.js";
export * from "./wait.js";
export * from "./lfx-run.js";
export * from "./otelcol.js";
export * from "./derived-flows.js";
