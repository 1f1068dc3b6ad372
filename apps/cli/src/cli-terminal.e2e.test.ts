import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadFixture } from "@flowplane/testkit";
import { runCli, runCliInPty, type CliResult } from "./testing/cli.js";
import { startTestServer, type TestServer } from "./testing/server.js";

/**
 * A flow's answer is text its publisher (a global bundle is another team's) or its model chose:
 * `invoke` at a terminal must show it, not hand the terminal an escape sequence to act on (OSC 0
 * retitles the window; OSC 52 writes the clipboard). Piped, the answer stays byte for byte.
 */
describe("invoke at a terminal shows control characters instead of sending them", { timeout: 300_000 }, () => {
  let server: TestServer;
  let home: string;
  const env = () => ({ HOME: home, FLOWPLANE_CONFIG: join(home, "config.json"), FLOWPLANE_SERVER: server.url, FLOWPLANE_ACCESS_KEY: server.adminKey, FLOWPLANE_PROJECT: "term" });
  const fp = (args: string[]): Promise<CliResult> => runCli(args, { env: env(), cwd: home });
  const ok = (r: CliResult) => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  const TITLE = "\u001b]0;owned\u0007";

  before(async () => {
    server = await startTestServer();
    home = await mkdtemp(join(tmpdir(), "fp-cli-term-"));
    ok(await fp(["projects", "create", "term"]));
    // The no-LLM memory chatbot answers its prompt: the publisher's template, escape sequence included.
    const flow = loadFixture("memory-chatbot-no-llm") as { data: { nodes: { data: { type: string; node: { template: Record<string, { value?: unknown }> } } }[] } };
    const prompt = flow.data.nodes.find((n) => n.data.type === "Prompt")!.data.node.template.template!;
    prompt.value = `${TITLE}${String(prompt.value)}`;
    await writeFile(join(home, "titled.json"), JSON.stringify(flow));
    ok(await fp(["publish", join(home, "titled.json"), "--name", "titled", "--tag", "1"]));
    ok(await fp(["deploy", "--name", "Titled", "--bundle", "titled@1", "--engine", "native", "--wait"]));
  });
  after(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("plain and streamed: the escape is written as \\u{1b}, never raw", async () => {
    for (const extra of [[], ["--stream"]]) {
      const pty = runCliInPty(["invoke", "Titled", "--input", "hello", ...extra], { env: env() });
      assert.equal(await pty.exited, 0, pty.output());
      assert.ok(pty.output().includes("\\u{1b}]0;owned\\u{7}"), pty.output());
      assert.ok(!pty.output().includes("\u001b]0;owned"), `raw escape sequence reached the terminal: ${JSON.stringify(pty.output())}`);
    }
  });

  it("piped: the answer is unchanged", async () => {
    const r = ok(await fp(["invoke", "Titled", "--input", "hello"]));
    assert.ok(r.stdout.includes(TITLE), JSON.stringify(r.stdout));
  });
});
