import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "./fixtures.js";
import { npmStartCommand } from "./flowplane-server.js";

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
    const dockerfile = readFileSync(join(repoRoot, "deploy", "docker", "control-plane.Dockerfile"), "utf8");
    const line = dockerfile.split("\n").find((l) => l.startsWith("ENTRYPOINT "));
    const words = JSON.parse(line!.slice("ENTRYPOINT ".length)) as string[];
    assert.deepEqual(words.slice(words.indexOf("node") + 1, words.indexOf("apps/server/dist/main.js")), start.nodeOptions);
    const env = dockerfile.split("\n").filter((l) => l.startsWith("ENV ")).flatMap((l) => l.slice(4).trim().split(/\s+/));
    for (const [name, value] of Object.entries(start.env)) assert.ok(env.includes(`${name}=${value}`), `ENV ${name}=${value} in the image`);
  });
});
