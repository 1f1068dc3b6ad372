import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { parseAssignments, parseCredentialSpec, readCredentials } from "./credentials.js";
import { CliError, Exit } from "./errors.js";
import { createIo } from "./io.js";
import type { Prompter } from "./prompts.js";

const io = (stdin: string) => createIo({ stdin: Readable.from([stdin]), stdout: process.stdout, stderr: process.stderr }, {}, "/");
const noPrompter = (): Prompter => assert.fail("no prompt expected");

describe("credential sources", () => {
  it("reads NAME=@file, NAME=- and a bare NAME as file, stdin and prompt", () => {
    assert.deepEqual(parseCredentialSpec("OPENAI_API_KEY=@/run/key"), { name: "OPENAI_API_KEY", from: "file", path: "/run/key" });
    assert.deepEqual(parseCredentialSpec("OPENAI_API_KEY=-"), { name: "OPENAI_API_KEY", from: "stdin" });
    assert.deepEqual(parseCredentialSpec("OPENAI_API_KEY"), { name: "OPENAI_API_KEY", from: "prompt" });
  });

  it("refuses a literal value with a usage error that never repeats the value", () => {
    for (const spec of ["API_KEY=sk-secret-123", "API_KEY=", "API_KEY=@"]) {
      assert.throws(() => parseCredentialSpec(spec), (e: unknown) => {
        assert.ok(e instanceof CliError);
        assert.equal(e.exitCode, Exit.usage);
        assert.match(e.message, /never taken on the command line/);
        assert.doesNotMatch(e.message, /sk-secret-123/);
        return true;
      });
    }
  });

  it("strips one trailing newline from a file and from stdin, and refuses reading stdin twice", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fp-cred-"));
    await writeFile(join(dir, "k"), "from-file\n");
    const values = await readCredentials(io("from-stdin\n"), [`A=@${join(dir, "k")}`, "B=-"], noPrompter);
    assert.deepEqual(values, { A: "from-file", B: "from-stdin" });
    await assert.rejects(readCredentials(io("x"), ["A=-", "B=-"], noPrompter), (e: CliError) => e.exitCode === Exit.usage && /stdin is already used/.test(e.message));
  });

  it("cannot prompt without a terminal and says how to pass the value instead", async () => {
    await assert.rejects(readCredentials(io(""), ["A"], noPrompter), (e: CliError) => e.exitCode === Exit.usage && /A=@FILE or A=-/.test(e.message));
  });

  it("a missing file is a usage error naming the flag", async () => {
    await assert.rejects(readCredentials(io(""), ["A=@/nonexistent/key"], noPrompter), (e: CliError) => e.exitCode === Exit.usage && /--credential A: cannot read/.test(e.message));
  });
});

describe("--param NAME=VALUE", () => {
  it("keeps everything after the first = (values may contain =, or be empty)", () => {
    assert.deepEqual(parseAssignments(["A=b=c", "EMPTY="], "--param"), { A: "b=c", EMPTY: "" });
    assert.throws(() => parseAssignments(["novalue"], "--param"), (e: CliError) => e.exitCode === Exit.usage);
  });
});
