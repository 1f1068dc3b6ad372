import type { Flow } from "@flowplane/core/replica";

/**
 * Which of Langflow's starter projects need something outside the test machine to run, shared
 * by the starters suite (lfx through the gateway) and the equivalence suite (native vs lfx).
 *
 * Component types that reach an outside service (or need a file or database the tests do not
 * have) when they run as a component. In tool mode they run only if the model calls them, which
 * the fake model does not, so an agent offering them as tools needs nothing outside.
 */
export const OUTSIDE: Readonly<Record<string, string>> = {
  ArXivComponent: "arxiv.org",
  AstraDB: "an Astra DB database",
  AssemblyAITranscriber: "AssemblyAI",
  SQLComponent: "a SQL database",
  File: "an uploaded file",
  Knowledge: "a Langflow knowledge base",
  MemoryBase: "a Langflow memory base",
  UnifiedWebSearch: "the web",
  URLComponent: "the web",
};

/**
 * What the fake model cannot stand in for: Structured Output (trustcall) needs the model to
 * answer with a structured tool call, and the fake model answers text.
 */
export const REAL_MODEL: Readonly<Record<string, string>> = {
  StructuredOutput: "a model that answers with structured output",
};

/**
 * What a flow needs from outside (empty: it runs on the fake model alone). `provided`: component
 * types the suite gives what they need (the equivalence suite hands Read File a local file).
 */
export function outsideServices(flow: Flow, provided: readonly string[] = []): string[] {
  const needs = flow.nodes.filter((n) => !n.isNote && !provided.includes(n.type) && ((!n.toolMode && OUTSIDE[n.type]) || REAL_MODEL[n.type]));
  return [...new Set(needs.map((n) => `${n.type} (${OUTSIDE[n.type] ?? REAL_MODEL[n.type]})`))];
}
