import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Principal } from "@flowplane/core";
import { operations } from "@flowplane/core/api";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";
import { buildApi } from "./app.js";
import type { IdentityService } from "../services/identity.js";

describe("the API contract on the server", () => {
  let t: TestControlPlane;
  before(async () => {
    t = await startTestControlPlane();
  });
  after(async () => {
    await t.close();
  });

  it("a drifting answer becomes a 500 naming it, and is reported (the test mode of every API test)", async () => {
    const problems: string[] = [];
    // An identity service whose caller has a kind the contract does not know: /me drifts.
    const drifting = { authenticate: async (): Promise<Principal> => ({ userId: "u", name: "n", kind: "robot" as "human", orgOwner: false, roles: new Map() }) };
    const app = buildApi({
      identity: drifting as unknown as IdentityService, bundles: t.cp.bundles, deployments: t.cp.deployments, runs: t.cp.runs, metrics: t.cp.metrics, download: {} as never, traces: {} as never,
      bodyLimit: 1024, logger: false, version: "test", checkAnswers: (p) => problems.push(p),
    });
    try {
      const r = await app.inject({ method: "GET", url: "/api/v1/me", headers: { "x-access-key": "k" } });
      assert.equal(r.statusCode, 500);
      assert.equal(r.json().error.code, "contract_violation");
      assert.match(r.json().error.message, /GET \/me answered 200 .*kind/);
      assert.equal(problems.length, 1);
    } finally {
      await app.close();
    }
  });

  it("the OpenAPI document describes every operation's answers, each status with a body schema", async () => {
    const doc = (await t.call("GET", "/api/v1/openapi.json", { key: null })).json;
    const schemas = doc.components.schemas as Record<string, unknown>;
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const ref of refs) {
      const name = /#\/components\/schemas\/([^"]+)/.exec(ref)?.[1];
      assert.ok(name && schemas[name], `unresolved ${ref}`);
    }
    for (const [id, o] of Object.entries(operations)) {
      const op = doc.paths[`/api/v1${o.path}`]?.[o.method.toLowerCase()];
      assert.ok(op, `${id} is missing from the document`);
      assert.equal(op.operationId, id);
      for (const [status, r] of Object.entries(op.responses as Record<string, { content?: unknown }>)) {
        if (status !== "204") assert.ok(r.content, `${id} ${status} has no body schema`);
      }
      // Public operations (the CLI's admin-key challenge) take no key: no 401, no security.
      if ((o as { auth?: boolean }).auth === false) {
        assert.equal(op.responses["401"], undefined, `${id} is public and declares 401`);
        assert.equal(op.security, undefined, `${id} is public and asks for a key`);
      } else assert.ok(op.responses["401"], `${id} does not declare 401`);
    }
    assert.equal(doc.components.schemas.Deployment.additionalProperties, false);
    assert.ok(doc.components.schemas.Deployment.required.includes("appId"));
  });

  it("a known path asked with a method it does not serve answers 405 with Allow", async () => {
    const r = await t.call("PUT", "/api/v1/me");
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, "GET, HEAD");
    assert.equal(r.json.error.code, "method_not_allowed");
    assert.equal((await t.call("PUT", "/api/v1/nowhere")).status, 404);
  });

  it("a dry run without a JSON object body reports the body as invalid at every step", async () => {
    const p = await t.project("contract");
    for (const step of ["configure", "credentials", "task"]) {
      const r = await t.call("POST", `/api/v1/projects/${p}/deployments?dryRun=true&step=${step}`, { body: [] });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { valid: false, errors: [{ field: "", message: "the request body must be a JSON object" }] });
    }
  });
});
