import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseFlow, type Flow } from "@flowplane/core";
import { loadStarters, startersSkipReason } from "@flowplane/testkit";
import { variableGuard } from "./langflow-v1.js";
import { DECLARED_TWEAK_REASON, OFF_TWEAK_REASON, PROTECTED_TWEAK_REASON, TweaksRefusedError, declaresApiEditable, refuseProtectedTweaks } from "./protected-tweaks.js";

// Langflow 1.13's protected-field floor, on Langflow's own SaaS Pricing starter (an agent with
// an SQL Database tool) and on components of that starter retyped as the code-executing ones lfx
// lists (their templates are the same kind of field; only the type decides).

const starter = (name: string): Record<string, unknown> => structuredClone(loadStarters().find((s) => s.name === name)!.raw);
const nodesOf = (raw: Record<string, unknown>) => (raw.data as { nodes: { id: string; data: Record<string, unknown> & { type: string; node: { template: Record<string, unknown> } } }[] }).nodes;

/** The refused field names, or null when the tweaks pass. */
function refused(flow: Flow, tweaks: Record<string, unknown>): { fields: readonly string[]; details: { field: string; message: string }[] } | null {
  try {
    refuseProtectedTweaks(flow, tweaks);
    return null;
  } catch (err) {
    assert.ok(err instanceof TweaksRefusedError);
    return { fields: err.fields, details: err.errors };
  }
}

describe("Langflow's protected-field floor", { skip: startersSkipReason() }, () => {
  it("an SQL Database component's query and database URL are refused, by id and by display name; its other fields and the agent's are not", () => {
    const raw = starter("SaaS Pricing");
    const flow = parseFlow(raw);
    const sql = flow.nodes.find((n) => n.type === "SQLComponent")!;
    const agent = flow.nodes.find((n) => n.type === "Agent")!;
    assert.deepEqual(refused(flow, { [sql.id]: { query: "DROP TABLE users" } })?.fields, ["query"]);
    assert.deepEqual(refused(flow, { "SQL Database": { database_url: "postgresql://attacker", query: "SELECT 1", include_columns: false } }), {
      fields: ["database_url", "query"],
      details: [{ field: "tweaks.SQL Database.database_url", message: PROTECTED_TWEAK_REASON }, { field: "tweaks.SQL Database.query", message: PROTECTED_TWEAK_REASON }],
    });
    assert.equal(refused(flow, { [sql.id]: { include_columns: false, add_error: true } }), null);
    assert.equal(refused(flow, { [agent.id]: { system_prompt: "Be brief." } }), null);
    // A component's code, on any component, in either form.
    assert.deepEqual(refused(flow, { [agent.id]: { code: "import os" } })?.fields, ["code"]);
    assert.deepEqual(refused(flow, { [agent.id]: { code: { value: "import os" } } })?.fields, ["code"]);
    // Names the component does not have are ignored, as Langflow ignores them.
    assert.equal(refused(flow, { [sql.id]: { no_such_field: "x" } }), null);
  });

  it("the fields holding code or bounding its sandbox are refused on the components lfx lists as executing code, and only there", () => {
    const raw = starter("SaaS Pricing");
    const node = nodesOf(raw).find((n) => n.data.type === "SQLComponent")!;
    // The fields lfx protects on code-executing components, given to this node as plain strings.
    for (const name of ["python_code", "global_imports", "function_code", "filter_instruction", "allow_dangerous_code", "tool_code"]) node.data.node.template[name] = { type: "str", value: "", name };
    const plain = parseFlow(structuredClone(raw));
    assert.equal(refused(plain, { [node.id]: { python_code: "print(1)", global_imports: "os" } }), null, "an SQL component has no such fields of its own to protect");
    for (const type of ["PythonREPLComponent", "Python Interpreter", "PythonFunction", "LambdaFilterComponent", "Smart Transform", "CSVAgent"]) {
      node.data.type = type;
      const flow = parseFlow(structuredClone(raw));
      assert.deepEqual(refused(flow, { [node.id]: { python_code: "import os; print(os.environ)", global_imports: "os,subprocess", function_code: "x", filter_instruction: "x", allow_dangerous_code: true, tool_code: "x" } })?.fields,
        ["allow_dangerous_code", "filter_instruction", "function_code", "global_imports", "python_code", "tool_code"], type);
      assert.equal(refused(flow, { [node.id]: { include_columns: false } }), null, `${type}: its other fields stay tweakable`);
    }
  });

  it("a group's field is followed to the component it stands for: protected when that field is, or when it cannot be followed; a tweak may not move it", () => {
    const raw = starter("SaaS Pricing");
    const nodes = nodesOf(raw);
    const sql = nodes.find((n) => n.data.type === "SQLComponent")!;
    const group = { id: "GroupNode-1", data: { type: "GroupNode", id: "GroupNode-1", node: { display_name: "Group", template: {} as Record<string, unknown>, flow: { data: { nodes: [structuredClone(sql)], edges: [] } }, outputs: [] } } };
    group.data.node.template = {
      query_proxy: { type: "str", value: "", proxy: { id: sql.id, field: "query" } },
      columns_proxy: { type: "bool", value: true, proxy: { id: sql.id, field: "include_columns" } },
      lost_proxy: { type: "str", value: "", proxy: { id: "Nowhere-1", field: "query" } },
      broken_proxy: { type: "str", value: "", proxy: "not an object" },
      plain: { type: "str", value: "" },
    };
    nodes.push(group as never);
    const flow = parseFlow(raw);
    assert.deepEqual(refused(flow, { "GroupNode-1": { query_proxy: "DROP TABLE users" } })?.fields, ["query_proxy"]);
    assert.equal(refused(flow, { "GroupNode-1": { columns_proxy: false } }), null);
    assert.deepEqual(refused(flow, { "GroupNode-1": { lost_proxy: "x", broken_proxy: "y" } })?.fields, ["broken_proxy", "lost_proxy"], "fail closed");
    // An object merged into a plain field carrying `proxy` would point it elsewhere after the check.
    assert.deepEqual(refused(flow, { "GroupNode-1": { plain: { value: "x", proxy: { id: sql.id, field: "query" } } } })?.fields, ["plain"]);
    assert.equal(refused(flow, { "GroupNode-1": { plain: { value: "x" } } }), null);
  });
});

describe("the deployment's tweaks policy", { skip: startersSkipReason() }, () => {
  const BASIC = "Basic Prompting";
  /** Basic Prompting with the Prompt's template marked editable via API by its author (as Langflow's parameters panel stores it). */
  function declaring(): { flow: Flow; prompt: string; output: string } {
    const raw = starter(BASIC);
    const prompt = nodesOf(raw).find((n) => n.data.type === "Prompt")!;
    (prompt.data.node.template.template as { api_editable?: boolean }).api_editable = true;
    const flow = parseFlow(raw);
    return { flow, prompt: prompt.id, output: flow.nodes.find((n) => n.type === "ChatOutput")!.id };
  }
  const policyRefused = (flow: Flow, tweaks: Record<string, unknown>, policy: "permissive" | "declared" | "off") => {
    try {
      refuseProtectedTweaks(flow, tweaks, policy);
      return null;
    } catch (err) {
      assert.ok(err instanceof TweaksRefusedError);
      return { fields: err.fields, reason: err.reason, details: err.errors };
    }
  };

  it("declared: on a flow that marks fields editable via API only those take a tweak; the floor still comes first; a flow marking none stays permissive", () => {
    const { flow, prompt, output } = declaring();
    assert.equal(policyRefused(flow, { [prompt]: { template: "Answer in French: {input}" } }, "declared"), null);
    const r = policyRefused(flow, { [prompt]: { template: "x" }, [output]: { sender_name: "Bot" } }, "declared");
    assert.deepEqual(r?.fields, ["sender_name"]);
    assert.equal(r?.reason, DECLARED_TWEAK_REASON);
    // A protected field is refused for being protected, and both reasons are given in Langflow's order.
    const both = policyRefused(flow, { [output]: { sender_name: "Bot", code: "x" } }, "declared");
    assert.deepEqual(both?.fields, ["code", "sender_name"]);
    assert.equal(both?.reason, `${PROTECTED_TWEAK_REASON} ${DECLARED_TWEAK_REASON}`);
    assert.deepEqual(both?.details, [{ field: `tweaks.${output}.sender_name`, message: DECLARED_TWEAK_REASON }, { field: `tweaks.${output}.code`, message: PROTECTED_TWEAK_REASON }]);
    // Langflow's starters mark nothing (every api_editable is false): declared changes nothing for them.
    const plain = parseFlow(starter(BASIC));
    assert.equal(declaresApiEditable(plain), false);
    assert.equal(policyRefused(plain, { [output]: { sender_name: "Bot" } }, "declared"), null);
    assert.equal(policyRefused(flow, { [output]: { sender_name: "Bot" } }, "permissive"), null, "permissive ignores the marks");
  });

  it("off: every field a tweak names is refused with the one reason, protected or not (no probing which are); unknown names stay ignored", () => {
    const { flow, prompt, output } = declaring();
    const r = policyRefused(flow, { [prompt]: { template: "x" }, [output]: { code: "x", no_such_field: 1 } }, "off");
    assert.deepEqual(r?.fields, ["code", "template"]);
    assert.equal(r?.reason, OFF_TWEAK_REASON);
    assert.ok(r?.details.every((d) => d.message === OFF_TWEAK_REASON));
    assert.equal(policyRefused(flow, { [output]: { no_such_field: 1 } }, "off"), null);
  });
});

describe("request variables and protected fields", { skip: startersSkipReason() }, () => {
  it("a plain parameter bound in a protected field (an SQL Database's address) is never a request variable; one bound elsewhere still is", () => {
    const raw = starter("SaaS Pricing");
    const nodes = nodesOf(raw);
    const sql = nodes.find((n) => n.data.type === "SQLComponent")!;
    Object.assign(sql.data.node.template.database_url as object, { value: "SQL_DB_URL", load_from_db: true });
    // On a component holding no secret (the agent holds its model key): overridable.
    const output = nodes.find((n) => n.data.type === "ChatOutput")!;
    Object.assign(output.data.node.template.sender_name as object, { value: "PERSONA", load_from_db: true });
    const check = variableGuard([parseFlow(raw)]);
    // lfx 1.13 keeps request variables off protected fields (load_from_env_vars); here the request is refused, naming it.
    assert.deepEqual(check("SQL_DB_URL"), { ok: false, reason: "not_overridable" });
    assert.deepEqual(check("PERSONA"), { ok: true, name: "PERSONA" });
  });
});
