import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { startTestControlPlane, type TestControlPlane } from "./test-harness.js";
import { registerWeb, WEB_CSP, WEB_HOME } from "./web.js";

/** The web UI on the API's Fastify instance: deep links load the app, everything else keeps its JSON. */
describe("web UI serving", () => {
  let dir: string;
  let t: TestControlPlane;
  let bare: TestControlPlane;
  const get = (app: FastifyInstance, url: string, headers: Record<string, string> = {}) => app.inject({ method: "GET", url, headers });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-web-"));
    await mkdir(join(dir, "assets"));
    await writeFile(join(dir, "index.html"), "<!doctype html><div id=root></div>");
    await writeFile(join(dir, "assets", "index-abc.js"), "console.log(1)");
    t = await startTestControlPlane();
    await registerWeb(t.cp.app, { root: dir });
    bare = await startTestControlPlane();
    await registerWeb(bare.cp.app, { root: null });
  });
  after(async () => {
    await t?.close();
    await bare?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("redirects / to Published Flows", async () => {
    const r = await get(t.cp.app, "/");
    assert.equal(r.statusCode, 302);
    assert.equal(r.headers.location, WEB_HOME);
  });

  it("answers index.html, uncached, for every page path (deep links)", async () => {
    for (const path of ["/sign-in", WEB_HOME, "/estate/flows", "/estate/flows/0b6c7a8e-1111-2222-3333-444455556666?project=p1"]) {
      const r = await get(t.cp.app, path);
      assert.equal(r.statusCode, 200, path);
      assert.match(String(r.headers["content-type"]), /text\/html/, path);
      assert.match(r.body, /id=root/, path);
      assert.equal(r.headers["cache-control"], "no-cache", path);
    }
  });

  it("serves hashed assets with long caching, and a missing asset as the API's JSON 404", async () => {
    const js = await get(t.cp.app, "/assets/index-abc.js");
    assert.equal(js.statusCode, 200);
    assert.match(String(js.headers["content-type"]), /javascript/);
    assert.match(String(js.headers["cache-control"]), /immutable/);
    const missing = await get(t.cp.app, "/assets/nope.js");
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, "not_found");
  });

  it("leaves the API, internal and unknown paths to their own handlers", async () => {
    const unknownApi = await get(t.cp.app, "/api/v1/nothing-here");
    assert.equal(unknownApi.statusCode, 404);
    assert.equal(unknownApi.json().error.code, "not_found");
    assert.equal((await get(t.cp.app, "/api/v1/me")).statusCode, 401, "the API still authenticates");
    assert.equal((await get(t.cp.app, "/api/v1/me", { "x-access-key": t.ownerKey })).statusCode, 200);
    for (const path of ["/internal/v1/nope", "/somewhere-else", "/projects/p/apps/a/routes/r"]) {
      const r = await get(t.cp.app, path);
      assert.equal(r.statusCode, 404, path);
      assert.equal(r.json().error.code, "not_found", path);
    }
  });

  it("no other site may frame the UI or the API, and nothing is sniffed: the UI's pages load only this origin's script", async () => {
    for (const path of ["/sign-in", WEB_HOME, "/estate/flows/x", "/"]) {
      const r = await get(t.cp.app, path);
      assert.equal(r.headers["x-frame-options"], "DENY", path);
      assert.equal(r.headers["x-content-type-options"], "nosniff", path);
    }
    const page = await get(t.cp.app, WEB_HOME);
    assert.equal(page.headers["content-security-policy"], WEB_CSP);
    assert.match(WEB_CSP, /script-src 'self'(;|$)/, "no inline or foreign script");
    assert.match(WEB_CSP, /frame-ancestors 'none'/);
    assert.equal((await get(bare.cp.app, WEB_HOME)).headers["content-security-policy"], WEB_CSP, "the not-built page too");
    // The API's answers, good and bad, and the UI's assets: a document of theirs runs nothing.
    for (const [path, headers] of [["/api/v1/me", { "x-access-key": t.ownerKey }], ["/api/v1/me", {}], ["/api/v1/nothing-here", {}], ["/assets/index-abc.js", {}], ["/assets/nope.js", {}]] as const) {
      const r = await get(t.cp.app, path, headers);
      assert.equal(r.headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'", path);
      assert.equal(r.headers["x-content-type-options"], "nosniff", path);
      assert.equal(r.headers["x-frame-options"], "DENY", path);
    }
    const method = await t.cp.app.inject({ method: "DELETE", url: "/api/v1/me" });
    assert.equal(method.headers["x-content-type-options"], "nosniff", "a 405 too");
  });

  it("without a build the server still answers: / and the pages say how to build it", async () => {
    for (const path of ["/", WEB_HOME, "/estate/flows/x"]) {
      const r = await get(bare.cp.app, path);
      assert.equal(r.statusCode, 503, path);
      assert.match(r.body, /web UI is not built/, path);
      assert.match(r.body, /npm run build/, path);
    }
    assert.equal((await get(bare.cp.app, "/api/v1/me", { "x-access-key": bare.ownerKey })).statusCode, 200);
  });
});
