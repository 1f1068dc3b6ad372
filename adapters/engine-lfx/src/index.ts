export * from "./engine.js";
export * from "./locate.js";
export { LfxProcess, redactor, type LfxExit } from "./lfx-process.js";
export { parseModelHosts } from "./model-hosts.js";
