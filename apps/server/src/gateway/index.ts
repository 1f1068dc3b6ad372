export { createGateway, type Gateway } from "./pipeline.js";
export { serveGatewayPaths } from "./server.js";
export type { GatewayRoute, GatewaySources, Listener } from "./types.js";
