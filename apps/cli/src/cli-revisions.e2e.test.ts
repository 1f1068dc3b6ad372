import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fixturePath, startFakeOpenAI, type FakeOpenAI } from "@flowplane/testkit";
import { runCli, type CliResult } from "./testing/cli.js";
import { startTestServer, type TestServer } from "./testing/server.js";

/**
 * Revisions from the `flowplane` binary against a running server: the list, the diff of two
 * (credential names only) and a rollback that --wait follows until the restored revision is
 * Ready, after which the flow really uses the restored credential.
 */
describe("revisions and rollback from the CLI", { timeout: 300_000 }, () => {
  let server: TestServer;
  let llm: FakeOpenAI;
  let home: string;
  const fp = (args: string[], input?: string): Promise<CliResult> => runCli(args, {
    env: { HOME: home, FLOWPLANE_CONFIG: join(home, "config.json"), FLOWPLANE_SERVER: server.url, FLOWPLANE_ACCESS_KEY: server.adminKey, FLOWPLANE_PROJECT: "revs" },
    input, cwd: home,
  });
  const ok = (r: CliResult) => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  const lastAuth = () => llm.requests.filter((r) => r.path.includes("chat/completions")).at(-1)?.headers.authorization;

  before(async () => {
    llm = await startFakeOpenAI();
    server = await startTestServer({ FLOWPLANE_RUNTIME_PASSTHROUGH_ENV: "OPENAI_API_BASE", OPENAI_API_BASE: llm.baseUrl });
    home = await mkdtemp(join(tmpdir(), "fp-cli-rev-"));
    ok(await fp(["projects", "create", "revs"]));
    ok(await fp(["publish", fixturePath("memory-chatbot"), "--name", "chat", "--tag", "v1"]));
    ok(await fp(["deploy", "--name", "Rev", "--bundle", "chat@v1", "--credential", "OPENAI_API_KEY=-", "--wait"], "sk-cli-one\n"));
  });
  after(async () => {
    await server?.stop();
    await llm?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("lists revisions and diffs two, naming credentials but never showing a value", async () => {
    ok(await fp(["edit", "Rev", "--credential", "OPENAI_API_KEY=-", "--log-level", "debug", "--wait"], "sk-cli-two\n"));
    const table = ok(await fp(["revisions", "Rev"])).stdout;
    assert.match(table, /^REVISION\s+AGE\s+BY\s+VERSION\s+CHANGES\n/);
    assert.match(table, /\n2 \(current\)\s+\S+\s+admin\s+chat@v1\s+credentials\.OPENAI_API_KEY, runtime\.logLevel\n/);
    assert.match(table, /\n1\s+\S+\s+admin\s+chat@v1\s+deployed\n/);
    const diff = ok(await fp(["revisions", "diff", "Rev", "1", "2"])).stdout;
    assert.equal(diff, "revision 1 -> 2\n  credential OPENAI_API_KEY: value changed\n  runtime logLevel: info -> debug\n");
    const asJson = JSON.parse(ok(await fp(["revisions", "diff", "Rev", "1", "2", "-o", "json"])).stdout);
    assert.deepEqual(asJson.credentials, { added: [], removed: [], changed: ["OPENAI_API_KEY"] });
    assert.ok(!(table + diff).includes("sk-cli"), "no credential value");
    const bad = await fp(["revisions", "diff", "Rev", "1", "two"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /<to> two: give a revision number/);
  });

  it("rolls back with --wait; the restored credential is the one the flow uses", async () => {
    ok(await fp(["invoke", "Rev", "--input", "before"]));
    assert.equal(lastAuth(), "Bearer sk-cli-two");
    const r = ok(await fp(["rollback", "Rev", "1", "--wait"]));
    assert.match(r.stdout, /"Rev": rolled back to revision 1 as revision 3 \(generation 3/);
    assert.match(r.stdout, /"Rev" is Ready: 1\/1 replicas, generation 3/);
    ok(await fp(["invoke", "Rev", "--input", "after"]));
    assert.equal(lastAuth(), "Bearer sk-cli-one");
    assert.match(ok(await fp(["get", "Rev"])).stdout, /\nRevision:\s+3\n/);
    assert.match(ok(await fp(["revisions", "Rev"])).stdout, /\n3 \(current\)\s+\S+\s+admin\s+chat@v1\s+rolled back to 1: credentials\.OPENAI_API_KEY, runtime\.logLevel\n/);
    const again = await fp(["rollback", "Rev", "3"]);
    assert.equal(again.code, 6);
    assert.match(again.stderr, /revision 3 is already the current revision/);
  });

  it("a canary: edit --canary, a new share, promote; another canary aborted; get names the live revisions", async () => {
    const started = ok(await fp(["edit", "Rev", "--log-level", "warn", "--canary", "10", "--wait"]));
    assert.match(started.stdout, /"Rev": revision 4 starts as a canary with 10% of the calls/);
    assert.match(ok(await fp(["get", "Rev"])).stdout, /\nLive revisions:\s+revision 4 \(current\) 10%, revision 3 \(stable, runs revision 1's replicas\) 90%\n/);
    assert.match(ok(await fp(["canary", "Rev", "30"])).stdout, /revision 4 \(current\) 30%, revision 3 \(stable, runs revision 1's replicas\) 70%/);
    const bad = await fp(["canary", "Rev", "100"]);
    assert.equal(bad.code, 2);
    assert.match(ok(await fp(["promote", "Rev"])).stdout, /revision 4 \(current\) 100%, revision 3 \(warm, runs revision 1's replicas\) 0%/);
    const none = await fp(["promote", "Rev"]);
    assert.equal(none.code, 6);
    assert.match(none.stderr, /has no canary under way/);
    ok(await fp(["edit", "Rev", "--log-level", "error", "--canary", "50", "--wait"]));
    assert.match(ok(await fp(["abort", "Rev"])).stdout, /revision 6 \(current, runs revision 4's replicas\) 100%, revision 5 \(warm\) 0%/);
    assert.match(ok(await fp(["events", "Rev"])).stdout, /canary of revision 5 aborted; back to revision 4/);
  });
});
