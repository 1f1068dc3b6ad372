import assert from "node:assert/strict";
import { it } from "node:test";
import { openStore } from "@flowplane/store";
import { memoryLogger } from "@flowplane/logging";
import { PublishedEndpoints } from "./published-endpoints.js";

it("a gateway's view follows the published endpoint sets, and keeps the last known ones while the database is gone", async () => {
  const { store } = await openStore({});
  const logs = memoryLogger();
  await store.publishEndpoints("rt-a", ["http://127.0.0.1:1", "http://127.0.0.1:2"]);
  const view = await PublishedEndpoints.start({ store, intervalMs: 60_000, log: logs.log });
  try {
    assert.deepEqual(view.endpoints("rt-a"), ["http://127.0.0.1:1", "http://127.0.0.1:2"], "read at start");
    assert.deepEqual(view.endpoints("rt-unknown"), []);
    await store.publishEndpoints("rt-a", ["http://127.0.0.1:3"]);
    await store.publishEndpoints("rt-b", ["http://127.0.0.1:4"]);
    await view.refresh();
    assert.deepEqual(view.endpoints("rt-a"), ["http://127.0.0.1:3"]);
    assert.deepEqual(view.endpoints("rt-b"), ["http://127.0.0.1:4"]);
    await store.publishEndpoints("rt-b", []);
    await view.refresh();
    assert.deepEqual(view.endpoints("rt-b"), [], "an emptied set (undeployed) is dropped");
    // Each URL's listener, for the gateway's connection check; a URL published again without one is not checked.
    await store.publishEndpoints("rt-c", ["http://127.0.0.1:5"], { "http://127.0.0.1:5": "socket:[77]/0" });
    await store.publishEndpoints("rt-c@2", ["http://127.0.0.1:6"], { "http://127.0.0.1:6": "socket:[78]/0" });
    await view.refresh();
    assert.equal(view.replicaListener("rt-c", "http://127.0.0.1:5"), "socket:[77]/0");
    assert.equal(view.replicaListener("rt-c", "http://127.0.0.1:6"), "socket:[78]/0", "a revision's set names the same runtime's replicas");
    assert.equal(view.replicaListener("rt-a", "http://127.0.0.1:5"), undefined, "per runtime, never per URL alone");
    assert.equal(view.replicaListener("rt-c", "http://127.0.0.1:3"), undefined);
    await store.publishEndpoints("rt-c", ["http://127.0.0.1:5"]);
    await view.refresh();
    assert.equal(view.replicaListener("rt-c", "http://127.0.0.1:5"), undefined);

    await store.close(); // the database is gone: reads fail
    await view.refresh();
    await view.refresh();
    assert.deepEqual(view.endpoints("rt-a"), ["http://127.0.0.1:3"], "the last known set is still served");
    assert.equal(logs.lines.filter((l) => l.msg.startsWith("cannot read")).length, 1, "said once, not on every read");
  } finally {
    await view.close();
  }
});
