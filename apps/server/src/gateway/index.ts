export { createGateway, type Gateway } from "./pipeline.js";
export { serveGatewayPaths } from "./server.js";
export { RateLimiter } from "./rate-limit.js";
export { LookupTimeoutError } from "./types.js";
export type { GatewayIdle, GatewayRoute, GatewaySources, Listener } from "./types.js";
