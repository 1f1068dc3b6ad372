import { createHash } from "node:crypto";
import { ValidationError, canonicalJson, isSecretField, type EngineRunRequest, type FieldError, type Flow, type FlowNode } from "@flowplane/core/replica";

/**
 * lfx serve runs the flows it was started with and refuses per-request tweaks (its v2 workflow
 * API answers 422 "tweaks not supported"). The engine keeps Langflow's run API whole by
 * applying tweaks to the flow export here and registering the result with lfx as a variant
 * flow under a derived id, once per distinct set of tweaks. A non-chat input_type is carried
 * the same way: lfx's run API only feeds Chat Inputs.
 */

/** Langflow's input and output vertices: the id prefix or the type names one of these. */
const INPUT_TYPES = new Set(["ChatInput", "TextInput", "Webhook"]);
const OUTPUT_TYPES = new Set(["ChatOutput", "TextOutput", "DataOutput"]);
const roleOf = (node: FlowNode, types: Set<string>) => types.has(node.type) || types.has(node.id.split("-")[0] ?? "");
export const isInputNode = (node: FlowNode): boolean => roleOf(node, INPUT_TYPES);
export const isOutputNode = (node: FlowNode): boolean => roleOf(node, OUTPUT_TYPES);

/** Langflow's input vertices for an input_type: all inputs for `any`, else those whose id names the type. */
export function inputNodes(flow: Flow, inputType: EngineRunRequest["inputType"]): FlowNode[] {
  return flow.nodes.filter((n) => !n.isNote && isInputNode(n) && (inputType === "any" || n.id.toLowerCase().includes(inputType)));
}

/** A UUID-shaped id from a digest: lfx's upload API takes only UUIDs as flow ids. */
export function uuidFrom(text: string): string {
  const h = createHash("sha256").update(text).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16] ?? "0", 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The id lfx knows a bundle flow by: its own when UUID-shaped (lfx's v2 API requires one), else a derived one. */
export const lfxFlowId = (flow: Flow): string => (UUID.test(flow.id) ? flow.id : uuidFrom(`flowplane-flow:${flow.id}`));

/** Fields a tweak may never change: the component's Python source, which lfx would execute. */
const isCodeField = (name: string, field: Record<string, unknown> | undefined) => name === "code" || field?.type === "code";

/** The field overrides one run needs beyond the exported flow: its tweaks, and the input for a non-chat input_type. */
export function overridesFor(flow: Flow, request: EngineRunRequest): Map<string, Record<string, unknown>> | null {
  const byNode = new Map<string, Record<string, unknown>>();
  const errors: FieldError[] = [];
  for (const [key, fields] of Object.entries(request.tweaks ?? {})) {
    // By node id first, else every node with that display name (Langflow's rule).
    const byId = flow.nodes.find((n) => n.id === key);
    const targets = byId ? [byId] : flow.nodes.filter((n) => n.displayName === key);
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
      errors.push({ field: `tweaks.${key}`, message: "must be an object of field names to values" });
      continue;
    }
    if (targets.length === 0) {
      errors.push({ field: `tweaks.${key}`, message: `the flow has no component with id or display name "${key}"` });
      continue;
    }
    for (const node of targets) {
      for (const [name, value] of Object.entries(fields)) {
        // Fields the component does not have are ignored, as Langflow does. Own fields only:
        // `constructor` is "in" every object, and applyOverrides merged a value into what it
        // found there (Object itself: `{"constructor": {"entries": 0}}` broke every later run).
        if (!Object.hasOwn(node.template, name)) continue;
        if (isCodeField(name, node.template[name])) {
          errors.push({ field: `tweaks.${key}.${name}`, message: "a component's code cannot be changed by a tweak" });
          continue;
        }
        byNode.set(node.id, { ...byNode.get(node.id), [name]: value });
      }
    }
  }
  if (errors.length > 0) throw new ValidationError(errors, `invalid tweaks: ${errors.map((e) => `${e.field} ${e.message}`).join("; ")}`);
  if (request.inputType !== "chat" && request.inputValue !== null) {
    for (const node of inputNodes(flow, request.inputType)) byNode.set(node.id, { ...byNode.get(node.id), input_value: request.inputValue });
  }
  return byNode.size > 0 ? byNode : null;
}

/**
 * The values the overrides put in secret fields (an API key, a password): a caller's own key
 * given as a tweak. lfx knows nothing of them as secrets, and a provider that refuses the key
 * may quote it in its error, which becomes the run's error and its trace's, shown to every
 * viewer of the project and sent to the trace collector.
 */
export function secretOverrideValues(flow: Flow, overrides: Map<string, Record<string, unknown>> | null): string[] {
  const out: string[] = [];
  for (const [id, fields] of overrides ?? []) {
    const node = flow.nodes.find((n) => n.id === id);
    for (const [name, value] of Object.entries(fields)) {
      const field = node && Object.hasOwn(node.template, name) ? node.template[name] : undefined;
      if (!field || !isSecretField(field)) continue;
      // A plain value, or an object whose `value` applyOverrides writes into the field.
      const v = typeof value === "object" && value !== null ? (value as { value?: unknown }).value : value;
      if (typeof v === "string") out.push(v);
    }
  }
  return out;
}

/** The variant's id: the same overrides of the same flow always map to the same lfx flow. */
export const variantId = (flow: Flow, overrides: Map<string, Record<string, unknown>>): string =>
  uuidFrom(`flowplane-variant:${flow.id}:${canonicalJson(Object.fromEntries(overrides))}`);

/** The flow export with the overrides written into its node templates, as Langflow's apply_tweaks does. */
export function applyOverrides(flow: Flow, id: string, overrides: Map<string, Record<string, unknown>>): Record<string, unknown> {
  const raw = structuredClone(flow.raw);
  const graph = (raw.data ?? raw) as { nodes?: { id?: string; data?: { node?: { template?: Record<string, Record<string, unknown>> } } }[] };
  for (const node of graph.nodes ?? []) {
    const fields = overrides.get(node.id ?? "");
    const template = node.data?.node?.template;
    if (!fields || !template) continue;
    for (const [name, value] of Object.entries(fields)) {
      const field = Object.hasOwn(template, name) ? template[name] : undefined;
      // A template's own entries that are no field (`_type`) are not tweakable, as in Langflow.
      if (typeof field !== "object" || field === null || Array.isArray(field)) continue;
      const structured = field.type === "dict" || field.type === "NestedDict" || field.type === "mcp";
      if (!structured && typeof value === "object" && value !== null && !Array.isArray(value)) Object.assign(field, value);
      else field[field.type === "file" ? "file_path" : "value"] = value;
      // A literal from the caller replaces the global variable the field was bound to.
      if ("load_from_db" in field && !(typeof value === "object" && value !== null && "load_from_db" in value)) field.load_from_db = false;
    }
  }
  return { ...raw, id, name: `${flow.name} (variant ${id.slice(0, 8)})` };
}
