import { join } from "node:path";
import { frontCases } from "../fast-path/front.cases.js";
import { programSocket } from "./config.js";
import { NginxProgramClient } from "./program-client.js";
import { SKIP_WITHOUT_NGINX } from "./test-nginx.js";

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * FLOWPLANE_GATEWAY_PROXY=nginx end to end: the cases HAProxy passes (fast-path/front.cases.ts).
 * Which path served a call is read from nginx's own count of the calls it served (the
 * programming socket's GET /stats, over all its workers).
 */
frontCases({
  proxy: "nginx",
  name: "nginx",
  pidFile: "nginx.pid",
  privateFiles: ["nginx.conf"],
  // nginx names the client to the workers in a header they trust on this socket only.
  config: { file: "nginx.conf", toWorkers: (socket) => new RegExp(`\\n    server unix:${escape(socket)};\\n`) },
  skip: SKIP_WITHOUT_NGINX,
  fastCount: async (dir) => (await new NginxProgramClient({ socketPath: programSocket(join(dir, "nginx")) }).stats()).fast,
});
