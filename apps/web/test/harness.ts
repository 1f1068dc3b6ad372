import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { killAll, replicaPidsOf, startFakeOpenAI, type FakeOpenAI } from "@flowplane/testkit";
import { axeViolations, horizontalOverflow, launch, screenshot, type Session } from "./browser.js";
import { startServer, type Server } from "./server.js";

/** A real server (with a fake OpenAI behind its replicas) and a browser, for one test file. */
export interface Harness {
  dir: string;
  server: Server;
  llm: FakeOpenAI;
  browser: Session;
  page: Page;
  /** Screenshot under `name`, then axe-core: no serious or critical violation. */
  check(name: string): Promise<void>;
  /** At a narrow window width the page must not scroll sideways. */
  checkNarrow(name: string, width?: number): Promise<void>;
  close(): Promise<void>;
}

/** `env`: more of the server's settings (a shorter metrics sample period, say). */
export async function startHarness(prefix: string, env: Record<string, string> = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), `flowplane-${prefix}-`));
  const llm = await startFakeOpenAI();
  // A server that does not start must not leave the fake OpenAI listening: it would keep the
  // test process alive after the failure.
  const server = await startServer(join(dir, "data"), {
    FLOWPLANE_RUNTIME_PASSTHROUGH_ENV: "OPENAI_API_BASE", OPENAI_API_BASE: llm.baseUrl, FLOWPLANE_RESYNC_SECONDS: "2", ...env,
  }).catch(async (e: unknown) => {
    console.error(`web test harness (${prefix}): the server did not start:`, e);
    await llm.close();
    throw e;
  });
  let browser: Session;
  try {
    browser = await launch(server.url);
  } catch (e) {
    // Said on stderr as well: a failing `before` hook shows in the runner's report only as
    // cancelled subtests, and the reason is easy to lose in a long CI log.
    console.error(`web test harness (${prefix}): Chromium did not launch:`, e);
    // The server's piped output would keep the test process alive: stop it before failing.
    await server.stop();
    await llm.close();
    throw e;
  }
  const page = browser.page;
  // The UI parses every API answer with the contract's schema and reports a mismatch on the
  // console ("… does not match the API contract …"): any such line fails the test file.
  const contractProblems: string[] = [];
  const cspViolations: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && m.text().includes("does not match the API contract")) contractProblems.push(m.text());
    // Chromium reports what the page's Content-Security-Policy refused (web.ts WEB_CSP) on the
    // console: the UI must work under its own policy.
    if (m.text().includes("Content Security Policy")) cspViolations.push(m.text());
  });
  const h: Harness = {
    dir, server, llm, browser, page,
    async check(name) {
      await screenshot(page, name);
      assert.deepEqual(await axeViolations(page), [], `accessibility of ${name}`);
    },
    async checkNarrow(name, width = 420) {
      const before = page.viewportSize();
      await page.setViewportSize({ width, height: 860 });
      try {
        await page.waitForTimeout(100);
        await h.check(`${name}-narrow`);
        const overflow = await horizontalOverflow(page);
        // On failure, names the elements that make the page wide: those whose hiding narrows it,
        // innermost first. (An element past the edge is not enough: a clipped one scrolls nothing,
        // and an absolutely positioned one escapes a clipping ancestor that is not its containing block.)
        const wide = overflow <= 0 ? [] : await page.evaluate(() => {
          const width = () => document.documentElement.scrollWidth;
          const base = width();
          const found: Element[] = [];
          for (const e of document.querySelectorAll<HTMLElement>("body *")) {
            const display = e.style.display;
            e.style.display = "none";
            const narrower = width() < base;
            e.style.display = display;
            if (narrower) found.push(e);
          }
          return found.filter((e) => !found.some((f) => f !== e && e.contains(f))).slice(0, 5)
            .map((e) => `${e.tagName.toLowerCase()}.${String(e.getAttribute("class") ?? "")} in ${e.parentElement?.tagName.toLowerCase() ?? "?"}`);
        });
        assert.ok(overflow <= 0, `${name} scrolls sideways at ${width}px: ${wide.join(", ")}`);
      } finally {
        if (before) await page.setViewportSize(before);
      }
    },
    async close() {
      await browser.close();
      await server.stop();
      // Replicas outlive a server that had to be killed (its stop is SIGKILL after 20 s, and a
      // replica still starting can hold the graceful shutdown past that): they are left for the
      // next start to adopt, by design. This test owns them: none may outlive it.
      killAll(await replicaPidsOf(join(dir, "data")));
      await llm.close();
      await rm(dir, { recursive: true, force: true });
      assert.deepEqual(contractProblems, [], "the web UI read API answers that do not match the contract");
      assert.deepEqual(cspViolations, [], "the web UI did something its Content-Security-Policy refuses");
    },
  };
  return h;
}

/** Signs in through the form with the organisation owner's key. */
export async function signIn(h: Harness): Promise<void> {
  await h.page.goto("/asset-library/published-flows");
  await h.page.getByLabel("Access key").fill(h.server.adminKey);
  await h.page.getByRole("button", { name: "Sign in" }).click();
  await h.page.getByRole("heading", { name: "Published Flows", exact: true }).waitFor();
}
