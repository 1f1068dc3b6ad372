import { FlowRunError } from "@flowplane/core/replica";
import type { ComponentDef, NodeContext } from "../component.js";
import { DataFrame, type Message } from "../values.js";

/**
 * Langflow 1.13's Memory Base (`MemoryBase`, lfx/components/files_and_knowledge/memory_retrieval.py)
 * retrieves the `top_k` chunks of captured conversation history most similar to `search_query`,
 * from the current session (`filter_by_session`, the default) or every session of the flow.
 *
 * Native keeps that history in the runtime's message store (the messages this replica stored,
 * per session, bounded) and ranks by word overlap with the query instead of embedding
 * similarity: the same rows in the same shape (`content`, `_score`, then the message's metadata
 * when `include_metadata`), scored lexically. The store is per replica (see
 * docs/langflow-compatibility.md). Under lfx outside Langflow the component cannot run at all
 * (it reads Langflow's database), so there is no lfx answer to be identical to.
 */

const words = (s: string): string[] => s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];

/** Share of the query's distinct words found in the text, in [0, 1]. */
export function overlapScore(query: string, text: string): number {
  const q = new Set(words(query));
  if (q.size === 0) return 0;
  const t = new Set(words(text));
  let hits = 0;
  for (const w of q) if (t.has(w)) hits++;
  return hits / q.size;
}

function candidates(ctx: NodeContext): Message[] {
  // Earlier runs only: this run's own input is not yet memory (Langflow captures a turn after it).
  const all = ctx.run.services.memory.all().filter((m) => m.runId !== ctx.run.runId && (m.flowId === ctx.run.flow.id || m.flowId === null));
  return ctx.bool("filter_by_session", true) ? all.filter((m) => m.sessionId === ctx.run.sessionId) : all;
}

const memoryBase: ComponentDef = {
  readsHistory: true,
  methods: {
    retrieve_memory(ctx) {
      if (ctx.bool("filter_by_session", true) && !ctx.run.sessionId) {
        throw new FlowRunError("A session_id is required on the flow request when 'Filter by Session' is enabled — disable the toggle to allow cross-session retrieval.");
      }
      const query = ctx.text("search_query");
      if (!query) return new DataFrame([]);
      const k = Math.max(0, ctx.number("top_k", 5));
      const metadata = ctx.bool("include_metadata", true);
      const scored = candidates(ctx)
        .map((m, i) => ({ m, i, score: overlapScore(query, m.text) }))
        .filter((s) => s.score > 0)
        // Best first; among equals the most recent first.
        .sort((a, b) => b.score - a.score || b.i - a.i)
        .slice(0, k);
      return new DataFrame(
        scored.map(({ m, score }) => ({
          content: m.text,
          _score: score,
          ...(metadata ? { session_id: m.sessionId, sender: m.sender, sender_name: m.senderName, timestamp: m.timestamp, message_id: m.id } : {}),
        })),
      );
    },
  },
};

export const memoryBaseComponents: Record<string, ComponentDef> = { MemoryBase: memoryBase };
