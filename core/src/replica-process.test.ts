import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { imageCommand } from "@flowplane/testkit";
import { REPLICA_NODE_FLAGS } from "./replica-process.js";

describe("REPLICA_NODE_FLAGS, where a launcher repeats them", () => {
  it("the runtime's image starts a replica with a replica's Node options (a Dockerfile cannot import them)", () => {
    const words = imageCommand("runtime").entrypoint;
    const options = words.slice(words.indexOf("node") + 1, words.findIndex((w) => w.endsWith(".js")));
    for (const f of REPLICA_NODE_FLAGS) assert.ok(options.includes(f), `${f} in ${words.join(" ")}`);
  });
});
