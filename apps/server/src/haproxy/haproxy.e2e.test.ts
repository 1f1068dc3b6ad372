import { frontCases } from "../fast-path/front.cases.js";
import { haproxyFront } from "./test-haproxy.js";

/** FLOWPLANE_GATEWAY_PROXY=haproxy end to end: the cases nginx passes too (fast-path/front.cases.ts). */
frontCases(haproxyFront);
