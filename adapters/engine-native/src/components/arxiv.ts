import { fetchFailure } from "../outbound.js";
import type { ComponentDef, NodeContext } from "../component.js";
import { DataFrame } from "../values.js";
import { htmlToText } from "./http.js";

/**
 * Langflow 1.13's arXiv (`ArXivComponent`, the code its starter carries): arXiv's Atom API
 * (`http://export.arxiv.org/api/query`) through the deployment's egress, one row per paper with
 * lfx's fields; a failed request is one `{error}` row, as in lfx.
 */

const PREFIX: Record<string, string> = { title: "ti", abstract: "abs", author: "au", cat: "cat" };
const TIMEOUT_MS = 10_000;

/** Python's `urllib.parse.quote` (safe "/"): letters, digits, `_.-~/` kept, the rest percent-encoded. */
const quote = (s: string): string => encodeURIComponent(s).replace(/%2F/g, "/").replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function arxivQueryUrl(query: string, searchType: string, maxResults: string): string {
  const q = searchType === "all" || !searchType ? query : `${PREFIX[searchType] ?? ""}:${query}`;
  return `http://export.arxiv.org/api/query?search_query=${quote(q)}&max_results=${quote(maxResults)}`;
}

const attr = (tag: string, name: string): string | null => new RegExp(`\\s${name}=["']([^"']*)["']`, "i").exec(tag)?.[1] ?? null;

/** ElementTree's `find(...).text.strip()`, or null (no element, or empty text). */
function textOf(xml: string, tag: string): string | null {
  const m = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`).exec(xml);
  const t = m ? htmlToText(m[1] ?? "").trim() : "";
  return t || null;
}

/** lfx's `parse_atom_response`: the papers of an arXiv Atom feed. */
export function parseArxiv(xml: string): Record<string, unknown>[] {
  return [...xml.matchAll(/<entry(?:\s[^>]*)?>([\s\S]*?)<\/entry>/g)].map((m) => {
    const e = m[1] ?? "";
    const links = [...e.matchAll(/<link\b[^>]*>/g)].map((l) => l[0]);
    const link = (rel: string) => {
      const found = links.find((l) => attr(l, "rel") === rel);
      return found ? attr(found, "href") : null;
    };
    const primary = /<arxiv:primary_category\b[^>]*>/.exec(e)?.[0];
    return {
      id: textOf(e, "id"),
      title: textOf(e, "title"),
      summary: textOf(e, "summary"),
      published: textOf(e, "published"),
      updated: textOf(e, "updated"),
      authors: [...e.matchAll(/<author(?:\s[^>]*)?>([\s\S]*?)<\/author>/g)].map((a) => textOf(a[1] ?? "", "name")),
      arxiv_url: link("alternate"),
      pdf_url: link("related"),
      comment: textOf(e, "arxiv:comment"),
      journal_ref: textOf(e, "arxiv:journal_ref"),
      primary_category: primary ? attr(primary, "term") : null,
      categories: [...e.matchAll(/<category\b[^>]*>/g)].map((c) => attr(c[0], "term")),
    };
  });
}

async function search(ctx: NodeContext): Promise<DataFrame> {
  const url = arxivQueryUrl(ctx.text("search_query"), ctx.text("search_type") || "all", ctx.text("max_results") || "10");
  try {
    const res = await ctx.run.services.outbound(url, { signal: AbortSignal.any([ctx.run.signal, AbortSignal.timeout(TIMEOUT_MS)]) });
    if (!res.ok) throw new Error(`HTTP Error ${res.status}: ${res.statusText}`);
    return new DataFrame(parseArxiv(await res.text()));
  } catch (err) {
    return new DataFrame([{ error: `Request error: ${fetchFailure(err)}` }]);
  }
}

const arxiv: ComponentDef = { methods: { search_papers_dataframe: search, run_model: search } };

export const arxivComponents: Record<string, ComponentDef> = { ArXivComponent: arxiv };
