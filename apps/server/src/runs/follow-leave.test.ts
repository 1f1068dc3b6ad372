import assert from "node:assert/strict";
import { connect, type AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { waitFor } from "@flowplane/testkit";
import { personaChatbot } from "../persona-flow.js";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/**
 * A client that leaves while the server is reading the replicas' logs: the next write fails on
 * the closed connection (write() returns false, and no "drain" ever comes), and the stream must
 * still end and give its slot back. It waited for a "drain" or an abort that had already
 * happened, so the slot stayed taken for good: a few such clients used up their key's share,
 * and enough of them the server's total, refusing every follow (429) until a restart.
 */
describe("logs follow: a client that leaves mid-read frees its slot", () => {
  let t: TestControlPlane;
  let url: string;
  let gate: (() => void) | null = null;
  let reads = 0;
  before(async () => {
    t = await startTestControlPlane({
      logs: {
        readLogs: async () => {
          reads++;
          // The second read (the first poll after the tail) waits for the test: the client leaves meanwhile.
          if (reads === 2) await new Promise<void>((resolve) => (gate = resolve));
          return [{ replica: "r1", lines: [`{"msg":"line ${reads}"}`], cursor: String(reads) }];
        },
      },
      follow: { pollMs: 20, slots: { perCaller: 1, total: 1 } },
    });
    const p = await t.project("follows");
    assert.equal((await t.call("POST", "/api/v1/bundles", { body: { name: "persona", versionTag: "1", accessLevel: "global", flows: [personaChatbot()] } })).status, 201);
    const d = await t.call("POST", `/api/v1/projects/${p}/deployments`, { body: { displayName: "F", bundle: { name: "persona", version: "1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-x" } } });
    assert.equal(d.status, 201, d.text);
    await t.cp.app.listen({ host: "127.0.0.1", port: 0 });
    url = `http://127.0.0.1:${(t.cp.app.server.address() as AddressInfo).port}/api/v1/projects/${p}/deployments/${d.json.id}/logs?follow=true`;
  });
  after(async () => {
    gate?.();
    await t?.close();
  });

  it("the slot is free again once the server has seen the client go", async () => {
    // A raw socket, so the test knows the connection is really closed (fetch's abort may keep it for reuse).
    const u = new URL(url);
    const s = connect(Number(u.port), u.hostname);
    s.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: cp\r\nx-access-key: ${t.ownerKey}\r\n\r\n`);
    let got = "";
    s.on("data", (b: Buffer) => (got += b.toString()));
    await waitFor(() => got.includes("line 1"), { timeoutMs: 5_000, intervalMs: 10, message: "the stream's first line" });
    assert.match(got, /^HTTP\/1\.1 200 /);
    await waitFor(() => gate !== null, { timeoutMs: 5_000, intervalMs: 10, message: "the second read" });
    s.destroy();
    // The server sees the connection close, then the read ends with a line to write.
    const connections = () => new Promise<number>((resolve, reject) => t.cp.app.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
    await waitFor(async () => (await connections()) === 0, { timeoutMs: 5_000, intervalMs: 10, message: "the connection closed" });
    gate!();
    await waitFor(async () => {
      const again = await fetch(url, { headers: { "x-access-key": t.ownerKey } });
      await again.body?.cancel();
      return again.status === 200;
    }, { timeoutMs: 5_000, intervalMs: 50, message: "a slot freed after the client left mid-read" });
  });
});
