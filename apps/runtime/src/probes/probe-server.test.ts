import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { startProbeServer, type ProbeServer } from "./probe-server.js";

/**
 * The probe listener answers while the main thread is busy. The main thread here is blocked
 * by a synchronous loop, as a long synchronous step of a flow would block the runtime's; the
 * probes come from another process, which records when each answer arrived.
 */
describe("probe listener: answers from its own thread", () => {
  let probes: ProbeServer;
  before(async () => {
    probes = await startProbeServer({ host: "127.0.0.1", port: 0, stallMs: 800 });
  });
  after(async () => {
    await probes.close();
  });

  it("reports what the main thread publishes", async () => {
    const ready = async () => { const r = await fetch(`${probes.url}/ready`); return [r.status, ((await r.json()) as { status: string }).status]; };
    probes.publish("loading", 0);
    assert.deepEqual(await ready(), [503, "loading"]);
    probes.publish("ready", 2);
    assert.deepEqual(await ready(), [200, "ready"]);
    assert.deepEqual(await (await fetch(`${probes.url}/ready`)).json(), { status: "ready", flows: 2 });
    probes.publish("draining", 2);
    assert.deepEqual(await ready(), [503, "draining"]);
    probes.publish("ready", 2);
    assert.equal((await fetch(`${probes.url}/health`)).status, 200);
    assert.equal((await fetch(`${probes.url}/flows`)).status, 404, "probes only");
    assert.equal((await fetch(`${probes.url}/ready`, { method: "POST" })).status, 405);
  });

  it("keeps answering /ready while the main thread is blocked; /health says stalled once it is silent too long", async () => {
    // The prober: every 50 ms for 2.5 s, one line per answer: [path, status, time it arrived].
    const script = `
      const url = ${JSON.stringify(probes.url)}; const end = Date.now() + 2500; let i = 0;
      console.log("started");
      while (Date.now() < end) {
        const path = i++ % 2 ? "/health" : "/ready";
        try { const r = await fetch(url + path, { signal: AbortSignal.timeout(2000) }); await r.arrayBuffer(); console.log(JSON.stringify([path, r.status, Date.now()])); }
        catch (e) { console.log(JSON.stringify([path, 0, Date.now()])); }
        await new Promise((r) => setTimeout(r, 50));
      }`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => { out += c.toString("utf8"); });
    const exited = new Promise((r) => child.once("exit", r));
    const deadline = Date.now() + 10_000;
    while (!out.includes("started")) {
      if (Date.now() > deadline) assert.fail("the prober did not start");
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200));
    const blockStart = Date.now();
    while (Date.now() - blockStart < 1800) { /* a synchronous flow step, holding the main thread */ }
    const blockEnd = Date.now();
    await exited;
    const answers = out.split("\n").filter((l) => l.startsWith("[")).map((l) => JSON.parse(l) as [string, number, number]);
    const during = answers.filter(([, , at]) => at > blockStart + 100 && at < blockEnd);
    const readyDuring = during.filter(([p]) => p === "/ready");
    assert.ok(readyDuring.length >= 3, `/ready answered while the main thread was blocked: ${JSON.stringify(during)}`);
    assert.ok(readyDuring.every(([, status]) => status === 200), JSON.stringify(readyDuring));
    assert.ok(during.some(([p, status, at]) => p === "/health" && status === 503 && at > blockStart + 800), `a stuck main thread fails /health: ${JSON.stringify(during)}`);
    const healthAfter = answers.filter(([p, , at]) => p === "/health" && at > blockEnd + 300);
    assert.ok(healthAfter.length > 0 && healthAfter.every(([, status]) => status === 200), `healthy again once it ticks: ${JSON.stringify(healthAfter)}`);
  });
});
