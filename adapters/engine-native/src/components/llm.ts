import { REDACTED, findProvider, modelSelections, nativeModelProblem, nativeProvider, type FlowNode, type NativeModelProvider } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext } from "../component.js";
import { chatCompletionWithUsage, chatCompletionStream, resolveBaseUrl, type ChatMessage, type ChatModel } from "../chat.js";
import { Message } from "../values.js";

/**
 * Language models: Langflow's generic "Language Model" (its `model` field's provider: OpenAI or an
 * OpenAI-compatible server, Anthropic, Ollama, Groq) and the OpenAI component. Both answer `input_value` under `system_message`; with `stream` on and a Chat
 * Output reading the answer, the answer is streamed into it token by token, as in Langflow.
 */

/** The component field holding a provider's base URL, where Langflow's components have one. */
const BASE_URL_FIELD: Record<NativeModelProvider, string> = { OpenAI: "openai_api_base", Anthropic: "base_url", Ollama: "ollama_base_url", Groq: "base_url" };

/** The model a node describes (also what `build_model` hands to an Agent). */
export function modelOf(ctx: NodeContext): ChatModel {
  const kwargs = ctx.value("model_kwargs");
  const maxTokens = ctx.number("max_tokens", 0);
  const selection = modelSelections(ctx.node)[0];
  // No selection: the older OpenAI components, which call OpenAI. The load-time check
  // (nativeModelProblem) has refused any provider native has no client for.
  const provider = nativeProvider(selection?.provider ?? "OpenAI") ?? "OpenAI";
  const keyVariable = findProvider(provider)?.keyVariable;
  return {
    provider,
    baseUrl: resolveBaseUrl(provider, ctx.text(BASE_URL_FIELD[provider]), ctx.run.env),
    // An empty api_key means "the provider's key": Langflow's global variable of that name
    // (OPENAI_API_KEY, ANTHROPIC_API_KEY), which a deployment supplies as a credential of the same name.
    apiKey: ctx.text("api_key") || (keyVariable ? ctx.run.env[keyVariable] : "") || "",
    model: selectedModelName(ctx.node) ?? (ctx.text("model_name") || "gpt-4o-mini"),
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

async function textResponse(ctx: NodeContext): Promise<Message> {
  const model = modelOf(ctx);
  const messages: ChatMessage[] = [];
  const system = ctx.text("system_message");
  if (system) messages.push({ role: "system", content: system });
  messages.push({ role: "user", content: ctx.text("input_value") });
  const fetchFn = ctx.run.services.fetch;
  const options = { signal: ctx.run.signal };
  if (ctx.bool("stream", false) && streamsToChat(ctx)) {
    const message = new Message({ properties: { source: { id: ctx.node.id, display_name: ctx.node.displayName, source: model.model } } });
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

/** The model a Langflow 1.13 `model` field (ModelInput) selects, when it selects one. */
function selectedModelName(node: FlowNode): string | null {
  const sel = modelSelections(node).find((s) => s.source === "model-input");
  return sel?.model ?? null;
}

const languageModel: ComponentDef = {
  check: checkProvider,
  methods: {
    text_response: textResponse,
    async build_model(ctx) {
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
