import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { curlRunText } from "./curl-snippet.js";

/**
 * The curl call the deployment page shows, pasted into a real shell: `curl` is a function that
 * prints its arguments, so what the shell made of the text is seen, and anything else it ran
 * would leave a file behind.
 */
function pasted(snippet: string): { args: string[]; leftovers: string[] } {
  const dir = mkdtempSync(join(tmpdir(), "flowplane-curl-"));
  try {
    const out = execFileSync("/bin/sh", ["-c", `curl() { for a in "$@"; do printf '%s\\0' "$a"; done; }\n${snippet}`], {
      cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", FLOWPLANE_ACCESS_KEY: "from-env" }, encoding: "utf8",
    });
    return { args: out.split("\0").slice(0, -1), leftovers: readdirSync(dir) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the curl snippet", () => {
  const url = "http://localhost:8080/projects/p/apps/a/routes/r";
  const hostile = ["x' ; touch pwned ; echo '", "$(touch pwned)", "`touch pwned`", "a b/../c?d#e%f", "it's \"quoted\"\n; touch pwned", "!(*)~"];

  it("is one curl call whatever the flow's id: the id is one encoded path segment, nothing else runs", () => {
    for (const id of [...hostile, "37c356f9-13b7-8ce7-95e3-9a66cb421834"]) {
      const { args, leftovers } = pasted(curlRunText(url, id));
      assert.deepEqual(leftovers, [], `${JSON.stringify(id)}: the shell ran something else`);
      assert.equal(args.length, 9, `${JSON.stringify(id)}: ${JSON.stringify(args)}`);
      const [method, post, target, ...rest] = args;
      assert.deepEqual([method, post, ...rest], ["-X", "POST", "-H", "x-access-key: from-env", "-H", "content-type: application/json", "-d", `{"input_value": "Hello"}`]);
      const segment = new URL(target!).pathname.split("/").at(-2)!;
      assert.equal(target, `${url}/flows/${segment}/run`, JSON.stringify(id));
      assert.equal(decodeURIComponent(segment), id, "the gateway decodes it back to the flow's id");
      assert.match(segment, /^[A-Za-z0-9%._~-]+$/);
    }
    assert.equal(curlRunText(url, "f1").split("\n")[0], `curl -X POST '${url}/flows/f1/run' \\`, "a plain id reads as before");
  });

  it("with a key filled in, the key is the header's value", () => {
    const { args, leftovers } = pasted(curlRunText(url, hostile[0]!, "fp_live_abc123"));
    assert.deepEqual(leftovers, []);
    assert.equal(args[4], "x-access-key: fp_live_abc123");
  });
});
