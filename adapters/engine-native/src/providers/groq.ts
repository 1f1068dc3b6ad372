import Groq from "groq-sdk";
import { boundFetch } from "./common.js";
import { chatCompletions } from "./openai.js";

/** Groq, through its official `groq-sdk`. Its chat API has OpenAI's shape: so do the body and the answer. */
export const groqChat = chatCompletions((fetchFn, model, signal) =>
  new Groq({ apiKey: model.apiKey, baseURL: model.baseUrl, fetch: boundFetch(fetchFn, model, signal), maxRetries: 0, timeout: model.timeoutMs }));
