import { createHash } from "node:crypto";
import { UnprocessableFlowError } from "./errors.js";

/**
 * A Langflow flow export, normalised. The raw export is kept beside the parsed view
 * (`raw`) because the lfx engine must receive exactly what the flow builder exported,
 * and the bundle digest is computed over the raw exports.
 */
export interface Flow {
  /** The export's `id`; for exports without one, a UUID derived from the content. */
  id: string;
  name: string;
  description: string;
  /** `endpoint_name`, or null when absent (Langflow writes the string "None" too). */
  endpointName: string | null;
  /** MCP tool name and description as set in Langflow's MCP settings, when present. */
  actionName: string | null;
  actionDescription: string | null;
  nodes: FlowNode[];
  edges: FlowEdge[];
  raw: Record<string, unknown>;
}

/** One template field of a node, as Langflow exports it (only what flowplane reads is typed). */
export interface TemplateField {
  value?: unknown;
  type?: string;
  _input_type?: string;
  load_from_db?: boolean;
  password?: boolean;
  display_name?: string;
  required?: boolean;
  advanced?: boolean;
  tool_mode?: boolean;
  [key: string]: unknown;
}

export interface FlowOutput {
  name: string;
  types: string[];
  method?: string;
  selected?: string | null;
  allowsLoop?: boolean;
  [key: string]: unknown;
}

export interface FlowNode {
  id: string;
  /** `data.type` (the component type); for note nodes the outer `type` ("noteNode"). */
  type: string;
  /** Notes are documentation on the canvas; they never run. */
  isNote: boolean;
  displayName: string;
  template: Record<string, TemplateField>;
  outputs: FlowOutput[];
  /** True when the component is used as a tool (tool mode). */
  toolMode: boolean;
  /** True when the flow builder edited the component's code in the editor. */
  edited: boolean;
  /** `data.node`, untouched, for engines that need more than the fields above. */
  node: Record<string, unknown>;
}

export interface SourceHandle {
  dataType: string;
  id: string;
  name: string;
  output_types: string[];
}

export interface TargetHandle {
  fieldName: string;
  id: string;
  inputTypes: string[] | null;
  type: string;
  proxy?: { id: string; field: string };
}

export interface FlowEdge {
  id: string;
  source: string;
  target: string;
  sourceHandle: SourceHandle;
  targetHandle: TargetHandle;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Langflow serialises edge handles twice: as objects under `edge.data`, and as strings in
 * which every `"` is written `œ`. The objects are authoritative; the strings are decoded only
 * when an export lacks them (older or hand-edited exports).
 */
export function decodeHandle(handle: unknown): Json | null {
  if (isObject(handle)) return handle;
  if (typeof handle !== "string" || handle.length === 0) return null;
  try {
    const parsed: unknown = JSON.parse(handle.replaceAll("œ", '"'));
    return isObject(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function str(v: unknown): string | null {
  return typeof v === "string" && v.length > 0 && v !== "None" ? v : null;
}

function parseNode(raw: unknown, where: string): FlowNode {
  if (!isObject(raw) || typeof raw.id !== "string" || raw.id.length === 0) {
    throw new UnprocessableFlowError(`${where} is not a Langflow node: it has no string "id"`);
  }
  const data = isObject(raw.data) ? raw.data : {};
  const node = isObject(data.node) ? data.node : {};
  const outerType = typeof raw.type === "string" ? raw.type : "";
  const dataType = typeof data.type === "string" ? data.type : "";
  const isNote = outerType === "noteNode" || dataType === "note" || dataType === "";
  const template: Record<string, TemplateField> = {};
  if (isObject(node.template)) {
    for (const [name, field] of Object.entries(node.template)) {
      if (isObject(field)) template[name] = field as TemplateField;
    }
  }
  const outputs: FlowOutput[] = [];
  if (Array.isArray(node.outputs)) {
    for (const o of node.outputs) {
      if (isObject(o) && typeof o.name === "string") outputs.push({ ...o, name: o.name, types: strings(o.types) });
    }
  }
  return {
    id: raw.id,
    type: isNote ? dataType || outerType || "note" : dataType,
    isNote,
    displayName: typeof node.display_name === "string" ? node.display_name : dataType,
    template,
    outputs,
    toolMode: node.tool_mode === true,
    edited: node.edited === true,
    node,
  };
}

function parseEdge(raw: unknown, where: string, nodeIds: Set<string>): FlowEdge {
  if (!isObject(raw) || typeof raw.source !== "string" || typeof raw.target !== "string") {
    throw new UnprocessableFlowError(`${where} is not a Langflow edge: it needs "source" and "target"`);
  }
  const data = isObject(raw.data) ? raw.data : {};
  const sh = decodeHandle(data.sourceHandle) ?? decodeHandle(raw.sourceHandle);
  const th = decodeHandle(data.targetHandle) ?? decodeHandle(raw.targetHandle);
  if (!sh || !th || typeof th.fieldName !== "string") {
    throw new UnprocessableFlowError(`${where} (${raw.source} -> ${raw.target}) has no readable source/target handle`);
  }
  for (const end of [raw.source, raw.target]) {
    if (!nodeIds.has(end)) throw new UnprocessableFlowError(`${where} refers to node "${end}", which the flow does not contain`);
  }
  const proxy = isObject(th.proxy) && typeof th.proxy.id === "string" && typeof th.proxy.field === "string"
    ? { id: th.proxy.id, field: th.proxy.field }
    : undefined;
  return {
    id: typeof raw.id === "string" ? raw.id : `${raw.source}->${raw.target}:${th.fieldName}`,
    source: raw.source,
    target: raw.target,
    sourceHandle: {
      dataType: typeof sh.dataType === "string" ? sh.dataType : "",
      id: typeof sh.id === "string" ? sh.id : raw.source,
      name: typeof sh.name === "string" ? sh.name : "",
      output_types: strings(sh.output_types),
    },
    targetHandle: {
      fieldName: th.fieldName,
      id: typeof th.id === "string" ? th.id : raw.target,
      inputTypes: Array.isArray(th.inputTypes) ? strings(th.inputTypes) : null,
      type: typeof th.type === "string" ? th.type : "",
      ...(proxy ? { proxy } : {}),
    },
  };
}

/** `{data: {nodes, edges}}` (what the editor exports) or a bare `{nodes, edges}`. */
function graphOf(raw: Json): { nodes: unknown[]; edges: unknown[] } | null {
  const g = isObject(raw.data) ? raw.data : raw;
  return Array.isArray(g.nodes) && Array.isArray(g.edges) ? { nodes: g.nodes, edges: g.edges } : null;
}

/**
 * Parses one Langflow flow export. `where` names it in error messages ("flows[2]").
 * Throws UnprocessableFlowError for JSON that is not a flow export.
 */
export function parseFlow(raw: unknown, where = "flow"): Flow {
  if (!isObject(raw)) throw new UnprocessableFlowError(`${where} is not a Langflow flow export: expected a JSON object`);
  const graph = graphOf(raw);
  if (!graph) {
    throw new UnprocessableFlowError(`${where} is not a Langflow flow export: expected "data.nodes" and "data.edges" arrays (or bare "nodes" and "edges")`);
  }
  const nodes = graph.nodes.map((n, i) => parseNode(n, `${where}.nodes[${i}]`));
  const ids = new Set<string>();
  for (const n of nodes) {
    if (ids.has(n.id)) throw new UnprocessableFlowError(`${where} has two nodes with id "${n.id}"`);
    ids.add(n.id);
  }
  const edges = graph.edges.map((e, i) => parseEdge(e, `${where}.edges[${i}]`, ids));
  const name = str(raw.name) ?? where;
  return {
    id: str(raw.id) ?? uuidFromDigest(sha256(canonicalJson(raw))),
    name,
    description: typeof raw.description === "string" ? raw.description : "",
    endpointName: str(raw.endpoint_name),
    actionName: str(raw.action_name),
    actionDescription: str(raw.action_description),
    nodes,
    edges,
    raw,
  };
}

/** The component types a flow uses (notes excluded), sorted and distinct. */
export function componentTypes(flow: Flow): string[] {
  return [...new Set(flow.nodes.filter((n) => !n.isNote).map((n) => n.type))].sort();
}

/**
 * Canonical JSON: object keys sorted, no insignificant white space. Two exports that differ
 * only in key order or formatting have one digest.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(",")}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The content digest of a bundle version: sha256 over the canonical form of its flow exports, in order. */
export function bundleDigest(flows: readonly unknown[]): string {
  return `sha256:${sha256(canonicalJson(flows))}`;
}

function uuidFromDigest(hex: string): string {
  // A name-based UUID (version 8 layout) so that an export without an id gets the same id every time.
  const h = hex.slice(0, 32).split("");
  h[12] = "8";
  h[16] = ((parseInt(h[16] ?? "0", 16) & 0x3) | 0x8).toString(16);
  const s = h.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}
