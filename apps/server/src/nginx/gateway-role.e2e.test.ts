import { gatewayRoleCases } from "../fast-path/gateway-role.cases.js";
import { nginxFront } from "./test-nginx.js";

/** The gateway role alone behind nginx, the API in another process: the cases HAProxy passes (fast-path/gateway-role.cases.ts). */
gatewayRoleCases(nginxFront);
