import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { adminKeyNonce, adminKeyProof, adminKeyProofMatches } from "@flowplane/core/api";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";
import { AdminKeyProver } from "./admin-key-proof.js";

const KEY = "fp_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
const OTHER = `${KEY.slice(0, -1)}H`;

describe("POST /api/v1/admin-key/proof: the CLI's challenge before it sends the admin key found on disk", () => {
  let t: TestControlPlane;
  let bare: TestControlPlane;
  let addresses = ["127.0.0.1"];
  const prover = new AdminKeyProver(() => ({ port: 18123, addresses }));
  before(async () => {
    t = await startTestControlPlane({ adminKeyProver: prover });
    bare = await startTestControlPlane();
  });
  after(async () => {
    await t.close();
    await bare.close();
  });

  it("answers without a key, once it holds the admin key, with a proof bound to its port, its addresses and the nonce", async () => {
    const nonce = adminKeyNonce();
    assert.equal((await t.call("POST", "/api/v1/admin-key/proof", { key: null, body: { nonce } })).status, 404, "no key held yet");
    prover.hold(KEY);
    const r = await t.call("POST", "/api/v1/admin-key/proof", { key: null, body: { nonce } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.port, r.json.addresses], [18123, ["127.0.0.1"]]);
    const at = { port: 18123, addresses: ["127.0.0.1"] };
    assert.ok(await adminKeyProofMatches(KEY, at, nonce, r.json.proof));
    assert.ok(!r.text.includes(KEY.slice(3)), "the key itself is never in the answer");
    // Bound to each part: another port, address list, nonce or key does not match it.
    assert.equal(await adminKeyProofMatches(KEY, { ...at, port: 18124 }, nonce, r.json.proof), false);
    assert.equal(await adminKeyProofMatches(KEY, { ...at, addresses: ["127.0.0.1", "::1"] }, nonce, r.json.proof), false);
    assert.equal(await adminKeyProofMatches(KEY, at, adminKeyNonce(), r.json.proof), false);
    assert.equal(await adminKeyProofMatches(OTHER, at, nonce, r.json.proof), false);
    assert.notEqual(r.json.proof, (await t.call("POST", "/api/v1/admin-key/proof", { key: null, body: { nonce: adminKeyNonce() } })).json.proof);
    // Once the twin address is held, it is named; a rotated admin key proves the new one.
    addresses = ["127.0.0.1", "::1"];
    prover.hold(OTHER);
    const again = await t.call("POST", "/api/v1/admin-key/proof", { key: null, body: { nonce } });
    assert.deepEqual(again.json.addresses, ["127.0.0.1", "::1"]);
    assert.equal(again.json.proof, await adminKeyProof(OTHER, { port: 18123, addresses }, nonce));
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
