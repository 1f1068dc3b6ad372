import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { memoryLogger } from "@flowplane/logging";
import { ADDRESS_MAX_AGE_MS, ADDRESS_TTL_MS, RETRY_MS, ServerAddresses } from "./server-addresses.js";

/** What dns.promises.lookup rejects with: ENOTFOUND (no such name), EAI_AGAIN (the resolver could not answer in time). */
const lookupError = (code: string) => Object.assign(new Error(`getaddrinfo ${code} svc`), { code, syscall: "getaddrinfo", hostname: "svc" });

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
    /** `host` asked for (its first lookup) and that lookup answered `ip`. */
    async found(host: string, ip: string) {
      addresses.serverFor(host, "80");
      pending.shift()!.settle(ip);
      await flush();
    },
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
    await h.found("svc", "10.0.0.1");
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

  it("drops the address of a name that does not exist (ENOTFOUND) at once, warns once for a run of failures, and tries again within a second", async () => {
    const h = harness();
    await h.found("svc", "10.0.0.1");
    h.advance(ADDRESS_TTL_MS);
    h.addresses.serverFor("svc", "80");
    for (let i = 0; i < 3; i++) {
      h.pending.shift()!.settle(lookupError("ENOTFOUND"));
      await h.flush();
      assert.equal(h.addresses.serverFor("svc", "80"), undefined, "no address: the route goes to the workers");
      h.advance(RETRY_MS);
      h.addresses.serverFor("svc", "80");
      assert.equal(h.pending.length, 1, "looked up again after RETRY_MS");
    }
    assert.equal(h.log.lines.filter((l) => String(l.msg).includes("has no address")).length, 1);
    h.pending.shift()!.settle("10.0.0.3");
    await h.flush();
    assert.equal(h.addresses.serverFor("svc", "80")?.name, "10.0.0.3:80");
  });

  it("keeps the last address through lookups that could not answer (EAI_AGAIN), up to its maximum age", async () => {
    const h = harness();
    await h.found("svc", "10.0.0.1");
    h.advance(ADDRESS_TTL_MS);
    for (let waited = ADDRESS_TTL_MS; waited < ADDRESS_MAX_AGE_MS; waited += RETRY_MS) {
      h.addresses.serverFor("svc", "80");
      h.pending.shift()?.settle(lookupError("EAI_AGAIN"));
      await h.flush();
      assert.equal(h.addresses.serverFor("svc", "80")?.name, "10.0.0.1:80", `kept ${waited} ms after it was found`);
      h.advance(RETRY_MS);
    }
    assert.equal(h.addresses.serverFor("svc", "80"), undefined, "too old: the route goes to the workers");
    assert.equal(h.log.lines.filter((l) => String(l.msg).includes("could not be looked up")).length, 1);
  });

  it("uses no address past its maximum age while its next lookup has not answered", async () => {
    const h = harness();
    await h.found("svc", "10.0.0.1");
    h.advance(ADDRESS_TTL_MS);
    h.addresses.serverFor("svc", "80"); // this lookup never answers
    h.advance(ADDRESS_MAX_AGE_MS - ADDRESS_TTL_MS - 1);
    assert.equal(h.addresses.serverFor("svc", "80")?.name, "10.0.0.1:80");
    h.advance(1);
    assert.equal(h.addresses.serverFor("svc", "80"), undefined);
    assert.equal(h.pending.length, 1, "one lookup at a time");
  });

  it("keeps a newer lookup's answer when an older one, of the name before it was forgotten, answers last", async () => {
    const h = harness();
    h.addresses.serverFor("svc", "80"); // lookup 1
    h.addresses.retain(new Set()); // the route left the fast path for a pass
    h.addresses.serverFor("svc", "80"); // lookup 2, a new entry
    const [first, second] = h.pending.splice(0);
    second!.settle("10.0.0.2");
    await h.flush();
    first!.settle("10.0.0.1");
    await h.flush();
    assert.equal(h.addresses.serverFor("svc", "80")?.name, "10.0.0.2:80");
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
