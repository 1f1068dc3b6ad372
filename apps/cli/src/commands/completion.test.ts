import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createIo } from "../io.js";
import { buildProgram } from "../program.js";
import { bashCompletion } from "./completion.js";

/**
 * Completion offers names the server answers: bundles (a global one is anyone's to name),
 * deployments, projects. Such a name is another user's text and must never run as shell code in
 * the shell of whoever presses TAB. `flowplane` is replaced by a shell function that answers
 * hostile names, as a server would through `bundles list -o name`.
 */
describe("shell completion of server names", () => {
  let dir: string;
  let bash: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "fp-completion-"));
    const { program } = await buildProgram(createIo({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }, {}, "/"), ["completion", "bash"]);
    bash = bashCompletion(program);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // A bundle name may hold $ ( ) { } ` and spaces, not / (api/bundles.ts); a deployment's display name may hold / too.
  const hostile = ["support-bot", "$(touch${IFS}pwned-dollar)", "`touch${IFS}pwned-backtick`", "Support bot", "sup$((1+1))"];
  const fakeServer = `flowplane() { printf '%s\\n' ${hostile.map((n) => `'${n.replace(/'/g, `'\\''`)}'`).join(" ")}; }`;
  const complete = (words: string[]) => {
    const r = spawnSync("bash", ["-c", `cd ${JSON.stringify(dir)}\n${bash}\n${fakeServer}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _flowplane; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split("\n").filter(Boolean);
  };

  it("bash: a name is offered as a quoted word, never expanded or run", () => {
    const offered = complete(["flowplane", "deploy", "--bundle", ""]);
    assert.equal(existsSync(join(dir, "pwned-dollar")), false, "a $(...) name ran as a command");
    assert.equal(existsSync(join(dir, "pwned-backtick")), false, "a `...` name ran as a command");
    // Each offered word, read back by the shell, is the name itself.
    const back = spawnSync("bash", ["-c", `for w in ${offered.join(" ")}; do printf '%s\\n' "$w"; done`], { encoding: "utf8" });
    assert.deepEqual(back.stdout.split("\n").filter(Boolean), hostile, "a name with a space is one word too");
  });

  it("bash: the typed prefix still narrows the names, deployments and projects too", () => {
    assert.deepEqual(complete(["flowplane", "deploy", "--bundle", "supp"]), ["support-bot"]);
    assert.deepEqual(complete(["flowplane", "get", "Supp"]), ["Support\\ bot"]);
    assert.deepEqual(complete(["flowplane", "--project", "sup$"]), ["sup\\$\\(\\(1+1\\)\\)"]);
    assert.equal(existsSync(join(dir, "pwned-dollar")), false);
  });
});
