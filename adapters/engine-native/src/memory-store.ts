import type { Message } from "./values.js";

/**
 * Langflow's message history, kept in this process per session. A replica can offer no more:
 * with several replicas, or after a restart, a session's history is whatever this replica has
 * seen. Bounded per session and in sessions (oldest dropped) so a long-lived replica does not
 * grow without limit.
 */
export class MessageStore {
  private readonly sessions = new Map<string, Message[]>();

  constructor(
    private readonly maxPerSession = 200,
    private readonly maxSessions = 1000,
  ) {}

  add(message: Message): void {
    const key = message.sessionId;
    const list = this.sessions.get(key) ?? [];
    // Re-inserting moves the session to the end of the Map: the first key is the least recently used.
    this.sessions.delete(key);
    list.push(message);
    if (list.length > this.maxPerSession) list.splice(0, list.length - this.maxPerSession);
    this.sessions.set(key, list);
    if (this.sessions.size > this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
  }

  list(sessionId: string): Message[] {
    return [...(this.sessions.get(sessionId) ?? [])];
  }

  /** Every stored message, session by session (least recently used session first). */
  all(): Message[] {
    return [...this.sessions.values()].flat();
  }

  clear(): void {
    this.sessions.clear();
  }
}
