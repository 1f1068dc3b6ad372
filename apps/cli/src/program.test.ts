import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command } from "commander";
import { createIo } from "./io.js";
import { COMMANDS, buildProgram, invokedCommand } from "./program.js";
import { Session } from "./session.js";

const io = () => createIo({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }, {}, "/");

describe("the command table", () => {
  it("lists exactly the top-level commands each module registers", async () => {
    for (const entry of COMMANDS) {
      const program = new Command("flowplane");
      (await entry.load())(program, new Session(io(), {}));
      assert.deepEqual(program.commands.map((c) => c.name()), [...entry.names]);
    }
  });

  it("finds the invoked command past the global options, and `help NAME`'s", () => {
    assert.equal(invokedCommand(["bundles", "list"]), "bundles");
    assert.equal(invokedCommand(["--project", "p", "--context", "c", "get", "x"]), "get");
    assert.equal(invokedCommand(["--project=p", "deploy"]), "deploy");
    assert.equal(invokedCommand(["help", "deploy"]), "deploy");
    assert.equal(invokedCommand(["--help"]), undefined);
    assert.equal(invokedCommand([]), undefined);
  });

  it("loads only the invoked command's module; the whole tree for help, a typo or completion", async () => {
    const names = async (args: string[]) => (await buildProgram(io(), args)).program.commands.map((c) => c.name());
    assert.deepEqual(await names(["bundles", "list"]), ["publish", "bundles"]);
    const all = COMMANDS.flatMap((c) => c.names);
    assert.deepEqual(await names(["--help"]), all);
    assert.deepEqual(await names(["bundel"]), all);
    assert.deepEqual(await names(["completion", "bash"]), all);
  });
});
