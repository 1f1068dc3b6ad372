/**
 * What the publish form can tell about Langflow exports before sending them: that a file is a
 * flow, its name, and the global variables it references (to offer defaults for plain
 * parameters). It mirrors the server's reading only as far as the form needs; the server
 * checks everything again and its answer is what counts.
 */
export interface PickedFlow {
  fileName: string;
  name: string;
  description: string;
  json: unknown;
}

export interface DetectedParameter {
  name: string;
  kind: "credential" | "plain";
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function graphOf(raw: Obj): { nodes: unknown[]; edges: unknown[] } | null {
  const g = isObj(raw.data) ? raw.data : raw;
  return Array.isArray(g.nodes) && Array.isArray(g.edges) ? { nodes: g.nodes, edges: g.edges } : null;
}

/** Reads one picked file; throws a message naming the file when it is not a flow export. */
export async function readFlowFile(file: File): Promise<PickedFlow> {
  let json: unknown;
  try {
    json = JSON.parse(await file.text());
  } catch {
    throw new Error(`${file.name} is not JSON: export the flow from Langflow (Export > JSON)`);
  }
  if (!isObj(json) || !graphOf(json)) throw new Error(`${file.name} is not a Langflow flow export (no nodes and edges)`);
  return {
    fileName: file.name,
    name: typeof json.name === "string" && json.name ? json.name : file.name.replace(/\.json$/i, ""),
    description: typeof json.description === "string" ? json.description : "",
    json,
  };
}

/** Global variables bound by the flows' fields (`load_from_db: true`); secret fields make a credential. */
export function detectParameters(flows: PickedFlow[]): DetectedParameter[] {
  const byName = new Map<string, DetectedParameter>();
  for (const f of flows) {
    const graph = graphOf(f.json as Obj);
    for (const n of graph?.nodes ?? []) {
      const data = isObj(n) && isObj(n.data) ? n.data : {};
      const template = isObj(data.node) && isObj(data.node.template) ? data.node.template : {};
      for (const field of Object.values(template)) {
        if (!isObj(field) || field.load_from_db !== true || typeof field.value !== "string" || !field.value.trim()) continue;
        const name = field.value.trim();
        const secret = field._input_type === "SecretStrInput" || field.password === true;
        const p = byName.get(name) ?? { name, kind: "plain" as const };
        byName.set(name, secret ? { name, kind: "credential" } : p);
      }
    }
  }
  return [...byName.values()];
}

/** A bundle name suggested from a flow's name: lower case, dashes, at most 64 characters. */
export function suggestName(flowName: string): string {
  return flowName.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);
}
