import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { adminKeyNonce, adminKeyProof, adminKeyProofMatches } from "@flowplane/core/api";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";
import type { AddressInfo } from "node:net";
import { AdminKeyProver } from "./admin-key-proof.js";
import { RELAY_CLIENT_HEADER, RELAY_PORT_HEADER, RELAY_SECRET_HEADER } from "./relayed-client.js";

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

  it("answers on the public listener only, not on another TCP port of the process (the loopback one gateway workers relay to), unless relayed with this start's secret", async () => {
    // With gateway workers or a native front, the API also listens on 127.0.0.1:<any port>, which
    // every local account reaches. A program that took the public port while the front or the
    // workers restarted relayed the CLI's challenge there, got the proof for the port it held,
    // and was sent the key.
    const secret = "this-start-relay-secret";
    let publicPort = 0;
    const p = new AdminKeyProver(() => ({ port: publicPort, addresses: ["127.0.0.1"] }));
    p.hold(KEY);
    const s = await startTestControlPlane({ adminKeyProver: p, relaySecret: secret });
    try {
      await s.cp.app.listen({ host: "127.0.0.1", port: 0 });
      const port = (s.cp.app.server.address() as AddressInfo).port;
      const ask = (headers: Record<string, string> = {}) => fetch(`http://127.0.0.1:${port}/api/v1/admin-key/proof`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ nonce: adminKeyNonce() }) });
      publicPort = port === 65535 ? 1 : port + 1;
      const internal = await ask();
      assert.equal(internal.status, 404, await internal.text());
      assert.equal((await ask({ [RELAY_SECRET_HEADER]: "guessed", [RELAY_CLIENT_HEADER]: "127.0.0.1" })).status, 404);
      // A worker relays a challenge with the secret and the port of its listener it came in on:
      // answered for the public port, or its Unix socket behind a native front (no port); not
      // for its private port, which every local account reaches too.
      const relayed = { [RELAY_SECRET_HEADER]: secret, [RELAY_CLIENT_HEADER]: "127.0.0.1" };
      assert.equal((await ask({ ...relayed, [RELAY_PORT_HEADER]: String(publicPort) })).status, 200);
      assert.equal((await ask(relayed)).status, 200);
      assert.equal((await ask({ ...relayed, [RELAY_PORT_HEADER]: String(publicPort === 1 ? 2 : publicPort - 1) })).status, 404);
      assert.equal((await ask({ [RELAY_SECRET_HEADER]: "guessed", [RELAY_CLIENT_HEADER]: "127.0.0.1", [RELAY_PORT_HEADER]: String(publicPort) })).status, 404, "the port is believed only beside the secret");
      // The public listener itself: answered.
      publicPort = port;
      const direct = await ask();
      assert.equal(direct.status, 200);
      assert.equal(((await direct.json()) as { port: number }).port, port);
    } finally {
      await s.close();
    }
  });
});
