import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { parseFlow } from "@flowplane/core";
import { findLfxBin, lfxSkipReason } from "@flowplane/engine-lfx";
import { loadStarters, startersSkipReason } from "@flowplane/testkit";
import { TweaksRefusedError, refuseProtectedTweaks } from "./protected-tweaks.js";

/**
 * protected-tweaks.ts against lfx 1.13's own `process_tweaks` (its floor and its tweaks policy,
 * the setting patched per case), on the same flows and the same tweaks: every field of every
 * component of Langflow's 27 starters, one request per component, under each policy, and under
 * `declared` once more with one field marked editable via API; plus a flow of lfx's own
 * code-executing components, their nodes made by lfx itself (`to_frontend_node`). The refused
 * fields and the reason must be lfx's. (A tweak keyed by a display name several components share
 * is judged on all of them here and on the last by lfx: documented in langflow-compatibility.md;
 * these cases key by id.)
 */

const skip = lfxSkipReason(process.env) || startersSkipReason();
const python = () => join(dirname(findLfxBin(process.env.FLOWPLANE_LFX_BIN)!), "python");
const runPython = (script: string, input: unknown): unknown =>
  JSON.parse(execFileSync(python(), ["-c", script], { input: JSON.stringify(input), encoding: "utf8", stdio: ["pipe", "pipe", "ignore"], maxBuffer: 64 * 2 ** 20, timeout: 300_000 }));

/** lfx's code-executing components, as lfx's editor would export them (id, type, node). */
const CODE_NODES = `
import json, sys
from lfx.components.utilities.python_repl_core import PythonREPLComponent
out = []
for cls in [PythonREPLComponent]:
    fn = cls().to_frontend_node()
    out.append({"type": fn["data"]["type"], "node": fn["data"]["node"]})
print(json.dumps(out))
`;

/** Each case through process_tweaks under its policy: "ok", or the refused fields and reason. */
const DECIDE = `
import json, sys
from unittest import mock
import lfx.processing.process as P
from lfx.exceptions.tweaks import TweakRefusedError
out = []
for c in json.load(sys.stdin):
    with mock.patch.object(P, "_resolve_tweak_policy", lambda: c["policy"]):
        try:
            P.process_tweaks({"data": {"nodes": c["nodes"], "edges": []}}, c["tweaks"])
            out.append("ok")
        except TweakRefusedError as e:
            out.append({"fields": sorted(e.refused), "reason": e.reason})
        except Exception:
            # Not refused; applying the value failed after the decision (a string into a dict field...).
            out.append("ok")
print(json.dumps(out))
`;

type Raw = Record<string, unknown>;
interface Case { name: string; raw: Raw; nodes: unknown[]; tweaks: Record<string, Record<string, unknown>>; policy: "permissive" | "declared" | "off" }

const nodesOf = (raw: Raw) => ((raw.data as { nodes: { id: string; data: { node?: { template?: Record<string, unknown> } } }[] }).nodes);

/** One case per component with fields: a tweak setting every field it has to a string. */
function casesOf(name: string, raw: Raw, policy: Case["policy"]): Case[] {
  return nodesOf(raw).flatMap((n) => {
    const template = n.data.node?.template ?? {};
    const fields = Object.keys(template).filter((k) => typeof template[k] === "object" && template[k] !== null);
    return fields.length === 0 ? [] : [{ name: `${name} ${n.id} [${policy}]`, raw, nodes: nodesOf(raw), tweaks: { [n.id]: Object.fromEntries(fields.map((f) => [f, "x"])) }, policy }];
  });
}

function flowplane(c: Case): unknown {
  try {
    refuseProtectedTweaks(parseFlow(c.raw), c.tweaks, c.policy);
    return "ok";
  } catch (err) {
    if (!(err instanceof TweaksRefusedError)) throw err;
    return { fields: [...err.fields], reason: err.reason };
  }
}

describe("the tweak rules against lfx 1.13's process_tweaks", { skip, timeout: 600_000 }, () => {
  it("refuse exactly what lfx refuses, for the same reason, on every field of Langflow's starters and of lfx's code-executing components, under each policy", () => {
    const cases: Case[] = [];
    for (const s of loadStarters()) {
      for (const policy of ["permissive", "declared", "off"] as const) cases.push(...casesOf(s.name, s.raw, policy));
      // Declared, on a flow that declares: its first chat input's input_value marked editable via API.
      const marked = structuredClone(s.raw);
      const input = nodesOf(marked).find((n) => n.data.node?.template?.input_value);
      if (input) {
        (input.data.node!.template!.input_value as { api_editable?: boolean }).api_editable = true;
        cases.push(...casesOf(`${s.name} (declaring)`, marked, "declared"));
      }
    }
    const made = runPython(CODE_NODES, null) as { type: string; node: Raw }[];
    assert.ok(made.length > 0);
    const code: Raw = { id: "code-flow", name: "code", data: { edges: [], nodes: made.map((m, i) => ({ id: `${m.type}-${i}`, type: "genericNode", data: { id: `${m.type}-${i}`, type: m.type, node: m.node } })) } };
    for (const policy of ["permissive", "declared", "off"] as const) cases.push(...casesOf("lfx code components", code, policy));
    const lfx = runPython(DECIDE, cases.map((c) => ({ nodes: c.nodes, tweaks: c.tweaks, policy: c.policy }))) as unknown[];
    assert.equal(lfx.length, cases.length);
    const differ = cases.map((c, i) => ({ name: c.name, lfx: lfx[i], flowplane: flowplane(c) })).filter((r) => JSON.stringify(r.lfx) !== JSON.stringify(r.flowplane));
    assert.deepEqual(differ, []);
    // The comparison covered refusals of each kind, not only agreement that all is fine.
    const reasons = new Set(lfx.filter((r): r is { reason: string } => typeof r === "object" && r !== null).map((r) => r.reason));
    assert.ok(reasons.size >= 3, [...reasons].join(" | "));
    assert.ok(lfx.some((r) => typeof r === "object" && r !== null && (r as { fields: string[] }).fields.includes("python_code")), "lfx's own Python Interpreter node was refused its code");
    assert.ok(cases.length > 500, String(cases.length));
  });
});
