import { frontCases } from "../fast-path/front.cases.js";
import { nginxFront } from "./test-nginx.js";

/** FLOWPLANE_GATEWAY_PROXY=nginx end to end: the cases HAProxy passes (fast-path/front.cases.ts). */
frontCases(nginxFront);
