export { registerGateway } from "./gateway.js";
export type { GatewayOptions, GatewayRoute } from "./types.js";
