import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FILE_FLOW_ID, fileToChatOutput, loadStarters, startersSkipReason } from "@flowplane/testkit";
import { spawnRuntime, type RuntimeProcess } from "./test-process.js";

// Langflow's upload routes and a run that reads the upload, through the runtime binary over real
// HTTP (native engine): the Read File node of Langflow 1.13's starters feeding a Chat Output.
const skip = startersSkipReason();
const LIMIT = 4096;
let rt: RuntimeProcess;
let base = "";
let tmp = "";
let fileNode = "";

before(async () => {
  if (skip) return;
  const derived = fileToChatOutput(loadStarters());
  assert.ok(derived);
  fileNode = derived.fileNodeId;
  const dir = mkdtempSync(join(tmpdir(), "fp-files-bundle-"));
  writeFileSync(join(dir, "flow.json"), JSON.stringify(derived.raw));
  tmp = mkdtempSync(join(tmpdir(), "fp-files-tmp-"));
  rt = spawnRuntime({ FLOWPLANE_BUNDLE_PATH: dir, FLOWPLANE_ENGINE: "native", FLOWPLANE_MAX_BODY_BYTES: String(LIMIT), TMPDIR: tmp, FLOWPLANE_PARAMETER_NAMES: "[]" });
  base = await rt.waitReady();
});
after(async () => {
  if (rt) assert.equal(await rt.stop(), 0);
});

/** A multipart body written by hand, so the file name reaches the replica exactly as a hostile client sends it. */
function multipart(filename: string, content: string | Buffer, field = "file"): { body: Buffer; type: string } {
  const boundary = "----fp-test-boundary";
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: text/plain\r\n\r\n`;
  return { body: Buffer.concat([Buffer.from(head), Buffer.from(content), Buffer.from(`\r\n--${boundary}--\r\n`)]), type: `multipart/form-data; boundary=${boundary}` };
}

const upload = async (path: string, filename: string, content: string | Buffer, field?: string) => {
  const { body, type } = multipart(filename, content, field);
  const res = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": type }, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const run = async (paths: unknown) => {
  const res = await fetch(`${base}/api/v1/run/${FILE_FLOW_ID}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input_value: "hi", tweaks: { [fileNode]: { path: paths } } }) });
  return { status: res.status, body: (await res.json()) as { outputs?: { outputs: { results: { message: { text: string; data: Record<string, unknown> } } }[] }[]; detail?: string } };
};

test("POST /api/v2/files stores the upload in the replica's private folder and a run reads it through a tweak", { skip }, async () => {
  const up = await upload("/api/v2/files", "report.md", "# Q3\r\nRevenue up.\n");
  assert.equal(up.status, 201);
  assert.deepEqual(Object.keys(up.body), ["id", "name", "path", "size", "provider"]);
  assert.equal(up.body.name, "report");
  assert.equal(up.body.size, 18);
  assert.equal(up.body.provider, null);
  const path = up.body.path as string;
  assert.ok(path.startsWith(join(tmp, "flowplane-files") + "/") && path.endsWith("/report.md"), path);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(readFileSync(path, "utf8"), "# Q3\r\nRevenue up.\n");
  const r = await run([path]);
  assert.equal(r.status, 200);
  const message = r.body.outputs![0]!.outputs[0]!.results.message;
  assert.equal(message.text, "# Q3\nRevenue up.\n");
  assert.equal(message.data.filename, "report.md");
});

test("POST /api/v1/files/upload/{flow_id} answers {flowId, file_path}; an unknown flow is 404", { skip }, async () => {
  const up = await upload(`/api/v1/files/upload/${FILE_FLOW_ID}`, "data.json", '{"a": 1.0}');
  assert.equal(up.status, 201);
  assert.deepEqual(Object.keys(up.body), ["flowId", "file_path"]);
  assert.equal(up.body.flowId, FILE_FLOW_ID);
  assert.match(up.body.file_path as string, new RegExp(`/flowplane-files/${FILE_FLOW_ID}/\\d{4}-\\d\\d-\\d\\d_\\d\\d-\\d\\d-\\d\\d_data\\.json$`));
  const r = await run(up.body.file_path);
  assert.equal(r.status, 200);
  assert.equal(r.body.outputs![0]!.outputs[0]!.results.message.text, '{"a":1.0}');
  const unknown = await upload("/api/v1/files/upload/no-such-flow", "a.txt", "x");
  assert.deepEqual(unknown, { status: 404, body: { detail: "Flow not found" } });
});

test("hostile names are 400 with Langflow's detail and nothing is written outside the folder", { skip }, async () => {
  for (const name of ["../../etc/passwd", "..", "a/b.txt", "a\\b.txt", "x\u202e.txt", "CON.txt", `${"a".repeat(256)}.txt`]) {
    const up = await upload("/api/v2/files", name, "pwned");
    assert.equal(up.status, 400, name);
    assert.match(String(up.body.detail), /Invalid file name|too long|reserved system name/, name);
  }
  assert.equal(existsSync(join(tmp, "etc")), false);
  const v1 = await upload(`/api/v1/files/upload/${FILE_FLOW_ID}`, "../../../x.txt", "pwned");
  assert.equal(v1.status, 400);
});

test("an upload over the replica's body limit is 413; a body without a file part is 422", { skip }, async () => {
  const big = await upload("/api/v2/files", "big.txt", Buffer.alloc(LIMIT + 1, 0x61));
  assert.equal(big.status, 413);
  assert.match(String(big.body.detail), /^File size is larger than the maximum file size/);
  const none = await upload("/api/v2/files", "a.txt", "x", "other");
  assert.equal(none.status, 422);
  assert.deepEqual(none.body.detail, [{ type: "missing", loc: ["body", "file"], msg: "Field required", input: null }]);
});

test("a tweak naming a file outside the replica's folder is refused, never read", { skip }, async () => {
  for (const p of ["/etc/passwd", "/etc/os-release.txt", join(tmp, "flowplane-files", "..", "secret.txt"), "../secret.txt"]) {
    writeFileSync(join(tmp, "secret.txt"), "do not read");
    const r = await run([p]);
    assert.equal(r.status, 500, p);
    assert.match(r.body.detail ?? "", /outside this deployment's files folder/, p);
    assert.doesNotMatch(r.body.detail ?? "", /do not read|root:/);
  }
});
