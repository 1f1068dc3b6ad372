import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FLOW_PATHS, flowIdOf } from "../runs/call.js";
import { MAX_LINE } from "../haproxy/log-sink.js";
import { luaLog, runLineFieldsMax } from "./lua-log.js";

/**
 * nginx counts the calls whose path cannot be a run's instead of writing a line each
 * (lua-log.ts): its test, a path without "/run" and without "/stream", must hold every path
 * runs/call.ts reads as a run's, or runs would go unrecorded.
 */
describe("nginx's counted calls are never runs", () => {
  it("a count cap that is not a whole number of 0 or more is refused (rendered, it would fail every call's log phase)", () => {
    for (const aggCap of [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY]) assert.throws(() => luaLog({ sink: { port: 1, token: "t0" }, workers: 1, aggCap }), /count cap/);
    assert.doesNotThrow(() => luaLog({ sink: { port: 1, token: "t0" }, workers: 1, aggCap: 0 }));
  });

  const lua = luaLog({ sink: { port: 1, token: "t0" }, workers: 1 });

  it("the Lua counts only a path without /run and /stream", () => {
    assert.match(lua, /if not find\(path, "\/run", 1, true\) and not find\(path, "\/stream", 1, true\) and path ~= "\/mcp" then/);
  });

  it("every run path runs/call.ts knows holds /run or /stream", () => {
    // Each run path's pattern names one of the two words (a new kind of run path must be added to lua-log.ts too).
    for (const re of FLOW_PATHS) assert.match(re.source, /\\\/(\(\?:)?(run|stream)/, re.source);
    // And every path of up to five of these parts (each with and without a trailing slash) that reads as a run's holds one of them.
    const parts = ["api", "v1", "run", "advanced", "flows", "stream", "runs", "f1", "", "mcp"];
    let runs = 0;
    const walk = (path: string, depth: number): void => {
      for (const p of [path, `${path}/`]) {
        if (flowIdOf(p) === null) continue;
        runs++;
        assert.ok(p.includes("/run") || p.includes("/stream"), p);
      }
      if (depth < 5) for (const part of parts) walk(`${path}/${part}`, depth + 1);
    };
    walk("", 0);
    assert.ok(runs > 50, `${runs} run paths tried`);
  });
});

describe("nginx's run lines fit the sink", () => {
  it("the longest route id, caller and revision program() admits leave a run line within MAX_LINE, its length in four digits", () => {
    // lua.ts program(): a route id, user id and key id each of 1,023 characters at most, a revision
    // a whole number (format %d: at most 20 characters). The sink's token: 32 hex digits (LogSink).
    const prefix = `${"0".repeat(32)} fpfast `.length;
    assert.ok(runLineFieldsMax(prefix) >= 1_023 + (1_023 + 1 + 1_023) + 20, `${runLineFieldsMax(prefix)}`);
    assert.ok(MAX_LINE <= 9_999, "a length in four digits");
  });
});
