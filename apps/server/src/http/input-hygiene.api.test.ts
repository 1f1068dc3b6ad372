import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadFixture } from "@flowplane/testkit";
import { postgresSkipReason } from "@flowplane/store";
import { startPostgresTestControlPlane, startTestControlPlane, type TestControlPlane } from "../test-harness.js";
import { MAX_JSON_DEPTH } from "./input-hygiene.js";

/**
 * Text PostgreSQL cannot store (NUL, lone surrogates), absurd nesting and oversized values,
 * anywhere in a request: each is a 400 (or 413) naming the field, never a 500, and nothing is
 * written. The same cases run on PGlite and on a real PostgreSQL.
 */
const NUL = "a\u0000b";
const LONE = "a\ud800b";
/** A cursor as a client could forge it: base64url of any JSON (the server issues `[key]`). */
const forged = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

function hygieneCases(engine: string, open: () => Promise<TestControlPlane>, skip: string | false = false): void {
  describe(`input hygiene (${engine})`, { skip }, () => {
    let t: TestControlPlane;
    let P: string;
    let D: string;
    before(async () => {
      t = await open();
      P = await t.project("hygiene");
      const pub = await t.call("POST", "/api/v1/bundles", { body: { name: "chat", versionTag: "1", accessLevel: "project", allowedProjects: [P], flows: [loadFixture("memory-chatbot")] } });
      assert.equal(pub.status, 201, pub.text);
      const d = await t.call("POST", `/api/v1/projects/${P}/deployments`, { body: deploy() });
      assert.equal(d.status, 201, d.text);
      D = d.json.id;
    });
    after(() => t?.close());

    const deploy = (over: Record<string, unknown> = {}) => ({
      displayName: "Chat", bundle: { name: "chat", version: "1" }, networkAccess: "private", credentials: { OPENAI_API_KEY: "sk-x" }, ...over,
    });
    const flowWith = (bad: string) => {
      const f = loadFixture("memory-chatbot") as { data: { nodes: { data: { node: { template: Record<string, { value?: unknown }> } } }[] } };
      f.data.nodes[0]!.data.node.template.deep = { value: { list: [bad] } };
      return f;
    };
    const deeplyNested = (depth: number): unknown => {
      let v: unknown = "leaf";
      for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { n: v };
      return v;
    };
    const manyNames = (n: number, value: unknown = "v") => Object.fromEntries(Array.from({ length: n }, (_, i) => [`NAME_${i}`, value]));
    const snapshot = async () => JSON.stringify(await Promise.all([
      t.call("GET", "/api/v1/bundles?limit=200"), t.call("GET", "/api/v1/projects?limit=200"), t.call("GET", "/api/v1/users?limit=200"),
      t.call("GET", `/api/v1/projects/${P}/deployments?limit=200`), t.call("GET", `/api/v1/projects/${P}/deployments/${D}/events`),
    ].map(async (r) => (await r).json)));

    // [case, method, url, body, expected status, expected field (regexp)]
    const cases: [string, string, () => string, (() => unknown) | undefined, number, RegExp][] = [
      ["NUL in a bundle name", "POST", () => "/api/v1/bundles", () => ({ name: NUL, versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-api-test")] }), 400, /^name$/],
      ["lone surrogate in a bundle name", "POST", () => "/api/v1/bundles", () => ({ name: LONE, versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-api-test")] }), 400, /^name$/],
      ["NUL in a description", "POST", () => "/api/v1/bundles", () => ({ name: "d1", versionTag: "1", description: NUL, accessLevel: "global", flows: [loadFixture("simple-api-test")] }), 400, /^description$/],
      ["NUL deep in flow content", "POST", () => "/api/v1/bundles", () => ({ name: "f1", versionTag: "1", accessLevel: "global", flows: [flowWith(NUL)] }), 400, /^flows\[0\]\.data\.nodes\[0\]\.data\.node\.template\.deep\.value\.list\[0\]$/],
      ["lone surrogate deep in flow content", "POST", () => "/api/v1/bundles", () => ({ name: "f2", versionTag: "1", accessLevel: "global", flows: [flowWith(LONE)] }), 400, /^flows\[0\]\.data\.nodes\[0\]/],
      ["NUL in a JSON key", "POST", () => "/api/v1/bundles", () => ({ name: "f3", versionTag: "1", accessLevel: "global", flows: [{ ...loadFixture("simple-api-test"), [NUL]: 1 }] }), 400, /^flows\[0\]\.a\\u0000b$/],
      ["10,000-deep nesting inside a flow", "POST", () => "/api/v1/bundles", () => JSON.stringify({ name: "f4", versionTag: "1", accessLevel: "global", flows: [{ ...loadFixture("simple-api-test"), extra: "DEEP" }] })
      .replace('"DEEP"', `${"[".repeat(10_000)}1${"]".repeat(10_000)}`), 400, /^flows\[0\]\.extra/],
      ["NUL in a default", "POST", () => "/api/v1/bundles", () => ({ name: "f5", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-api-test")], defaults: { X: NUL } }), 400, /^defaults\.X$/],
      ["NUL in a project name", "POST", () => "/api/v1/projects", () => ({ name: NUL }), 400, /^name$/],
      ["lone surrogate in a user name", "POST", () => "/api/v1/users", () => ({ name: LONE, kind: "machine" }), 400, /^name$/],
      ["NUL in a display name (real deploy)", "POST", () => `/api/v1/projects/${P}/deployments`, () => deploy({ displayName: `Chat${NUL}` }), 400, /^displayName$/],
      ["NUL in a display name (dry run)", "POST", () => `/api/v1/projects/${P}/deployments?dryRun=true`, () => deploy({ displayName: `Chat${NUL}` }), 400, /^displayName$/],
      ["NUL in a credential value", "POST", () => `/api/v1/projects/${P}/deployments`, () => deploy({ credentials: { OPENAI_API_KEY: NUL } }), 400, /^credentials\.OPENAI_API_KEY$/],
      ["NUL in a deployment edit", "PATCH", () => `/api/v1/projects/${P}/deployments/${D}`, () => ({ credentials: { OPENAI_API_KEY: `sk${NUL}` } }), 400, /^credentials\.OPENAI_API_KEY$/],
      ["NUL in a version edit", "PATCH", () => "/api/v1/bundles/chat/versions/1", () => ({ description: NUL }), 400, /^description$/],
      ["NUL in a path id", "GET", () => `/api/v1/projects/${encodeURIComponent(NUL)}`, undefined, 400, /^projectId$/],
      ["NUL in a nested path id", "GET", () => `/api/v1/projects/${P}/deployments/x%00y`, undefined, 400, /^id$/],
      ["NUL in a member path id", "PUT", () => `/api/v1/projects/${P}/members/u%00`, () => ({ role: "viewer" }), 400, /^userId$/],
      ["NUL in a bundle path name", "GET", () => "/api/v1/bundles/x%00/versions/1", undefined, 400, /^name$/],
      ["NUL in a query string", "GET", () => "/api/v1/bundles?cursor=%00", undefined, 400, /^cursor$/],
      // Cursors are base64url of JSON: a client can forge any. Each of these was a database error (a 500).
      ["a forged cursor holding a NUL", "GET", () => `/api/v1/projects?cursor=${forged(["\u0000"])}`, undefined, 400, /^cursor$/],
      ["a forged cursor holding a NUL (bundles)", "GET", () => `/api/v1/bundles?cursor=${forged(["a\u0000"])}`, undefined, 400, /^cursor$/],
      ["a forged cursor that is no number (users)", "GET", () => `/api/v1/users?cursor=${forged(["x"])}`, undefined, 400, /^cursor$/],
      ["a forged cursor that is no number (deployments)", "GET", () => `/api/v1/projects/${P}/deployments?cursor=${forged(["1e5"])}`, undefined, 400, /^cursor$/],
      ["a forged cursor that is no number (events)", "GET", () => `/api/v1/projects/${P}/deployments/${D}/events?cursor=${forged(["1.5"])}`, undefined, 400, /^cursor$/],
      ["a forged cursor that is no number (runs)", "GET", () => `/api/v1/projects/${P}/deployments/${D}/runs?cursor=${forged(["x"])}`, undefined, 400, /^cursor$/],
      // A name each, checked and answered one by one: a 500 (the edit's errors overflowed the stack) and a 32 MiB answer.
      ["200,000 credential names in a deployment edit", "PATCH", () => `/api/v1/projects/${P}/deployments/${D}`, () => ({ credentials: manyNames(200_000) }), 400, /^credentials$/],
      ["200,000 parameter names at deploy", "POST", () => `/api/v1/projects/${P}/deployments`, () => deploy({ parameters: manyNames(200_000) }), 400, /^parameters$/],
      ["200,000 default names at publish", "POST", () => "/api/v1/bundles", () => ({ name: "many", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-api-test")], defaults: manyNames(200_000) }), 400, /^defaults$/],
      ["a credential over 64 KiB", "POST", () => `/api/v1/projects/${P}/deployments`, () => deploy({ credentials: { OPENAI_API_KEY: "k".repeat(64 * 1024 + 1) } }), 400, /^credentials\.OPENAI_API_KEY$/],
    ];

    for (const [name, method, url, body, status, field] of cases) {
      it(`${name}: ${status} naming the field, nothing written`, async () => {
        const before = await snapshot();
        const b = body?.();
        // A string is sent as is: JSON.stringify itself cannot write 10,000 levels.
        const r = await t.call(method, url(), typeof b === "string" ? { payload: b, headers: { "content-type": "application/json" } } : b !== undefined ? { body: b } : {});
        assert.equal(r.status, status, r.text);
        const fields = (r.json.error?.details ?? r.json.errors ?? []).map((d: { field: string }) => d.field);
        assert.ok(fields.some((f: string) => field.test(f)), `${JSON.stringify(fields)} should name ${field}`);
        assert.doesNotMatch(r.text, /at .*\.js:\d+|RangeError|stack/);
        assert.equal(await snapshot(), before);
      });
    }

    it("a request with thousands of problems is answered the first 100 and how many more, not one entry each", async () => {
      const r = await t.call("PATCH", `/api/v1/projects/${P}/deployments/${D}`, { body: { credentials: manyNames(50_000, 1) } });
      assert.equal(r.status, 400, r.text.slice(0, 300));
      assert.equal(r.json.error.details.length, 101);
      assert.deepEqual(r.json.error.details.at(-1), { field: "", message: "and 49900 more problems" });
      assert.ok(r.text.length < 20_000, `${r.text.length} characters`);
    });

    it(`accepts nesting up to ${MAX_JSON_DEPTH} levels, and every real export`, async () => {
      const ok = await t.call("POST", "/api/v1/bundles", { body: { name: "nested-ok", versionTag: "1", accessLevel: "global", flows: [{ ...loadFixture("simple-api-test"), extra: deeplyNested(MAX_JSON_DEPTH - 4) }] } });
      assert.equal(ok.status, 201, ok.text);
      const tooDeep = await t.call("POST", "/api/v1/bundles", { body: { name: "nested-no", versionTag: "1", accessLevel: "global", flows: [{ ...loadFixture("simple-api-test"), extra: deeplyNested(MAX_JSON_DEPTH) }] } });
      assert.equal(tooDeep.status, 400);
      assert.match(tooDeep.json.error.message, /nests deeper than 64 levels/);
    });

    it("a run history `since` far in the past or the future is answered (200), never a 500", async () => {
      for (const since of ["999999d", "-271821-04-20T00:00:00Z", "+100000-01-01T00:00:00Z", "0001-01-01T00:00:00Z"]) {
        const r = await t.call("GET", `/api/v1/projects/${P}/deployments/${D}/runs?since=${encodeURIComponent(since)}`);
        assert.equal(r.status, 200, `${since}: ${r.text}`);
        assert.deepEqual(r.json.items, []);
      }
    });

    it("a body that is not UTF-8 is 400, never stored with U+FFFD in place of its bytes", async () => {
      const before = await t.call("GET", "/api/v1/projects?limit=200");
      for (const [bytes, type] of [[Buffer.from('{"name":"l\xe9"}', "latin1"), "application/json"], [Buffer.from('{"name":"\xff\xfe"}', "latin1"), "application/json; charset=utf-8"], [Buffer.from('{"name":"l\xe9"}', "latin1"), "application/json; charset=latin1"]] as const) {
        const r = await t.call("POST", "/api/v1/projects", { payload: bytes, headers: { "content-type": type } });
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.error.code, "validation_failed");
        assert.match(r.json.error.message, /not valid UTF-8/);
      }
      const cred = await t.call("PATCH", `/api/v1/projects/${P}/deployments/${D}`, { payload: Buffer.concat([Buffer.from('{"credentials":{"OPENAI_API_KEY":"sk-'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]), headers: { "content-type": "application/json" } });
      assert.equal(cred.status, 400, cred.text);
      assert.deepEqual((await t.call("GET", "/api/v1/projects?limit=200")).json, before.json);
      const ok = await t.call("POST", "/api/v1/projects", { payload: Buffer.from('{"name":"caf\u00e9 \u{1F600}"}', "utf8"), headers: { "content-type": "application/json" } });
      assert.equal(ok.status, 201, ok.text);
      assert.equal(ok.json.name, "caf\u00e9 \u{1F600}");
    });

    it("a body over the limit is 413 with a clear message", async () => {
      const r = await t.call("POST", "/api/v1/bundles", { payload: JSON.stringify({ name: "big", pad: "x".repeat(11 * 1024 * 1024) }), headers: { "content-type": "application/json" } });
      assert.equal(r.status, 413);
      assert.equal(r.json.error.code, "payload_too_large");
    });
  });
}

hygieneCases("PGlite", () => startTestControlPlane());

hygieneCases("PostgreSQL", startPostgresTestControlPlane, postgresSkipReason());
