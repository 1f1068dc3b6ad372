import type { FlowNode } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext } from "../component.js";
import { Data, DataFrame, Message, langflowTimestampNow, toText, type MessageField } from "../values.js";

/**
 * Chat and text inputs and outputs: the components that carry a run's input in and its
 * answer out, with Langflow's message fields and message storage.
 */

/** Stores a message in the session's history and tells a streaming client (Langflow's `add_message`). */
export function storeMessage(ctx: NodeContext, message: Message): void {
  message.assignId();
  if (ctx.run.remember) ctx.run.services.memory.add(message);
  ctx.run.sink?.({ event: "add_message", data: message.toEvent() });
}

const sessionOf = (ctx: NodeContext): string => ctx.text("session_id") || ctx.run.sessionId;

/**
 * A model field's model name, as lfx's `_extract_model_name` (lfx/base/io/chat.py) reads it: a
 * string, or the `name` of a ModelInput value (a list of `{name, provider}`, or one such object).
 */
function modelName(value: unknown): string | null {
  let name: unknown = value;
  if (Array.isArray(value)) name = typeof value[0] === "object" && value[0] !== null ? (value[0] as { name?: unknown }).name : null;
  else if (typeof value === "object" && value !== null) name = (value as { name?: unknown }).name;
  return typeof name === "string" && name.length > 0 ? name : null;
}

/**
 * What lfx's ChatOutput reports as the message's source (`get_properties_from_source_component`):
 * the node behind its first incoming edge, by id and display name, and the model it names, if any,
 * in this run (lfx reads the component's attributes: a tweaked model is the one named).
 */
function sourceOf(ctx: NodeContext): Message["properties"]["source"] {
  const edge = ctx.run.flow.edges.find((e) => e.target === ctx.node.id);
  const source: FlowNode | undefined = edge ? ctx.source(edge.targetHandle.fieldName) : undefined;
  if (!source || !edge) return { id: null, display_name: null, source: null };
  const fields = ctx.sourceFields(edge.targetHandle.fieldName);
  const model = ["model_name", "model_id", "model"].map((f) => modelName(fields[f])).find((v) => v !== null);
  return { id: source.id, display_name: source.displayName, source: typeof model === "string" ? model : source.displayName };
}

/** lfx's ChatOutput `is_connected_to_chat_input`: its input comes straight from a Chat Input. */
function fedByChatInput(ctx: NodeContext): boolean {
  return ctx.run.flow.edges.some((e) => e.target === ctx.node.id && ctx.run.flow.nodes.find((n) => n.id === e.source)?.type === "ChatInput");
}

/** lfx stamps a stored message with its run's id (`_store_message`). */
function stamp(ctx: NodeContext, message: Message): void {
  message.runId ??= ctx.run.runId;
}

/**
 * A model's streamed answer, told as lfx 1.13 tells it (`send_message` of the model's message,
 * custom_component/component.py): stored under an id, the message is announced on the first
 * chunk, empty and in state `partial`, each chunk follows as a `token` under that id,
 * and once the stream ends the message is sent again whole, state `complete`. A client drawing
 * from `add_message` events then ends with the answer, not an empty message marked complete.
 * Stored in the history by Chat Output, which takes the message over (the same row in lfx).
 */
async function streamModelMessage(ctx: NodeContext, message: Message): Promise<void> {
  const stream = message.stream as AsyncIterable<string>;
  message.stream = null;
  message.assignId();
  stamp(ctx, message);
  message.flowId = ctx.run.flow.id;
  // lfx announces with the first chunk's text, which from a chat API is the empty chunk opening
  // the answer (its role); native's clients skip empty chunks, so the announcement is empty.
  let announced = false;
  const announce = (): void => {
    if (announced) return;
    announced = true;
    message.text = "";
    // Its own copy of the properties: the state changes once the stream ends, and a sink may
    // keep the event (an event is what was so when it was sent).
    ctx.run.sink?.({ event: "add_message", data: { ...message.toEvent(), properties: { ...message.properties } } });
  };
  let text = "";
  for await (const chunk of stream) {
    announce();
    text += chunk;
    ctx.run.sink?.({ event: "token", data: { chunk, id: message.id, timestamp: langflowTimestampNow() } });
  }
  announce();
  message.text = text;
  // lfx marks it complete only when some text came.
  if (text) message.properties.state = "complete";
  ctx.run.sink?.({ event: "add_message", data: message.toEvent() });
}

/** lfx's ChatInput builds its Message with these keywords, in this order. */
const CHAT_INPUT_KWARGS: readonly MessageField[] = ["text", "sender", "sender_name", "session_id", "context_id", "files"];

const chatInput: ComponentDef = {
  role: "input",
  methods: {
    message_response(ctx) {
      const files = ctx.value("files");
      const message = new Message(
        {
          text: ctx.text("input_value"),
          sender: ctx.text("sender") || "User",
          senderName: ctx.text("sender_name") || "User",
          sessionId: sessionOf(ctx),
          contextId: ctx.text("context_id"),
          files: (Array.isArray(files) ? files : files ? [files] : []).filter((f): f is string => typeof f === "string" && f !== ""),
        },
        CHAT_INPUT_KWARGS,
      );
      if (message.sessionId && ctx.bool("should_store_message", true)) {
        stamp(ctx, message);
        message.flowId = ctx.run.flow.id;
        storeMessage(ctx, message);
      }
      return message;
    },
  },
};

/** What Chat Output answers for its input (a model's streamed message already read). */
function chatOutputMessage(ctx: NodeContext, input: unknown): Message {
  const reuse = input instanceof Message && !fedByChatInput(ctx);
  const text = input instanceof DataFrame ? input.toChatMarkdown(ctx.bool("clean_data", true)) : input instanceof Data ? input.toChatText() : toText(input);
  const message = reuse ? input : new Message({ text });
  if (reuse) message.text = toText(input);
  message.sender = ctx.text("sender") || "Machine";
  message.senderName = ctx.text("sender_name") || "AI";
  message.sessionId = sessionOf(ctx);
  message.contextId = ctx.text("context_id");
  message.flowId = ctx.run.flow.id;
  message.properties.source = sourceOf(ctx);
  if (ctx.bool("should_store_message", true) && message.sessionId !== "") {
    stamp(ctx, message);
    storeMessage(ctx, message);
  }
  return message;
}

/**
 * lfx's ChatOutput: an upstream Message (not a Chat Input's) is taken over and re-addressed,
 * anything else becomes a new Message of its text; sender, session, flow and source are set,
 * and the message is stored.
 */
const chatOutput: ComponentDef = {
  role: "output",
  methods: {
    message_response(ctx) {
      const input = ctx.value("input_value");
      // A model's stream is read first, as its own message (lfx: the model component sends it
      // before Chat Output runs); Chat Output then takes over the finished message.
      if (input instanceof Message && input.stream) return streamModelMessage(ctx, input).then(() => chatOutputMessage(ctx, input));
      return chatOutputMessage(ctx, input);
    },
  },
};

const textInput: ComponentDef = {
  role: "input",
  methods: {
    text_response(ctx) {
      return new Message({ text: ctx.text("input_value") });
    },
  },
};

const textOutput: ComponentDef = {
  role: "output",
  methods: {
    text_response(ctx) {
      return new Message({ text: ctx.text("input_value") });
    },
  },
};

/** Langflow's Webhook: the request body as Data, or `{payload}` when it is not JSON. */
const webhook: ComponentDef = {
  role: "input",
  inputField: "data",
  methods: {
    build_data(ctx) {
      const raw = ctx.text("data");
      if (!raw) return new Data({});
      try {
        const parsed: unknown = JSON.parse(raw);
        return new Data(typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { payload: parsed });
      } catch {
        ctx.log("Invalid JSON payload; it is passed on as `payload`.");
        return new Data({ payload: raw });
      }
    },
  },
};

export const ioComponents: Record<string, ComponentDef> = {
  ChatInput: chatInput,
  ChatOutput: chatOutput,
  TextInput: textInput,
  TextOutput: textOutput,
  Webhook: webhook,
};
