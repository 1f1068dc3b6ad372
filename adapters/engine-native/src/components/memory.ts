import type { FlowNode } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext } from "../component.js";
import { formatFString } from "../template.js";
import { Data, DataFrame, Message } from "../values.js";

/**
 * Langflow's Message History ("Memory") in Retrieve mode, over the engine's in-process store:
 * the session's messages as they were when the run began, filtered by sender, the last
 * `n_messages`, in the chosen order.
 */
function retrieve(ctx: NodeContext): Message[] {
  const session = ctx.text("session_id") || ctx.run.sessionId;
  const senderFilter = ctx.text("sender_type") || ctx.text("sender") || "Machine and User";
  const nameFilter = ctx.text("sender_name");
  const n = ctx.number("n_messages", 100);
  let list = ctx.run.history.filter((m) => m.sessionId === session);
  if (senderFilter !== "Machine and User") list = list.filter((m) => m.sender === senderFilter);
  if (nameFilter) list = list.filter((m) => m.senderName === nameFilter);
  list = n > 0 ? list.slice(-n) : list;
  return ctx.text("order") === "Descending" ? [...list].reverse() : list;
}

const fieldsOf = (m: Message): Record<string, string> => ({
  text: m.text,
  sender: m.sender ?? "",
  sender_name: m.senderName ?? "",
  session_id: m.sessionId,
  timestamp: m.timestamp,
  id: m.id ?? "",
  flow_id: m.flowId ?? "",
});

const memory: ComponentDef = {
  readsHistory: true,
  check(node: FlowNode) {
    const mode = node.template.mode?.value;
    return mode === undefined || mode === "Retrieve" ? [] : [`${node.displayName} (${node.id}) is in mode "${String(mode)}"; the native engine supports Retrieve only`];
  },
  methods: {
    retrieve_messages_as_text(ctx) {
      const template = ctx.text("template") || "{sender_name}: {text}";
      const what = `${ctx.node.displayName} (${ctx.node.id})`;
      return new Message({ text: retrieve(ctx).map((m) => formatFString(template, fieldsOf(m), what)).join("\n") });
    },
    retrieve_messages(ctx) {
      return retrieve(ctx).map((m) => new Data(fieldsOf(m)));
    },
    retrieve_messages_dataframe(ctx) {
      return new DataFrame(retrieve(ctx).map(fieldsOf));
    },
  },
};

export const memoryComponents: Record<string, ComponentDef> = { Memory: memory };
