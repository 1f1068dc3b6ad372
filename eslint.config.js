// Lint rules whose main job is the dependency direction (see docs/ARCHITECTURE.md):
//   core      imports no other flowplane package and does no I/O (no fs, net, http, child_process)
//   adapters  import only core (never another adapter, never an app)
//   apps      import core and adapters (never another app)
import tseslint from "typescript-eslint";

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
    files: ["apps/*/src/**/*.ts", "apps/*/src/**/*.tsx"],
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [{ group: ["@flowplane/server", "@flowplane/runtime", "@flowplane/gateway", "@flowplane/web", "@flowplane/cli"], message: "an app never imports another app" }],
      }],
    },
  },
);
