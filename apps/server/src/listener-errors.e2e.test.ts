import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startServer, type ServerProcess } from "./test-process.js";

/** What came back on a raw connection once the server closed it (or 10 s passed). */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    let text = "";
    s.on("data", (b: Buffer) => (text += b.toString("utf8")));
    s.on("error", () => undefined);
    s.once("close", () => resolve(text));
    s.write(request);
    setTimeout(() => {
      s.destroy();
      reject(new Error(`no close within 10 s; got ${JSON.stringify(text.slice(0, 300))}`));
    }, 10_000).unref();
  });
}

/** The status and the error body of one HTTP/1.x answer, checked to be in the one error shape. */
function errorOf(answer: string): { status: number; code: string; message: string } {
  const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(answer)?.[1] ?? 0);
  const body = answer.slice(answer.indexOf("\r\n\r\n") + 4);
  let parsed: { error?: { code?: unknown; message?: unknown } } = {};
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    assert.fail(`not a JSON answer: ${JSON.stringify(answer.slice(0, 400))}`);
  }
  assert.ok(typeof parsed.error === "object" && typeof parsed.error.code === "string" && typeof parsed.error.message === "string", `not the one error shape: ${body.slice(0, 300)}`);
  return { status, code: parsed.error.code, message: parsed.error.message };
}

/**
 * What the listeners refuse before any route, through the real server, on both listeners, in
 * each way a process serves them: its gateway workers in front (the default), the control
 * plane's own Fastify servers (no workers), and the bare ones of a process without the API.
 * Each refusal is the product's error shape: a malformed percent-escape (the private listener
 * answered Fastify's `{"error":"Bad Request","code":"FST_ERR_BAD_URL"}`), an HTTP/1.1 request
 * without Host (Node's own empty 400 on both), an empty JSON body (Fastify's shape on the
 * private listener) and CONNECT (closed unanswered there).
 */
for (const [name, env] of [
  ["gateway workers", {}],
  ["no gateway workers", { FLOWPLANE_GATEWAY_WORKERS: "0" }],
  ["the gateway role alone", { FLOWPLANE_ROLES: "gateway", FLOWPLANE_GATEWAY_WORKERS: "0" }],
] as const) {
  describe(`listener refusals in the one error shape: ${name} (e2e)`, { timeout: 180_000 }, () => {
    let dir: string;
    let server: ServerProcess;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "flowplane-listener-errors-"));
      server = await startServer(dir, env);
    });
    after(async () => {
      await server?.kill().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    });
    const listeners = () => [["public", server.port], ["private", server.privatePort]] as const;

    it("a malformed percent-escape is 400 malformed_request on both listeners", async () => {
      for (const [listener, port] of listeners()) {
        for (const path of ["/%zz", "/api/v1/projects/%zz", "/metrics%zz"]) {
          const e = errorOf(await raw(port, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`));
          assert.deepEqual([e.status, e.code], [400, "malformed_request"], `${listener} ${path}: ${e.message}`);
        }
      }
    });

    it("an HTTP/1.1 request without Host is 400 malformed_request naming the header, on both listeners, gateway paths included", async () => {
      for (const [listener, port] of listeners()) {
        for (const path of ["/api/v1/me", "/metrics", "/nothing-here", "/projects/p/apps/a/routes/r/flows"]) {
          const answer = await raw(port, `GET ${path} HTTP/1.1\r\nx-access-key: nope\r\n\r\n`);
          const e = errorOf(answer);
          assert.deepEqual([e.status, e.code], [400, "malformed_request"], `${listener} ${path}: ${answer.slice(0, 300)}`);
          assert.match(e.message, /Host header/, `${listener} ${path}`);
          assert.match(answer, /\r\nconnection: close\r\n/i, `${listener} ${path}: the connection closes after it`);
        }
      }
    });

    it("an empty body sent as application/json to no route is the 404 a request without a body gets, on both listeners", async () => {
      for (const [listener, port] of listeners()) {
        const answer = await raw(port, "POST /nothing-here HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        const e = errorOf(answer);
        assert.deepEqual([e.status, e.code], [404, "not_found"], `${listener}: ${answer.slice(0, 300)}`);
      }
    });

    it("CONNECT is 405 method_not_allowed on both listeners, not a silent close", async () => {
      for (const [listener, port] of listeners()) {
        const answer = await raw(port, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
        const e = errorOf(answer);
        assert.deepEqual([e.status, e.code], [405, "method_not_allowed"], `${listener}: ${answer.slice(0, 300)}`);
      }
    });

    it("an HTTP/1.0 request without Host is served as before: Host is optional there", async () => {
      for (const [listener, port] of listeners()) {
        const answer = await raw(port, "GET /nothing-here HTTP/1.0\r\n\r\n");
        const e = errorOf(answer);
        assert.deepEqual([e.status, e.code], [404, "not_found"], `${listener}: ${answer.slice(0, 300)}`);
      }
    });
  });
}
