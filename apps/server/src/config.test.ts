import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { test } from "node:test";
import { ConfigError, defaultGatewayWorkers, loadConfig, readCpuMax } from "./config.js";

test("FLOWPLANE_GATEWAY_WORKERS: one per core by default, 0..64 accepted, anything else refused naming the variable", () => {
  assert.equal(loadConfig({}, "/tmp").gatewayWorkers, defaultGatewayWorkers(readCpuMax()));
  assert.equal(loadConfig({ FLOWPLANE_GATEWAY_WORKERS: "0" }, "/tmp").gatewayWorkers, 0);
  assert.equal(loadConfig({ FLOWPLANE_GATEWAY_WORKERS: "64" }, "/tmp").gatewayWorkers, 64);
  for (const bad of ["-1", "65", "1.5", "many"]) {
    assert.throws(() => loadConfig({ FLOWPLANE_GATEWAY_WORKERS: bad }, "/tmp"), (e: unknown) => e instanceof ConfigError && /FLOWPLANE_GATEWAY_WORKERS/.test(e.message), bad);
  }
});

test("the default number of gateway workers: the cores, but at most the container's CPU limit rounded up", () => {
  const cores = availableParallelism();
  assert.equal(defaultGatewayWorkers(undefined), cores, "outside a container");
  assert.equal(defaultGatewayWorkers("max 100000\n"), cores, "no limit");
  assert.equal(defaultGatewayWorkers("50000 100000\n"), 1, "half a CPU: one worker");
  assert.equal(defaultGatewayWorkers("100000 100000"), 1);
  assert.equal(defaultGatewayWorkers(`${(cores + 3) * 100000} 100000`), cores, "a limit above the cores: the cores");
  assert.equal(defaultGatewayWorkers("garbage"), cores);
});
