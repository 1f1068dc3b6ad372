import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { waitFor } from "@flowplane/testkit";
import { ORIGIN_WIDE_ANSWER_HEADERS } from "../gateway/headers.js";
import { freeLoopbackPort } from "./front.js";
import { renderConfig } from "./config.js";
import { RuntimeApi } from "./runtime-api.js";

const HAVE_HAPROXY = spawnSync("haproxy", ["-v"]).status === 0;

/**
 * The fast path's answer headers with a real HAProxy (config.ts as written), programmed by hand
 * (one route, one key) in front of a hostile replica: what a replica answers never sets state for
 * the whole shared origin, as on the Node path (gateway.hostile-replica.test.ts).
 */
describe("HAProxy's fast path: a hostile replica's answer headers", { timeout: 60_000, skip: HAVE_HAPROXY || process.env.CI === "true" ? false : "haproxy is not installed" }, () => {
  let dir: string;
  let replica: Server;
  let haproxy: ChildProcess;
  let port: number;
  const key = "fp_" + "k".repeat(43);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-haproxy-answer-"));
    replica = createServer((_req, res) => {
      res.writeHead(200, {
        "content-type": "text/html", "set-cookie": "session=stolen; Path=/", "clear-site-data": "\"storage\"",
        "nel": "{\"report_to\":\"x\",\"max_age\":86400,\"success_fraction\":1}", "report-to": "{\"group\":\"x\",\"max_age\":86400,\"endpoints\":[{\"url\":\"https://collector.example/\"}]}",
        "reporting-endpoints": "x=\"https://collector.example/\"", "alt-svc": "h2=\"other.example:443\"", "strict-transport-security": "max-age=31536000",
        "content-security-policy": "default-src *",
      });
      res.end("<p>hi</p>");
    });
    await new Promise<void>((r) => replica.listen(0, "127.0.0.1", r));
    const rport = (replica.address() as { port: number }).port;
    port = await freeLoopbackPort();
    const routesMap = join(dir, "routes.map");
    const keysMap = join(dir, "keys.map");
    await writeFile(routesMap, "");
    await writeFile(keysMap, "");
    const socket = join(dir, "haproxy.sock");
    // The Node listener is never reached here (every call is on the fast path); a closed port stands for it.
    await writeFile(join(dir, "haproxy.cfg"), renderConfig({ bind: { host: "127.0.0.1", port }, node: { host: "127.0.0.1", port: await freeLoopbackPort() }, socket, routesMap, keysMap, slots: 1, threads: 1, fastBodyMax: 16 * 1024 }));
    haproxy = spawn("haproxy", ["-f", join(dir, "haproxy.cfg"), "-db"], { stdio: "ignore" });
    const api = new RuntimeApi(socket);
    await waitFor(() => api.run(["show info"]).then(() => true, () => false), { timeoutMs: 10_000, intervalMs: 50, message: "HAProxy's runtime API" });
    const hash = createHash("sha256").update(key).digest("hex");
    await api.run([
      `add server s0/127.0.0.1:${rport} 127.0.0.1:${rport}`, `enable server s0/127.0.0.1:${rport}`,
      `add map ${routesMap} r1 s0|d1|p1|a1|1|30000|a-gateway-secret|r1`, `add map ${keysMap} ${hash}/p1 u1|k1`,
    ]);
  });
  after(async () => {
    haproxy?.kill("SIGKILL");
    await new Promise((r) => replica?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it("drops every origin-wide header, sandboxes the document and names the run", async () => {
    const res = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path: "/projects/p1/apps/a1/routes/r1/page", headers: { "x-access-key": key } }, (r) => {
        r.resume();
        r.on("end", () => resolve({ status: r.statusCode ?? 0, headers: r.headers }));
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(res.status, 200);
    assert.match(String(res.headers["x-request-id"]), /^[0-9a-f-]{36}$/, "served by the fast path (its own run id)");
    for (const name of ORIGIN_WIDE_ANSWER_HEADERS) assert.equal(res.headers[name], undefined, `${name}: state for the whole origin`);
    assert.equal(res.headers["content-security-policy"], "sandbox");
    assert.equal(res.headers["x-content-type-options"], "nosniff");
  });
});
