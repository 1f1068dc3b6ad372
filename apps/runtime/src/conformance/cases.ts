/**
 * The inputs the conformance suite sends to both engines, per fixture flow. Every flow gets a
 * plain chat turn; some need more to run at all (a key Langflow expects the caller to supply
 * as a tweak, a page to fetch that is local rather than on the internet) or to exercise what
 * they are about (a second turn for memory).
 */
export interface Case {
  name: string;
  /** Inputs sent in order in one session; the last turn's answers are compared. */
  turns: string[];
  inputType?: "chat" | "text";
  tweaks?: Record<string, Record<string, unknown>>;
}

export interface CaseContext {
  /** An API key for tweaks (the same the deployment's OPENAI_API_KEY holds). */
  key: string;
  /** A page on the local test server, for flows that fetch URLs. */
  pageUrl: string;
}

const plain: Case = { name: "chat turn", turns: ["Hello from the conformance suite"] };

export function casesFor(fixture: string, ctx: CaseContext): Case[] {
  switch (fixture) {
    case "basic-prompting":
    case "basic-prompt-chaining":
      // Their model nodes export an empty api_key: Langflow expects the caller to pass one.
      return [plain, { name: "api key as a tweak", turns: plain.turns, tweaks: { "Language Model": { api_key: ctx.key } } }];
    case "memory-chatbot":
    case "memory-chatbot-no-llm":
      return [plain, { name: "second turn remembers the first", turns: ["My name is Ada", "What is my name?"] }];
    case "blog-writer":
      // Its OpenAI node's base URL is the fake's in the bundle (conformance.test.ts withModelBase),
      // not a tweak: no request may say where a node holding a key sends it (http/tweak-guard.ts).
      return [{ name: "local page", turns: ["Write about flows"], inputType: "text", tweaks: { URL: { urls: [ctx.pageUrl] } } }];
    default:
      return [plain];
  }
}
