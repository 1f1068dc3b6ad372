import { ValidationError, type Flow, type FlowNode, type TweaksPolicy } from "@flowplane/core/replica";

/**
 * Langflow 1.13's rules on which fields a tweak may set: the deployment's tweaks policy
 * (`permissive`, `declared`, `off`: core api/tweaks-policy.ts), above the protected-field floor
 * (lfx `is_protected_tweak_field` (lfx `is_protected_tweak_field` and
 * `_is_protected_proxy_tweak`, langflow-ai/langflow#14538): fields a run request may never set,
 * whatever else allows tweaks, because their value is code or decides what code or query runs.
 * lfx applies it when Langflow itself runs a flow; flowplane applies tweaks itself on both
 * engines (lfx serve takes no per-request tweaks: engine-lfx variants.ts), so it applies the
 * floor here, before either engine sees the request, with Langflow's answer: the whole request
 * is refused (nothing runs, no other tweak applies) and the refused fields are named.
 *
 * Without it a caller of a deployment whose flow has a Python Interpreter could send its own
 * `python_code` and run it in the replica, beside the deployment's credentials; one whose flow
 * has an SQL Database component could send its own `query` to the author's database.
 */

/** Components that execute code (lfx CODE_EXECUTION_COMPONENT_TYPES), by type or display name as lfx lists them. */
const CODE_EXECUTION_COMPONENTS: ReadonlySet<string> = new Set([
  "CSVAgent", "CodeAct Agent (Smolagents)", "CodeActAgentSmolagents", "Cuga", "LambdaFilterComponent",
  "OpenDsStar Agent", "OpenDsStarAgent", "Python Code Structured", "PythonCodeStructuredTool",
  "Python Function", "PythonFunction", "PythonFunctionComponent", "Python Interpreter",
  "PythonREPLComponent", "Python REPL", "PythonREPLToolComponent", "PythonREPLTool", "Smart Transform",
]);

/**
 * The fields of those components that hold code or bound its sandbox (lfx CODE_EXECUTION_FIELD_NAMES):
 * their executable input, Smart Transform's instruction (an LLM writes a lambda from it that is
 * eval'd), the import allow-list, and the CSV agent's switch for Python execution.
 */
const CODE_EXECUTION_FIELDS: ReadonlySet<string> = new Set(["allow_dangerous_code", "function_code", "python_code", "tool_code", "filter_instruction", "global_imports"]);

/** Per component type, fields that decide where its query goes or what it is (lfx PROTECTED_TWEAK_FIELDS_BY_COMPONENT). */
const PROTECTED_BY_COMPONENT: Readonly<Record<string, readonly string[]>> = {
  SQLComponent: ["database_url", "query"],
  BingSearchAPI: ["bing_search_url"],
  BingSearchAPIComponent: ["bing_search_url"],
  "Bing Search API": ["bing_search_url"],
  "ext:bing:BingSearchAPIComponent@official": ["bing_search_url"],
  "ext:bing:BingSearchAPIComponent@official-pre-a": ["bing_search_url"],
  "lfx.components.bing.bing_search_api.BingSearchAPIComponent": ["bing_search_url"],
  "lfx.components.bing.BingSearchAPIComponent": ["bing_search_url"],
};

/** Langflow's reasons, word for word (its clients may show them), in the order a combined message gives them. */
export const PROTECTED_TWEAK_REASON = "The field is protected and keeps the value set by the flow author.";
export const DECLARED_TWEAK_REASON = "This flow declares which fields the API may set. Only fields marked editable via API accept a tweak.";
export const OFF_TWEAK_REASON = "This deployment does not accept tweaks.";
const REASON_ORDER = [PROTECTED_TWEAK_REASON, DECLARED_TWEAK_REASON, OFF_TWEAK_REASON];

/**
 * The flow's author marked at least one field editable via API (`api_editable: true`, the
 * parameters panel's "API" toggle): under `declared` only those fields take a tweak. A flow with
 * none marked declared nothing and stays permissive (lfx `flow_declares_api_editable`).
 */
export function declaresApiEditable(flow: Flow): boolean {
  return flow.nodes.some((n) => Object.values(n.template).some((f) => isObj(f) && f.api_editable === true));
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** lfx `is_protected_tweak_field`. */
export function isProtectedField(componentType: string, name: string, fieldType: unknown): boolean {
  return fieldType === "code" || name === "code" || (CODE_EXECUTION_COMPONENTS.has(componentType) && CODE_EXECUTION_FIELDS.has(name)) || (PROTECTED_BY_COMPONENT[componentType]?.includes(name) ?? false);
}

/**
 * A group's field is a proxy for a field of a component inside it (`proxy: {id, field}`, the
 * group's components in `node.flow.data.nodes`): protected when the field it leads to is, and
 * when it cannot be followed (fail closed, as lfx does). Proxies may chain through nested groups.
 */
function proxyIsProtected(node: Obj, field: Obj): boolean {
  const seen = new Set<string>();
  let data: Obj = node;
  let current: Obj = field;
  while (current.proxy !== undefined && current.proxy !== null) {
    const proxy = current.proxy;
    if (!isObj(proxy) || typeof proxy.id !== "string" || typeof proxy.field !== "string") return true;
    const key = `${proxy.id}\u0000${proxy.field}`;
    if (seen.has(key)) return true;
    seen.add(key);
    const inner = data.node;
    if (!isObj(inner)) return true;
    // Group expansion copies the outer field, proxy included, onto the child it leads to: a
    // component with no nested flow is that child, and its own type and field were checked.
    if (!("flow" in inner)) return false;
    const flowData = isObj(inner.flow) ? inner.flow.data : undefined;
    const nodes = isObj(flowData) ? flowData.nodes : undefined;
    if (!Array.isArray(nodes)) return true;
    const child = nodes.find((n): n is Obj => isObj(n) && n.id === proxy.id);
    const childData = child?.data;
    if (!isObj(childData) || !isObj(childData.node)) return true;
    const template = childData.node.template;
    const next = isObj(template) ? template[proxy.field] : undefined;
    if (!isObj(next)) return true;
    if (isProtectedField(typeof childData.type === "string" ? childData.type : "", proxy.field, next.type)) return true;
    data = childData;
    current = next;
  }
  return false;
}

/**
 * The fields of one node a tweak of it would set that are refused, each with its reason (lfx
 * `_tweak_refusal_reason`): under `off` every field, with the one reason, so probing field by
 * field cannot tell which are also protected; else the floor first, then `declared`'s allowlist.
 */
function refusedOn(node: FlowNode, fields: Obj, policy: TweaksPolicy, declared: boolean): { name: string; reason: string }[] {
  const out: { name: string; reason: string }[] = [];
  for (const [name, value] of Object.entries(fields)) {
    const field = Object.hasOwn(node.template, name) ? (node.template[name] as unknown) : undefined;
    // Names the component does not have are ignored, as Langflow ignores them.
    if (!isObj(field)) continue;
    // lfx injects `stream` into every request's tweaks itself and exempts that name from the
    // policy (not from the floor) on every component, a caller's own included: so does this.
    const exempt = name === "stream";
    if (policy === "off" && !exempt) {
      out.push({ name, reason: OFF_TWEAK_REASON });
      continue;
    }
    // An object tweak is merged into a plain field: one carrying `proxy` would point a harmless
    // group field at a protected child after the check (lfx refuses it the same way).
    const movesProxy = isObj(value) && !["NestedDict", "mcp", "dict"].includes(String(field.type ?? "")) && "proxy" in value;
    if (isProtectedField(node.type, name, field.type) || movesProxy || proxyIsProtected({ node: node.node, type: node.type }, field)) out.push({ name, reason: PROTECTED_TWEAK_REASON });
    else if (declared && !exempt && field.api_editable !== true) out.push({ name, reason: DECLARED_TWEAK_REASON });
  }
  return out;
}

/**
 * The refusal of a run whose tweaks set fields the rules refuse: Langflow's answer on its run API
 * (422, `TWEAKS_REFUSED`, the reasons present in Langflow's order, the sorted field names), a
 * validation failure naming each field with its reason on flowplane's.
 */
export class TweaksRefusedError extends ValidationError {
  /** Langflow's `message`: the reasons present, in its order. */
  readonly reason: string;
  constructor(readonly fields: readonly string[], refused: { field: string; reason: string }[]) {
    const reason = REASON_ORDER.filter((r) => refused.some((x) => x.reason === r)).join(" ");
    super(refused.map((r) => ({ field: r.field, message: r.reason })), `Refused tweak keys [${fields.map((f) => `'${f}'`).join(", ")}]: ${reason}`);
    this.reason = reason;
  }
}

/**
 * Throws TweaksRefusedError when the tweaks set any field the rules refuse: the whole request is
 * refused, nothing of it applies (Langflow decides first, then applies). A tweak names a
 * component by id, else every component with that display name (the engines' rule); values that
 * are no object are the engines' own 400.
 */
export function refuseProtectedTweaks(flow: Flow, tweaks: Readonly<Record<string, unknown>> | undefined, policy: TweaksPolicy = "permissive"): void {
  if (!tweaks) return;
  const declared = policy === "declared" && declaresApiEditable(flow);
  const refused: { field: string; name: string; reason: string }[] = [];
  for (const [key, fields] of Object.entries(tweaks)) {
    if (!isObj(fields)) continue;
    const byId = flow.nodes.find((n) => n.id === key);
    for (const node of byId ? [byId] : flow.nodes.filter((n) => n.displayName === key)) {
      for (const r of refusedOn(node, fields, policy, declared)) refused.push({ field: `tweaks.${key}.${r.name}`, ...r });
    }
  }
  if (refused.length > 0) throw new TweaksRefusedError([...new Set(refused.map((r) => r.name))].sort(), refused);
}
