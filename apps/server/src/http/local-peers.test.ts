import assert from "node:assert/strict";
import { connect, type Server, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { loopbackFlood, waitFor } from "@flowplane/testkit";
import { ConnectionCap, type PeerOwners } from "./connection-cap.js";
import { servedBehind } from "./capped-test-server.js";
import { LocalPeers } from "./local-peers.js";

const root = process.getuid?.() === 0;
/** The test's deployments' uids (any range: no driver hands them out here). */
const BASE = 1_650_000_000;

describe("LocalPeers: which local deployment owns a loopback connection's peer", () => {
  const HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
  /** A tcp table holding one connection from 127.0.0.1:`port` to 127.0.0.1:8080, made by `uid`. */
  const tableWith = (port: number, uid: number) => {
    const lo = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? "0100007F" : "7F000001";
    return `${HEADER}   0: ${lo}:${port.toString(16).toUpperCase().padStart(4, "0")} ${lo}:1F90 01 00000000:00000000 00:00000000 00000000 ${uid}        0 4242 1 0 20 4 30 10 -1\n`;
  };
  const server = { address: "127.0.0.1", port: 8080 };

  it("a uid in the deployments' range is a deployment's; this process's, root's and other users' are none", async () => {
    for (const [uid, expected] of [[BASE, BASE], [BASE + 9, BASE + 9], [BASE + 10, undefined], [BASE - 1, undefined], [0, undefined], [1000, undefined]] as const) {
      const peers = new LocalPeers({ deploymentUids: { base: BASE, count: 10 }, read: async (t) => (t === "tcp" ? tableWith(40_000, uid) : HEADER) });
      assert.equal(await peers.deploymentUid({ address: "127.0.0.1", port: 40_000 }, server), expected, String(uid));
    }
  });

  it("lookups asked at once share one read of each table; an unreadable table is none, warned of once a minute", async () => {
    let reads = 0;
    const peers = new LocalPeers({ deploymentUids: { base: BASE, count: 10 }, read: async () => { reads++; await new Promise((r) => setTimeout(r, 20)); return tableWith(40_000, BASE); } });
    const all = await Promise.all(Array.from({ length: 50 }, () => peers.deploymentUid({ address: "127.0.0.1", port: 40_000 }, server)));
    assert.ok(all.every((u) => u === BASE));
    assert.equal(reads, 2, "fifty lookups, two reads: the first alone, the 49 asked while it ran the next one");
    const warned: unknown[] = [];
    const broken = new LocalPeers({ deploymentUids: { base: BASE, count: 10 }, read: async () => { throw Object.assign(new Error("EMFILE: too many open files"), { code: "EMFILE" }); }, log: { warn: (o: unknown) => void warned.push(o) } });
    assert.equal(await broken.deploymentUid({ address: "127.0.0.1", port: 40_000 }, server), undefined);
    assert.equal(await broken.deploymentUid({ address: "127.0.0.1", port: 40_000 }, server), undefined);
    assert.equal(warned.length, 1);
  });
});

describe("the cap on real sockets, loopback connections told apart by their owner", () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  const stops: (() => void)[] = [];
  after(() => {
    for (const s of stops) s();
    for (const s of sockets) s.destroy();
    for (const s of servers) s.close();
  });

  /** A loopback server answering "hello\n" to each admitted connection, behind `cap`. */
  const serve = (cap: ConnectionCap) => servedBehind(cap, servers);

  /** A connection from this process (root's, the control plane's own): what it got first. */
  function hello(port: number): Promise<string> {
    return new Promise((resolve) => {
      const s = connect(port, "127.0.0.1");
      sockets.push(s);
      let text = "";
      s.on("data", (b) => {
        text += b.toString("latin1");
        if (text.includes("\n")) resolve(text.split("\r\n")[0]!.trim());
      });
      s.on("error", () => {});
      s.once("close", () => resolve(text || "closed"));
    });
  }

  it("a process under a deployment's uid gets `perDeployment` connections and 429 past them, while this process's still get served (the total is not filled)", { skip: !root && "needs root, to run a process under another uid" }, async () => {
    const cap = new ConnectionCap({ total: 20, perAddress: 1_024, perDeployment: 5 }, { peers: new LocalPeers({ deploymentUids: { base: BASE, count: 10 } }) });
    const port = await serve(cap);
    // 30 connections, each from its own 127.x address: by address they would fill the total (20).
    const flood = loopbackFlood({ uid: BASE + 3, port, count: 30 });
    stops.push(flood.stop);
    const outcome = await flood.outcome;
    // Past the bound, 429 once its owner is known; 503 for those past `total` waiting for their
    // lookup at once (a burst of 30 at a total of 20): never served either way.
    assert.equal(outcome.served, 5, JSON.stringify(outcome));
    assert.equal((outcome["429"] ?? 0) + (outcome["503"] ?? 0), 25, JSON.stringify(outcome));
    assert.ok((outcome["429"] ?? 0) >= 15, JSON.stringify(outcome));
    await waitFor(() => cap.countDeployment(BASE + 3) === 5 && cap.count() === 5, { message: `5 held by the deployment (${cap.countDeployment(BASE + 3)}, ${cap.count()} in all)` });
    // This process (root: no deployment's) keeps today's treatment: the total alone.
    for (let i = 0; i < 8; i++) assert.equal(await hello(port), "hello");
    assert.equal(cap.countDeployment(BASE + 3), 5);
    // Another deployment has its own bound.
    const other = loopbackFlood({ uid: BASE + 4, port, count: 6 });
    stops.push(other.stop);
    assert.deepEqual(await other.outcome, { served: 5, 429: 1 });
    // The first one's processes end: their connections are released.
    flood.stop();
    await waitFor(() => cap.countDeployment(BASE + 3) === 0, { message: "released when the deployment's connections closed" });
  });

  it("a uid outside the deployments' range (another user of the machine) counts against the total alone, as before", { skip: !root && "needs root, to run a process under another uid" }, async () => {
    const cap = new ConnectionCap({ total: 8, perAddress: 1, perDeployment: 2 }, { peers: new LocalPeers({ deploymentUids: { base: BASE, count: 10 } }) });
    const port = await serve(cap);
    const flood = loopbackFlood({ uid: BASE + 10, port, count: 10 });
    stops.push(flood.stop);
    const outcome = await flood.outcome;
    assert.equal(outcome.served, 8, JSON.stringify(outcome));
    assert.equal(outcome["503"], 2, JSON.stringify(outcome));
  });

  it("nothing serves a loopback connection before its owner is known; one closed meanwhile is released and never served", async () => {
    const answers: ((uid: number | undefined) => void)[] = [];
    const peers: PeerOwners = { deploymentUid: () => new Promise((resolve) => answers.push(resolve)) };
    const cap = new ConnectionCap({ total: 10, perAddress: 1, perDeployment: 1 }, { peers });
    const port = await serve(cap);
    const first = hello(port);
    await waitFor(() => answers.length === 1, { message: "the lookup asked" });
    assert.deepEqual([cap.count(), cap.awaitingOwner()], [1, 0], "in the total meanwhile");
    await new Promise((r) => setTimeout(r, 50));
    let served = false;
    void first.then(() => (served = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(served, false, "not served before the answer");
    answers[0]!(BASE);
    assert.equal(await first, "hello");
    assert.equal(cap.countDeployment(BASE), 1);
    // The same deployment again: refused once its owner is known.
    const again = hello(port);
    await waitFor(() => answers.length === 2);
    answers[1]!(BASE);
    assert.equal(await again, "HTTP/1.1 429 Too Many Requests");
    // One that closes while its lookup runs.
    const gone = connect(port, "127.0.0.1");
    gone.on("error", () => {});
    await waitFor(() => answers.length === 3);
    gone.destroy();
    await waitFor(() => cap.count() === 1, { message: "the closed one released" });
    answers[2]!(undefined);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual([cap.count(), cap.awaitingOwner()], [1, 0], "never counted once its lookup answered");
    // The total full (a burst): a loopback connection waits apart for its owner, and is served once there is room.
    const full = new ConnectionCap({ total: 1, perAddress: 1, perDeployment: 1 }, { peers });
    const fullPort = await serve(full);
    const a = hello(fullPort);
    await waitFor(() => answers.length === 4);
    const b = hello(fullPort);
    await waitFor(() => answers.length === 5);
    assert.deepEqual([full.count(), full.awaitingOwner()], [1, 1]);
    answers[3]!(BASE + 1); // a deployment's first: within its bound
    answers[4]!(undefined);
    assert.equal(await a, "hello");
    assert.equal(await b, "HTTP/1.1 503 Service Unavailable", "no room once known: the total holds the first");
  });
});
