import { fetchFailure } from "../outbound.js";
import { FlowRunError } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext } from "../component.js";
import { DataFrame } from "../values.js";
import { htmlToText } from "./http.js";

/**
 * Langflow 1.13's Web Search (`UnifiedWebSearch`, lfx/components/data_source/web_search.py):
 * Web (DuckDuckGo's HTML results, each result page fetched and its text kept), News (Google
 * News' RSS search, topic or location feeds) and RSS (any feed). Every request goes through
 * the engine's fetch, that is the deployment's egress. Errors are rows, as in lfx.
 */

const DEFAULT_MAX_RESULTS = 5;
const DEFAULT_MAX_CONTENT_LENGTH = 2000;
const TRUNCATION_SUFFIX = "... [truncated]";
const SHORT_TRUNCATION_SUFFIX = "…";
/** A browser's User-Agent, as lfx's `get_user_agent` sends (DuckDuckGo refuses bare clients). */
const USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";

/** lfx's `_normalize_limit`: a non-negative integer, 0 meaning no limit (null), anything else the default. */
function limitOf(ctx: NodeContext, field: string, fallback: number): number | null {
  const raw = ctx.value(field);
  const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
  const limit = Number.isInteger(n) && n >= 0 ? n : fallback;
  return limit === 0 ? null : limit;
}

export function truncateContent(content: string, limit: number | null): string {
  if (limit === null || content.length <= limit) return content;
  if (limit < TRUNCATION_SUFFIX.length) return content.slice(0, limit - SHORT_TRUNCATION_SUFFIX.length) + SHORT_TRUNCATION_SUFFIX;
  if (limit === TRUNCATION_SUFFIX.length) return TRUNCATION_SUFFIX;
  return content.slice(0, limit - TRUNCATION_SUFFIX.length) + TRUNCATION_SUFFIX;
}

const squash = (html: string): string => htmlToText(html.replace(/>/g, "> ")).replace(/\s+/g, " ").trim();
const attr = (tag: string, name: string): string => new RegExp(`\\s${name}=["']([^"']*)["']`, "i").exec(tag)?.[1] ?? "";
const decode = (s: string): string => htmlToText(s);

async function get(ctx: NodeContext, url: string, headers: Record<string, string> = {}): Promise<{ ok: boolean; status: number; type: string; body: string }> {
  const res = await ctx.run.services.outbound(url, { headers, redirect: "manual", signal: AbortSignal.any([ctx.run.signal, AbortSignal.timeout(ctx.number("timeout", 5) * 1000)]) });
  return { ok: res.ok, status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() };
}

/** DuckDuckGo's result blocks: `div.result` with `a.result__a` (title, link) and `a.result__snippet`. */
export function duckDuckGoResults(html: string): { title: string; link: string; snippet: string }[] {
  const blocks = html.split(/<div[^>]*class=["'][^"']*\bresult\b[^"']*["'][^>]*>/i).slice(1);
  const out: { title: string; link: string; snippet: string }[] = [];
  for (const block of blocks) {
    const a = /<a([^>]*class=["'][^"']*\bresult__a\b[^"']*["'][^>]*)>([\s\S]*?)<\/a>/i.exec(block);
    if (!a) continue;
    const snippet = /<a[^>]*class=["'][^"']*\bresult__snippet\b[^"']*["'][^>]*>([\s\S]*?)<\/a>/i.exec(block);
    const raw = decode(attr(a[1] ?? "", "href"));
    let link = raw;
    try {
      const uddg = new URL(raw, "https://duckduckgo.com").searchParams.get("uddg");
      if (uddg) link = uddg;
    } catch {
      // not a URL: kept as it is
    }
    out.push({ title: squash(a[2] ?? ""), link, snippet: snippet ? squash(snippet[1] ?? "") : "" });
  }
  return out;
}

async function webSearch(ctx: NodeContext): Promise<DataFrame> {
  const query = ctx.text("query").trim().replace(/[<>"']/g, "");
  if (!query) throw new FlowRunError("Empty search query", ctx.node.id, ctx.node.displayName);
  const headers = { "User-Agent": USER_AGENT };
  let page;
  try {
    page = await get(ctx, `https://html.duckduckgo.com/html/?${new URLSearchParams({ q: query, kl: "us-en" })}`, headers);
    if (!page.ok) throw new Error(`HTTP ${page.status}`);
  } catch (err) {
    return new DataFrame([{ title: "Error", link: "", snippet: fetchFailure(err), content: "" }]);
  }
  if (!page.body || !page.type.toLowerCase().includes("text/html")) return new DataFrame([{ title: "Error", link: "", snippet: "No results found", content: "" }]);
  const max = limitOf(ctx, "max_results", DEFAULT_MAX_RESULTS);
  const maxContent = limitOf(ctx, "max_content_length", DEFAULT_MAX_CONTENT_LENGTH);
  const rows: Record<string, unknown>[] = [];
  for (const r of duckDuckGoResults(page.body)) {
    if (max !== null && rows.length >= max) break;
    let link = r.link;
    let content: string;
    try {
      link = /^https?:\/\//.test(link) ? link : `https://${link}`;
      const res = await get(ctx, link, headers);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      content = squash(res.body);
    } catch (err) {
      link = r.link;
      content = `(Failed to fetch: ${fetchFailure(err)})`;
    }
    rows.push({ title: r.title, link, snippet: r.snippet, content: truncateContent(content, maxContent) });
  }
  return new DataFrame(rows);
}

/** The `<item>`s of an RSS feed, each field's text. */
export function rssItems(xml: string): Record<string, string>[] {
  const field = (item: string, name: string): string => {
    const m = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`, "i").exec(item);
    return m ? decode((m[1] ?? "").replace(/^<!\[CDATA\[([\s\S]*)\]\]>$/, "$1")).trim() : "";
  };
  return [...xml.matchAll(/<item(?:\s[^>]*)?>([\s\S]*?)<\/item>/gi)].map((m) => {
    const item = m[1] ?? "";
    return { title: field(item, "title"), link: field(item, "link"), published: field(item, "pubDate"), summary: field(item, "description") };
  });
}

async function newsSearch(ctx: NodeContext): Promise<DataFrame> {
  const query = ctx.text("query");
  const hl = ctx.text("hl") || "en-US";
  const gl = ctx.text("gl") || "US";
  const ceid = `${gl}:${hl.split("-")[0]}`;
  const topic = ctx.text("topic");
  const location = ctx.text("location");
  const params = `hl=${hl}&gl=${gl}&ceid=${ceid}`;
  const plus = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
  const url = topic ? `https://news.google.com/rss/headlines/section/topic/${plus(topic.toUpperCase())}?${params}`
    : location ? `https://news.google.com/rss/headlines/section/geo/${plus(location)}?${params}`
    : query ? `https://news.google.com/rss/search?q=${plus(query)}&${params}` : null;
  if (!url) return new DataFrame([{ title: "Error", link: "", published: "", summary: "No search parameters provided" }]);
  return rssFrame(ctx, url);
}

async function rssRead(ctx: NodeContext): Promise<DataFrame> {
  const raw = ctx.text("query").trim();
  if (!raw) return new DataFrame([{ title: "Error", link: "", published: "", summary: "No RSS URL provided" }]);
  const url = /^https?:\/\//.test(raw) ? raw : `https://${raw}`;
  return rssFrame(ctx, url);
}

/** An RSS feed's items as the News and RSS modes answer them: errors and an empty feed as one row, as lfx does. */
async function rssFrame(ctx: NodeContext, url: string): Promise<DataFrame> {
  let items;
  try {
    const res = await get(ctx, url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    items = rssItems(res.body);
  } catch (err) {
    return new DataFrame([{ title: "Error", link: "", published: "", summary: fetchFailure(err) }]);
  }
  if (items.length === 0) return new DataFrame([{ title: "No articles found", link: "", published: "", summary: "" }]);
  const max = limitOf(ctx, "max_results", DEFAULT_MAX_RESULTS);
  const maxContent = limitOf(ctx, "max_content_length", DEFAULT_MAX_CONTENT_LENGTH);
  return new DataFrame((max === null ? items : items.slice(0, max)).map((i) => ({ ...i, summary: truncateContent(squash(i.summary ?? ""), maxContent) })));
}

const webSearchComponent: ComponentDef = {
  methods: {
    perform_search(ctx) {
      const mode = ctx.text("search_mode") || "Web";
      return mode === "News" ? newsSearch(ctx) : mode === "RSS" ? rssRead(ctx) : webSearch(ctx);
    },
  },
};

export const webSearchComponents: Record<string, ComponentDef> = { UnifiedWebSearch: webSearchComponent };
