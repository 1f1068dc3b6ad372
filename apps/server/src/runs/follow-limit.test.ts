import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { waitFor } from "@flowplane/testkit";
import { personaChatbot } from "../persona-flow.js";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/**
 * Open log follows are bounded per caller over real HTTP: the caller's next follow is refused
 * with 429 and the error shape before any stream byte, another caller is not affected, and a
 * closed stream gives its slot back.
 */
describe("logs follow: open streams are bounded per caller", () => {
  let t: TestControlPlane;
  let base: string;
  let path: string;
  let p: string;
  before(async () => {
    t = await startTestControlPlane({ logs: { readLogs: async () => [] }, follow: { pollMs: 20, slots: { perCaller: 2, total: 10 } } });
    p = await t.project("follows");
    assert.equal((await t.call("POST", "/api/v1/bundles", { body: { name: "persona", versionTag: "1", accessLevel: "global", flows: [personaChatbot()] } })).status, 201);
    const d = await t.call("POST", `/api/v1/projects/${p}/deployments`, { body: { displayName: "F", bundle: { name: "persona", version: "1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-x" } } });
    assert.equal(d.status, 201, d.text);
    path = `/api/v1/projects/${p}/deployments/${d.json.id}/logs?follow=true`;
    await t.cp.app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(t.cp.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await t?.close();
  });

  it("the third follow of one key is 429, another caller's is not, and a closed stream frees a slot", async () => {
    const streams: AbortController[] = [];
    const open = async (key: string) => {
      const c = new AbortController();
      const r = await fetch(base + path, { headers: { "x-access-key": key }, signal: c.signal });
      if (r.status === 200) streams.push(c); // a follow stays open until aborted
      return r;
    };
    try {
      const viewer = await t.user("viewer", { [p]: "viewer" });
      for (let i = 0; i < 2; i++) assert.equal((await open(t.ownerKey)).status, 200);
      const refused = await open(t.ownerKey);
      assert.equal(refused.status, 429);
      const body = (await refused.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "too_many_requests");
      assert.match(body.error.message, /at most 2/);
      // Another caller has its own share while the first one's is used up.
      assert.equal((await open(viewer.key)).status, 200);
      streams.shift()!.abort(); // the client goes: the server sees the close and frees the slot
      await waitFor(async () => {
        const r = await open(t.ownerKey);
        if (r.status !== 200) await r.text();
        return r.status === 200;
      }, { timeoutMs: 5_000, intervalMs: 50, message: "a slot freed after a stream closed" });
    } finally {
      for (const c of streams) c.abort();
    }
  });
});
