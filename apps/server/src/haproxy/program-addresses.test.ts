import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { memoryLogger } from "@flowplane/logging";
import type { GatewayRoute, GatewaySources } from "../gateway/types.js";
import { HaproxyProgram } from "./program.js";
import { ADDRESS_TTL_MS } from "./server-addresses.js";
import type { RuntimeApi } from "./runtime-api.js";
import { FAST_ROUTE } from "./test-haproxy.js";

/** How HaproxyProgram drives the name lookups of replica endpoints (server-addresses.ts), against a runtime API that records its commands. */
const route = (n: number): GatewayRoute => ({ ...FAST_ROUTE, appId: `a${n}`, routeId: `r${n}`, deploymentId: `d${n}`, resourceName: `d-${n}` });
const nameOf = (resourceName: string) => `runtime-r1.${resourceName}.svc.cluster.local`;

/** A runtime API that records every command and holds every server it was told to add. */
class RecordingApi {
  readonly sent: string[] = [];
  readonly servers = new Set<string>();
  run(commands: string[]): Promise<string> {
    let out = "";
    for (const c of commands) {
      this.sent.push(c);
      const f = c.split(" ");
      if (f[0] === "add" && f[1] === "server") this.servers.add(f[2]!);
      if (f[0] === "del" && f[1] === "server") this.servers.delete(f[2]!);
      if (c === "show servers state") out += `1\n# header\n${[...this.servers].map((s, i) => `3 ${s.split("/")[0]} ${i + 1} ${s.split("/")[1]} x 2 0 1 1 0 1 0 0 0 0 0 0 - 1 - 0 0 - - 0`).join("\n")}\n`;
    }
    return Promise.resolve(out);
  }
  now(commands: string[]): Promise<string> {
    return this.run(commands);
  }
}

const settle = async (ms = 50) => new Promise((r) => setTimeout(r, ms));

describe("HaproxyProgram's name lookups", () => {
  it("looks up no name for a route that gets no slot (it cannot go on the fast path anyway)", async () => {
    const api = new RecordingApi();
    let clock = 0;
    const lookups: string[] = [];
    const sources = {
      resolveRoute: (id: string) => Promise.resolve(route(Number(id.slice(1)))), authenticate: () => Promise.resolve(null),
      endpoints: (resourceName: string) => [`http://${nameOf(resourceName)}:8000/`], gatewaySecret: () => "a-gateway-secret",
    } as unknown as GatewaySources;
    // One slot, five deployments called once each (any tenant can make and call deployments).
    const program = new HaproxyProgram({
      api: api as unknown as RuntimeApi, sources, routesMap: "/r.map", keysMap: "/k.map", slots: 1, log: memoryLogger().log, syncIntervalMs: 10,
      now: () => clock, resolve: async (host) => { lookups.push(host); return `10.96.0.${lookups.length}`; },
    });
    try {
      for (let n = 1; n <= 5; n++) program.routeResolved(`r${n}`, route(n), "a-gateway-secret");
      await settle();
      for (let i = 0; i < 4; i++) { clock += ADDRESS_TTL_MS; await settle(); }
      const slotted = api.sent.filter((c) => c.startsWith("add server")).map((c) => c.split(" ")[2]!.split("/")[0]);
      assert.deepEqual([...new Set(slotted)], ["s0"], "one slot in use");
      const looked = new Set(lookups);
      // The four without a slot can never be served by HAProxy: their names are never looked up.
      assert.equal(looked.size, 1, `names looked up: ${[...looked].join(", ")} (${lookups.length} lookups)`);
    } finally {
      program.close();
    }
  });

  it("sends HAProxy nothing after close() when a lookup answers late", async () => {
    const api = new RecordingApi();
    let answer: ((ip: string) => void) | undefined;
    const sources = {
      resolveRoute: () => Promise.resolve(route(1)), authenticate: () => Promise.resolve(null),
      endpoints: (resourceName: string) => [`http://${nameOf(resourceName)}:8000/`], gatewaySecret: () => "a-gateway-secret",
    } as unknown as GatewaySources;
    const program = new HaproxyProgram({
      api: api as unknown as RuntimeApi, sources, routesMap: "/r.map", keysMap: "/k.map", slots: 4, log: memoryLogger().log, syncIntervalMs: 10,
      resolve: () => new Promise<string>((r) => { answer = r; }),
    });
    program.routeResolved("r1", route(1), "a-gateway-secret");
    await settle();
    assert.ok(answer, "the name's lookup began");
    program.close(); // HaproxyFront.close() stops HAProxy next: its socket is gone
    const before = api.sent.length;
    answer!("10.96.0.12");
    await settle();
    assert.deepEqual(api.sent.slice(before), [], "no command after close");
  });
});
