import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { memoryLogger } from "@flowplane/logging";
import { ADDRESS_TTL_MS, ServerAddresses } from "./server-addresses.js";

/** A resolver whose answers the test gives, one pending lookup at a time per call. */
function harness() {
  let clock = 0;
  const pending: { host: string; settle: (ip: string | Error) => void }[] = [];
  let changes = 0;
  const log = memoryLogger();
  const addresses = new ServerAddresses({
    log: log.log, now: () => clock, onChange: () => changes++,
    resolve: (host) => new Promise<string>((resolve, reject) => pending.push({ host, settle: (x) => (x instanceof Error ? reject(x) : resolve(x)) })),
  });
  const flush = () => new Promise((r) => setImmediate(r));
  return {
    addresses, pending, log, flush,
    advance: (ms: number) => { clock += ms; },
    get changes() { return changes; },
  };
}

describe("ServerAddresses: replica endpoints as HAProxy's dynamic servers take them", () => {
  it("takes an IP literal as it is, an IPv6 one bracketed in the address and bare in the name", () => {
    const h = harness();
    assert.deepEqual(h.addresses.serverFor("10.96.0.12", "8000"), { name: "10.96.0.12:8000", address: "10.96.0.12:8000" });
    assert.deepEqual(h.addresses.serverFor("[fd00::5]", "8000"), { name: "fd00::5:8000", address: "[fd00::5]:8000" });
    assert.equal(h.pending.length, 0, "no lookup for a literal");
  });

  it("has no server for a name until its lookup answers, then the name's address; one lookup at a time", async () => {
    const h = harness();
    assert.equal(h.addresses.serverFor("runtime-r1.ns.svc.cluster.local", "8000"), undefined);
    assert.equal(h.addresses.serverFor("runtime-r1.ns.svc.cluster.local", "8000"), undefined);
    assert.equal(h.pending.length, 1);
    h.pending.shift()!.settle("10.96.0.12");
    await h.flush();
    assert.equal(h.changes, 1, "a pass is asked for");
    assert.deepEqual(h.addresses.serverFor("runtime-r1.ns.svc.cluster.local", "8000"), { name: "10.96.0.12:8000", address: "10.96.0.12:8000" });
  });

  it("looks a name up again after its lifetime, keeps the old address meanwhile, and follows a change", async () => {
    const h = harness();
    h.addresses.serverFor("svc", "80");
    h.pending.shift()!.settle("10.0.0.1");
    await h.flush();
    h.advance(ADDRESS_TTL_MS - 1);
    assert.equal(h.addresses.serverFor("svc", "80")?.name, "10.0.0.1:80");
    assert.equal(h.pending.length, 0, "not yet due");
    h.advance(1);
    assert.equal(h.addresses.serverFor("svc", "80")?.name, "10.0.0.1:80", "the old address while the lookup runs");
    assert.equal(h.pending.length, 1);
    h.pending.shift()!.settle("10.0.0.1");
    await h.flush();
    assert.equal(h.changes, 1, "the same address: no pass");
    h.advance(ADDRESS_TTL_MS);
    h.addresses.serverFor("svc", "80");
    h.pending.shift()!.settle("10.0.0.2");
    await h.flush();
    assert.equal(h.changes, 2);
    assert.equal(h.addresses.serverFor("svc", "80")?.name, "10.0.0.2:80");
  });

  it("drops the address of a name whose lookup fails, warns once for a run of failures, and tries again after the lifetime", async () => {
    const h = harness();
    h.addresses.serverFor("svc", "80");
    h.pending.shift()!.settle("10.0.0.1");
    await h.flush();
    for (let i = 0; i < 3; i++) {
      h.advance(ADDRESS_TTL_MS);
      h.addresses.serverFor("svc", "80");
      h.pending.shift()!.settle(new Error("getaddrinfo ENOTFOUND svc"));
      await h.flush();
      assert.equal(h.addresses.serverFor("svc", "80"), undefined, "no address: the route stays with the workers");
    }
    assert.equal(h.log.lines.filter((l) => String(l.msg).includes("has no address")).length, 1);
    h.advance(ADDRESS_TTL_MS);
    h.addresses.serverFor("svc", "80");
    h.pending.shift()!.settle("10.0.0.3");
    await h.flush();
    assert.equal(h.addresses.serverFor("svc", "80")?.name, "10.0.0.3:80");
  });

  it("refuses an answer that is not an IP address", async () => {
    const h = harness();
    h.addresses.serverFor("svc", "80");
    h.pending.shift()!.settle("evil host with spaces");
    await h.flush();
    assert.equal(h.addresses.serverFor("svc", "80"), undefined);
  });

  it("forgets names no endpoint uses, and ignores a lookup that answers after its name was forgotten", async () => {
    const h = harness();
    h.addresses.serverFor("a", "80");
    h.addresses.serverFor("b", "80");
    h.addresses.retain(new Set(["b"]));
    h.pending.find((p) => p.host === "a")!.settle("10.0.0.1");
    await h.flush();
    assert.equal(h.changes, 0, "a forgotten name's answer changes nothing");
    assert.equal(h.addresses.serverFor("a", "80"), undefined, "looked up again from scratch");
    assert.equal(h.pending.filter((p) => p.host === "a").length, 2);
  });
});
