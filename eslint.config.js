// Lint rules whose main job is the dependency direction (see docs/ARCHITECTURE.md):
//   core      imports no other flowplane package and does no I/O (no fs, net, http, child_process)
//   core/src/api (the HTTP contract, `@flowplane/core/api`) imports only zod: browsers load it
//   apps/cli and apps/web (clients of the HTTP API) import only `@flowplane/core/api` from core
//   adapters  import only core (never another adapter, never an app)
//   apps      import core and adapters (never another app)
//   a replica's code (apps/runtime, engine-native, engine-lfx, logging) imports core as
//             `@flowplane/core/replica` and no zod: every replica pays for what it loads (issue #16)
import tseslint from "typescript-eslint";

const apps = ["@flowplane/server", "@flowplane/runtime", "@flowplane/gateway", "@flowplane/web", "@flowplane/cli"];
const io = ["fs", "fs/promises", "net", "http", "https", "http2", "child_process", "dgram", "dns", "tls", "cluster", "worker_threads"]
  .flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "apps/web/**/*.js", "bench/**", "scripts/**", "**/*.config.*"] },
  {
    files: ["**/*.ts", "**/*.tsx"],
    extends: [tseslint.configs.recommended],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
      "no-console": "off",
    },
  },
  {
    // Type-aware: a promise nobody awaits, catches or marks with `void` is a crash or a lost
    // error waiting to happen (an unhandled rejection ends the process); a promise where a
    // callback's return is ignored (an event listener, a timer) is the same mistake.
    files: ["**/*.ts", "**/*.tsx"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's describe/it/test return promises the runner itself awaits.
      "@typescript-eslint/no-floating-promises": ["error", {
        allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["describe", "it", "test", "suite", "before", "after", "beforeEach", "afterEach"] }],
      }],
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false, attributes: false } }],
    },
  },
  {
    // The web app's sources build with their own tsconfig (browser libs, JSX).
    files: ["apps/web/src/**/*.ts", "apps/web/src/**/*.tsx"],
    languageOptions: { parserOptions: { projectService: false, project: ["./apps/web/tsconfig.app.json"], tsconfigRootDir: import.meta.dirname } },
  },
  {
    files: ["core/src/**/*.ts"],
    ignores: ["core/src/**/*.test.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: io.map((name) => ({ name, message: "core has no I/O: put side effects in an adapter" })),
        patterns: [{ group: ["@flowplane/*"], message: "core depends on no other flowplane package" }],
      }],
    },
  },
  {
    files: ["adapters/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [{ group: ["@flowplane/*", "!@flowplane/core"], message: "an adapter depends only on @flowplane/core" }],
      }],
    },
  },
  {
    files: ["core/src/api/**/*.ts"],
    ignores: ["core/src/**/*.test.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [
          { group: ["@flowplane/*", "node:*", ...io], message: "the API contract imports only zod: the web app loads it in a browser" },
          { group: ["../*"], message: "the API contract imports only zod and its own files: the rest of core has Node code" },
        ],
      }],
    },
  },
  {
    files: ["apps/*/src/**/*.ts", "apps/*/src/**/*.tsx"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [{ group: apps, message: "an app never imports another app" }],
      }],
    },
  },
  {
    files: ["apps/cli/src/**/*.ts", "apps/web/src/**/*.ts", "apps/web/src/**/*.tsx"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: [{ name: "@flowplane/core", message: "a client of the API imports only the contract: @flowplane/core/api" }],
        patterns: [{ group: apps, message: "an app never imports another app" }],
      }],
    },
  },
  {
    // A replica's code: core's zod-free entry only, zod only as types (mcp.ts loads it with the
    // MCP SDK, at the first MCP call). Repeats the adapter and app patterns: a later
    // no-restricted-imports replaces an earlier one for the same files.
    files: ["apps/runtime/src/**/*.ts", "adapters/engine-native/src/**/*.ts", "adapters/engine-lfx/src/**/*.ts", "adapters/logging/src/**/*.ts"],
    ignores: ["**/*.test.ts", "apps/runtime/src/test-process.ts", "apps/runtime/src/conformance/**"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: [
          { name: "@flowplane/core", message: "a replica imports @flowplane/core/replica (no zod: 14 MiB and 0.25 s of every replica's start)" },
          { name: "zod", allowTypeImports: true, message: "a replica loads zod only with the MCP SDK (mcp.ts), never at start" },
        ],
        patterns: [
          { group: ["@flowplane/core/api"], message: "the contract's schemas are zod: a replica does not load them" },
          { group: apps, message: "an app never imports another app" },
        ],
      }],
    },
  },
  {
    files: ["adapters/engine-native/src/**/*.ts", "adapters/engine-lfx/src/**/*.ts", "adapters/logging/src/**/*.ts"],
    ignores: ["**/*.test.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: [
          { name: "@flowplane/core", message: "a replica imports @flowplane/core/replica (no zod: 14 MiB and 0.25 s of every replica's start)" },
          { name: "zod", allowTypeImports: true, message: "a replica loads zod only with the MCP SDK (mcp.ts), never at start" },
        ],
        patterns: [
          { group: ["@flowplane/*", "!@flowplane/core"], message: "an adapter depends only on @flowplane/core" },
          { group: ["@flowplane/core/api"], message: "the contract's schemas are zod: a replica does not load them" },
        ],
      }],
    },
  },
);
