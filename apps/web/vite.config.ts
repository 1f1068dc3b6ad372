import { defineConfig } from "vite";

// No React plugin: vite's own transform compiles TSX with the automatic JSX runtime, and a
// production build needs nothing else. Output goes to dist/public (dist/test holds the
// compiled browser tests, so vite must not empty all of dist).
export default defineConfig({
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: "dist/public", emptyOutDir: true, assetsDir: "assets", sourcemap: false,
    rolldownOptions: {
      // React Flow marks its module "use client" (a React Server Components directive): this
      // app has no server components, so dropping the directive changes nothing.
      onLog(level, log, handler) {
        if (log.code === "MODULE_LEVEL_DIRECTIVE") return;
        handler(level, log);
      },
    },
  },
  server: { proxy: { "/api": "http://127.0.0.1:8080" } },
});
