import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { test } from "node:test";
import { ConfigError, loadConfig } from "./config.js";

test("FLOWPLANE_GATEWAY_WORKERS: one per core by default, 0..64 accepted, anything else refused naming the variable", () => {
  assert.equal(loadConfig({}, "/tmp").gatewayWorkers, availableParallelism());
  assert.equal(loadConfig({ FLOWPLANE_GATEWAY_WORKERS: "0" }, "/tmp").gatewayWorkers, 0);
  assert.equal(loadConfig({ FLOWPLANE_GATEWAY_WORKERS: "64" }, "/tmp").gatewayWorkers, 64);
  for (const bad of ["-1", "65", "1.5", "many"]) {
    assert.throws(() => loadConfig({ FLOWPLANE_GATEWAY_WORKERS: bad }, "/tmp"), (e: unknown) => e instanceof ConfigError && /FLOWPLANE_GATEWAY_WORKERS/.test(e.message), bad);
  }
});
