import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { npmStartCommand } from "@flowplane/testkit";
import { startServer } from "./test-process.js";

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
const children = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);

it("the server runs with npm start's Node options, and its gateway workers with V8's defaults for their heap and threads", { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-options-"));
  const server = await startServer(dir);
  try {
    const { nodeOptions } = npmStartCommand();
    assert.ok(nodeOptions.includes("--max-semi-space-size=2"), `the start script's options: ${nodeOptions.join(" ")}`);
    const own = cmdline(server.child.pid!);
    for (const o of nodeOptions) assert.ok(own.includes(o), `${o} in the server's command: ${own.join(" ")}`);
    const workers = children(server.child.pid!).map(cmdline).filter((c) => c.some((w) => w.endsWith("data-plane/worker.js")));
    assert.ok(workers.length >= 1, "gateway workers found");
    for (const w of workers) {
      assert.deepEqual(w.filter((x) => x.startsWith("--max-semi-space-size") || x.startsWith("--v8-pool-size")), [], `a worker's command: ${w.join(" ")}`);
      assert.ok(w.includes("--enable-source-maps"), `the other options are inherited: ${w.join(" ")}`);
    }
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
