import assert from "node:assert/strict";
import { it } from "node:test";
import { REDACTED, REDACTED_KEYS } from "@flowplane/core";
import { memoryLogger } from "./logger.js";

it("every entry of the redaction list is censored at the top level, one and two objects down", () => {
  const { log, lines, text } = memoryLogger();
  const secrets = REDACTED_KEYS.map((k, i) => [k, `secret-value-${i}-${k}`] as const);
  const fields = Object.fromEntries(secrets);
  log.info({ ...fields, nested: { ...fields }, upstream: { headers: { ...fields } } }, "everything at once");
  const line = lines[0]!;
  for (const [k, v] of secrets) {
    assert.ok(!text().includes(v), `the value of ${k} is in the line`);
    assert.equal(line[k], REDACTED, k);
    assert.equal((line.nested as Record<string, unknown>)[k], REDACTED, `nested.${k}`);
    assert.equal((line.upstream as { headers: Record<string, unknown> }).headers[k], REDACTED, `upstream.headers.${k}`);
  }
});

it("a child's bindings are censored too, and other fields are kept", () => {
  const { log, lines, text } = memoryLogger();
  log.child({ deploymentId: "dep-1", token: "bound-secret" }).warn({ replica: "r1", count: 3 }, "with bindings");
  assert.ok(!text().includes("bound-secret"));
  assert.deepEqual({ ...lines[0], time: undefined, pid: undefined, hostname: undefined }, {
    level: "warn", time: undefined, pid: undefined, hostname: undefined, deploymentId: "dep-1", token: REDACTED, replica: "r1", count: 3, msg: "with bindings",
  });
});

it("a url field keeps everything but the value of its x-api-key parameter, however it is spelled", () => {
  const { log, lines, text } = memoryLogger();
  log.info({ url: "/api/v1/run/f?stream=true&x-api-key=sk-in-url&x%2Dapi%2Dkey=sk-encoded" }, "a url");
  log.info({ req: { method: "GET", url: "/flows?x-api-key=sk-in-req" } }, "a request");
  assert.ok(!/sk-in-url|sk-encoded|sk-in-req/.test(text()), text());
  assert.equal(lines[0]!.url, `/api/v1/run/f?stream=true&x-api-key=${REDACTED}&x-api-key=${REDACTED}`);
  assert.equal((lines[1]!.req as { url: string }).url, `/flows?x-api-key=${REDACTED}`);
});

it("lines below the level are not written; levels are labels", () => {
  const { log, lines } = memoryLogger("info");
  log.debug("hidden");
  log.info("shown");
  assert.deepEqual(lines.map((l) => [l.level, l.msg]), [["info", "shown"]]);
});
