import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { compatibilityReport, parseFlow, UnprocessableFlowError, type LfxProblem } from "@flowplane/core";
import { lfxRunOnce, loadStarters, startersSkipReason } from "@flowplane/testkit";
import { LfxEngine } from "./engine.js";
import { findLfxBin, lfxSkipReason, resolveLfxBin } from "./locate.js";

/**
 * The four Langflow 1.13 starters the compatibility report calls not runnable on lfx, checked
 * against lfx itself. The engine refuses them before lfx is started (its load calls the report's
 * own `lfxProblems`), so that refusal alone would prove nothing about lfx: here the pinned lfx
 * runs each export (testkit's `lfxRunOnce`: `lfx run`, its own loader and executor, the
 * dependency preflight off so the import itself is tried) and must fail for the reason the
 * report names.
 */
const skip = lfxSkipReason(process.env) || startersSkipReason();

/** What lfx itself says when it fails for each reason the report can give. */
const LFX_SAYS: Record<LfxProblem["reason"], (p: LfxProblem) => RegExp> = {
  // lfx's class loader: "Error creating class. ModuleNotFoundError(No module named 'astrapy')."
  missing_module: (p) => new RegExp(`No module named '(${[...p.detail.matchAll(/'([\w.]+)'/g)].map((m) => m[1]).join("|")})'`),
  // lfx 1.13 knowledge components: "Knowledge Base retrieval requires Langflow's application services."
  needs_langflow_app: () => /requires Langflow's application services/,
};

const REFUSED = ["Document Q&A", "Hybrid Search RAG", "Knowledge Retrieval", "Vector Store RAG"];

describe("starters lfx cannot run: the report's verdict is lfx's own", { skip, timeout: 900_000 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "fp-lfx-refused-"));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the report refuses exactly these four of the 27 starters on lfx", () => {
    const refused = loadStarters().filter((s) => !compatibilityReport([parseFlow(s.raw)]).lfx.supported).map((s) => s.name).sort();
    assert.deepEqual(refused, REFUSED);
  });

  for (const name of REFUSED) {
    it(`${name}: the report says not runnable on lfx, the engine refuses it at load with the same reasons, and the real lfx fails for that reason`, async () => {
      const starter = loadStarters().find((s) => s.name === name);
      assert.ok(starter, `${name} is a starter`);
      const flow = parseFlow(starter.raw);
      const { lfx } = compatibilityReport([flow]);
      assert.equal(lfx.supported, false);
      assert.ok(lfx.missing.length > 0);

      // Load time, as a replica would: refused with the report's own reasons, lfx never started.
      const engine = new LfxEngine({ bin: resolveLfxBin(process.env.FLOWPLANE_LFX_BIN), workDir: dir });
      await assert.rejects(engine.load([flow], {}), (e: unknown) => {
        assert.ok(e instanceof UnprocessableFlowError);
        for (const p of lfx.missing) assert.ok(e.message.includes(`${p.nodeId} (${p.type}): ${p.detail}`), `the load refusal names ${p.nodeId}: ${e.message}`);
        return true;
      });
      assert.equal(engine.pid, undefined, "lfx was not started");

      // lfx itself: it fails, and its message is the one the report's first reason predicts.
      const bin = findLfxBin(process.env.FLOWPLANE_LFX_BIN);
      assert.ok(bin);
      const run = await lfxRunOnce(bin, starter.raw);
      assert.notEqual(run.code, 0, `lfx ran ${name}:\n${run.output}`);
      assert.equal(run.success, false, run.output);
      const message = run.message;
      const matched = lfx.missing.filter((p) => LFX_SAYS[p.reason](p).test(message));
      assert.ok(matched.length > 0, `lfx failed for a reason the report does not name:\n  report: ${lfx.missing.map((p) => `${p.reason} ${p.detail}`).join("; ")}\n  lfx: ${message}`);
      // The failing component is one the report names (lfx says "Error building Component <display name>" for a build failure).
      const building = /Error building Component ([^:]+):/.exec(message)?.[1]?.trim();
      if (building) assert.ok(matched.some((p) => flow.nodes.find((n) => n.id === p.nodeId)?.displayName === building), `lfx failed in ${building}, which the report does not name`);
      console.log(`  ${name}: report ${matched.map((p) => `${p.nodeId} ${p.reason}`).join(", ")}; lfx: ${message.replace(/\s+/g, " ").slice(0, 140)}`);
    });
  }
});
