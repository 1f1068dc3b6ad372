import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fixturePath } from "@flowplane/testkit";
import { runCli, type CliResult } from "./testing/cli.js";
import { startTestServer, type TestServer } from "./testing/server.js";

/**
 * From a fresh install to an application calling a deployment, with the `flowplane` binary
 * only: a machine user, a viewer role, a key printed once, a call through the gateway with
 * that key, then the key revoked and the call refused within the documented 5 seconds.
 */
describe("users, members and keys from the CLI", { timeout: 240_000 }, () => {
  let server: TestServer;
  let home: string;
  const fp = (args: string[], key?: string): Promise<CliResult> => runCli(args, {
    env: { HOME: home, FLOWPLANE_CONFIG: join(home, "config.json"), FLOWPLANE_SERVER: server.url, FLOWPLANE_ACCESS_KEY: key ?? server.adminKey, FLOWPLANE_PROJECT: "apps" },
    cwd: home,
  });
  const ok = (r: CliResult) => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  const json = async (args: string[], key?: string) => JSON.parse(ok(await fp([...args, "-o", "json"], key)).stdout);

  before(async () => {
    server = await startTestServer({});
    home = await mkdtemp(join(tmpdir(), "fp-cli-people-"));
    ok(await fp(["projects", "create", "apps"]));
    ok(await fp(["publish", fixturePath("simple-chat-no-llm"), "--name", "echo", "--tag", "v1"]));
    ok(await fp(["deploy", "--name", "Echo", "--bundle", "echo@v1", "--engine", "native", "--wait"]));
  });
  after(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("creates a machine user, gives it a role, makes a key that calls the deployment, and revokes it", async () => {
    const bot = await json(["users", "add", "support-app", "--kind", "machine"]);
    assert.equal(bot.kind, "machine");
    assert.match(ok(await fp(["users", "list"])).stdout, /support-app\s+\S+\s+machine\s+active/);

    ok(await fp(["members", "add", "support-app", "--role", "editor"]));
    ok(await fp(["members", "set-role", bot.id, "--role", "viewer"]));
    const members = await json(["members", "list"]);
    assert.deepEqual(members.map((m: { userName: string; role: string }) => [m.userName, m.role]), [["support-app", "viewer"]]);

    // The key alone on stdout, once; the note on stderr.
    const created = ok(await fp(["keys", "create", "--user", "support-app", "--days", "30"]));
    const key = created.stdout.trim();
    assert.match(key, /^fp_[A-Za-z0-9_-]{43}$/);
    assert.doesNotMatch(created.stderr, new RegExp(key.slice(3)));
    assert.match(created.stderr, /shown only this once/);
    const listed = ok(await fp(["keys", "list", "--user", "support-app"]));
    assert.doesNotMatch(listed.stdout, new RegExp(key.slice(3)), "never the key again");
    assert.match(listed.stdout, /live\s+\S+\s+\S+\s+never/, "not used yet");

    // The application calls the deployment through the gateway with its own key.
    assert.equal(ok(await fp(["invoke", "Echo", "--input", "hello"], key)).stdout.trim(), "hello");
    const used = (await json(["keys", "list", "--user", "support-app"]))[0];
    assert.ok(used.lastUsedAt, "its last use is recorded");
    // As a viewer it may not change anything, nor raise its own role (exit 4).
    const escalate = await fp(["members", "set-role", "me", "--role", "owner"], key);
    assert.equal(escalate.code, 4, escalate.stderr);
    assert.equal((await fp(["users", "list"], key)).code, 4);
    // Its second key is allowed (rotation); a third is a conflict (exit 6).
    ok(await fp(["keys", "create", "--days", "1"], key));
    const third = await fp(["keys", "create", "--user", bot.id, "--days", "1"]);
    assert.equal(third.code, 6, third.stderr);
    assert.equal((await fp(["keys", "create", "--user", bot.id, "--days", "366"])).code, 3);

    const revoked = await json(["keys", "revoke", used.id]);
    assert.ok(revoked.revokedAt);
    // Refused within the documented 5 s (the gateway caches a key at most 4 s).
    const deadline = Date.now() + 5_000;
    let last: CliResult;
    do last = await fp(["invoke", "Echo", "--input", "again"], key);
    while (last.code === 0 && Date.now() < deadline);
    assert.equal(last.code, 4, `still served after 5 s: ${last.stdout}${last.stderr}`);
  });

  it("deactivates a user: its keys stop working", async () => {
    const bot = await json(["users", "add", "leaver", "--kind", "machine"]);
    ok(await fp(["members", "add", bot.id, "--role", "viewer"]));
    const key = ok(await fp(["keys", "create", "--user", bot.id, "--days", "1"])).stdout.trim();
    ok(await fp(["list"], key));
    assert.match(ok(await fp(["users", "deactivate", "leaver"])).stdout, /deactivated/);
    assert.equal((await fp(["list"], key)).code, 4);
    ok(await fp(["members", "remove", "leaver"]));
    assert.equal((await fp(["members", "remove", "leaver"])).code, 5);
  });

  it("completes the new commands and their option values", async () => {
    const script = ok(await fp(["completion", "bash"])).stdout;
    assert.match(script, /"keys"\) echo "list create revoke/);
    assert.match(script, /"members"\) echo "list add set-role remove/);
    assert.match(script, /--role\) COMPREPLY=\(\$\(compgen -W "viewer editor owner"/);
    assert.match(script, /--user\) _flowplane_names flowplane users list -o name;/);
  });
});
