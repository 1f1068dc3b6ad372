import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { workerExecArgv } from "./worker-options.js";

describe("workerExecArgv: a gateway worker's Node options", () => {
  it("keeps the control plane's options but those sizing V8 for its idle memory", () => {
    assert.deepEqual(workerExecArgv(["--enable-source-maps", "--max-semi-space-size=2", "--v8-pool-size=1"]), ["--enable-source-maps"]);
    assert.deepEqual(workerExecArgv(["--max-semi-space-size", "2", "--v8-pool-size", "1", "--trace-warnings"]), ["--trace-warnings"]);
    assert.deepEqual(workerExecArgv(["--max_semi_space_size=2", "--v8_pool_size=1"]), [], "V8's underscore spelling too");
    assert.deepEqual(workerExecArgv(["--max-old-space-size=512", "--inspect=0"]), ["--max-old-space-size=512", "--inspect=0"]);
    assert.deepEqual(workerExecArgv([]), []);
  });
});
