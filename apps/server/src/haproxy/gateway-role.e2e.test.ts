import { gatewayRoleCases } from "../fast-path/gateway-role.cases.js";
import { haproxyFront } from "./test-haproxy.js";

/** The gateway role alone behind HAProxy, the API in another process: the cases nginx passes too (fast-path/gateway-role.cases.ts). */
gatewayRoleCases(haproxyFront);
