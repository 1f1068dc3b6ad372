import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { applyModelChoices, modelChoiceName, parseFlow, type EngineRunRequest, type Flow } from "@flowplane/core";
import { loadStarters, startersSkipReason, startFakeOpenAI, startHttpServer, type FakeOpenAI } from "@flowplane/testkit";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NativeEngine } from "./engine.js";
import { duckDuckGoResults, rssItems, truncateContent } from "./components/web-search.js";
import { overlapScore } from "./components/memory-base.js";
import { pyStr, rowAsToml } from "./components/batch-run.js";
import { arxivQueryUrl, parseArxiv } from "./components/arxiv.js";

// Web Search and Memory Base, run as an agent's tools in Langflow 1.13's own starters: the fake
// model calls the tool ([[tool:name {args}]]), the tool's requests go through the engine's fetch
// (the deployment's egress), here one that sends DuckDuckGo's and Google News' hosts to a
// local HTTP server on loopback; anything else outside loopback is refused.
const skip = startersSkipReason();
let fake: FakeOpenAI;
let web: { url: string; close(): Promise<void> };
const seen: { url: string; ua: string }[] = [];

const RESULTS = (base: string) => `<html><body>
<div class="result results_links web-result"><div class="links_main"><h2><a rel="nofollow" class="result__a" href="//duckduckgo.com/l/?uddg=${encodeURIComponent(`${base}/page/one`)}&amp;rut=x">Flows &amp; <b>graphs</b></a></h2>
<a class="result__snippet" href="#">A flow is a <b>graph</b> of components.</a></div></div>
<div class="result results_links web-result"><h2><a class="result__a" href="${base}/page/missing">Gone</a></h2></div>
</body></html>`;
const FEED = `<?xml version="1.0"?><rss><channel><item><title>Flows ship</title><link>https://example.test/a</link><pubDate>Mon, 30 Nov 2026 10:00:00 GMT</pubDate><description><![CDATA[<p>Flowplane &amp; Langflow</p>]]></description></item></channel></rss>`;

before(async () => {
  if (skip) return;
  fake = await startFakeOpenAI();
  web = await startHttpServer((req, res) => {
    seen.push({ url: req.url ?? "", ua: String(req.headers["user-agent"] ?? "") });
    if (req.url?.startsWith("/html/")) res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(RESULTS(web.url));
    else if (req.url === "/page/one") res.writeHead(200, { "content-type": "text/html" }).end("<html><head><script>x()</script></head><body><h1>One</h1><p>Components   connect.</p></body></html>");
    else if (req.url?.startsWith("/rss/")) res.writeHead(200, { "content-type": "application/rss+xml" }).end(FEED);
    else res.writeHead(404).end("no");
  });
});
after(async () => {
  if (skip) return;
  await fake.close();
  await web.close();
});

/** The deployment's egress in this test: the search engines' hosts lead to the local server. */
const egress: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.hostname === "html.duckduckgo.com" || url.hostname === "news.google.com") return fetch(`${web.url}${url.pathname}${url.search}`, init);
  if (url.hostname !== "127.0.0.1") return Promise.reject(new Error(`egress refused: ${url.hostname}`));
  return fetch(input, init);
};

async function starter(name: string, edit: (raw: Record<string, unknown>) => void = () => undefined): Promise<{ engine: NativeEngine; flow: Flow }> {
  const raw = loadStarters().find((s) => s.name === name)?.raw;
  assert.ok(raw, name);
  edit(raw);
  let flow = parseFlow(raw);
  const choices = Object.fromEntries(flow.nodes.map((n) => [modelChoiceName(n.id), "OpenAI/gpt-4o-mini"]));
  flow = applyModelChoices(flow, choices);
  const engine = new NativeEngine({ fetch: egress });
  await engine.load([flow], { OPENAI_API_BASE: fake.baseUrl, OPENAI_API_KEY: "sk-search" });
  return { engine, flow };
}

const chat = (input: string, sessionId: string): EngineRunRequest => ({ inputValue: input, inputType: "chat", outputType: "chat", sessionId });

test("Web Search (Simple Agent's tool): DuckDuckGo's results, each page fetched, as lfx's rows", { skip }, async () => {
  const { engine, flow } = await starter("Simple Agent");
  seen.length = 0;
  const result = await engine.run(flow.id, chat('[[tool:perform_search {"query":"langflow <flows>","search_mode":"Web"}]]', "web-1"));
  const answer = result.chat?.text ?? "";
  assert.match(answer, /^Tool perform_search says: /);
  const rows = JSON.parse(answer.slice("Tool perform_search says: ".length)) as Record<string, string>[];
  assert.deepEqual(rows, [
    { title: "Flows & graphs", link: `${web.url}/page/one`, snippet: "A flow is a graph of components.", content: "One Components connect." },
    { title: "Gone", link: `${web.url}/page/missing`, snippet: "", content: "(Failed to fetch: HTTP 404)" },
  ]);
  const search = new URL(seen[0]!.url, web.url);
  assert.deepEqual([search.pathname, search.searchParams.get("q"), search.searchParams.get("kl")], ["/html/", "langflow flows", "us-en"], "the query sanitised as lfx does");
  assert.match(seen[0]!.ua, /^Mozilla\//);
});

test("Web Search in News mode reads Google News' RSS search", { skip }, async () => {
  const { engine, flow } = await starter("Simple Agent");
  seen.length = 0;
  const result = await engine.run(flow.id, chat('[[tool:perform_search {"query":"flow engines","search_mode":"News"}]]', "news-1"));
  const rows = JSON.parse((result.chat?.text ?? "").replace(/^Tool perform_search says: /, "")) as Record<string, string>[];
  assert.deepEqual(rows, [{ title: "Flows ship", link: "https://example.test/a", published: "Mon, 30 Nov 2026 10:00:00 GMT", summary: "Flowplane & Langflow" }]);
  assert.equal(seen[0]?.url, "/rss/search?q=flow+engines&hl=en-US&gl=US&ceid=US:en");
});

test("Memory Base (Memory Chatbot's tool) finds the session's own earlier messages, best match first", { skip }, async () => {
  const { engine, flow } = await starter("Memory Chatbot");
  await engine.run(flow.id, chat("My favourite colour is teal", "mb-1"));
  await engine.run(flow.id, chat("I live in Lisbon", "mb-1"));
  await engine.run(flow.id, chat("My favourite colour is red", "mb-other"));
  const result = await engine.run(flow.id, chat('[[tool:retrieve_memory {"search_query":"favourite colour"}]]', "mb-1"));
  const rows = JSON.parse((result.chat?.text ?? "").replace(/^Tool retrieve_memory says: /, "")) as Record<string, unknown>[];
  const contents = rows.map((r) => r.content);
  assert.match(String(contents[0]), /favourite colour is teal/, "a message of that turn, best score");
  assert.ok(contents.includes("My favourite colour is teal"), "the user's own message");
  assert.ok(!contents.some((c) => String(c).includes("retrieve_memory")), "this run's own input is not memory yet");
  assert.ok(!contents.some((c) => String(c).includes("red")), "another session's messages stay out (Filter by Session)");
  assert.ok(!contents.includes("I live in Lisbon"), "no word in common: not returned");
  assert.deepEqual(Object.keys(rows[0]!), ["content", "_score", "session_id", "sender", "sender_name", "timestamp", "message_id"]);
  assert.equal(rows[0]!.session_id, "mb-1");
});

test("Batch Run (Content Aggregator): the model answers each news row under the instructions, the parser lays out the briefs", { skip }, async () => {
  // Its Save to File node is left out: this test is about the search, the batch and the parser.
  const { engine, flow } = await starter("Content Aggregator", (raw) => {
    const data = raw.data as { nodes: { id: string }[]; edges: { source: string; target: string }[] };
    data.nodes = data.nodes.filter((n) => !n.id.startsWith("SaveToFile-"));
    data.edges = data.edges.filter((e) => !e.target.startsWith("SaveToFile-"));
  });
  const before = fake.requests.length;
  const result = await engine.run(flow.id, chat("flow engines", "batch-1"));
  const calls = fake.requests.slice(before).map((q) => q.body.messages as { role: string; content: string }[]);
  const batch = calls.find((m) => m.some((x) => x.role === "user" && x.content === "Flowplane & Langflow"));
  assert.ok(batch, "one model call for the news row, its summary as the user's message");
  assert.match(batch[0]!.content, /^Write one concise, neutral sentence/, "under the Batch Run's instructions");
  assert.equal(batch.length, 2);
  const agentInput = calls.at(-1)!.at(-1)!.content;
  assert.equal(agentInput, "## Flows ship\nEcho: Flowplane & Langflow\n_Mon, 30 Nov 2026 10:00:00 GMT_ - https://example.test/a\n", "the parser's pattern over the batch's rows");
  assert.match(result.chat?.text ?? "", /^Echo: ## Flows ship/);
});

test("Save to File (the whole Content Aggregator): the answer saved as JSON in the replica's private folder, appended on the next run", { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "fp-save-"));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    const { engine, flow } = await starter("Content Aggregator", (raw) => {
      const data = raw.data as { nodes: { data: { type?: string; node: { template: Record<string, { value?: unknown }> } } }[] };
      const save = data.nodes.find((n) => n.data.type === "SaveToFile")!;
      save.data.node.template.append_mode!.value = true;
      save.data.node.template.storage_location!.value = [{ name: "Local", icon: "hard-drive" }];
    });
    const first = await engine.run(flow.id, chat("flow engines", "save-1"));
    await engine.run(flow.id, chat("flow engines", "save-2"));
    const file = join(dir, "flowplane-files", "news-aggregated.json");
    const content = JSON.parse(readFileSync(file, "utf8")) as { message: string }[];
    assert.equal(content.length, 2, "the second run appended");
    assert.equal(content[0]!.message, first.chat?.text, "the Chat Output's message, saved");
    assert.equal((statSync(file).mode & 0o777).toString(8), "600");
    const saveResult = (await engine.run(flow.id, { ...chat("flow engines", "save-3"), outputType: "debug" })).outputs.find((o) => o.component_id.startsWith("SaveToFile-"));
    assert.match(String((saveResult?.outputs.message as { message?: unknown } | undefined)?.message), /^Message appended to '.*news-aggregated\.json'/);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
});

test("parsers and limits: DuckDuckGo blocks, RSS items, lfx's truncation", () => {
  assert.deepEqual(duckDuckGoResults('<div class="result"><a class="result__a" href="https://a.test/x">A</a></div>'), [{ title: "A", link: "https://a.test/x", snippet: "" }]);
  assert.deepEqual(rssItems("<rss><item><title>T</title></item></rss>"), [{ title: "T", link: "", published: "", summary: "" }]);
  assert.equal(truncateContent("x".repeat(30), 20), `${"x".repeat(5)}... [truncated]`);
  assert.equal(truncateContent("x".repeat(30), 3), "xx…");
  assert.equal(truncateContent("short", null), "short");
  assert.equal(overlapScore("Favourite colour?", "my favourite COLOUR is teal"), 1);
  assert.equal(overlapScore("favourite colour", "teal"), 0);
  // As Python's toml.dumps({col: {"value": str(v)}}) prints it (checked with the toml package lfx uses).
  assert.equal(rowAsToml({ title: 'A "q"\nline', "my col": null, "x.y": 1 }), '[title]\nvalue = "A \\"q\\"\\nline"\n\n["my col"]\nvalue = "None"\n\n["x.y"]\nvalue = "1"\n');
  assert.equal(pyStr(true), "True");
  assert.equal(arxivQueryUrl("large language models", "title", "3"), "http://export.arxiv.org/api/query?search_query=ti%3Alarge%20language%20models&max_results=3");
  const atom = `<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/1</id><title> Flows
  at scale </title><summary>S</summary><published>2026-01-01</published><updated>2026-01-02</updated><author><name>Ada</name></author><author><name>Bo</name></author>
  <link href="http://arxiv.org/abs/1" rel="alternate" type="text/html"/><link title="pdf" href="http://arxiv.org/pdf/1" rel="related"/>
  <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.AI"/><category term="cs.AI"/><category term="cs.LG"/></entry></feed>`;
  assert.deepEqual(parseArxiv(atom), [{ id: "http://arxiv.org/abs/1", title: "Flows\n  at scale", summary: "S", published: "2026-01-01", updated: "2026-01-02", authors: ["Ada", "Bo"], arxiv_url: "http://arxiv.org/abs/1", pdf_url: "http://arxiv.org/pdf/1", comment: null, journal_ref: null, primary_category: "cs.AI", categories: ["cs.AI", "cs.LG"] }]);
});

test("a starter native cannot run is refused at load, saying why for each component", { skip }, async () => {
  const raw = loadStarters().find((s) => s.name === "Meeting Summary")!.raw;
  const engine = new NativeEngine();
  await assert.rejects(engine.load([parseFlow(raw)], {}), (err: Error) => {
    assert.match(err.message, /AssemblyAITranscriber \(no AssemblyAI client in the native engine; flow "Meeting Summary"/);
    assert.ok(!err.message.includes("MemoryBase"), "Memory Base is native now");
    return true;
  });
  // Research Translation Loop (Loop, arXiv) and Price Deal Finder (structured_response) load now.
  for (const name of ["Research Translation Loop", "Price Deal Finder", "SaaS Pricing"]) {
    await new NativeEngine().load([parseFlow(loadStarters().find((s) => s.name === name)!.raw)], {});
  }
});
