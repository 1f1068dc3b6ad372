export { registerGateway } from "./gateway.js";
export type { GatewayOptions, GatewayRoute } from "./types.js";
export { MAX_KEY_TTL_MS, MAX_ROUTE_TTL_MS } from "./admission.js";
