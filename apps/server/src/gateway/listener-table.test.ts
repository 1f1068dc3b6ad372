import assert from "node:assert/strict";
import { it } from "node:test";
import { checkListenerTable } from "./listener-table.js";

it("the gateway's start check passes on this machine's table, and fails naming the cause when the table is unreadable or does not show its own listener", async () => {
  await checkListenerTable();
  await assert.rejects(checkListenerTable(() => Promise.reject(Object.assign(new Error("denied"), { code: "EACCES" }))), /cannot read \/proc\/net\/tcp \(EACCES\)/);
  await assert.rejects(checkListenerTable(async () => "  sl  local_address rem_address   st\n"), /does not find its own loopback listener in \/proc\/net\/tcp as socket:\[\d+\]\/\d+ \(it reads none\)/);
});
