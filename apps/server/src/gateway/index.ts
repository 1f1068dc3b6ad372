export { registerGateway } from "./gateway.js";
export { RateLimiter } from "./rate-limit.js";
export type { GatewayIdle, GatewayOptions, GatewayRoute } from "./types.js";
