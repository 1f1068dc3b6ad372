import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { imageCommand, npmStartCommand } from "./flowplane-server.js";

const pkg = (start: string) => JSON.stringify({ scripts: { start } });

describe("npmStartCommand: the server's command, as npm start runs it", () => {
  it("reads the environment and Node's options before the server's script", () => {
    assert.deepEqual(npmStartCommand(pkg("node scripts/build.mjs && A_B=1 C=x=y node --one --two=2 apps/server/dist/main.js")),
      { env: { A_B: "1", C: "x=y" }, nodeOptions: ["--one", "--two=2"] });
    assert.deepEqual(npmStartCommand(pkg("node apps/server/dist/main.js")), { env: {}, nodeOptions: [] });
  });

  it("refuses a start script it cannot read, rather than starting the server otherwise", () => {
    for (const start of ["node scripts/build.mjs", "tsx apps/server/src/main.ts", "node apps/server/dist/main.js --port 1", "FOO=1 nice node apps/server/dist/main.js", "node -r x apps/server/dist/main.js",
      "X='1' node apps/server/dist/main.js", "X=$HOME node apps/server/dist/main.js", "node --title=\\x apps/server/dist/main.js"]) {
      assert.throws(() => npmStartCommand(pkg(start)), /does not run the server as/, start);
    }
  });

  it("the control plane's image runs the server as npm start does (the same Node options and environment)", () => {
    const start = npmStartCommand();
    const { entrypoint: words, env } = imageCommand("control-plane");
    assert.deepEqual(words.slice(words.indexOf("node") + 1, words.indexOf("apps/server/dist/main.js")), start.nodeOptions);
    for (const [name, value] of Object.entries(start.env)) assert.ok(env.includes(`${name}=${value}`), `ENV ${name}=${value} in the image`);
  });
});
