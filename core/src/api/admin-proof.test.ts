import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addressHeld, adminKeyNonce, adminKeyProof } from "./admin-proof.js";

describe("the admin key's proof of possession", () => {
  it("is HMAC-SHA256 of the label, port, addresses and nonce, in base64url; nonces are 32 random bytes", async () => {
    const { createHmac } = await import("node:crypto");
    const at = { port: 8080, addresses: ["127.0.0.1", "::1"] };
    const nonce = adminKeyNonce();
    assert.match(nonce, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(nonce, adminKeyNonce());
    const want = createHmac("sha256", "fp_k").update(`flowplane admin key proof v1\n8080\n127.0.0.1,::1\n${nonce}`).digest("base64url");
    assert.equal(await adminKeyProof("fp_k", at, nonce), want);
  });

  it("counts an address as held when it is listed, or its family's wildcard is", () => {
    assert.ok(addressHeld("127.0.0.1", ["127.0.0.1"]));
    assert.ok(addressHeld("::ffff:127.0.0.1", ["127.0.0.1"]));
    assert.ok(addressHeld("[::1]", ["127.0.0.1", "::1"]));
    assert.ok(addressHeld("127.0.0.2", ["0.0.0.0"]));
    assert.ok(addressHeld("::1", ["0.0.0.0", "::"]));
    assert.equal(addressHeld("::1", ["127.0.0.1"]), false);
    assert.equal(addressHeld("::1", ["0.0.0.0"]), false);
    assert.equal(addressHeld("127.0.0.1", ["::"]), false);
    assert.equal(addressHeld("127.0.0.2", ["127.0.0.1"]), false);
    assert.equal(addressHeld("localhost", ["127.0.0.1"]), false);
  });
});
