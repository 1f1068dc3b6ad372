import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { poolBytesTakenBy } from "@flowplane/testkit";
import { gatewaySecretChecker, gatewaySecretMatches } from "./replica-access.js";

describe("the gateway secret check a replica runs on every request", () => {
  const secret = "a-gateway-secret-0123456789";
  it("takes exactly the secret, as gatewaySecretMatches does", () => {
    const matches = gatewaySecretChecker(secret);
    for (const given of [secret, `${secret}x`, secret.slice(0, -1), "", [secret], undefined]) {
      assert.equal(matches(given), gatewaySecretMatches(given, secret), String(given));
    }
    assert.equal(matches(secret), true);
    assert.equal(matches(secret.toUpperCase()), false);
  });

  it("takes nothing from Node's shared Buffer pool, whose slices are promoted and kept under load (replica-access.ts)", () => {
    const matches = gatewaySecretChecker(secret);
    assert.equal(poolBytesTakenBy(() => { for (const given of [secret, "another", secret]) matches(given); }), 0);
  });

  it("an empty expected secret matches nothing, not even an empty header", () => {
    assert.equal(gatewaySecretChecker("")(""), false);
  });
});
