import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { personaChatbot } from "../persona-flow.js";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/**
 * Following the logs of an undeployed deployment: its record stays (docs/concepts.md) and its
 * other reads answer, so the follow answers too (200, the tail), then ends, as its replicas are
 * gone and no line will ever come. It streamed nothing for its 30 minutes, holding one of the
 * caller's 4 follow slots, and `flowplane logs -f` hung. One undeployed while followed ends at
 * the stream's next access check.
 */
describe("logs follow of an undeployed deployment", () => {
  let t: TestControlPlane;
  let base: string;
  let p: string;
  before(async () => {
    // A deleted deployment's replicas have no logs left to read; a perCaller of 1 shows a slot held.
    t = await startTestControlPlane({ logs: { readLogs: async () => [] }, follow: { pollMs: 20, recheckMs: 50, slots: { perCaller: 1, total: 10 } } });
    p = await t.project("follows");
    assert.equal((await t.call("POST", "/api/v1/bundles", { body: { name: "persona", versionTag: "1", accessLevel: "global", flows: [personaChatbot()] } })).status, 201);
    await t.cp.app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(t.cp.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await t?.close();
  });

  const deploy = async (): Promise<string> => {
    const d = await t.call("POST", `/api/v1/projects/${p}/deployments`, { body: { displayName: "F", bundle: { name: "persona", version: "1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-x" } } });
    assert.equal(d.status, 201, d.text);
    return d.json.id as string;
  };
  /** Undeployed as the reconciler finishes it: deletion asked, then its runtime removed (deletedAt). */
  const undeploy = async (id: string) => {
    assert.equal((await t.call("DELETE", `/api/v1/projects/${p}/deployments/${id}`)).status, 202);
    const now = new Date().toISOString();
    await t.store.updateDeployment(id, (cur) => ({ deployment: { ...cur, deletedAt: now, updatedAt: now } }));
  };
  /** The whole follow answer, or a failure when it has not ended within 3 s. */
  const follow = async (id: string, whileOpen?: () => Promise<void>) => {
    const r = await fetch(`${base}/api/v1/projects/${p}/deployments/${id}/logs?follow=true`, { headers: { "x-access-key": t.ownerKey }, signal: AbortSignal.timeout(3_000) });
    const text = r.text();
    await whileOpen?.();
    return { status: r.status, type: r.headers.get("content-type"), text: await text.catch((e: Error) => `did not end: ${e.message}`) };
  };

  it("an undeployed deployment's follow answers its (empty) tail and ends, as its plain read answers; the slot is free again", async () => {
    const id = await deploy();
    await undeploy(id);
    const plain = await t.call("GET", `/api/v1/projects/${p}/deployments/${id}/logs`);
    assert.equal(plain.status, 200, plain.text);
    const r = await follow(id);
    assert.equal(r.status, 200);
    assert.match(r.type ?? "", /application\/x-ndjson/);
    assert.equal(r.text, "");
    // perCaller 1: the second follow would be 429 if the first still held its slot.
    assert.equal((await follow(id)).status, 200);
  });

  it("a follow ends when its deployment is undeployed meanwhile", async () => {
    const id = await deploy();
    const r = await follow(id, () => undeploy(id));
    assert.equal(r.status, 200);
    assert.equal(r.text, "");
  });
});
