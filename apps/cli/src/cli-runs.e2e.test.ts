import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fixturePath, waitFor } from "@flowplane/testkit";
import { CLI_BIN, cliEnv, runCli, type CliResult } from "./testing/cli.js";
import { startTestServer, type TestServer } from "./testing/server.js";

/**
 * `flowplane runs` and `flowplane logs [-f]` against a running server and real replicas: the
 * run history as a table (a failure with its status and error code), filters, the logs without
 * probe lines, and -f printing a line written after it started.
 */
describe("runs and logs from the CLI", { timeout: 300_000 }, () => {
  let server: TestServer;
  let home: string;
  let http: string;
  const env = () => ({ HOME: home, FLOWPLANE_CONFIG: join(home, "config.json"), FLOWPLANE_SERVER: server.url, FLOWPLANE_ACCESS_KEY: server.adminKey, FLOWPLANE_PROJECT: "obs" });
  const fp = (args: string[]): Promise<CliResult> => runCli(args, { env: env(), cwd: home });
  const ok = (r: CliResult) => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  /** A call's label (its x-request-id: only a correlation attribute) to the gateway's own id of it, which names its run. */
  const idOf = new Map<string, string>();
  const rid = (label: string) => idOf.get(label)!;
  const post = async (path: string, body: unknown, label: string) => {
    const res = await fetch(`${http}${path}`, {
      method: "POST", headers: { "x-access-key": server.adminKey, "content-type": "application/json", "x-request-id": label }, body: JSON.stringify(body),
    });
    idOf.set(label, res.headers.get("x-request-id") ?? "");
    return res;
  };

  before(async () => {
    server = await startTestServer();
    home = await mkdtemp(join(tmpdir(), "fp-cli-runs-"));
    ok(await fp(["projects", "create", "obs"]));
    ok(await fp(["publish", fixturePath("simple-chat-no-llm"), "--name", "echo", "--tag", "1"]));
    ok(await fp(["deploy", "--name", "Echo", "--bundle", "echo@1", "--wait"]));
    http = JSON.parse(ok(await fp(["get", "Echo", "-o", "json"])).stdout).endpoints.http;
  });
  after(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("runs: a table of the calls, the failed one with its status and error code; --status filters", async () => {
    assert.equal((await post("/api/v1/run/nope", { input_value: "x" }, "cli-bad-1")).status, 404);
    const flows = (await (await fetch(`${http}/flows`, { headers: { "x-access-key": server.adminKey } })).json()) as { id: string }[];
    assert.equal((await post(`/api/v1/run/${flows[0]!.id}`, { input_value: "x", session_id: "chat-1" }, "cli-ok-1")).status, 200);
    const table = await waitFor(async () => {
      const r = ok(await fp(["runs", "Echo"]));
      return r.stdout.includes(rid("cli-ok-1")) ? r.stdout : null;
    }, { timeoutMs: 10_000, intervalMs: 200, message: "the runs are listed" });
    assert.match(table.split("\n")[0]!, /^TIME\s+STATUS\s+LATENCY\s+ROUTE\s+CALLER\s+SESSION\s+ERROR\s+REQUEST ID/);
    assert.match(table, new RegExp(`404\\s+\\d+ ms\\s+http:nope\\s+\\S+\\s+-\\s+not_found\\s+${rid("cli-bad-1")}`));
    assert.match(table, new RegExp(`200\\s+\\d+ ms\\s+http:\\S+\\s+\\S+\\s+chat-1\\s+-\\s+${rid("cli-ok-1")}`));
    const errors = ok(await fp(["runs", "Echo", "--status", "error", "--since", "1h"])).stdout;
    assert.ok(errors.includes(rid("cli-bad-1")), errors);
    assert.ok(!errors.includes(rid("cli-ok-1")), errors);
    const bad = await fp(["runs", "Echo", "--status", "7xx"]);
    assert.equal(bad.code, 3, bad.stderr);
    assert.match(bad.stderr, /status/);
  });

  it("trace: a run's components as a waterfall (start, duration, status); an unknown run is not found", async () => {
    // The run of the previous test; its trace comes from the replica, shortly after the answer.
    const runs = JSON.parse(ok(await fp(["runs", "Echo", "-o", "json"])).stdout) as { id: string; requestId: string }[];
    const run = runs.find((r) => r.requestId === rid("cli-ok-1"))!;
    const text = await waitFor(async () => {
      const r = await fp(["trace", "Echo", run.id]);
      return r.code === 0 ? r.stdout : null;
    }, { timeoutMs: 10_000, intervalMs: 200, message: "the trace is shown" });
    assert.match(text, new RegExp(`^run ${run.id}: ok, \\d+ ms, flow \\S+, revision 1, engine native`));
    assert.match(text, /COMPONENT\s+TYPE\s+START\s+DURATION\s+WATERFALL\s+STATUS\s+TOKENS/);
    assert.match(text, /Chat Input\s+ChatInput\s+\+\d+ ms\s+\d+ ms\s+\|[ =]+\|\s+ok/);
    assert.match(text, /Chat Output\s+ChatOutput\s+\+\d+ ms\s+\d+ ms\s+\|[ =]+\|\s+ok/);
    const json = JSON.parse(ok(await fp(["trace", "Echo", run.id, "-o", "json"])).stdout) as { spans: { componentId: string }[] };
    assert.deepEqual(json.spans.map((s) => s.componentId).sort(), ["ChatInput-xDNlW", "ChatOutput-9hGOk"]);
    const missing = await fp(["trace", "Echo", "999999"]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /not found/);
  });

  it("logs: the replica's lines without probes; -f prints what comes later", async () => {
    const logs = ok(await fp(["logs", "Echo", "--tail", "1000"])).stdout;
    assert.match(logs, /^\[\w+\] \{.*"msg":"ready"/m);
    assert.doesNotMatch(logs, /\/ready|\/health/);
    // -f in its own process, until killed; a new replica (scale to 2) writes lines it must show.
    const child = spawn(CLI_BIN, ["logs", "Echo", "-f", "--tail", "0"], { env: cliEnv(env()), cwd: home, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    try {
      ok(await fp(["scale", "Echo", "--replicas", "2"]));
      await waitFor(() => /"msg":"ready"/.test(out), { timeoutMs: 60_000, intervalMs: 100, message: `-f shows the new replica's start; so far:\n${out}` });
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("inputs and outputs: edit --record-io makes them kept; trace prints the run's and each component's, shortened unless --full", async () => {
    ok(await fp(["edit", "Echo", "--record-io", "--io-max-chars", "180", "--wait"]));
    assert.match(ok(await fp(["get", "Echo"])).stdout, /Inputs\/outputs:\s+kept with traces, each value cut to 180 characters/);
    const flows = (await (await fetch(`${http}/flows`, { headers: { "x-access-key": server.adminKey } })).json()) as { id: string }[];
    const long = `${"x".repeat(170)} and ${server.adminKey} end`;
    // Each pass sends a run and looks for any run sent so far: its record and its trace arrive
    // in batches, so on a loaded machine they may land passes later.
    const sent = new Set<string>();
    const runId = await waitFor(async () => {
      const id = `cli-io-${Date.now()}`;
      assert.equal((await post(`/api/v1/run/${flows[0]!.id}`, { input_value: long }, id)).status, 200);
      sent.add(rid(id));
      const runs = JSON.parse(ok(await fp(["runs", "Echo", "-o", "json"])).stdout) as { id: string; requestId: string; revision: number | null }[];
      for (const run of runs.filter((r) => sent.has(r.requestId))) {
        const t = await fp(["trace", "Echo", run.id, "-o", "json"]);
        if (t.code === 0 && (JSON.parse(t.stdout) as { revision: number }).revision === 2) return run.id;
      }
      return null;
    }, { timeoutMs: 60_000, intervalMs: 500, message: "a traced run on revision 2" });
    const text = ok(await fp(["trace", "Echo", runId])).stdout;
    assert.match(text, /^input: {2}x{150}/m);
    assert.match(text, /^input: .*\.\.\.$/m, "shortened to one line");
    assert.match(text, /^Chat Input \(ChatInput\)$/m);
    assert.match(text, /^ {2}out message: x+/m);
    assert.equal(text.includes(server.adminKey), false);
    const full = ok(await fp(["trace", "Echo", runId, "--full"])).stdout;
    assert.match(full, /^input: {2}x{170} and \[reda… \[cut: 189 characters\]$/m);
  });
});
