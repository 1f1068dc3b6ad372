import { FlowRunError } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext } from "../component.js";
import { fetchFailure, shownUrl } from "../outbound.js";
import { Data, DataFrame, Message, toText } from "../values.js";

/** Components that call out over HTTP: URL (text mode) and API Request, on the engine's outbound fetch (outbound.ts). */

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Langflow's `ensure_url`: a bare host gets `https://`; anything else must parse as http(s). */
function ensureUrl(raw: string): string {
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not the text itself: it may carry a credential (a parameter's ?api_key=..., user:password@), and the error reaches the caller and the logs (shownUrl).
    throw new FlowRunError("invalid URL: it does not parse as a URL");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new FlowRunError(`invalid URL (http and https only): a ${parsed.protocol.slice(0, -1)} URL`);
  return parsed.toString();
}

function listOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(listOf);
  const text = toText(value).trim();
  return text ? text.split(/[\s,]+/).filter(Boolean) : [];
}

/** Header tables are `[{key, value}]` in Langflow; a plain object is accepted too. */
function headersOf(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(value)) {
    for (const row of value) if (isObject(row) && typeof row.key === "string" && row.key) out[row.key] = toText(row.value);
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) out[k] = toText(v);
  }
  return out;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

/** The visible text of an HTML page, like BeautifulSoup's get_text with scripts and styles dropped. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style|noscript)\b[^>]*>[\s\S]*?<\/\1>/gi, "")
    .replace(/<!--[\s\S]*?-->/g, "")
    .replace(/<[^>]+>/g, "")
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) =>
      e.startsWith("#x") ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith("#") ? String.fromCodePoint(Number(e.slice(1))) : (ENTITIES[e.toLowerCase()] ?? m),
    );
}

const meta = (html: string, re: RegExp): string => re.exec(html)?.[1]?.trim() ?? "";

async function fetchPages(ctx: NodeContext): Promise<Record<string, unknown>[]> {
  const urls = listOf(ctx.value("urls")).map(ensureUrl);
  if (urls.length === 0) throw new FlowRunError("no URL given");
  const timeoutMs = ctx.number("timeout", 30) * 1000;
  const headers = headersOf(ctx.value("headers"));
  const raw = ctx.text("format") === "HTML" || ctx.text("format") === "Raw HTML";
  const rows: Record<string, unknown>[] = [];
  for (const url of urls) {
    try {
      const res = await ctx.run.services.outbound(url, { headers, signal: AbortSignal.any([ctx.run.signal, AbortSignal.timeout(timeoutMs)]) });
      if (!res.ok && ctx.bool("check_response_status", false)) throw new Error(`HTTP ${res.status}`);
      const body = await res.text();
      const contentType = res.headers.get("content-type") ?? "";
      const html = contentType.includes("html");
      let text = raw || !html ? body : htmlToText(body);
      if (ctx.bool("clean_extra_whitespace", false)) text = text.replace(/\s+/g, " ").trim();
      rows.push({
        text,
        url,
        title: html ? meta(body, /<title[^>]*>([\s\S]*?)<\/title>/i) : "",
        description: html ? meta(body, /<meta\s+name=["']description["']\s+content=["']([^"']*)["']/i) : "",
        content_type: contentType,
        // LangChain's loader metadata: null when the page names no language.
        language: (html ? meta(body, /<html[^>]*\slang=["']([^"']+)["']/i) : "") || null,
      });
    } catch (err) {
      if (!ctx.bool("continue_on_failure", true)) throw new FlowRunError(`fetching ${shownUrl(url)} failed: ${fetchFailure(err)}`);
      ctx.log(`fetching ${shownUrl(url)} failed: ${fetchFailure(err)}`);
    }
  }
  return rows;
}

const url: ComponentDef = {
  methods: {
    async fetch_content(ctx) {
      const rows = await fetchPages(ctx);
      // The newer URL component answers a DataFrame; the older one (tool "fetch_content") a list of Data.
      return ctx.node.type === "URL" ? rows.map((r) => new Data(r)) : new DataFrame(rows);
    },
    async fetch_content_as_message(ctx) {
      return new Message({ text: (await fetchPages(ctx)).map((r) => String(r.text)).join("\n\n") });
    },
    async fetch_content_text(ctx) {
      return new Message({ text: (await fetchPages(ctx)).map((r) => String(r.text)).join(ctx.text("separator") || "\n\n") });
    },
    async as_dataframe(ctx) {
      return new DataFrame(await fetchPages(ctx));
    },
  },
};

async function request(ctx: NodeContext, target: string): Promise<Data> {
  const method = (ctx.text("method") || "GET").toUpperCase();
  const address = new URL(ensureUrl(target));
  const query = ctx.value("query_params");
  if (isObject(query)) for (const [k, v] of Object.entries(query)) address.searchParams.set(k, toText(v));
  const headers = headersOf(ctx.value("headers"));
  const rawBody = ctx.value("body");
  const bodyObject = Array.isArray(rawBody) ? headersOf(rawBody) : rawBody;
  const hasBody = method !== "GET" && method !== "HEAD" && bodyObject !== undefined && bodyObject !== "" && bodyObject !== null;
  if (hasBody && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await ctx.run.services.outbound(address, {
      method,
      headers,
      ...(hasBody ? { body: typeof bodyObject === "string" ? bodyObject : JSON.stringify(bodyObject) } : {}),
      redirect: ctx.bool("follow_redirects", true) ? "follow" : "manual",
      signal: AbortSignal.any([ctx.run.signal, AbortSignal.timeout(ctx.number("timeout", 30) * 1000)]),
    });
  } catch (err) {
    if (ctx.run.aborted) throw err;
    throw new FlowRunError(`requesting ${shownUrl(address)} failed: ${fetchFailure(err)}`);
  }
  const text = await res.text();
  let result: unknown = text;
  try {
    result = JSON.parse(text);
  } catch {
    // not JSON: the text as it came
  }
  const data: Record<string, unknown> = { source: address.toString(), result };
  if (ctx.bool("include_httpx_metadata", false)) {
    Object.assign(data, { headers, status_code: res.status, response_headers: Object.fromEntries(res.headers) });
  }
  return new Data(data);
}

const apiRequest: ComponentDef = {
  methods: {
    make_api_request(ctx) {
      const target = ctx.text("url_input") || listOf(ctx.value("urls"))[0] || "";
      if (!target) throw new FlowRunError("no URL given");
      return request(ctx, target);
    },
    make_requests(ctx) {
      return Promise.all(listOf(ctx.value("urls")).map((u) => request(ctx, u)));
    },
    async as_dataframe(ctx) {
      const rows = await Promise.all(listOf(ctx.value("urls") ?? ctx.value("url_input")).map((u) => request(ctx, u)));
      return new DataFrame(rows.map((d) => d.data));
    },
  },
};

export const httpComponents: Record<string, ComponentDef> = {
  URLComponent: url,
  URL: url,
  APIRequest: apiRequest,
};
