import type { Message } from "./values.js";

/**
 * Langflow's message history, kept in this process per session. A replica can offer no more:
 * with several replicas, or after a restart, a session's history is whatever this replica has
 * seen. Bounded per session and in sessions (oldest dropped) so a long-lived replica does not
 * grow without limit.
 */
export class MessageStore {
  /**
   * Each session's messages, oldest first. An array here is only ever appended to: trimming
   * replaces it with a new one, so a snapshot (an array and a length) stays what it was. It
   * holds up to twice `maxPerSession` before a trim (one copy per `maxPerSession` additions, not
   * one per addition); only the last `maxPerSession` count.
   */
  private readonly sessions = new Map<string, Message[]>();

  constructor(
    private readonly maxPerSession = 200,
    private readonly maxSessions = 1000,
  ) {}

  add(message: Message): void {
    const key = message.sessionId;
    let list = this.sessions.get(key) ?? [];
    // Re-inserting moves the session to the end of the Map: the first key is the least recently used.
    this.sessions.delete(key);
    list.push(message);
    if (list.length > 2 * this.maxPerSession) list = list.slice(-this.maxPerSession);
    this.sessions.set(key, list);
    if (this.sessions.size > this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
  }

  list(sessionId: string): Message[] {
    return this.snapshot(sessionId)();
  }

  /**
   * The session's messages as they are now, copied only when read (most runs never read their
   * history: copying it for every run was a large part of a short flow's run).
   */
  snapshot(sessionId: string): () => Message[] {
    const list = this.sessions.get(sessionId);
    if (!list) return () => [];
    const end = list.length;
    let copy: Message[] | undefined;
    return () => (copy ??= list.slice(Math.max(0, end - this.maxPerSession), end));
  }

  /** Every stored message, session by session (least recently used session first). */
  all(): Message[] {
    return [...this.sessions.keys()].flatMap((id) => this.list(id));
  }

  clear(): void {
    this.sessions.clear();
  }
}
