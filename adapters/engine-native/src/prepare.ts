import { FlowRunError, ValidationError, boundVariable, type EngineRunRequest, type EnvMap, type FieldError, type FlowNode } from "@flowplane/core/replica";
import type { ComponentDef } from "./component.js";
import type { FlowGraph } from "./graph.js";

/**
 * Field values for one run: the exported values, then tweaks, then the run's input, with
 * global variables resolved. Computed before anything runs so a bad tweak or a missing
 * variable fails the request without side effects.
 */
export type FieldValues = Map<string, Record<string, unknown>>;

/** Nodes a tweak key names: by id first, else every node with that display name (Langflow's rule). */
function tweakTargets(graph: FlowGraph, key: string): FlowNode[] {
  const byId = graph.nodes.get(key);
  if (byId) return [byId];
  return [...graph.nodes.values()].filter((n) => n.displayName === key);
}

/** Langflow's input vertices for an input_type: `any`, or the type's name inside the node id (ChatInput-…). */
export function inputNodes(graph: FlowGraph, registry: Record<string, ComponentDef>, inputType: EngineRunRequest["inputType"]): FlowNode[] {
  return [...graph.nodes.values()].filter((n) => registry[n.type]?.role === "input" && (inputType === "any" || n.id.toLowerCase().includes(inputType)));
}

/**
 * What every run of a graph starts from, worked out once per graph (a flow's graph is built once,
 * at load): each node's exported field values, and the fields bound to a global variable that no
 * edge feeds, in node and field order. Exported templates hold dozens of fields per node; walking
 * them all on every run was the largest part of a short flow's run (issue #16, the echo flow).
 */
interface GraphFields {
  exported: Map<string, Readonly<Record<string, unknown>>>;
  bound: { node: FlowNode; field: string; variable: string }[];
  /** The input nodes and the field each receives the run's input in, per input_type (inputNodes). */
  inputs: Map<EngineRunRequest["inputType"], { id: string; field: string }[]>;
}

const perGraph = new WeakMap<FlowGraph, GraphFields>();

function graphFields(graph: FlowGraph): GraphFields {
  let g = perGraph.get(graph);
  if (g) return g;
  g = { exported: new Map(), bound: [], inputs: new Map() };
  for (const node of graph.nodes.values()) {
    g.exported.set(node.id, Object.fromEntries(Object.entries(node.template).map(([k, f]) => [k, f.value])));
    const fed = new Set((graph.incoming.get(node.id) ?? []).map((e) => e.targetHandle.fieldName));
    for (const [field, spec] of Object.entries(node.template)) {
      // An edge overrides the field anyway.
      if (fed.has(field)) continue;
      const variable = boundVariable(spec);
      if (variable !== null) g.bound.push({ node, field, variable });
    }
  }
  perGraph.set(graph, g);
  return g;
}

/** The nodes that receive a run's input for its input_type, and in which field, worked out once per graph and type. */
function inputTargets(graph: FlowGraph, g: GraphFields, registry: Record<string, ComponentDef>, inputType: EngineRunRequest["inputType"]): { id: string; field: string }[] {
  let targets = g.inputs.get(inputType);
  if (!targets) {
    targets = inputNodes(graph, registry, inputType).map((node) => ({ id: node.id, field: registry[node.type]?.inputField ?? "input_value" }));
    g.inputs.set(inputType, targets);
  }
  return targets;
}

export function prepareFields(graph: FlowGraph, registry: Record<string, ComponentDef>, request: EngineRunRequest, env: EnvMap): FieldValues {
  /** The fields each node's tweaks set (most requests have none). */
  const tweaked = new Map<string, Set<string>>();
  const g = graphFields(graph);
  const { exported, bound } = g;
  // A node's exported values, copied on the first write only (a tweak, the input, a variable):
  // shared by every run that changes none of them, and never written to.
  const values: FieldValues = new Map(exported as FieldValues);
  const writable = (id: string): Record<string, unknown> => {
    let fields = values.get(id) as Record<string, unknown>;
    if (fields === exported.get(id)) {
      fields = { ...fields };
      values.set(id, fields);
    }
    return fields;
  };
  const errors: FieldError[] = [];
  for (const [key, fields] of request.tweaks ? Object.entries(request.tweaks) : []) {
    const targets = tweakTargets(graph, key);
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
      errors.push({ field: `tweaks.${key}`, message: "must be an object of field names to values" });
    } else if (targets.length === 0) {
      errors.push({ field: `tweaks.${key}`, message: `the flow has no component with id or display name "${key}"` });
    } else {
      for (const node of targets) {
        // Fields the component does not have are ignored, as Langflow does.
        for (const [field, value] of Object.entries(fields)) {
          // Own fields only: `constructor`, `toString`... are "in" every object.
          if (!Object.hasOwn(node.template, field)) continue;
          writable(node.id)[field] = value;
          const set = tweaked.get(node.id) ?? new Set<string>();
          set.add(field);
          tweaked.set(node.id, set);
        }
      }
    }
  }
  if (errors.length > 0) throw new ValidationError(errors, `invalid tweaks: ${errors.map((e) => `${e.field} ${e.message}`).join("; ")}`);

  if (request.inputValue !== null) {
    for (const { id, field } of inputTargets(graph, g, registry, request.inputType)) writable(id)[field] = request.inputValue;
  }

  for (const { node, field, variable } of bound) {
    // A tweaked field holds a literal.
    if (tweaked.get(node.id)?.has(field)) continue;
    const value = env[variable];
    if (value === undefined) {
      throw new FlowRunError(
        `global variable "${variable}" is not set (used by field "${field}" of ${node.displayName} (${node.id})); set it as a deployment parameter`,
        node.id,
        node.displayName,
      );
    }
    writable(node.id)[field] = value;
  }
  return values;
}
