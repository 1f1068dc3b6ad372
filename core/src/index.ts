export * from "./errors.js";
export * from "./flow.js";
export * from "./parameters.js";
export * from "./compatibility.js";
export * from "./runtime-contract.js";
