import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { adminKeyNonce, adminKeyProof, adminKeyProofMatches } from "@flowplane/core/api";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";
import { AdminKeyProver } from "./admin-key-proof.js";

const KEY = "fp_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";

describe("POST /api/v1/admin-key/proof: the CLI's challenge before it sends the admin key found on disk", () => {
  let t: TestControlPlane;
  let bare: TestControlPlane;
  const prover = new AdminKeyProver(18123);
  before(async () => {
    t = await startTestControlPlane({ adminKeyProver: prover });
    bare = await startTestControlPlane();
  });
  after(async () => {
    await t.close();
    await bare.close();
  });

  it("answers without a key, once it holds the admin key, with a proof bound to its port and the nonce", async () => {
    const nonce = adminKeyNonce();
    assert.equal((await t.call("POST", "/api/v1/admin-key/proof", { key: null, body: { nonce } })).status, 404, "no key held yet");
    prover.hold(KEY);
    const r = await t.call("POST", "/api/v1/admin-key/proof", { key: null, body: { nonce } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.port, 18123);
    assert.ok(await adminKeyProofMatches(KEY, 18123, nonce, r.json.proof));
    assert.ok(!r.text.includes(KEY), "the key itself is never in the answer");
    // Bound to all three: another port, nonce or key does not match it.
    assert.equal(await adminKeyProofMatches(KEY, 18124, nonce, r.json.proof), false);
    assert.equal(await adminKeyProofMatches(KEY, 18123, adminKeyNonce(), r.json.proof), false);
    assert.equal(await adminKeyProofMatches(`${KEY.slice(0, -1)}H`, 18123, nonce, r.json.proof), false);
    assert.notEqual(r.json.proof, (await t.call("POST", "/api/v1/admin-key/proof", { key: null, body: { nonce: adminKeyNonce() } })).json.proof);
    // A rotated admin key (admin.key deleted, the server restarted) proves the new one.
    prover.hold(`${KEY.slice(0, -1)}H`);
    const again = await t.call("POST", "/api/v1/admin-key/proof", { key: null, body: { nonce } });
    assert.equal(again.json.proof, await adminKeyProof(`${KEY.slice(0, -1)}H`, 18123, nonce));
    prover.hold(KEY);
  });

  it("refuses a nonce that is not 32 random bytes in base64url, and any other field, with 400", async () => {
    for (const body of [{}, { nonce: "short" }, { nonce: `${adminKeyNonce()}x` }, { nonce: "+".repeat(43) }, { nonce: adminKeyNonce(), port: 1 }, { nonce: 5 }]) {
      const r = await t.call("POST", "/api/v1/admin-key/proof", { key: null, body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.error.code, "validation_failed");
    }
    assert.equal((await t.call("POST", "/api/v1/admin-key/proof", { key: null, payload: "{", headers: { "content-type": "application/json" } })).status, 400);
  });

  it("answers 404 in a process that keeps no admin key, with or without a key", async () => {
    assert.equal((await bare.call("POST", "/api/v1/admin-key/proof", { key: null, body: { nonce: adminKeyNonce() } })).status, 404);
    assert.equal((await bare.call("POST", "/api/v1/admin-key/proof", { body: { nonce: adminKeyNonce() } })).status, 404);
  });
});
