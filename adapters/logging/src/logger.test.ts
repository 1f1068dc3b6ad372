import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

it("secrets deeper down, in arrays and in an error's own fields are censored; the caller's objects are left as they were", () => {
  const { log, lines, text } = memoryLogger();
  const deep = { a: { b: { c: { authorization: "sk-deep" } } } };
  const list = [{ token: "sk-in-array" }, "plain"];
  const err = Object.assign(new Error("boom"), { code: "E_BOOM", apiKey: "sk-on-error" });
  log.error({ deep, list, err }, "nested");
  assert.ok(!/sk-deep|sk-in-array|sk-on-error/.test(text()), text());
  const line = lines[0]!;
  assert.equal((line.deep as { a: { b: { c: { authorization: string } } } }).a.b.c.authorization, REDACTED);
  assert.deepEqual(line.list, [{ token: REDACTED }, "plain"]);
  const e = line.err as Record<string, unknown>;
  assert.deepEqual([e.type, e.message, e.code, e.apiKey], ["Error", "boom", "E_BOOM", REDACTED], "still serialized as an error");
  assert.match(String(e.stack), /boom/);
  // Nothing the caller holds was changed.
  assert.equal(deep.a.b.c.authorization, "sk-deep");
  assert.equal(list[0] && (list[0] as { token: string }).token, "sk-in-array");
  assert.equal(err.apiKey, "sk-on-error");
});

it("a url or path field shows no access key, wherever a caller put it", () => {
  const { log, lines, text } = memoryLogger();
  const key = "fp_Q9x7Lm2Kd8Rt5Vb3Nw6Yh1Zc4Jg0Pa-Es_Uf9Ik2Ol7";
  log.debug({ requestId: "r", method: "POST", path: `/flows/${key}/run`, status: 404 }, "request");
  log.info({ url: `/api/v1/projects/%66p_${key.slice(3)}` }, "other");
  log.info({ path: "/flows/f1/run" }, "plain");
  assert.ok(!text().includes(key.slice(3)), text());
  assert.deepEqual(lines.map((l) => l.path ?? l.url), ["/flows/[redacted]/run", "/api/v1/projects/[redacted]", "/flows/f1/run"]);
});

it("a database error is logged with its statement but not the values it carried", () => {
  // PGlite's errors carry `query` and `params`; an unexpected error is logged whole (app.ts).
  const { log, lines, text } = memoryLogger();
  const err = Object.assign(new Error("invalid input syntax for type bigint"), { query: "SELECT * FROM users WHERE seq > $1", params: ["sk-a-value-a-statement-carried", 51] });
  log.error({ err }, "unexpected error");
  assert.ok(!text().includes("sk-a-value-a-statement-carried"), text());
  const e = lines[0]!.err as Record<string, unknown>;
  assert.equal(e.query, "SELECT * FROM users WHERE seq > $1");
  assert.equal(e.params, REDACTED);
});

it("req and res keep only their serializers' safe parts: no header reaches the line", () => {
  const { log, lines, text } = memoryLogger();
  log.info({ req: { method: "GET", url: "/x?x-api-key=sk-q", headers: { authorization: "sk-req" } }, res: { statusCode: 200, headers: { "set-cookie": "sk-res" } } }, "http");
  assert.ok(!/sk-q|sk-req|sk-res/.test(text()), text());
  assert.deepEqual(lines[0]!.res, { statusCode: 200 });
  assert.equal((lines[0]!.req as { url: string }).url, `/x?x-api-key=${REDACTED}`);
});

it("a write past the file size limit (EFBIG: a replica's log held to its maxFileBytes) drops the line, not the process", { skip: !existsSync("/usr/bin/prlimit") && "util-linux's prlimit is missing" }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-efbig-"));
  try {
    const logger = new URL("./logger.js", import.meta.url).href;
    const script = `const { createLogger } = await import(${JSON.stringify(logger)}); const log = createLogger({ level: "info" }); for (let i = 0; i < 3000; i++) log.info({ x: "y".repeat(100) }, "line"); process.exitCode = 7;`;
    const out = openSync(join(dir, "out.log"), "w");
    const r = spawnSync("/usr/bin/prlimit", ["--fsize=100000", "--", process.execPath, "--input-type=module", "-e", script], { stdio: ["ignore", out, "pipe"], timeout: 30_000 });
    closeSync(out);
    assert.equal(r.status, 7, r.stderr.toString());
    assert.equal(statSync(join(dir, "out.log")).size, 100_000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it("lines logged after the file size limit is reached are dropped, not held in memory", { skip: !existsSync("/usr/bin/prlimit") && "util-linux's prlimit is missing" }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "flowplane-efbig-"));
  try {
    const logger = new URL("./logger.js", import.meta.url).href;
    // 64 MB logged past the limit; sonic-boom kept every byte of it (a failed write is retried, later lines queued behind it).
    const script = `const { createLogger } = await import(${JSON.stringify(logger)}); const log = createLogger({ level: "info" }); const x = "y".repeat(16_000); for (let i = 0; i < 4000; i++) log.info({ x }, "line"); globalThis.gc(); process.stderr.write(String(process.memoryUsage().heapUsed));`;
    const out = openSync(join(dir, "out.log"), "w");
    const r = spawnSync("/usr/bin/prlimit", ["--fsize=100000", "--", process.execPath, "--expose-gc", "--input-type=module", "-e", script], { stdio: ["ignore", out, "pipe"], timeout: 60_000 });
    closeSync(out);
    assert.equal(r.status, 0, r.stderr.toString());
    const heap = Number(r.stderr.toString());
    assert.ok(heap < 40 * 1024 * 1024, `${Math.round(heap / 1048576)} MiB of heap after 64 MB of lines past the limit`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
