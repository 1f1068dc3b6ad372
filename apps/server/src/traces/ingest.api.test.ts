import assert from "node:assert/strict";
import { connect, type AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { traceBytes, type NewRun, type RunTrace } from "@flowplane/core";
import { MAX_TRACES_PER_BATCH } from "@flowplane/core/api";
import { stepWallClock } from "@flowplane/testkit";
import { memoryLogger } from "@flowplane/logging";
import { personaChatbot } from "../persona-flow.js";
import { TraceIngest } from "./ingest.js";
import { startTestControlPlane, type TestControlPlane } from "../test-harness.js";

/**
 * The traces a replica sends (internal endpoint) and the API that shows them (issue #19 item 2),
 * on the real API and store (PGlite): only the deployment's own identity token may send; a trace
 * that breaks the contract is refused alone, named in the answer (a batch of nothing else, or no
 * batch at all, is a 400 naming the field); a trace is joined to its run by request
 * id, its tokens fill the run's; viewers of other projects see nothing; retention prunes traces.
 */
describe("run traces: ingest and API", () => {
  let t: TestControlPlane;
  let p: string;
  let ids: [string, string];
  const span = (id: string, status: "ok" | "error" = "ok") => ({
    componentId: id, componentType: "Prompt", name: id, start: "2026-01-01T00:00:00.010Z", durationMs: 4.5, status,
    error: status === "error" ? "boom" : null, tokens: status === "ok" ? { input: 3, output: 4, total: 7 } : null,
  });
  const trace = (requestId: string, over: Partial<RunTrace> = {}): RunTrace => ({
    requestId, flowId: "flow-1", revision: 1, engine: "native", start: "2026-01-01T00:00:00.000Z", durationMs: 20, status: "ok",
    error: null, tokens: { input: 3, output: 4, total: 7 }, spans: [span("A"), span("B")], ...over,
  });
  const run = (deploymentId: string, requestId: string): NewRun => ({
    time: new Date().toISOString(), deploymentId, projectId: p, revision: 1, flowId: "flow-1", route: "http", tool: null,
    caller: { userId: null, keyId: null }, sessionId: null, requestId, method: "POST", status: 200, latencyMs: 25, tokens: null, errorCode: null,
  });
  const send = (deploymentId: string, body: unknown, token: string | null = t.cp.tokens.issue(deploymentId)) =>
    t.call("POST", `/internal/v1/deployments/${deploymentId}/traces`, { key: null, body, ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
  const runOf = async (deploymentId: string, requestId: string) =>
    ((await t.call("GET", `/api/v1/projects/${p}/deployments/${deploymentId}/runs`)).json.items as { id: string; requestId: string; tokens?: unknown }[]).find((r) => r.requestId === requestId)!;

  before(async () => {
    t = await startTestControlPlane();
    p = await t.project("traces");
    assert.equal((await t.call("POST", "/api/v1/bundles", { body: { name: "persona", versionTag: "1", accessLevel: "global", flows: [personaChatbot()] } })).status, 201);
    const made: string[] = [];
    for (const name of ["T1", "T2"]) {
      const d = await t.call("POST", `/api/v1/projects/${p}/deployments`, { body: { displayName: name, bundle: { name: "persona", version: "1" }, networkAccess: "public", credentials: { OPENAI_API_KEY: "sk-x" } } });
      assert.equal(d.status, 201, d.text);
      made.push(d.json.id as string);
    }
    ids = made as [string, string];
  });
  after(async () => {
    await t?.close();
  });

  it("only the deployment's own identity token may send its traces", async () => {
    assert.equal((await send(ids[0], { traces: [trace("r-auth")] }, null)).status, 401);
    assert.equal((await send(ids[0], { traces: [trace("r-auth")] }, "fpd_forged.x")).status, 401);
    const other = await send(ids[0], { traces: [trace("r-auth")] }, t.cp.tokens.issue(ids[1]));
    assert.equal(other.status, 403);
    assert.equal(await t.store.getTrace(ids[0], "r-auth"), null);
  });

  it("the token is checked before the body is read: no body of anyone's is parsed or held (the endpoint is on the public port)", async () => {
    // Malformed, too deep, or larger than the limit: without the deployment's own token it is its 401/403, not a 400/413.
    const deep = `{"traces":${"[".repeat(200)}${"]".repeat(200)}}`;
    for (const payload of ["{not json", deep]) {
      const none = await t.call("POST", `/internal/v1/deployments/${ids[0]}/traces`, { key: null, payload, headers: { "content-type": "application/json" } });
      assert.equal(none.status, 401, none.text);
      const other = await t.call("POST", `/internal/v1/deployments/${ids[0]}/traces`, { key: null, payload, headers: { "content-type": "application/json", authorization: `Bearer ${t.cp.tokens.issue(ids[1])}` } });
      assert.equal(other.status, 403, other.text);
    }
    // On a real socket: 9 MiB announced, not one byte sent; the answer comes on the headers alone.
    await t.cp.app.listen({ host: "127.0.0.1", port: 0 });
    const s = connect((t.cp.app.server.address() as AddressInfo).port, "127.0.0.1");
    s.write(`POST /internal/v1/deployments/${ids[0]}/traces HTTP/1.1\r\nHost: cp\r\ncontent-type: application/json\r\ncontent-length: ${9 * 1024 * 1024}\r\n\r\n`);
    const answer = await new Promise<string>((resolve, reject) => {
      let text = "";
      const timer = setTimeout(() => reject(new Error(`no answer before the body; got ${JSON.stringify(text)}`)), 5_000);
      s.on("data", (b: Buffer) => { text += b.toString("latin1"); if (/"unauthenticated"/.test(text)) { clearTimeout(timer); resolve(text); } });
    });
    s.destroy();
    assert.match(answer, /^HTTP\/1\.1 401 /);
  });

  it("a trace that breaks the contract is refused alone: the good ones beside it are stored, the bad named; a batch of nothing else is a 400", async () => {
    const bad = { ...trace("r-bad"), spans: [{ ...span("A"), status: "maybe" }] };
    const r = await send(ids[0], { traces: [trace("r-good"), bad, trace("r-good-2"), { ...trace("r-bad-2"), start: "yesterday" }] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.stored, 2);
    assert.equal(r.json.ignored, 0);
    assert.equal(r.json.refused, 2);
    assert.deepEqual((r.json.errors as { field: string }[]).map((e) => e.field), ["traces.1.spans.0.status", "traces.3.start"]);
    assert.notEqual(await t.store.getTrace(ids[0], "r-good"), null);
    assert.notEqual(await t.store.getTrace(ids[0], "r-good-2"), null);
    assert.equal(await t.store.getTrace(ids[0], "r-bad"), null);
    assert.equal(await t.store.getTrace(ids[0], "r-bad-2"), null);
    // Nothing good in it: a 400 naming the field, as a batch that is no batch.
    const none = await send(ids[0], { traces: [{ ...bad, requestId: "r-bad-3" }] });
    assert.equal(none.status, 400, none.text);
    assert.match(none.json.error.message, /traces\.0\.spans\.0\.status/);
    assert.equal((await send(ids[0], { traces: "nope" })).status, 400);
    assert.equal((await send(ids[0], { traces: [], extra: 1 })).status, 400, "the envelope is strict");
    assert.equal((await send(ids[0], { traces: Array.from({ length: MAX_TRACES_PER_BATCH + 1 }, (_, i) => trace(`r-many-${i}`)) })).status, 400, "and bounded");
  });

  it("refused traces are logged once a minute per deployment at most, with the count since the last line", async () => {
    let now = 0;
    const logs = memoryLogger();
    const ingest = new TraceIngest({ store: t.store, verifier: { verify: async () => ids[0] }, log: logs.log, now: () => now });
    const grant = await ingest.authorize(ids[0], "token");
    const bad = (id: string) => ({ ...trace(id), durationMs: -1 });
    const said = () => logs.lines.filter((l) => l.msg.startsWith("traces: traces that break")).map((l) => (l as { refused?: number }).refused);
    for (let i = 0; i < 5; i++) assert.equal((await ingest.receive(grant, { traces: [trace(`w-ok-${i}`), bad(`w-bad-${i}`)] })).refused, 1);
    assert.deepEqual(said(), [1], "one line for five batches");
    now += 60_000;
    await ingest.receive(grant, { traces: [trace("w-ok-5"), bad("w-bad-5")] });
    assert.deepEqual(said(), [1, 5], "the next minute's line counts the four held back and its own");
  });

  it("a time or revision the store cannot hold is a 400 naming the field, not a 500 at the INSERT", async () => {
    // A replica runs the deployment's own code: what it sends is as untrusted as any API body.
    const cases: [string, unknown, RegExp][] = [
      ["r-time", { traces: [trace("r-time", { start: "not a time" })] }, /traces\.0\.start/],
      ["r-time-empty", { traces: [trace("r-time-empty", { start: "" })] }, /traces\.0\.start/],
      ["r-span-time", { traces: [trace("r-span-time", { spans: [{ ...span("A"), start: "yesterday" }] })] }, /traces\.0\.spans\.0\.start/],
      ["r-rev", { traces: [trace("r-rev", { revision: 2 ** 31 })] }, /traces\.0\.revision/],
    ];
    for (const [requestId, body, field] of cases) {
      const r = await send(ids[0], body);
      assert.equal(r.status, 400, `${requestId}: ${r.text}`);
      assert.match(r.json.error.message, field);
      assert.equal(await t.store.getTrace(ids[0], requestId), null);
    }
    assert.equal((await send(ids[0], { traces: [trace("r-offset", { start: "2026-01-01T01:00:00.000+01:00" })] })).status, 200, "a zone offset is a time");
  });

  it("a stored trace is the run's trace (joined by request id); its tokens are the run's; a second one for the same request is ignored", async () => {
    await t.store.insertRuns([run(ids[0], "r-1"), run(ids[0], "r-none")]);
    assert.equal((await send(ids[0], { traces: [trace("r-1", { status: "error", error: "boom", spans: [span("A"), span("B", "error")] })] })).status, 200);
    assert.equal((await send(ids[0], { traces: [trace("r-1", { flowId: "other" })] })).status, 200);
    const r = await runOf(ids[0], "r-1");
    assert.deepEqual(r.tokens, { input: 3, output: 4, total: 7 });
    const got = await t.call("GET", `/api/v1/projects/${p}/deployments/${ids[0]}/runs/${r.id}/trace`);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.flowId, "flow-1", "the first trace stays");
    assert.equal(got.json.status, "error");
    assert.deepEqual(got.json.spans.map((s: { componentId: string; status: string }) => [s.componentId, s.status]), [["A", "ok"], ["B", "error"]]);
    const none = await runOf(ids[0], "r-none");
    const missing = await t.call("GET", `/api/v1/projects/${p}/deployments/${ids[0]}/runs/${none.id}/trace`);
    assert.equal(missing.status, 404);
    assert.match(missing.json.error.message, /no trace/);
    // A trace sent for another deployment's request id is not this run's.
    await send(ids[1], { traces: [trace("r-none")] });
    assert.equal((await t.call("GET", `/api/v1/projects/${p}/deployments/${ids[0]}/runs/${none.id}/trace`)).status, 404);
    // Someone without a role in the project sees no run, no trace.
    const stranger = await t.user("stranger");
    assert.equal((await t.call("GET", `/api/v1/projects/${p}/deployments/${ids[0]}/runs/${r.id}/trace`, { key: stranger.key })).status, 404);
  });

  it("a batch is idempotent and its answer truthful: a request id named twice, or already stored, is counted as ignored, the first trace kept", async () => {
    await t.store.insertRuns([run(ids[0], "r-dup")]);
    const first = await send(ids[0], { traces: [trace("r-dup"), trace("r-dup", { flowId: "second" }), trace("r-dup-2")] });
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.json, { stored: 2, ignored: 1, refused: 0 });
    assert.equal((await t.store.getTrace(ids[0], "r-dup"))?.flowId, "flow-1", "the batch's first trace for the id");
    // The same batch again (a replica's retry): nothing new.
    assert.deepEqual((await send(ids[0], { traces: [trace("r-dup"), trace("r-dup-2")] })).json, { stored: 0, ignored: 2, refused: 0 });
    assert.equal(Number((await t.sql.query("SELECT count(*) AS n FROM run_traces WHERE request_id LIKE 'r-dup%'")).rows[0]?.n), 2);
  });

  it("one deployment cannot flood the control plane's database: over its byte budget a batch is 429 with Retry-After, nothing stored; another deployment is not affected", async () => {
    // Through the endpoint, the default budget (32 MiB at once): batches of about 4 MiB, as a replica's largest.
    const fat = (id: string) => trace(id, { spans: Array.from({ length: 500 }, (_, i) => ({ ...span(`C${i}`), error: "e".repeat(1000), status: "error" as const })), error: "x" });
    const batch = (n: number) => ({ traces: Array.from({ length: 8 }, (_, i) => fat(`flood-${n}-${i}`)) });
    // The first refusal is the one checked: the budget refills at 2 MiB/s, so a batch sent after it
    // could pass on a slow machine.
    const statuses: number[] = [];
    let refused: Awaited<ReturnType<typeof send>> | undefined;
    let refusedAt = -1;
    for (let n = 0; n < 80 && !refused; n++) {
      const r = await send(ids[1], batch(n));
      statuses.push(r.status);
      if (r.status === 429) [refused, refusedAt] = [r, n];
    }
    assert.ok(refused, `a 429 within 80 batches: ${statuses.join(",")}`);
    assert.ok(Number(refused.headers["retry-after"]) >= 1, JSON.stringify(refused.headers));
    assert.equal(await t.store.getTrace(ids[1], `flood-${refusedAt}-0`), null, "a refused batch stores nothing");
    assert.ok(statuses.filter((x) => x === 200).length >= 5, `a burst passes first: ${statuses.join(",")}`);
    // The other deployment's budget is its own.
    assert.equal((await send(ids[0], { traces: [trace("r-after-flood")] })).status, 200);
    // Refilled with time (a clock of the test's own here).
    let now = 0;
    const ingest = new TraceIngest({ store: t.store, verifier: { verify: async () => ids[0] }, budget: { burst: 4_000, perSecond: 1_000 }, now: () => now });
    const grant = await ingest.authorize(ids[0], "token");
    const one = (id: string) => ({ traces: [trace(id)] });
    const size = JSON.stringify([trace("b-0")]).length;
    let passed = 0;
    for (let i = 0; i < 10; i++) try { await ingest.receive(grant, one(`b-${i}`)); passed++; } catch (e) { assert.equal((e as { code: string }).code, "too_many_requests"); }
    assert.equal(passed, Math.floor(4_000 / size));
    now += Math.ceil((size / 1_000) * 1000);
    assert.deepEqual(await ingest.receive(grant, one("b-later")), { stored: 1, ignored: 0, refused: 0 });
  });

  it("the byte budget refills on the monotonic clock: a wall clock stepped back an hour does not hold a deployment's traces refused for that hour", async () => {
    const size = JSON.stringify([trace("w-0")]).length;
    // Room for one batch at once, refilled in about 50 ms; the default clock.
    const ingest = new TraceIngest({ store: t.store, verifier: { verify: async () => ids[0] }, budget: { burst: size, perSecond: size * 20 } });
    const grant = await ingest.authorize(ids[0], "token");
    assert.deepEqual(await ingest.receive(grant, { traces: [trace("w-0")] }), { stored: 1, ignored: 0, refused: 0 });
    const restore = stepWallClock(-3_600_000);
    try {
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(await ingest.receive(grant, { traces: [trace("w-1")] }), { stored: 1, ignored: 0, refused: 0 }, "refilled after 200 ms");
    } finally {
      restore();
    }
  });

  it("the budget counts bytes, not characters: a text of three-byte characters spends three times its length", async () => {
    const ingest = new TraceIngest({ store: t.store, verifier: { verify: async () => ids[0] }, budget: { burst: 8_000, perSecond: 1 }, now: () => 0 });
    const grant = await ingest.authorize(ids[0], "token");
    const wide = (id: string) => trace(id, { error: "\u4e2d".repeat(900) });
    const bytes = Buffer.byteLength(JSON.stringify([wide("w-0")]));
    assert.ok(bytes > 2 * JSON.stringify([wide("w-0")]).length, "the sample is mostly three-byte characters");
    let passed = 0;
    for (let i = 0; i < 10; i++) try { await ingest.receive(grant, { traces: [wide(`w-${i}`)] }); passed++; } catch (e) { assert.equal((e as { code: string }).code, "too_many_requests"); }
    assert.equal(passed, Math.floor(8_000 / bytes));
  });

  it("each deployment keeps at most its byte budget of traces: past it its oldest are deleted, the newest kept; a trace over the whole budget is not stored; another deployment's are untouched", async () => {
    const at = (i: number) => new Date(Date.parse("2026-02-01T00:00:00.000Z") + i * 1000).toISOString();
    const big = (id: string, i: number) => trace(id, { start: at(i), input: "v".repeat(4000) });
    const size = traceBytes(big("k-00", 0));
    // The other deployment's history, stored first and far over the first one's budget.
    const theirs = Array.from({ length: 20 }, (_, i) => big(`theirs-${i}`, i));
    const other = new TraceIngest({ store: t.store, verifier: { verify: async () => ids[0] }, maxBytes: 1024 * size });
    assert.deepEqual(await other.receive(await other.authorize(ids[0], "token"), { traces: theirs }), { stored: 20, ignored: 0, refused: 0 });
    const ingest = new TraceIngest({ store: t.store, verifier: { verify: async () => ids[1] }, maxBytes: 5 * size });
    const grant = await ingest.authorize(ids[1], "token");
    for (let i = 0; i < 30; i += 3) {
      assert.deepEqual(await ingest.receive(grant, { traces: [0, 1, 2].map((j) => big(`k-${String(i + j).padStart(2, "0")}`, i + j)) }), { stored: 3, ignored: 0, refused: 0 });
    }
    const kept: string[] = [];
    for (let i = 0; i < 30; i++) if (await t.store.getTrace(ids[1], `k-${String(i).padStart(2, "0")}`)) kept.push(String(i));
    assert.deepEqual(kept, ["25", "26", "27", "28", "29"], "the newest five, the budget's worth");
    // One trace larger than the whole budget: refused (ignored), and the newest five stay.
    const huge = trace("k-huge", { start: at(40), input: "v".repeat(6 * 4000) });
    assert.ok(traceBytes(huge) > 5 * size);
    assert.deepEqual(await ingest.receive(grant, { traces: [huge] }), { stored: 0, ignored: 1, refused: 0 });
    assert.equal(await t.store.getTrace(ids[1], "k-huge"), null);
    assert.ok(await t.store.getTrace(ids[1], "k-25"));
    for (const x of theirs) assert.ok(await t.store.getTrace(ids[0], x.requestId), `${x.requestId} is still there`);
  });

  it("the control plane's traceMaxBytes is the endpoint's budget: through HTTP, the newest traces within it are kept", async () => {
    const at = (i: number) => new Date(Date.parse("2026-03-01T00:00:00.000Z") + i * 1000).toISOString();
    const size = traceBytes(trace("h-0", { start: at(0) }));
    const small = await startTestControlPlane({ traceMaxBytes: 3 * size });
    try {
      for (let i = 0; i < 6; i++) {
        const r = await small.call("POST", "/internal/v1/deployments/dep-h/traces", { key: null, body: { traces: [trace(`h-${i}`, { start: at(i) })] }, headers: { authorization: `Bearer ${small.cp.tokens.issue("dep-h")}` } });
        assert.equal(r.status, 200, r.text);
      }
      const kept: number[] = [];
      for (let i = 0; i < 6; i++) if (await small.store.getTrace("dep-h", `h-${i}`)) kept.push(i);
      assert.deepEqual(kept, [3, 4, 5]);
    } finally {
      await small.close();
    }
  });

  it("inputs and outputs a replica sent are stored and shown with the trace; a trace without them has none; a value over the bound is a 400", async () => {
    await t.store.insertRuns([run(ids[0], "r-io"), run(ids[0], "r-noio")]);
    const withIO = trace("r-io", { input: "hello [redacted]", output: null, spans: [{ ...span("A"), inputs: { input_value: "hello [redacted]" }, outputs: { message: "hi" } }] });
    assert.equal((await send(ids[0], { traces: [withIO, trace("r-noio")] })).status, 200);
    const got = (await t.call("GET", `/api/v1/projects/${p}/deployments/${ids[0]}/runs/${(await runOf(ids[0], "r-io")).id}/trace`)).json;
    assert.equal(got.input, "hello [redacted]");
    assert.equal(got.output, null);
    assert.deepEqual(got.spans[0].inputs, { input_value: "hello [redacted]" });
    assert.deepEqual(got.spans[0].outputs, { message: "hi" });
    const plain = (await t.call("GET", `/api/v1/projects/${p}/deployments/${ids[0]}/runs/${(await runOf(ids[0], "r-noio")).id}/trace`)).json;
    assert.equal("input" in plain || "output" in plain || "inputs" in plain.spans[0], false, JSON.stringify(plain));
    const big = await send(ids[0], { traces: [trace("r-big", { input: "x".repeat(70_000) })] });
    assert.equal(big.status, 400);
    assert.match(big.json.error.message, /traces\.0\.input/);
  });

  it("retention prunes traces with the runs: by age, then per deployment the newest kept", async () => {
    const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
    await t.store.insertTraces(ids[1], [trace("r-old", { start: ago(10 * 3_600_000), input: "kept input" }), trace("r-a", { start: ago(120_000), input: "kept input" }), trace("r-b", { start: ago(60_000) })]);
    assert.equal((await t.store.getTrace(ids[1], "r-old"))?.input, "kept input");
    await t.store.pruneRuns({ maxAgeMs: 5 * 3_600_000, maxPerDeployment: 1 }, new Date());
    assert.equal(await t.store.getTrace(ids[1], "r-old"), null, "older than the age limit");
    assert.equal(await t.store.getTrace(ids[1], "r-a"), null, "over the per-deployment count");
    assert.equal((await t.store.getTrace(ids[1], "r-b"))?.requestId, "r-b", "the newest is kept");
    // The inputs and outputs are in the trace's row: nothing of them outlives it.
    assert.equal(Number((await t.sql.query("SELECT count(*) AS n FROM run_traces WHERE io::text LIKE '%kept input%'")).rows[0]?.n), 0);
  });
});
