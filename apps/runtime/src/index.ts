export * from "./config.js";
export * from "./host.js";
export * from "./mcp.js";
export * from "./bundle.js";
