import assert from "node:assert/strict";
import { test } from "node:test";
import { memoryLogger } from "@flowplane/logging";
import { jsonAccessLog, type AccessLine } from "./access-log.js";

test("the workers' access line has the logger's shape and the same fields, and drops unknown ones as pino does", () => {
  const written: string[] = [];
  const write = jsonAccessLog((l) => written.push(l), { worker: 7 });
  const line: AccessLine = { requestId: "r1", routeId: "rt", deploymentId: undefined, userId: "u", method: "POST", status: 201, durationMs: 1.25, upstream: "http://127.0.0.1:1", attempts: 1, completed: true };
  write(line);
  assert.equal(written.length, 1);
  assert.ok(written[0]!.endsWith("}\n"));
  const ours = JSON.parse(written[0]!) as Record<string, unknown>;
  // What the project's logger writes for the same call.
  const { log, lines } = memoryLogger("info");
  log.child({ worker: 7 }).info({ ...line }, "gateway request");
  const theirs = lines[0] as unknown as Record<string, unknown>;
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(theirs).sort());
  for (const k of ["level", "msg", "pid", "hostname", "worker", "requestId", "routeId", "userId", "method", "status", "durationMs", "upstream", "attempts", "completed"]) {
    assert.deepEqual(ours[k], theirs[k], k);
  }
  assert.equal("deploymentId" in ours, false);
  assert.ok(!Number.isNaN(Date.parse(String(ours.time))));
});
