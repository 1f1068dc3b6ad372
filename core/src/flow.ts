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
  /** For a loop feedback edge, `fieldName` is "" (it feeds an output, not a field). */
  targetHandle: TargetHandle;
  /**
   * A Loop component's feedback edge: it targets one of the target node's outputs that allows
   * a loop (Langflow's `allows_loop`), named in `loopOutput`, instead of an input field. It
   * closes the loop's cycle on purpose; every other cycle is refused.
   */
  loopOutput?: string;
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
  const outerType = typeof raw.type === "string" ? raw.type : "";
  // Every node Langflow exports, notes included, carries a `data` object; without it there is
  // nothing to run and engines would each guess differently.
  if (!isObject(raw.data)) throw new UnprocessableFlowError(`${where} (node "${raw.id}") has no "data" object: it is not a Langflow component`, [{ nodeId: raw.id, field: "data" }]);
  const data = raw.data;
  const node = isObject(data.node) ? data.node : {};
  const dataType = typeof data.type === "string" ? data.type : "";
  const isNote = outerType === "noteNode" || dataType === "note" || dataType === "";
  if (!isNote && !isObject(node.template)) {
    throw new UnprocessableFlowError(`${where} (node "${raw.id}", ${dataType}) has no "data.node.template" object: its fields cannot be read`, [{ nodeId: raw.id, field: "data.node.template" }]);
  }
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

/** The target's output a loop feedback handle names (`{name, output_types}` instead of `{fieldName}`), if it allows a loop. */
function loopOutputOf(th: Json, target: FlowNode | undefined): string | null {
  if (typeof th.fieldName === "string" || typeof th.name !== "string" || !target) return null;
  const out = target.outputs.find((o) => o.name === th.name);
  return out && (out.allows_loop === true || out.allowsLoop === true) ? out.name : null;
}

function parseEdge(raw: unknown, where: string, nodes: Map<string, FlowNode>): FlowEdge {
  if (!isObject(raw) || typeof raw.source !== "string" || typeof raw.target !== "string") {
    throw new UnprocessableFlowError(`${where} is not a Langflow edge: it needs "source" and "target"`);
  }
  const data = isObject(raw.data) ? raw.data : {};
  const sh = decodeHandle(data.sourceHandle) ?? decodeHandle(raw.sourceHandle);
  const th = decodeHandle(data.targetHandle) ?? decodeHandle(raw.targetHandle);
  for (const end of [raw.source, raw.target]) {
    if (!nodes.has(end)) throw new UnprocessableFlowError(`${where} refers to node "${end}", which the flow does not contain`);
  }
  const loopOutput = th ? loopOutputOf(th, nodes.get(raw.target)) : null;
  if (!sh || !th || (typeof th.fieldName !== "string" && loopOutput === null)) {
    throw new UnprocessableFlowError(`${where} (${raw.source} -> ${raw.target}) has no readable source/target handle`);
  }
  const fieldName = typeof th.fieldName === "string" ? th.fieldName : "";
  const proxy = isObject(th.proxy) && typeof th.proxy.id === "string" && typeof th.proxy.field === "string"
    ? { id: th.proxy.id, field: th.proxy.field }
    : undefined;
  return {
    id: typeof raw.id === "string" ? raw.id : `${raw.source}->${raw.target}:${fieldName || loopOutput}`,
    source: raw.source,
    target: raw.target,
    sourceHandle: {
      dataType: typeof sh.dataType === "string" ? sh.dataType : "",
      id: typeof sh.id === "string" ? sh.id : raw.source,
      name: typeof sh.name === "string" ? sh.name : "",
      output_types: strings(sh.output_types),
    },
    targetHandle: {
      fieldName,
      id: typeof th.id === "string" ? th.id : raw.target,
      inputTypes: Array.isArray(th.inputTypes) ? strings(th.inputTypes) : null,
      type: typeof th.type === "string" ? th.type : "",
      ...(proxy ? { proxy } : {}),
    },
    ...(loopOutput !== null ? { loopOutput } : {}),
  };
}

/** `{data: {nodes, edges}}` (what the editor exports) or a bare `{nodes, edges}`. */
export function graphOf(raw: Json): { nodes: unknown[]; edges: unknown[] } | null {
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
  const name = str(raw.name) ?? where;
  if (!nodes.some((n) => !n.isNote)) throw new UnprocessableFlowError(`${where} ("${name}") has no component to run: its "nodes" ${nodes.length === 0 ? "is empty" : "holds only notes"}`);
  const byId = new Map<string, FlowNode>();
  for (const n of nodes) {
    if (byId.has(n.id)) throw new UnprocessableFlowError(`${where} has two nodes with id "${n.id}"`);
    byId.set(n.id, n);
  }
  const edges = graph.edges.map((e, i) => parseEdge(e, `${where}.edges[${i}]`, byId));
  checkCycles(where, name, nodes, edges);
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

/**
 * Langflow runs a flow as a directed acyclic graph; the one cycle it runs on purpose is a Loop
 * component's: its `item` output feeds the loop body, and the body's result comes back through
 * a feedback edge into the Loop's own output. A self-loop, or any other cycle, never finishes
 * (or is refused by Langflow at run time), so it is refused at publish, naming the nodes.
 */
function checkCycles(where: string, name: string, nodes: FlowNode[], edges: FlowEdge[]): void {
  const next = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  for (const e of edges) {
    if (e.loopOutput !== undefined) continue;
    if (e.source === e.target) throw new UnprocessableFlowError(`${where} ("${name}"): node "${e.source}" is connected to itself (edge ${e.id}); Langflow cannot run a self-loop`, [{ nodeId: e.source, edgeId: e.id }]);
    next.get(e.source)?.push(e.target);
  }
  // Depth-first search with colours; the grey path at a back edge is the cycle. Iterative, with
  // an explicit stack: a recursive walk overflowed the call stack on a chain of some ten thousand
  // nodes (a 9 MB publish answered 500 instead of being checked).
  const colour = new Map<string, 1 | 2>();
  for (const n of nodes) {
    if (colour.get(n.id) !== undefined) continue;
    const path: string[] = [n.id];
    const nextEdge: number[] = [0];
    colour.set(n.id, 1);
    while (path.length > 0) {
      const id = path[path.length - 1]!;
      const outs = next.get(id) ?? [];
      const i = nextEdge[nextEdge.length - 1]!;
      if (i >= outs.length) {
        path.pop();
        nextEdge.pop();
        colour.set(id, 2);
        continue;
      }
      nextEdge[nextEdge.length - 1] = i + 1;
      const to = outs[i]!;
      const seen = colour.get(to);
      if (seen === 1) {
        const cycle = [...path.slice(path.indexOf(to)), to];
        throw new UnprocessableFlowError(
          `${where} ("${name}") has a cycle: ${cycle.join(" -> ")}. Langflow runs a cycle only through a Loop component's feedback edge`,
          cycle.slice(0, -1).map((nodeId) => ({ nodeId })),
        );
      }
      if (seen === undefined) {
        colour.set(to, 1);
        path.push(to);
        nextEdge.push(0);
      }
    }
  }
}

const edgeIndexes = new WeakMap<readonly FlowEdge[], { into: Map<string, FlowEdge[]>; from: Map<string, FlowEdge[]> }>();

/**
 * The flow's edges by target and by source, in export order, made once per edges array. Scanning
 * every edge for every node was quadratic: a 9 MB publish of a 30,000-node chain held the
 * control plane's event loop for 10 to 16 seconds (every API call waited), in parameter
 * extraction and the compatibility report.
 */
function edgeIndex(flow: Pick<Flow, "edges">): { into: Map<string, FlowEdge[]>; from: Map<string, FlowEdge[]> } {
  let index = edgeIndexes.get(flow.edges);
  if (!index) {
    index = { into: new Map(), from: new Map() };
    for (const e of flow.edges) {
      const into = index.into.get(e.target);
      if (into) into.push(e);
      else index.into.set(e.target, [e]);
      const from = index.from.get(e.source);
      if (from) from.push(e);
      else index.from.set(e.source, [e]);
    }
    edgeIndexes.set(flow.edges, index);
  }
  return index;
}

/** The flow's edges into `nodeId`, in export order. */
export function edgesInto(flow: Pick<Flow, "edges">, nodeId: string): readonly FlowEdge[] {
  return edgeIndex(flow).into.get(nodeId) ?? [];
}

/** The flow's edges out of `nodeId`, in export order. */
export function edgesFrom(flow: Pick<Flow, "edges">, nodeId: string): readonly FlowEdge[] {
  return edgeIndex(flow).from.get(nodeId) ?? [];
}

/** The component types a flow uses (notes excluded), sorted and distinct. */
export function componentTypes(flow: Flow): string[] {
  return [...new Set(flow.nodes.filter((n) => !n.isNote).map((n) => n.type))].sort();
}

/**
 * Canonical JSON: object keys sorted (by UTF-16 code units), no insignificant white space, an
 * `undefined` object member left out and an array's written `null`. Two exports that differ only
 * in key order or formatting have one digest.
 *
 * Every replica hashes its whole bundle at start (megabytes for a bundle of starters), so the
 * common case is V8's own JSON.stringify, with a replacer handing it each object's members in
 * sorted order (a sorted copy only where the order differs). That gives the same bytes as the
 * definition (`canonicalJsonByHand`) except where an object copy cannot keep the sorted order
 * (array-index keys, which objects enumerate first, and `__proto__`) or where JSON.stringify
 * reads a value differently (a `toJSON` method, a boxed primitive, a function, a symbol, a bigint): then the value
 * is written by hand, by the definition.
 */
export function canonicalJson(value: unknown): string {
  let byHand = false;
  const text = JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    // A value other than `this[key]`: JSON.stringify replaced it (toJSON) before handing it over.
    if (byHand || !Object.is(this[key], v) || typeof v === "function" || typeof v === "symbol" || typeof v === "bigint") {
      byHand = true;
      return null;
    }
    if (!isObject(v)) return v;
    // A boxed primitive: JSON.stringify writes the primitive, the definition its members.
    if (v instanceof String || v instanceof Number || v instanceof Boolean) {
      byHand = true;
      return null;
    }
    const keys = Object.keys(v);
    let sorted = true;
    for (let i = 1; i < keys.length && sorted; i++) sorted = (keys[i - 1] as string) < (keys[i] as string);
    if (sorted) return v;
    const copy: Record<string, unknown> = {};
    for (const k of keys.sort()) {
      if (k === "__proto__" || ARRAY_INDEX.test(k)) byHand = true;
      copy[k] = v[k];
    }
    return copy;
  }) as string | undefined;
  return byHand || text === undefined ? canonicalJsonByHand(value) : text;
}

/** Keys an object enumerates before all others, in numeric order (ECMAScript's array indices). */
const ARRAY_INDEX = /^(?:0|[1-9]\d*)$/;

/** The definition of canonical JSON, member by member (see `canonicalJson`). */
function canonicalJsonByHand(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJsonByHand(v ?? null)).join(",")}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJsonByHand(value[k])}`).join(",")}}`;
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
