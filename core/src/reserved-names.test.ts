import assert from "node:assert/strict";
import { test } from "node:test";
import { isReservedName, reservedNameReason } from "./reserved-names.js";

test("names that steer a process or the runtime are reserved, in any case", () => {
  for (const n of ["NODE_OPTIONS", "node_options", "LD_PRELOAD", "PYTHONSTARTUP", "PYTHONPATH", "PATH", "HOME", "SHELL", "TMPDIR",
    "FLOWPLANE_BUNDLE_URL", "LANGFLOW_DATABASE_URL", "LFX_DEV", "PORT", "GLIBC_TUNABLES", "GETCONF_DIR", "RESOLV_HOST_CONF", "MALLOC_TRACE", "OPENSSL_CONF", "BASH_FUNC_x%%"]) {
    assert.ok(isReservedName(n), n);
  }
});

test("ordinary Langflow global variables are not", () => {
  for (const n of ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "My Key", "SUPPORT_PROMPT", "NODE", "PATHWAY_TOKEN", "TEMPERATURE"]) {
    assert.equal(reservedNameReason(n), null, n);
  }
});

test("the reason names the rule, and '=' or NUL can never be a name", () => {
  assert.match(reservedNameReason("NODE_OPTIONS")!, /NODE_/);
  assert.match(reservedNameReason("A=B")!, /"="/);
  assert.match(reservedNameReason("A\0B")!, /NUL/);
  assert.ok(!reservedNameReason("A\0B")!.includes("\0"));
});
