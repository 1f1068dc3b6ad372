import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";

/**
 * The web UI (apps/web) served by the control plane at `/`. Only known page paths answer
 * index.html (the single-page app routes them itself), so /api/*, /internal/*, /metrics and
 * the gateway's /projects/... keep their own handlers and JSON 404s. Built assets have
 * content-hashed names and are cached for a year; index.html is never cached, so a new
 * build is picked up at the next load.
 */
export const WEB_HOME = "/asset-library/published-flows";
/**
 * The UI's pages load only this origin's own bundled script and styles and talk only to this
 * origin (the API and, from the Playground, the gateway's routes): a tenant's text that ever
 * reached the DOM as markup could run no script, load nothing and send nothing elsewhere, and
 * no other site may frame the UI. Inline style attributes stay allowed: React Flow and uPlot
 * position their elements with them.
 */
export const WEB_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "connect-src 'self'",
  "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join("; ");
/** The UI's page paths (deep links must load the app). */
const PAGES = ["/sign-in", "/asset-library", "/asset-library/*", "/estate", "/estate/*"];

/** The built UI (`@flowplane/web`'s dist/public), or null when it is not installed or not built. */
export function locateWebRoot(): string | null {
  try {
    const pkg = fileURLToPath(import.meta.resolve("@flowplane/web/package.json"));
    const root = join(dirname(pkg), "dist", "public");
    return existsSync(join(root, "index.html")) ? root : null;
  } catch {
    return null;
  }
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>flowplane</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;line-height:1.5">
<h1>flowplane is running, but its web UI is not built</h1>
<p>Build it with <code>npm run build</code> (the root build builds <code>apps/web</code> too) and reload this page.</p>
<p>The API is available at <a href="/api/v1/openapi.json">/api/v1</a>.</p></body></html>`;

export async function registerWeb(app: FastifyInstance, o: { root: string | null }): Promise<void> {
  const root = o.root;
  if (!root) {
    app.log.warn("the web UI is not built (apps/web/dist/public is missing): run `npm run build`; the API is unaffected");
    const notBuilt = (_req: unknown, reply: FastifyReply) => reply.code(503).type("text/html; charset=utf-8").header("cache-control", "no-store").header("content-security-policy", WEB_CSP).send(NOT_BUILT);
    app.get("/", notBuilt);
    for (const p of PAGES) app.get(p, notBuilt);
    return;
  }
  await app.register(fastifyStatic, {
    root: join(root, "assets"),
    prefix: "/assets/",
    maxAge: "365d",
    immutable: true,
    index: false,
    logLevel: "warn",
  });
  const page = (_req: unknown, reply: FastifyReply) =>
    reply.header("cache-control", "no-cache").header("content-security-policy", WEB_CSP).sendFile("index.html", root, { maxAge: 0, immutable: false, cacheControl: false });
  app.get("/", { logLevel: "warn" }, (_req, reply) => reply.redirect(WEB_HOME, 302));
  for (const p of PAGES) app.get(p, { logLevel: "warn" }, page);
}
