import { test, before } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compatibilityReport, parseFlow, type Flow } from "@flowplane/core";
import { loadStarters, startersSkipReason } from "@flowplane/testkit";
import { NativeEngine } from "./engine.js";
import { orjsonFloat } from "./components/file-json.js";

// Read File (File) on the native engine, in Langflow 1.13's own File node (the Portfolio Website
// Code Generator starter's) feeding Basic Prompting's Chat Output, so the answer shows the whole
// message lfx builds (its text and metadata keywords). The expected values are what lfx 1.13.0
// answered for the same files (apps/runtime's equivalence suite compares the two engines live).
const skip = startersSkipReason();
let files = "";
let flow: Flow;
let engine: NativeEngine;
let rawFlow: { data: { nodes: { id: string; data: { type: string; node: { template: Record<string, { value?: unknown }> } } }[]; edges: { data: { sourceHandle: { name: string } } }[] } };

before(async () => {
  if (skip) return;
  // The replica's private folder is <TMPDIR>/flowplane-files: a fresh TMPDIR for this process.
  process.env.TMPDIR = mkdtempSync(join(tmpdir(), "fp-file-test-"));
  files = join(process.env.TMPDIR, "flowplane-files");
  mkdirSync(files, { recursive: true });
  const starters = loadStarters();
  const portfolio = starters.find((s) => s.name === "Portfolio Website Code Generator")!.raw as { data: { nodes: { id: string; data: { type: string } }[] } };
  const basic = starters.find((s) => s.name === "Basic Prompting")!.raw as typeof portfolio;
  const file = portfolio.data.nodes.find((n) => n.data.type === "File")!;
  const out = basic.data.nodes.find((n) => n.data.type === "ChatOutput")!;
  const edge = {
    id: "e1", source: file.id, target: out.id,
    data: { sourceHandle: { dataType: "File", id: file.id, name: "message", output_types: ["Message"] }, targetHandle: { fieldName: "input_value", id: out.id, inputTypes: ["Data", "DataFrame", "Message"], type: "other" } },
  };
  rawFlow = { data: { nodes: [file, out], edges: [edge] } } as unknown as typeof rawFlow;
  flow = parseFlow({ id: "file-flow", name: "File to Chat Output", ...rawFlow });
  engine = new NativeEngine();
  await engine.load([flow], {});
});

const run = (tweak: Record<string, unknown>) => engine.run(flow.id, { inputValue: "hi", inputType: "chat", outputType: "chat", tweaks: { "File-wvfA7": tweak } });
const message = (r: Awaited<ReturnType<typeof run>>) => JSON.parse(JSON.stringify(r.outputs[0]!.results)).message as { text: string; data: Record<string, unknown> };

test("Read File gives lfx's message for a text file: text with \\n line ends, then file_path, filename, file_size, mimetype, encoding", { skip }, async () => {
  writeFileSync(join(files, "notes.txt"), "Hello file\r\nSecond line \u00e9\n");
  const m = message(await run({ path: [join(files, "notes.txt")] }));
  assert.equal(m.text, "Hello file\nSecond line \u00e9\n");
  const keys = Object.keys(m.data);
  assert.deepEqual(keys.slice(0, 7), ["text", "file_path", "filename", "file_size", "mimetype", "encoding", "files"]);
  assert.deepEqual([m.data.file_path, m.data.filename, m.data.file_size, m.data.mimetype, m.data.encoding], [join(files, "notes.txt"), "notes.txt", 27, "text/plain", "utf-8"]);
});

test("several files: joined by the separator, with lfx's source_files; ASCII and a UTF-8 BOM named as chardet names them", { skip }, async () => {
  writeFileSync(join(files, "bom.md"), "\ufeffbom text\r\nline");
  writeFileSync(join(files, "t.csv"), "a,b\n1,2\n");
  const m = message(await run({ path: [join(files, "bom.md"), join(files, "t.csv")], separator: "--" }));
  assert.equal(m.text, "bom text\nline--a,b\n1,2\n");
  assert.equal(m.data.mimetype, "application/octet-stream");
  assert.deepEqual(m.data.source_files, [
    { file_path: join(files, "bom.md"), text: "bom text\nline", encoding: "utf-8-sig" },
    { file_path: join(files, "t.csv"), text: "a,b\n1,2\n", encoding: "ascii" },
  ]);
});

test("a .json file is re-printed as orjson prints it: key order kept, top-level strings NFKD, floats as ryu, big integers whole", { skip }, async () => {
  writeFileSync(join(files, "d.json"), '{"b": "x\\u00e9\\ufb01", "2": 1.0, "1": [1e5, 1e-7, 12345678901234567890, "\\ufb01"], "n": {"k": "\\ufb01"}}');
  // lfx 1.13.0's answer for this file.
  assert.equal(message(await run({ path: [join(files, "d.json")] })).text, '{"b":"xe\u0301fi","2":1.0,"1":[100000.0,1e-7,12345678901234567890,"\ufb01"],"n":{"k":"\ufb01"}}');
  // orjson.dumps([0.5, 123.25, 1e16, 1.5e300, -2.5e-9, 0.0001, 1e21, -0.0, 1e-5, 123456789012345678.0]) in lfx's venv.
  assert.deepEqual([0.5, 123.25, 1e16, 1.5e300, -2.5e-9, 0.0001, 1e21, -0, 1e-5, 123456789012345678.0].map(orjsonFloat), ["0.5", "123.25", "1e+16", "1.5e+300", "-2.5e-9", "0.0001", "1e+21", "-0.0", "0.00001", "1.2345678901234568e+17"]);
});

test("only the replica's folder: /etc/passwd, a climb out with .., and a symbolic link out are refused; lfx's errors otherwise", { skip }, async () => {
  for (const p of ["/etc/passwd", "/etc/hostname.txt", join(files, "..", "..", "etc", "passwd.txt"), "../outside.txt"]) {
    await assert.rejects(run({ path: [p] }), /outside this deployment's files folder/, p);
  }
  writeFileSync(join(process.env.TMPDIR!, "secret.txt"), "secret");
  symlinkSync(join(process.env.TMPDIR!, "secret.txt"), join(files, "link.txt"));
  await assert.rejects(run({ path: [join(files, "link.txt")] }), /outside this deployment's files folder/);
  await assert.rejects(run({ path: [join(files, "nope.txt")] }), /File not found: '.*nope\.txt' \(resolved to: '.*nope\.txt'\)\. Please upload the file again\./);
  await assert.rejects(run({}), /No files to process\./);
  writeFileSync(join(files, "x.png"), "x");
  await assert.rejects(run({ path: [join(files, "x.png")] }), /requires Advanced Parser mode/);
  writeFileSync(join(files, "c.yaml"), "k: v");
  await assert.rejects(run({ path: [join(files, "c.yaml")] }), /YAML .*use the lfx engine/);
  writeFileSync(join(files, "latin.txt"), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
  await assert.rejects(run({ path: [join(files, "latin.txt")] }), /neither ASCII nor UTF-8/);
  assert.equal(message(await run({ path: [join(files, "latin.txt")], text_encoding: "latin-1" })).text, "caf\u00e9");
  // A relative path is taken inside the folder.
  assert.equal(message(await run({ path: ["t.csv"] })).text, "a,b\n1,2\n");
  assert.ok(existsSync(join(process.env.TMPDIR!, "secret.txt")));
});

test("the publish-time report and the engine agree: Raw Content is native; the Advanced Parser and Read File as a tool are not", { skip }, async () => {
  assert.equal(compatibilityReport([flow]).native.supported, true);
  const advanced = structuredClone(rawFlow);
  advanced.data.nodes[0]!.data.node.template.advanced_mode!.value = true;
  const report = compatibilityReport([parseFlow({ id: "adv", name: "adv", ...advanced })]);
  assert.deepEqual(report.native.missing.map((m) => [m.type, m.reason]), [["File", "not_implemented"]]);
  await assert.rejects(new NativeEngine().load([parseFlow({ id: "adv", name: "adv", ...advanced })], {}), /Advanced Parser/);
  const tool = structuredClone(rawFlow);
  tool.data.edges[0]!.data.sourceHandle.name = "component_as_tool";
  assert.deepEqual(compatibilityReport([parseFlow({ id: "tool", name: "tool", ...tool })]).native.missing.map((m) => m.type), ["File"]);
});
