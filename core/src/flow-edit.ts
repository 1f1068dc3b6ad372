import { parseFlow, type Flow } from "./flow.js";

type Template = Record<string, Record<string, unknown>>;
type RawNode = { id?: unknown; data?: { node?: { template?: Template } } };

/**
 * The flow with some of its nodes' template fields replaced, in the export (`raw`, which the lfx
 * engine runs) and in the parsed view alike: `edits` maps a node id to the fields it gets, each
 * merged over the exported field. The export itself is never changed: only the path to each
 * edited template is copied (a replica edits every flow at start, and a deep copy of megabytes
 * of exports was a good part of it). The flow keeps its id (an export without one has an id
 * derived from its content, which the edit would change).
 */
export function withFieldValues(flow: Flow, edits: ReadonlyMap<string, Readonly<Record<string, Record<string, unknown>>>>): Flow {
  if (edits.size === 0) return flow;
  const graph = (typeof flow.raw.data === "object" && flow.raw.data !== null ? flow.raw.data : flow.raw) as { nodes?: RawNode[] };
  let changed = false;
  const nodes = (graph.nodes ?? []).map((n) => {
    const fields = typeof n.id === "string" ? edits.get(n.id) : undefined;
    const original = n.data?.node?.template;
    if (!fields || !original || !n.data?.node) return n;
    const template: Template = { ...original };
    for (const [name, value] of Object.entries(fields)) template[name] = { ...template[name], ...value };
    changed = true;
    return { ...n, data: { ...n.data, node: { ...n.data.node, template } } };
  });
  if (!changed) return flow;
  const raw = graph === flow.raw ? { ...flow.raw, nodes } : { ...flow.raw, data: { ...graph, nodes } };
  return { ...parseFlow(raw, flow.name), id: flow.id };
}
