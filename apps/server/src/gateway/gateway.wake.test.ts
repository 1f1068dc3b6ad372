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
  /** What else happens while it wakes (before the replica comes). */
  let meanwhile: (() => void) | undefined;

  const idle: GatewayIdle = {
    activity: (id, delta) => void activity.push(`${id}${delta > 0 ? "+" : "-"}`),
    wake: async (id, timeoutMs) => {
      wakes.push({ id, timeoutMs });
      if (!replicaComes) return new Promise((resolve) => setTimeout(resolve, timeoutMs));
      await new Promise((resolve) => setTimeout(resolve, 100));
      meanwhile?.();
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
    g.routes.set("r-late", route("r-late", { wakeTimeoutSeconds: 600 }));
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

  test("held while it woke: a key revoked, a role removed or the deployment disabled meanwhile is refused then, not forwarded", async () => {
    replicaComes = true;
    const seen = up.seen.length;
    // `lose` runs during the wake-up, and the wake-up takes its time (5 s on the gateway's clock:
    // every cached answer is stale by then); the replica comes only after it.
    const held = async (key: string, lose: () => void) => {
      g.endpoints.delete("res-r-late");
      meanwhile = () => { lose(); g.advance(5_000); };
      try {
        const r = await fetch(routeUrl(g, "r-late", "/flows"), { headers: { "x-access-key": key } });
        return [r.status, ((await r.json()) as { error?: { code: string } }).error?.code];
      } finally {
        meanwhile = undefined;
      }
    };
    g.keys.set("k-revoked", principal("u-revoked"));
    assert.deepEqual(await held("k-revoked", () => g.keys.delete("k-revoked")), [401, "unauthenticated"]);
    g.keys.set("k-role", principal("u-role"));
    assert.deepEqual(await held("k-role", () => g.keys.set("k-role", principal("u-role", {}))), [401, "unauthenticated"]);
    g.keys.set("k-disabled", principal("u-disabled"));
    assert.deepEqual(await held("k-disabled", () => g.routes.set("r-late", route("r-late", { wakeTimeoutSeconds: 600, disabled: true }))), [503, "deployment_disabled"]);
    assert.equal(up.seen.length, seen, "none of them reached the replica");
    g.routes.set("r-late", route("r-late", { wakeTimeoutSeconds: 600 }));
    g.gateway.forgetRoutes(); // enabled again (the control plane pushes the change)
    g.keys.set("k-kept", principal("u-kept"));
    assert.deepEqual(await held("k-kept", () => undefined), [200, undefined], "a caller who kept access is served");
    assert.equal(up.seen.length, seen + 1);
  });
});
