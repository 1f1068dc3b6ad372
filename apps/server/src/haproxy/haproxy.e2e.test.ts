import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { frontCases } from "../fast-path/front.cases.js";
import { RuntimeApi } from "./runtime-api.js";
import { fastPathCalls } from "./test-haproxy.js";

// Under CI (scripts/test-all.sh installs it) a missing haproxy fails the suite instead of skipping it.
const HAVE_HAPROXY = spawnSync("haproxy", ["-v"]).status === 0;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * FLOWPLANE_GATEWAY_PROXY=haproxy end to end (fast-path/front.cases.ts, the cases nginx passes
 * too). Which path served a call is read from HAProxy's own counters (its runtime API): a slot
 * backend's sessions are fast-path calls.
 */
frontCases({
  proxy: "haproxy",
  name: "HAProxy",
  pidFile: "haproxy.pid",
  privateFiles: ["haproxy.cfg", "routes.map", "keys.map"],
  // Its PROXY line names the client to the workers.
  config: { file: "haproxy.cfg", toWorkers: (socket) => new RegExp(`\\n  server node unix@${escape(socket)} send-proxy\\n`) },
  skip: HAVE_HAPROXY || process.env.CI === "true" ? false : "haproxy is not installed (apt-get install -y haproxy)",
  fastCount: (dir) => fastPathCalls(new RuntimeApi(join(dir, "haproxy", "haproxy.sock"))),
  // Its route entries (secrets left out) and the slots' servers.
  explain: async (dir) => {
    const rt = new RuntimeApi(join(dir, "haproxy", "haproxy.sock"));
    const routes = await rt.run([`show map ${join(dir, "haproxy", "routes.map")}`]).catch((err: Error) => err.message);
    const servers = await rt.run(["show servers state"]).catch((err: Error) => err.message);
    return `routes: ${routes.replace(/\|[^|\s]{20,}\|/g, "|<secret>|").trim()}; servers: ${servers.split("\n").filter((l) => /^\d+ s\d+ /.test(l)).map((l) => l.split(" ").slice(1, 6).join(" ")).join("; ")}`;
  },
});
