import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { startProbeServer, type ProbeServer } from "./probe-server.js";

/**
 * The probe listener: what it answers, and that it answers from the main thread's own event
 * loop, so a main thread stuck in one synchronous step answers nothing until it is free (the
 * driver's timeout and failure threshold decide what that means). The probes come from another
 * process, which records when each answer arrived.
 */
describe("probe listener", () => {
  let probes: ProbeServer;
  before(async () => {
    probes = await startProbeServer({ host: "127.0.0.1", port: 0 });
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
    probes.publish("failed", 2);
    assert.deepEqual(await ready(), [503, "failed"]);
    probes.publish("ready", 2);
    assert.equal((await fetch(`${probes.url}/health`)).status, 200);
    assert.equal((await fetch(`${probes.url}/flows`)).status, 404, "probes only");
    assert.equal((await fetch(`${probes.url}/ready`, { method: "POST" })).status, 405);
    const head = await fetch(`${probes.url}/ready`, { method: "HEAD" });
    assert.equal(head.status, 200);
  });

  it("a stuck main thread answers no probe until it is free, then answers again at once", async () => {
    // The prober: every 50 ms for 2.5 s, one line per answer: [path, status, time it arrived].
    const script = `
      const url = ${JSON.stringify(probes.url)}; const end = Date.now() + 2500; let i = 0;
      console.log("started");
      while (Date.now() < end) {
        const path = i++ % 2 ? "/health" : "/ready";
        const sent = Date.now();
        try { const r = await fetch(url + path, { signal: AbortSignal.timeout(3000) }); await r.arrayBuffer(); console.log(JSON.stringify([path, r.status, sent, Date.now()])); }
        catch (e) { console.log(JSON.stringify([path, 0, sent, Date.now()])); }
        await new Promise((r) => setTimeout(r, 50));
      }`;
    probes.publish("ready", 1);
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => { out += c.toString("utf8"); });
    const exited = new Promise((r) => child.once("exit", r));
    const deadline = Date.now() + 10_000;
    while (!out.includes("started")) {
      if (Date.now() > deadline) assert.fail("the prober did not start");
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 300));
    const blockStart = Date.now();
    while (Date.now() - blockStart < 1000) { /* a synchronous flow step, holding the main thread */ }
    const blockEnd = Date.now();
    await exited;
    const answers = out.split("\n").filter((l) => l.startsWith("[")).map((l) => JSON.parse(l) as [string, number, number, number]);
    assert.ok(answers.every(([, status]) => status === 200), `every probe answered 200 in the end: ${JSON.stringify(answers)}`);
    assert.ok(answers.some(([, , sent]) => sent < blockStart - 100), "answered before the block");
    const during = answers.filter(([, , , at]) => at > blockStart + 50 && at < blockEnd - 50);
    assert.deepEqual(during, [], "nothing answered while the main thread was stuck");
    const held = answers.find(([, , sent, at]) => sent < blockStart + 500 && at >= blockEnd - 5);
    assert.ok(held, `a probe sent during the block was answered once it ended: ${JSON.stringify(answers)}`);
    const after = answers.filter(([, , sent]) => sent > blockEnd + 50);
    assert.ok(after.length > 3 && after.every(([, , sent, at]) => at - sent < 500), `prompt again once free: ${JSON.stringify(after)}`);
  });

  it("does not hold a connection that sends nothing, or drips its headers, for more than a few seconds; probes go on", async (t) => {
    const port = Number(new URL(probes.url).port);
    const open = (): Promise<{ closedAt: Promise<number>; write(s: string): void }> =>
      new Promise((resolve, reject) => {
        const socket = connect(port, "127.0.0.1");
        socket.on("error", () => undefined);
        const closedAt = new Promise<number>((r) => socket.once("close", () => r(Date.now())));
        socket.once("connect", () => resolve({ closedAt, write: (s) => void (socket.destroyed || socket.write(s)) }));
        socket.once("error", reject);
        t.after(() => socket.destroy());
      });
    const started = Date.now();
    const silent = await open();
    const dripping = await open();
    // A header line every 500 ms: never silent for long, never done.
    dripping.write("GET /ready HTTP/1.1\r\n");
    const drip = setInterval(() => dripping.write("x-drip: 1\r\n"), 500);
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<number>((r) => (timer = setTimeout(() => r(Infinity), 9_000)));
    try {
      // The listener still answers a real prober meanwhile.
      assert.equal((await fetch(`${probes.url}/health`)).status, 200);
      const [silentAt, drippingAt] = await Promise.all([Promise.race([silent.closedAt, limit]), Promise.race([dripping.closedAt, limit])]);
      assert.ok(silentAt - started < 8_000, `a silent connection was closed (after ${silentAt - started} ms)`);
      assert.ok(drippingAt - started < 8_000, `a dripping connection was closed (after ${drippingAt - started} ms)`);
    } finally {
      clearInterval(drip);
      clearTimeout(timer);
    }
    assert.equal((await fetch(`${probes.url}/health`)).status, 200);
  });
});
