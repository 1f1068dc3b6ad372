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
 * `flowplane top` against a running server and a real replica (the local driver, sandboxed when
 * bubblewrap works here): the calls made are counted with their errors and latency, the replica's
 * CPU and memory come from /proc, and --watch redraws.
 */
describe("top from the CLI", { timeout: 300_000 }, () => {
  let server: TestServer;
  let home: string;
  let http: string;
  const env = () => ({ HOME: home, FLOWPLANE_CONFIG: join(home, "config.json"), FLOWPLANE_SERVER: server.url, FLOWPLANE_ACCESS_KEY: server.adminKey, FLOWPLANE_PROJECT: "top" });
  const fp = (args: string[]): Promise<CliResult> => runCli(args, { env: env(), cwd: home });
  const ok = (r: CliResult) => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  const post = (path: string, body: unknown) => fetch(`${http}${path}`, {
    method: "POST", headers: { "x-access-key": server.adminKey, "content-type": "application/json" }, body: JSON.stringify(body),
  });

  before(async () => {
    // A sample a second, so the replica's CPU rate (two readings) comes quickly.
    server = await startTestServer({ FLOWPLANE_METRICS_SAMPLE_SECONDS: "1" });
    home = await mkdtemp(join(tmpdir(), "fp-cli-top-"));
    ok(await fp(["projects", "create", "top"]));
    ok(await fp(["publish", fixturePath("simple-chat-no-llm"), "--name", "echo", "--tag", "1"]));
    ok(await fp(["deploy", "--name", "Echo", "--bundle", "echo@1", "--wait"]));
    http = JSON.parse(ok(await fp(["get", "Echo", "-o", "json"])).stdout).endpoints.http;
  });
  after(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("a row per deployment: the calls counted with their errors and latency, the ready replica, its CPU and memory", async () => {
    const flows = (await (await fetch(`${http}/flows`, { headers: { "x-access-key": server.adminKey } })).json()) as { id: string }[];
    for (let i = 0; i < 3; i++) assert.equal((await post(`/api/v1/run/${flows[0]!.id}`, { input_value: `hello ${i}` })).status, 200);
    assert.equal((await post("/api/v1/run/nope", { input_value: "x" })).status, 404);
    // The run history is written in batches, and CPU needs two samples: wait for both.
    let last = "";
    const row = await waitFor<Record<string, unknown> | null>(async () => {
      last = ok(await fp(["top", "-o", "json"])).stdout;
      const r = (JSON.parse(last) as Record<string, unknown>[]).find((x) => x.name === "Echo");
      // 4 runs: the 3 flow runs and the run of a flow that is not there (404). Listing the flows is a call, not a run (docs/runs-and-logs.md).
      // In flight is a sample (one a second here): read until it is one taken after the calls ended.
      return r && r.requests === 4 && r.cpuCores !== null && r.inFlight === 0 ? r : null;
    }, { timeoutMs: 30_000, intervalMs: 500, message: "top counts the 4 runs, measures the replica and sees nothing in flight" })
      .catch((e: Error) => { throw new Error(`${e.message}\ntop's last answer: ${last}`); });
    assert.equal(row.errors, 1);
    assert.equal(row.serverErrors, 0);
    assert.equal(row.window, "5m");
    assert.equal(row.replicasReady, 1);
    assert.equal(row.replicasDesired, 1);
    assert.ok(typeof row.p50 === "number" && row.p50 > 0 && (row.p99 as number) >= row.p50, JSON.stringify(row));
    assert.ok(typeof row.cpuCores === "number" && row.cpuCores >= 0, JSON.stringify(row));
    // A replica (Node, the runtime) holds tens of MiB at least; the sum covers its process tree.
    assert.ok(typeof row.memoryBytes === "number" && row.memoryBytes > 20 * 2 ** 20, JSON.stringify(row));

    const table = ok(await fp(["top"])).stdout;
    assert.match(table.split("\n")[0]!, /^NAME\s+REV\s+REQ\/S\s+REQUESTS\s+ERRORS\s+P50\s+P99\s+IN-FLIGHT\s+READY\s+CPU\s+MEMORY$/);
    assert.match(table, /^Echo\s+1\s+0\.013\s+4\s+1 \(25%\)\s+\d+ ms\s+\d+ ms\s+0\s+1\/1\s+\d+m\s+\d+Mi$/m);
    assert.match(ok(await fp(["top", "Echo", "--window", "24h"])).stdout, /^Echo\s+1\s+0\.000\s+4\s+/m, "over a day: the same 4 runs");
  });

  it("--watch redraws until interrupted; a bad window is a usage error", async () => {
    const child = spawn(CLI_BIN, ["top", "--watch", "1"], { env: cliEnv(env()), cwd: home, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    try {
      await waitFor(() => (out.match(/^Echo\s/gm) ?? []).length >= 2, { timeoutMs: 20_000, intervalMs: 100, message: `two frames; so far:\n${out}` });
      assert.equal((out.match(/^--- \d{4}-/gm) ?? []).length >= 2, true, "piped: each frame under its time");
    } finally {
      child.kill("SIGKILL");
    }
    const bad = await fp(["top", "--window", "2h"]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--window 2h/);
  });
});
