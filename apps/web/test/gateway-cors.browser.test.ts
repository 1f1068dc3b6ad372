import assert from "node:assert/strict";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { loadFixture } from "@flowplane/testkit";
import { chromiumMissing } from "./browser.js";
import { startHarness, type Harness } from "./harness.js";
import { api } from "./server.js";
import { until } from "./until.js";

/** What the page's own fetch came to: the answer it could read, or the error the browser gave it. */
type Outcome = { ok: true; status: number; runId: string | null; json: unknown } | { ok: false; error: string; message: string };

/**
 * A web page on another origin calling a deployment through the gateway, as Langflow's embedded
 * chat widget does (FLOWPLANE_GATEWAY_CORS_ORIGINS, docs/gateway.md "Browsers (CORS)"): the real
 * server (its gateway workers) and a real replica, and Chromium's own CORS enforcement, which
 * flowplane does not write. The page is served from http://127.0.0.1:<A> (allowed) and from
 * http://localhost:<A> (another origin); the gateway is http://localhost:<server port>.
 */
describe("gateway: a browser page on another origin calls a route (CORS, browser)", { skip: chromiumMissing(), timeout: 300_000 }, () => {
  let h: Harness;
  let site: HttpServer;
  let sitePort: number;
  let endpoint: string;
  let flowId: string;

  before(async () => {
    // The customer's site: one blank page, so the page's origin is this server's.
    site = createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>shop</title><p>shop</p>"));
    await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
    sitePort = (site.address() as AddressInfo).port;
    h = await startHarness("gateway-cors", { FLOWPLANE_GATEWAY_CORS_ORIGINS: `http://127.0.0.1:${sitePort}` });
    const projectId = (await api(h.server, "POST", "/projects", { name: "Shop" })).json.id;
    assert.equal((await api(h.server, "POST", "/bundles", { name: "echo", versionTag: "1", accessLevel: "global", flows: [loadFixture("simple-chat-no-llm")] })).status, 201);
    const r = await api(h.server, "POST", `/projects/${projectId}/deployments`, { displayName: "Echo", bundle: { name: "echo", version: "1" }, networkAccess: "public" });
    assert.equal(r.status, 201);
    endpoint = r.json.endpoints.http;
    assert.ok(new URL(endpoint).origin !== `http://127.0.0.1:${sitePort}`);
    await until(async () => (await api(h.server, "GET", `/projects/${projectId}/deployments/${r.json.id}`)).json.status.phase === "Ready", "Ready", 120_000);
    const flows = (await (await fetch(`${endpoint}/flows`, { headers: { "x-access-key": h.server.adminKey } })).json()) as { id: string }[];
    flowId = flows[0]!.id;
  });
  after(async () => {
    await h?.close();
    site?.closeAllConnections();
    await new Promise((r) => site?.close(r));
  });

  /** Opens the site at `origin` and runs the widget's call from the page: POST .../api/v1/run/{flow} with x-api-key and a JSON body. */
  async function callFrom(origin: string): Promise<Outcome> {
    const page: Page = await h.browser.context.newPage();
    try {
      await page.goto(`${origin}/`);
      return await page.evaluate(async ({ url, key }) => {
        try {
          const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json", "x-api-key": key }, body: JSON.stringify({ input_value: "hello from the shop" }) });
          return { ok: true as const, status: r.status, runId: r.headers.get("x-request-id"), json: (await r.json()) as unknown };
        } catch (e) {
          return { ok: false as const, error: (e as Error).name, message: (e as Error).message };
        }
      }, { url: `${endpoint}/api/v1/run/${flowId}`, key: h.server.adminKey });
    } finally {
      await page.close();
    }
  }

  it("from the allowed origin: the call succeeds, and the page reads the JSON answer and the exposed run id (X-Request-Id)", async () => {
    const r = await callFrom(`http://127.0.0.1:${sitePort}`);
    assert.ok(r.ok, `the browser blocked the call: ${JSON.stringify(r)}`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.match(r.runId ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "the run id (X-Request-Id, the gateway's own UUID) is exposed to the page");
    assert.match(JSON.stringify(r.json), /hello from the shop/, "the flow's answer (it echoes its input)");
  });

  it("from another origin: the browser blocks the call (fetch rejects with a TypeError)", async () => {
    const r = await callFrom(`http://localhost:${sitePort}`);
    assert.deepEqual(r.ok ? r : { ok: false, error: r.error }, { ok: false, error: "TypeError" });
  });
});
