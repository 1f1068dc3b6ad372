import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadFixture, startFakeOpenAI, type FakeOpenAI } from "@flowplane/testkit";
import { runCli, type CliResult } from "./testing/cli.js";
import { startTestServer, type TestServer } from "./testing/server.js";

/**
 * A plain parameter kept secret from the `flowplane` binary: `--credential PERSONA=@file` (PERSONA
 * binds the prompt, a plain field) deploys it as a credential, masked and never printed, and the
 * replica gets it as the same variable (the model is prompted with it); `edit --param` puts it
 * back in the clear.
 */
describe("a plain parameter kept secret, from the CLI", { timeout: 300_000 }, () => {
  const PERSONA = "persona-held-by-cli-6021";
  const DEFAULT = "persona-published-default-1206";
  let server: TestServer;
  let llm: FakeOpenAI;
  let home: string;
  const fp = (args: string[], input?: string): Promise<CliResult> => runCli(args, {
    env: { HOME: home, FLOWPLANE_CONFIG: join(home, "config.json"), FLOWPLANE_SERVER: server.url, FLOWPLANE_ACCESS_KEY: server.adminKey, FLOWPLANE_PROJECT: "secrets" },
    input, cwd: home,
  });
  const ok = (r: CliResult) => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };

  before(async () => {
    llm = await startFakeOpenAI();
    server = await startTestServer({ FLOWPLANE_RUNTIME_PASSTHROUGH_ENV: "OPENAI_API_BASE", OPENAI_API_BASE: llm.baseUrl });
    home = await mkdtemp(join(tmpdir(), "fp-cli-secret-"));
    // memory-chatbot with its prompt bound to a global variable: PERSONA, a plain parameter.
    const flow = structuredClone(loadFixture("memory-chatbot")) as { data: { nodes: { data: { type: string; node: { template: Record<string, Record<string, unknown>> } } }[] } };
    const prompt = flow.data.nodes.find((n) => n.data.type === "Prompt")!;
    prompt.data.node.template.template = { ...prompt.data.node.template.template, load_from_db: true, value: "PERSONA" };
    await writeFile(join(home, "flow.json"), JSON.stringify(flow));
    await writeFile(join(home, "key.txt"), "sk-cli-secret-key\n");
    await writeFile(join(home, "persona.txt"), `${PERSONA}\n`);
    ok(await fp(["projects", "create", "secrets"]));
    ok(await fp(["publish", join(home, "flow.json"), "--name", "persona", "--tag", "v1", "--default", `PERSONA=${DEFAULT}`]));
  });
  after(async () => {
    await server?.stop();
    await llm?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("the help of deploy and edit says a plain parameter given with --credential is kept secret", async () => {
    assert.match(ok(await fp(["deploy", "--help"])).stdout, /plain parameter[\s\S]*kept secret/);
    assert.match(ok(await fp(["edit", "--help"])).stdout, /kept secret/);
  });

  it("deploy --credential PERSONA=@file holds it as a credential, and the replica runs with it", async () => {
    const deployed = ok(await fp(["deploy", "--name", "Secret", "--bundle", "persona@v1", "--credential", "OPENAI_API_KEY=@key.txt", "--credential", "PERSONA=@persona.txt", "--wait"]));
    const d = JSON.parse(ok(await fp(["get", "Secret", "-o", "json"])).stdout);
    assert.deepEqual(d.credentials, { OPENAI_API_KEY: "********", PERSONA: "********" });
    assert.ok(!("PERSONA" in d.parameters), "not a parameter, its default neither");
    const table = ok(await fp(["get", "Secret"])).stdout;
    for (const text of [deployed.stdout, deployed.stderr, JSON.stringify(d), table]) {
      assert.ok(!text.includes(PERSONA) && !text.includes(DEFAULT), "the value is never printed");
    }
    const before = llm.requests.length;
    ok(await fp(["invoke", "Secret", "--input", "hello"]));
    const sent = llm.requests.slice(before).filter((q) => q.path.endsWith("/chat/completions"));
    assert.ok(sent.length > 0, "the model was called");
    assert.ok(sent.some((q) => JSON.stringify(q.body).includes(PERSONA)), "the prompt bound to PERSONA holds the secret value");
  });

  it("edit --param moves it back into the clear; the revision names credentials.PERSONA, never its value", async () => {
    ok(await fp(["edit", "Secret", "--param", "PERSONA=in-the-clear", "--wait"]));
    const d = JSON.parse(ok(await fp(["get", "Secret", "-o", "json"])).stdout);
    assert.deepEqual({ creds: d.credentials, persona: d.parameters.PERSONA }, { creds: { OPENAI_API_KEY: "********" }, persona: "in-the-clear" });
    const revisions = ok(await fp(["revisions", "Secret"])).stdout;
    assert.match(revisions, /credentials\.PERSONA/);
    assert.ok(!revisions.includes(PERSONA));
  });
});
