import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { principal, route, routeUrl, startGateway, startUpstream, type TestGateway, type Upstream } from "./test-harness.js";
import type { GatewayIdle } from "./types.js";

/**
 * The gateway's side of scale to zero: a request to a deployment without a ready replica is held
 * while `idle.wake` runs (never a 503 meanwhile), then forwarded; a deployment without scale to
 * zero is answered 503 at once, as before; every request's start and end is reported.
 */
describe("gateway: holding requests while a deployment wakes", () => {
  let g: TestGateway;
  let up: Upstream;
  const wakes: { id: string; timeoutMs: number }[] = [];
  const activity: string[] = [];
  /** What the fake control plane does on a wake: start a replica (the upstream) after 100 ms, or never. */
  let replicaComes = true;

  const idle: GatewayIdle = {
    activity: (id, delta) => void activity.push(`${id}${delta > 0 ? "+" : "-"}`),
    wake: async (id, timeoutMs) => {
      wakes.push({ id, timeoutMs });
      if (!replicaComes) return new Promise((resolve) => setTimeout(resolve, timeoutMs));
      await new Promise((resolve) => setTimeout(resolve, 100));
      g.endpoints.set(`res-${id.slice(4)}`, [up.url]);
    },
  };

  before(async () => {
    up = await startUpstream((_req, res) => res.end("{}"));
    g = await startGateway({ idle });
    g.keys.set("k", principal("u"));
    g.routes.set("r-sleepy", route("r-sleepy", { wakeTimeoutSeconds: 30 }));
    g.routes.set("r-stuck", route("r-stuck", { wakeTimeoutSeconds: 1 }));
    g.routes.set("r-plain", route("r-plain"));
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  const get = (id: string) => fetch(routeUrl(g, id, "/flows"), { headers: { "x-access-key": "k" } });

  test("with scale to zero: held while it wakes, then served; the deployment's timeout is passed on", async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => get("r-sleepy")));
    assert.deepEqual(answers.map((a) => a.status), Array(10).fill(200));
    assert.ok(wakes.length >= 1 && wakes.every((w) => w.id === "dep-r-sleepy" && w.timeoutMs === 30_000));
    assert.equal(activity.filter((a) => a === "dep-r-sleepy+").length, 10);
    assert.equal(activity.filter((a) => a === "dep-r-sleepy-").length, 10, "every end is reported");
  });

  test("no replica even after the wake timeout: 503 with Retry-After; without scale to zero: 503 at once, no wake", async () => {
    replicaComes = false;
    wakes.length = 0;
    const stuck = await get("r-stuck");
    assert.equal(stuck.status, 503);
    assert.equal(stuck.headers.get("retry-after"), "1");
    assert.deepEqual(wakes.map((w) => w.id), ["dep-r-stuck"]);
    const plain = await get("r-plain");
    assert.equal(plain.status, 503);
    assert.deepEqual(wakes.map((w) => w.id), ["dep-r-stuck"], "no wake for a deployment without scale to zero");
  });
});
