import { FlowRunError } from "@flowplane/core/replica";
import { deriveContext, type ComponentDef, type NodeContext } from "./component.js";
import { Data, DataFrame, Message, toJsonValue, toText, type Tool } from "./values.js";

/**
 * A component in tool mode offers its outputs as tools to an agent. Langflow records them in
 * the `tools_metadata` field (name, description, argument schema, enabled); a tool call runs
 * the output's method with the model's arguments in place of the matching fields.
 */
interface ToolMetadata {
  name?: unknown;
  description?: unknown;
  args?: unknown;
  status?: unknown;
  tags?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** What the model reads back from a tool. */
export function toolOutputText(value: unknown): string {
  if (value instanceof Message) return value.text;
  if (value instanceof Data) return JSON.stringify(value.data);
  if (value instanceof DataFrame) return JSON.stringify(value.rows);
  if (typeof value === "string") return value;
  return JSON.stringify(toJsonValue(value));
}

/** The tools a tool-mode node offers, checked at load too (see toolMethods). */
export function toolMethods(node: NodeContext["node"], def: ComponentDef): { meta: ToolMetadata; method: string }[] {
  const raw = node.template.tools_metadata?.value;
  const metas = Array.isArray(raw) ? raw.filter(isObject) : [];
  const out: { meta: ToolMetadata; method: string }[] = [];
  for (const meta of metas as ToolMetadata[]) {
    if (meta.status === false) continue;
    const tags = Array.isArray(meta.tags) ? meta.tags.filter((t): t is string => typeof t === "string") : [];
    // A tool the flow builder renamed keeps its method name in `tags`.
    const method = [meta.name, ...tags].find((m): m is string => typeof m === "string" && m in def.methods);
    if (!method) throw new FlowRunError(`tool "${String(meta.name)}" of ${node.displayName} (${node.id}) is not supported by the native engine`, node.id, node.displayName);
    out.push({ meta, method });
  }
  return out;
}

export function buildTools(ctx: NodeContext, def: ComponentDef): Tool[] {
  return toolMethods(ctx.node, def).map(({ meta, method }) => {
    const args = isObject(meta.args) ? meta.args : {};
    const name = typeof meta.name === "string" ? meta.name : method;
    // Only the tool's declared arguments come from the model's call, as lfx's argument schema
    // keeps them: any other field named in it (a base URL, a model, a provider) stays the
    // component's, whatever a prompt injected into the conversation makes the model send.
    const declared = new Set(Object.keys(args));
    return {
      name,
      description: typeof meta.description === "string" ? meta.description : name,
      parameters: { type: "object", properties: args, required: Object.keys(args) },
      async invoke(callArgs) {
        const call = deriveContext({
          node: ctx.node,
          run: ctx.run,
          value: (field) => (declared.has(field) && Object.hasOwn(callArgs, field) ? callArgs[field] : ctx.value(field)),
          connected: (field) => ctx.connected(field),
          source: (field) => ctx.source(field),
          sourceFields: (field) => ctx.sourceFields(field),
          log: (message) => ctx.log(message),
          runLoopBody: (items) => ctx.runLoopBody(items),
        }, toText);
        return toolOutputText(await (def.methods[method] as (c: NodeContext) => Promise<unknown>)(call));
      },
    };
  });
}
