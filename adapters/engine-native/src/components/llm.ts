import { FlowRunError, REDACTED, findProvider, modelSelections, nativeModelProblem, nativeProvider, nativeProviderProblem, type FlowNode, type NativeModelProvider } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext } from "../component.js";
import { chatCompletionWithUsage, chatCompletionStream, resolveBaseUrl, type ChatMessage, type ChatModel } from "../chat.js";
import { Message, type MessageField } from "../values.js";

/**
 * Language models: Langflow's generic "Language Model" (its `model` field's provider: OpenAI or an
 * OpenAI-compatible server, Anthropic, Ollama, Groq) and the OpenAI component. Both answer `input_value` under `system_message`; with `stream` on and a Chat
 * Output reading the answer, the answer is streamed into it token by token, as in Langflow.
 */

/** The component field holding a provider's base URL, where Langflow's components have one. */
const BASE_URL_FIELD: Record<NativeModelProvider, string> = { OpenAI: "openai_api_base", Anthropic: "base_url", Ollama: "ollama_base_url", Groq: "base_url" };

/**
 * The provider and model this run of a node selects, from the run's field values: a tweak of
 * the `model` field (or of the older provider dropdown) chooses another model, as it does on lfx,
 * and then goes through the same provider and key resolution as the exported choice. A Language
 * Model's `model_name` and `provider` fields overlay its selection, as lfx 1.13's
 * `apply_model_overrides` has them do. A selection lfx would refuse fails the run with lfx's
 * reason; a provider native has no client for fails with the load-time check's (which only saw
 * the export).
 */
function selectedModel(ctx: NodeContext): { provider: NativeModelProvider; model: string } {
  const connected = new Set(ctx.run.flow.edges.filter((e) => e.target === ctx.node.id).map((e) => e.targetHandle.fieldName));
  const selection = modelSelections(ctx.node, connected, (field) => ctx.value(field))[0];
  const fail = (message: string): never => {
    throw new FlowRunError(message, ctx.node.id, ctx.node.displayName);
  };
  // No selection: the older OpenAI components, which call OpenAI.
  if (!selection) return { provider: "OpenAI", model: ctx.text("model_name") || "gpt-4o-mini" };
  let { provider, model } = selection;
  if (selection.source === "model-input") {
    model = ctx.text("model_name").trim() || model;
    provider = ctx.text("provider").trim() || provider;
    // lfx's get_llm: an emptied selection, or one without a provider, is no model.
    if (model === null && provider === null) fail("A model selection is required");
    if (provider === null) fail("The selected model is missing a provider. Please reselect a model from the dropdown so the component knows which provider to use.");
  }
  const name = provider ?? "OpenAI";
  const native = nativeProvider(name);
  if (native === null) return fail(nativeProviderProblem(ctx.node, name) ?? "");
  return { provider: native, model: model ?? "gpt-4o-mini" };
}

/** The model a node describes (also what `build_model` hands to an Agent). */
export function modelOf(ctx: NodeContext): ChatModel {
  const kwargs = ctx.value("model_kwargs");
  const maxTokens = ctx.number("max_tokens", 0);
  const { provider, model } = selectedModel(ctx);
  const keyVariable = findProvider(provider)?.keyVariable;
  return {
    provider,
    baseUrl: resolveBaseUrl(provider, ctx.text(BASE_URL_FIELD[provider]), ctx.run.env),
    // An empty api_key means "the provider's key": Langflow's global variable of that name
    // (OPENAI_API_KEY, ANTHROPIC_API_KEY), which a deployment supplies as a credential of the same name.
    apiKey: ctx.text("api_key") || (keyVariable ? ctx.run.env[keyVariable] : "") || "",
    model,
    temperature: ctx.number("temperature", 0.1),
    ...(maxTokens > 0 ? { maxTokens } : {}),
    ...("seed" in ctx.node.template ? { seed: ctx.number("seed", 1) } : {}),
    jsonMode: ctx.bool("json_mode", false),
    extra: typeof kwargs === "object" && kwargs !== null && !Array.isArray(kwargs) ? (kwargs as Record<string, unknown>) : {},
    timeoutMs: ctx.number("timeout", 700) * 1000,
  };
}

/** True when every reader of the text output is a Chat Output (only those consume a token stream). */
function streamsToChat(ctx: NodeContext): boolean {
  const readers = ctx.run.flow.edges.filter((e) => e.source === ctx.node.id && e.sourceHandle.name === "text_output");
  return readers.length > 0 && readers.every((e) => ctx.run.flow.nodes.find((n) => n.id === e.target)?.type === "ChatOutput");
}

/** lfx's `_handle_stream` builds its Message with these keywords, in this order (its text, a stream, comes last). */
const STREAMED_KWARGS: readonly MessageField[] = ["sender", "sender_name", "properties", "session_id"];

async function textResponse(ctx: NodeContext): Promise<Message> {
  const model = modelOf(ctx);
  const messages: ChatMessage[] = [];
  const system = ctx.text("system_message");
  if (system) messages.push({ role: "system", content: system });
  messages.push({ role: "user", content: ctx.text("input_value") });
  const fetchFn = ctx.run.services.fetch;
  const options = { signal: ctx.run.signal };
  if (ctx.bool("stream", false) && streamsToChat(ctx)) {
    // lfx's `_handle_stream`: the model's own message, partial until its stream is read (the Chat
    // Output reads it, io.ts), with the component's icon, and as source its `model_name`
    // attribute (`_build_source`), which a Language Model's overlay field holds, usually empty.
    const icon = typeof ctx.node.node.icon === "string" ? ctx.node.node.icon : null;
    const message = new Message({ sender: "Machine", senderName: "AI", properties: { icon, state: "partial" }, sessionId: ctx.run.sessionId }, STREAMED_KWARGS);
    message.properties.source = { id: ctx.node.id, display_name: ctx.node.displayName, source: ctx.text("model_name") };
    message.stream = chatCompletionStream(fetchFn, model, messages, options);
    return message;
  }
  const { message: answer, usage } = await chatCompletionWithUsage(fetchFn, model, messages, options);
  // lfx's LCModelComponent: `Message(text=result)`, then the usage on its properties.
  const message = new Message({ text: answer.content ?? "" });
  message.properties.usage = usage;
  return message;
}

const checkProvider = (node: FlowNode): string[] => {
  const problem = nativeModelProblem(node);
  return problem ? [problem] : [];
};

const languageModel: ComponentDef = {
  check: checkProvider,
  methods: {
    text_response: textResponse,
    build_model(ctx) {
      const model = { kind: "chat-model", ...modelOf(ctx) };
      // The model object is an output (an Agent's agent_llm): a debug answer, an output_component
      // answer, a trace and any text made of it show it as JSON, which never holds its key. The
      // Agent reads apiKey off the object itself; toJSON is not enumerable, so its copy drops it.
      Object.defineProperty(model, "toJSON", { value: () => ({ ...model, apiKey: model.apiKey ? REDACTED : "" }) });
      return model;
    },
  },
};

export const llmComponents: Record<string, ComponentDef> = {
  LanguageModelComponent: languageModel,
  OpenAIModel: { methods: languageModel.methods },
};
