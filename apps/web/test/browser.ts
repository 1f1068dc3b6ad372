import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { repoRoot } from "@flowplane/testkit";

/**
 * Debian's Chromium driven by playwright-core (no downloaded browser). Without Chromium the
 * browser tests are skipped and say why, except under CI=true, where they fail.
 */
export const CHROMIUM = process.env.FLOWPLANE_CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOTS = join(repoRoot, "test-results", "screenshots");

export function chromiumMissing(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const why = `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set FLOWPLANE_CHROMIUM)`;
  if (process.env.CI === "true") throw new Error(`${why}: the browser tests cannot be skipped in CI`);
  return why;
}

export interface Session {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function launch(baseURL: string): Promise<Session> {
  // chromium.launch gives every launch a fresh, temporary profile (user-data-dir) of its own.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ baseURL, viewport: { width: 1366, height: 860 }, deviceScaleFactor: 1 });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseURL });
  const page = await context.newPage();
  await mkdir(SCREENSHOTS, { recursive: true });
  return {
    browser, context, page,
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  // Let CSS transitions and the dry-run debounce settle so the picture shows the resting state.
  await page.waitForTimeout(150);
  // From the top: a full-page picture of a scrolled page would paint the sticky top bar mid-page.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

interface AxeResult {
  violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
}

/** Runs axe-core in the page; returns the serious and critical violations, described. */
export async function axeViolations(page: Page): Promise<string[]> {
  const source = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  // Evaluated through the DevTools protocol, not added as an inline <script>: the UI's
  // Content-Security-Policy (script-src 'self') refuses inline scripts, as it should.
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(source);
  const result = (await page.evaluate(() => (window as unknown as { axe: { run: (c: unknown, o: unknown) => Promise<unknown> } }).axe.run(document, { resultTypes: ["violations"] }))) as AxeResult;
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
}

/** How far the page is wider than the window (0 when nothing scrolls sideways). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth);
}
