import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { poolBytesTakenBy } from "@flowplane/testkit";
import { RELAY_CLIENT_HEADER, RELAY_SECRET_HEADER, relayedClient } from "./relayed-client.js";

describe("a relayed request's client", () => {
  const secret = "s".repeat(43);
  const h = (given: unknown, client: unknown) => ({ [RELAY_SECRET_HEADER]: given, [RELAY_CLIENT_HEADER]: client }) as Record<string, string>;

  it("is believed beside this start's secret, as an IP address", () => {
    assert.equal(relayedClient(h(secret, "203.0.113.7"), secret), "203.0.113.7");
    assert.equal(relayedClient(h(secret, "2001:db8::1"), secret), "2001:db8::1");
  });

  it("is ignored without the secret, with another, with no secret configured, or when it is not an address", () => {
    assert.equal(relayedClient(h(undefined, "203.0.113.7"), secret), undefined);
    assert.equal(relayedClient(h("s".repeat(42), "203.0.113.7"), secret), undefined, "shorter");
    assert.equal(relayedClient(h(`${"s".repeat(42)}t`, "203.0.113.7"), secret), undefined, "same length");
    assert.equal(relayedClient(h(secret, "203.0.113.7"), undefined), undefined);
    assert.equal(relayedClient(h(secret, "127.0.0.1, 10.0.0.1"), secret), undefined);
    assert.equal(relayedClient(h([secret, secret], "203.0.113.7"), secret), undefined, "a header sent twice");
  });

  it("takes nothing from Node's shared Buffer pool, whose slices are promoted and kept under load (core's replica-access.ts)", () => {
    assert.equal(poolBytesTakenBy(() => {
      assert.equal(relayedClient(h(secret, "203.0.113.7"), secret), "203.0.113.7");
      assert.equal(relayedClient(h("another", "203.0.113.7"), secret), undefined);
    }), 0);
  });
});
