#!/usr/bin/env node
// Builds only what changed, so that `npm start` on an up-to-date tree starts in seconds:
// - TypeScript with `tsc -b`, which is incremental on its own (tsbuildinfo per project);
// - the CLI bundled with rolldown (apps/cli/dist/bundle/, which apps/cli/bin/flowplane.js runs:
//   a few files start faster than tsc's one per module and zod's many), when TypeScript rebuilt
//   the CLI or core since the last bundle;
// - the runtime replica bundled with rolldown (apps/runtime/dist/bundle/, which
//   apps/runtime/bin/flowplane-runtime.js runs, by scripts/bundle-runtime.mjs), when TypeScript
//   rebuilt it or a package bundled into it since the last bundle;
// - the web app with Vite, only when a source of it is newer than the last build's output.
// `--force` rebuilds the bundle and the web app regardless (`npm run build` passes it: CI and tests always build).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const force = process.argv.includes("--force");

function run(cmd, args, cwd = root) {
  const r = spawnSync(cmd, args, { cwd, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

/** Newest modification time of the files below `p` (a file or a folder), node_modules and dist excluded. */
function newest(p) {
  if (!existsSync(p)) return 0;
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  let m = 0;
  for (const e of readdirSync(p)) if (e !== "node_modules" && e !== "dist") m = Math.max(m, newest(join(p, e)));
  return m;
}

run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-b"]);
// The template every new embedded database is copied from (adapters/store/src/pglite-template.ts
// says why); made once per PGlite version, in seconds, so no first start pays for it.
run(process.execPath, ["--input-type=module", "-e", 'await (await import("@flowplane/store")).preparePgliteTemplate()']);

// The same freshness rule as apps/cli/bin/flowplane.js: the bundle is used only when it is newer
// than the last TypeScript build of the CLI and of core (their tsbuildinfo files).
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);
const cli = join(root, "apps/cli");
const bundleDir = join(cli, "dist/bundle");
if (force || mtime(join(bundleDir, "main.js")) < Math.max(mtime(join(cli, "tsconfig.tsbuildinfo")), mtime(join(root, "core/tsconfig.tsbuildinfo")))) {
  const { build } = await import("rolldown");
  rmSync(bundleDir, { recursive: true, force: true }); // chunk names carry hashes: no stale chunk stays behind
  // Code-split at the CLI's dynamic imports, so a command still loads only its own module.
  await build({ input: join(cli, "dist/main.js"), platform: "node", logLevel: "warn", output: { dir: bundleDir, format: "esm" } });
}

// The runtime, by the freshness rule apps/runtime/bin/flowplane-runtime.js runs it by.
const { bundleIsFresh } = await import("../apps/runtime/bin/bundle-fresh.js");
if (force || !bundleIsFresh()) run(process.execPath, [join(root, "scripts/bundle-runtime.mjs")]);

const web = join(root, "apps/web");
const stamp = join(web, "dist/public/index.html");
// The web app imports shared code from core, so core's sources count as its inputs too.
const inputs = ["src", "index.html", "vite.config.ts", "tsconfig.app.json", "package.json"].map((f) => join(web, f)).concat(join(root, "core/src"));
const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (force || Math.max(...inputs.map(newest)) > built) run("npm", ["run", "build", "-w", "@flowplane/web", "--silent"]);
else console.log("web UI is up to date (apps/web/dist/public)");
