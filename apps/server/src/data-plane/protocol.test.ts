import assert from "node:assert/strict";
import { test } from "node:test";
import type { Principal } from "@flowplane/core";
import { fromWire, toWire } from "./protocol.js";

test("a principal crosses the channel whole, its key id included (a worker's run records name the caller's key)", () => {
  const p: Principal = { userId: "u-1", name: "app", kind: "machine", orgOwner: false, roles: new Map([["p-1", "viewer"]]), keyId: "k-1" };
  const back = fromWire(JSON.parse(JSON.stringify(toWire(p))) as ReturnType<typeof toWire>);
  assert.deepEqual(back, p);
  const { keyId: _dropped, ...withoutKey } = p;
  assert.deepEqual(fromWire(JSON.parse(JSON.stringify(toWire(withoutKey))) as ReturnType<typeof toWire>), withoutKey);
});
