import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { fixturePath, loadFixture } from "@flowplane/testkit";
import { commandTree } from "./commands/completion.js";
import { createIo } from "./io.js";
import { buildProgram } from "./program.js";
import { runCli, type CliResult } from "./testing/cli.js";
import { startTestServer, type TestServer } from "./testing/server.js";

/**
 * The `flowplane` binary against a running server: contexts and keys, projects, publishing and
 * the Asset Library, exit codes, help and completion. (The deployment lifecycle has its own file.)
 */
describe("flowplane CLI: contexts, projects, Asset Library, exit codes", { timeout: 240_000 }, () => {
  let server: TestServer;
  let home: string;
  let config: string;
  const fp = (args: string[], o: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> =>
    runCli(args, { env: { HOME: home, FLOWPLANE_CONFIG: config, ...o.env }, input: o.input, cwd: home });
  const ok = (r: CliResult) => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  /** As the organisation owner, without a context: the environment carries server and key. */
  const admin = () => ({ FLOWPLANE_SERVER: server.url, FLOWPLANE_ACCESS_KEY: server.adminKey });

  before(async () => {
    server = await startTestServer();
    home = await mkdtemp(join(tmpdir(), "fp-cli-home-"));
    config = join(home, "cfg", "flowplane", "config.json");
  });

  after(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("login checks the key, saves it in a 0600 file in a 0700 folder, and shows only its prefix", async () => {
    const keyFile = join(home, "admin.key.copy");
    await writeFile(keyFile, `${server.adminKey}\n`);
    const r = await fp(["login", "--server", server.url, "--key-file", keyFile, "--name", "main"]);
    ok(r);
    assert.match(r.stdout, /logged in to .* as admin \(organisation owner\)/);
    assert.ok(r.stderr.includes(server.adminKey.slice(0, 10)));
    assert.ok(!(r.stdout + r.stderr).includes(server.adminKey), "the key itself is never printed");
    assert.equal((await stat(config)).mode & 0o777, 0o600);
    assert.equal((await stat(join(config, ".."))).mode & 0o777, 0o700);
    assert.equal(JSON.parse(await readFile(config, "utf8")).contexts.main.key, server.adminKey);

    const list = await fp(["context", "list"]);
    ok(list);
    assert.match(list.stdout, /\*\s+main\s+http:\/\/127\.0\.0\.1:\d+\s+stored/);
    assert.ok(!list.stdout.includes(server.adminKey));
    assert.match((await fp(["context", "current"])).stdout, new RegExp(`^main ${server.url}`));
    ok(await fp(["projects", "list"]));
  });

  it("login reads the key from stdin; a wrong key is refused with exit 4 and not saved", async () => {
    ok(await fp(["login", "--server", server.url, "--name", "piped"], { input: `${server.adminKey}\n` }));
    const bad = await fp(["login", "--server", server.url, "--name", "bad"], { input: "fp_not-a-real-key\n" });
    assert.equal(bad.code, 4);
    assert.match(bad.stderr, /error: the access key is unknown, expired or revoked/);
    const names = JSON.parse((await fp(["context", "list", "-o", "json"])).stdout).map((c: { name: string }) => c.name);
    assert.deepEqual(names.sort(), ["main", "piped"]);
    assert.equal(JSON.parse((await fp(["context", "list", "-o", "json"])).stdout)[0].key, "stored", "JSON output names where the key is, not the key");
    ok(await fp(["context", "use", "main"]));
    assert.equal((await fp(["context", "use", "nope"])).code, 5);
  });

  it("finds the admin key of a server on localhost by itself, without copying it into the contexts file", async () => {
    const bare = join(home, "bare.json");
    const env = { FLOWPLANE_CONFIG: bare, FLOWPLANE_DATA_DIR: server.dataDir };
    const r = await fp(["login", "--server", server.url.replace("127.0.0.1", "localhost"), "--name", "local"], { env });
    ok(r);
    assert.match(r.stderr, /uses the local admin key/);
    assert.equal(JSON.parse(await readFile(bare, "utf8")).contexts.local.key, undefined);
    ok(await fp(["projects", "list"], { env }));
    // Elsewhere (no admin.key in ./.flowplane), the same context has no key: 401 → exit 4 with a hint.
    const none = await fp(["projects", "list"], { env: { FLOWPLANE_CONFIG: bare } });
    assert.equal(none.code, 4);
    assert.match(none.stderr, /no access key for .*flowplane login/);
  });

  it("creates and lists projects; a taken name is a conflict (exit 6)", async () => {
    const r = await fp(["projects", "create", "support", "-o", "json"], { env: admin() });
    ok(r);
    assert.equal(JSON.parse(r.stdout).name, "support");
    ok(await fp(["projects", "create", "ops"], { env: admin() }));
    const dup = await fp(["projects", "create", "support"], { env: admin() });
    assert.equal(dup.code, 6);
    assert.match(dup.stderr, /^error: /);
    const list = await fp(["projects", "list"], { env: admin() });
    assert.match(list.stdout, /NAME\s+ID\s+ROLE/);
    assert.match(list.stdout, /ops\s+[0-9a-f-]{36}\s+org owner/);
    // Two projects and none chosen: a usage error that lists them.
    const which = await fp(["list"], { env: admin() });
    assert.equal(which.code, 2);
    assert.match(which.stderr, /choose a project with --project \(one of: .*support/);
    // The current context ("main", holding the admin key) gets a default project.
    assert.match((await fp(["context", "set-project", "support"])).stdout, /context main: default project support/);
    assert.match(ok(await fp(["list"])).stdout, /no deployments in project support/);
  });

  it("publishes a folder and a single file; bundles list and get show versions, parameters and credentials", async () => {
    const dir = join(home, "flows");
    await mkdir(dir, { recursive: true });
    await copyFile(fixturePath("simple-chat-no-llm"), join(dir, "a-echo.json"));
    await copyFile(fixturePath("memory-chatbot"), join(dir, "b-chat.json"));
    const env = { ...admin(), FLOWPLANE_PROJECT: "support" };
    const folder = await fp(["publish", dir, "--name", "both", "--tag", "v1", "--description", "two flows"], { env });
    ok(folder);
    assert.match(folder.stdout, /published both@v1 \(2 flows\)/);
    assert.match(folder.stdout, /OPENAI_API_KEY\s+credential/);

    const file = await fp(["publish", fixturePath("simple-chat-no-llm"), "--name", "echo", "--tag", "v1", "--access", "global", "-o", "json"], { env });
    ok(file);
    const v = JSON.parse(file.stdout);
    assert.equal(v.accessLevel, "global");
    assert.match(v.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal((await fp(["publish", fixturePath("simple-chat-no-llm"), "--name", "echo", "--tag", "v1", "--access", "global"], { env })).code, 6, "a tag is published once");

    const list = JSON.parse((await fp(["bundles", "list", "-o", "json"], { env })).stdout) as { name: string }[];
    assert.deepEqual(list.map((b) => b.name).sort(), ["both", "echo"]);
    const y = parseYaml((await fp(["bundles", "get", "both@latest", "-o", "yaml"], { env })).stdout);
    assert.equal(y.versionTag, "v1");
    assert.equal(y.flows.length, 2);
    const table = await fp(["bundles", "get", "both"], { env });
    assert.match(table.stdout, /VERSION\s+DIGEST/);
    assert.match(table.stdout, /v1\s+sha256:/);
    assert.equal((await fp(["bundles", "get", "nope"], { env })).code, 5);
  });

  it("a hard-coded secret and a bad default are refused with the server's messages (exit 3)", async () => {
    const flow = loadFixture("memory-chatbot") as { data: { nodes: { data: { type: string; node: { template: Record<string, { load_from_db?: boolean; value?: unknown }> } } }[] } };
    const llm = flow.data.nodes.find((n) => n.data.type === "LanguageModelComponent")!;
    llm.data.node.template.api_key = { ...llm.data.node.template.api_key, load_from_db: false, value: "sk-hard-coded" };
    const file = join(home, "hard-coded.json");
    await writeFile(file, JSON.stringify(flow));
    const env = { ...admin(), FLOWPLANE_PROJECT: "support" };
    const r = await fp(["publish", file, "--name", "leaky", "--tag", "v1"], { env });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /api_key/);
    assert.ok(!r.stderr.includes("sk-hard-coded"));
    const d = await fp(["publish", fixturePath("simple-chat-no-llm"), "--name", "x", "--tag", "v1", "--default", "NOPE=1"], { env });
    assert.equal(d.code, 3);
    assert.match(d.stderr, /defaults\.NOPE: "NOPE" is not a parameter of this bundle/);
  });

  it("exit codes: bad key 4, unknown deployment and project 5, unreachable server 8, usage 2 — never a stack trace", async () => {
    const env = { ...admin(), FLOWPLANE_PROJECT: "support" };
    const cases: [string[], Record<string, string>, number, RegExp][] = [
      [["list"], { ...env, FLOWPLANE_ACCESS_KEY: "fp_wrong" }, 4, /access key is unknown/],
      [["get", "no-such-deployment"], env, 5, /no deployment "no-such-deployment" in project support/],
      [["list"], { ...env, FLOWPLANE_PROJECT: "no-such-project" }, 5, /no project "no-such-project"/],
      [["list"], { ...env, FLOWPLANE_SERVER: "http://127.0.0.1:9" }, 8, /cannot reach the flowplane server at http:\/\/127\.0\.0\.1:9/],
      [["deploy", "--replicas"], env, 2, /option '--replicas <n>' argument missing/],
      [["frobnicate"], env, 2, /unknown command 'frobnicate'/],
      [["get"], env, 2, /missing required argument 'deployment'/],
      [["list", "-o", "xml"], env, 2, /-o xml: choose one of table, json, yaml, name/],
      [["deploy", "--name", "x", "--bundle", "echo", "--credential", "K=v4lue"], env, 2, /never taken on the command line/],
    ];
    for (const [args, e, code, message] of cases) {
      const r = await fp(args, { env: e });
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
  });

  it("--help works on every command and lists the exit codes at the top", async () => {
    const { program } = await buildProgram(createIo({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }, {}, "/"));
    const paths = commandTree(program).map((n) => n.path);
    assert.ok(paths.length >= 25, `${paths.length} commands`);
    const results = await Promise.all(paths.map((p) => fp([...(p ? p.split(" ") : []), "--help"])));
    results.forEach((r, i) => {
      assert.equal(r.code, 0, `${paths[i]} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: flowplane${paths[i] ? ` ${paths[i]}` : ""}`), paths[i]);
    });
    assert.match(results[0]!.stdout, /Exit codes:[\s\S]*3 {2}validation failed[\s\S]*8 {2}cannot reach the server/);
  });

  it("bash completion completes commands, subcommands, options and option values", async () => {
    const script = (await fp(["completion", "bash"])).stdout;
    const complete = (words: string[]) => {
      const r = spawnSync("bash", ["-c", `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _flowplane; echo "\${COMPREPLY[*]}"`], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    assert.equal(complete(["flowplane", "dep"]), "deploy");
    assert.equal(complete(["flowplane", "context", "u"]), "use");
    assert.equal(complete(["flowplane", "--project", "x", "deploy", "--rep"]), "--replicas");
    assert.equal(complete(["flowplane", "get", "-o", "y"]), "yaml");
    assert.equal(complete(["flowplane", "mcp-config", "--client", "c"]), "claude-desktop cursor");
    assert.equal((await fp(["completion", "fish"])).code, 2);
  });

  // .ci/run installs zsh, so CI always runs this; elsewhere it says why it did not.
  const noZsh = spawnSync("zsh", ["--version"]).error && !process.env.CI ? "zsh is not installed" : false;
  it("zsh completion is a valid zsh script", { skip: noZsh }, async () => {
    const check = spawnSync("zsh", ["-n", "-c", (await fp(["completion", "zsh"])).stdout]);
    assert.equal(check.error, undefined, "zsh must be installed in CI");
    assert.equal(check.status, 0, check.stderr?.toString());
  });
});
