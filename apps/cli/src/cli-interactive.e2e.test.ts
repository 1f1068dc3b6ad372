import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fixturePath } from "@flowplane/testkit";
import { runCli, runCliInPty, type CliResult, type PtySession } from "./testing/cli.js";
import { startTestServer, type TestServer } from "./testing/server.js";

const hasScript = !spawnSync("script", ["--version"]).error;

/**
 * The CLI at a terminal, driven through a pseudo-terminal (util-linux `script`): the four-step
 * deploy walk with the server's step validation, hidden credential prompts, and the undeploy
 * confirmation. The test types each answer only once its prompt has appeared.
 */
describe("flowplane at a terminal", { timeout: 180_000, skip: hasScript ? false : "util-linux `script` is not installed" }, () => {
  let server: TestServer;
  let home: string;
  const env = () => ({ HOME: home, FLOWPLANE_CONFIG: join(home, "config.json"), FLOWPLANE_SERVER: server.url, FLOWPLANE_ACCESS_KEY: server.adminKey });
  const fp = (args: string[]): Promise<CliResult> => runCli(args, { env: env(), cwd: home });
  const pty = (args: string[]) => runCliInPty(args, { env: env() });
  /** Waits for a prompt (its text up to the colon), then types the answer. */
  const answer = async (p: PtySession, prompt: RegExp, text: string) => {
    await p.expect(new RegExp(`${prompt.source}[^\\n]*: $`));
    p.line(text);
  };
  const sessions: PtySession[] = [];

  before(async () => {
    server = await startTestServer();
    home = await mkdtemp(join(tmpdir(), "fp-cli-tty-"));
    assert.equal((await fp(["projects", "create", "tty"])).code, 0);
    assert.equal((await fp(["publish", fixturePath("memory-chatbot"), "--project", "tty", "--name", "chat", "--tag", "v1"])).code, 0);
  });

  after(async () => {
    for (const s of sessions) s.kill();
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("walks the four steps, re-asks a step the server refuses, goes back from Review, and deploys", async () => {
    const p = pty(["deploy"]);
    sessions.push(p);
    await answer(p, /Display name/, "Walked");
    await answer(p, /Project \[tty\]/, "");
    await answer(p, /Bundle/, "chat");
    await answer(p, /Version \[latest\]/, "");
    for (const field of [/Network access \[public\]/, /Engine \[auto\]/, /Log level \[info\]/, /Tweaks policy \(which fields a run request may set\) \[permissive\]/, /Request timeout/]) await answer(p, field, "");
    await answer(p, /Set rate limits and scale to zero\? \(now: deployment none; per key none; scale to zero off\)/, "y");
    for (const [field, value] of [[/Rate limit, all callers together/, "5"], [/Burst, all callers together/, ""], [/Max concurrent requests, all callers together/, ""],
      [/Rate limit, each access key/, ""], [/Burst, each access key/, ""], [/Max concurrent requests, each access key/, "2"],
      [/Scale to zero: stop every replica/, "15"], [/Wake timeout/, ""]] as const) await answer(p, field, value);
    await p.expect(/Step 2 of 4: Credentials/);
    await answer(p, /Credential OPENAI_API_KEY \(required, hidden\)/, "sk-typed-secret");
    await p.expect(/Step 3 of 4: Task Configuration/);
    await answer(p, /Replicas \(1\.\.5\) \[1\]/, "9");
    for (const field of [/CPU request/, /CPU limit/, /Memory request/, /Memory limit/]) await answer(p, field, "");
    await p.expect(/Task Configuration is not valid yet:\r?\n {2}resources\.replicas: replicas must be at most 5/);
    await answer(p, /Replicas \(1\.\.5\) \[9\]/, "1");
    for (const field of [/CPU request/, /CPU limit/, /Memory request/, /Memory limit/]) await answer(p, field, "");
    const review = await p.expect(/Action \[deploy\]: $/);
    assert.match(review, /Step 4 of 4: Review/);
    assert.match(review, /Credentials: +OPENAI_API_KEY=\*{8}/);
    assert.match(review, /Bundle: +chat@latest \(v1\)/);
    assert.match(review, /Rate limits: +deployment 5\/s; per key 2 concurrent/);
    assert.match(review, /Scale to zero: +after 15 min idle \(wake timeout 60 s\)/);
    p.line("back 2");
    await answer(p, /Credential OPENAI_API_KEY \(set; Enter keeps it\)/, "");
    for (const field of [/Replicas/, /CPU request/, /CPU limit/, /Memory request/, /Memory limit/]) await answer(p, field, "");
    await answer(p, /Action \[deploy\]/, "deploy");
    assert.equal(await p.exited, 0, p.output());
    assert.match(p.output(), /deployment "Walked" created: [0-9a-f-]{36}, chat@v1/);
    assert.ok(!p.output().includes("sk-typed-secret"), "the typed credential is never echoed");

    const d = JSON.parse((await fp(["get", "Walked", "--project", "tty", "-o", "json"])).stdout);
    assert.deepEqual([d.resources.replicas, d.credentials.OPENAI_API_KEY, d.networkAccess], [1, "********", "public"]);
    assert.deepEqual(d.runtime.limits, { deployment: { requestsPerSecond: 5, burst: null, maxConcurrent: null }, perKey: { requestsPerSecond: null, burst: null, maxConcurrent: 2 } });
    assert.deepEqual(d.runtime.scaleToZero, { idleMinutes: 15, wakeTimeoutSeconds: 60 });
  });

  it("with every flag but the credential, asks only for the credential, without echo", async () => {
    const p = pty(["deploy", "--project", "tty", "--name", "Prompted", "--bundle", "chat@v1", "--network", "private"]);
    sessions.push(p);
    await answer(p, /Credential OPENAI_API_KEY \(required, hidden\)/, "sk-prompted-secret");
    assert.equal(await p.exited, 0, p.output());
    assert.match(p.output(), /deployment "Prompted" created/);
    assert.ok(!p.output().includes("sk-prompted-secret"));
    assert.equal(JSON.parse((await fp(["get", "Prompted", "--project", "tty", "-o", "json"])).stdout).networkAccess, "private");
  });

  it("asks before undeploying: no keeps the deployment (exit 1), yes removes it", async () => {
    const no = pty(["undeploy", "Prompted", "--project", "tty"]);
    sessions.push(no);
    await answer(no, /Undeploy "Prompted" .* from project tty\? .*\(y\/N\)/, "n");
    assert.equal(await no.exited, 1);
    assert.match(no.output(), /error: cancelled/);
    assert.equal((await fp(["get", "Prompted", "--project", "tty"])).code, 0);

    const yes = pty(["undeploy", "Prompted", "--project", "tty", "--wait"]);
    sessions.push(yes);
    await answer(yes, /Undeploy "Prompted"/, "y");
    assert.equal(await yes.exited, 0, yes.output());
    assert.match(yes.output(), /deployment "Prompted" is undeployed/);
    assert.match(yes.output(), /\r\x1b\[2K\[ *[\d.]+s\] Deleting/, "at a terminal, --wait rewrites one live line");
  });

  it("login at a terminal asks for the key without echo", async () => {
    const p = runCliInPty(["login", "--server", server.url, "--name", "typed"], { env: { HOME: home, FLOWPLANE_CONFIG: join(home, "typed.json") } });
    sessions.push(p);
    await answer(p, /Access key for http:\/\/127\.0\.0\.1:\d+/, server.adminKey);
    assert.equal(await p.exited, 0, p.output());
    assert.match(p.output(), /logged in to .* as admin/);
    assert.ok(!p.output().includes(server.adminKey));
  });
});
