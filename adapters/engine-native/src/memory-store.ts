import type { Message } from "./values.js";

/** What a stored message is counted as: its text, plus its other fields (ids, sender, time) taken as this many characters. */
const MESSAGE_OVERHEAD_CHARS = 256;
const sizeOf = (m: Message): number => m.text.length + MESSAGE_OVERHEAD_CHARS;

interface Session {
  /** Oldest first. Only ever appended to: trimming replaces it, so a snapshot (an array and a length) stays what it was. */
  list: Message[];
  /** The characters `list` holds (sizeOf), all of it, not only the part that counts. */
  chars: number;
}

export interface MessageStoreLimits {
  /** Messages kept per session (default 200; Langflow's Memory reads the last 100 by default). */
  maxPerSession?: number;
  /** Sessions kept; the least recently used goes first (default 1,000). */
  maxSessions?: number;
  /**
   * Characters kept per session (default 1 Mi, about 250,000 tokens: more than any model's
   * context); its oldest messages go first. A count alone did not bound it: a flow whose answer
   * quotes the history it read (Memory Chatbot without its model) stores a message as large as
   * the history each turn, so the history doubled every turn and about 30 calls in one session
   * took the replica out of memory.
   */
  maxSessionChars?: number;
  /** Characters kept in all (default 32 Mi); least recently used sessions go first. */
  maxChars?: number;
}

/**
 * Langflow's message history, kept in this process per session. A replica can offer no more:
 * with several replicas, or after a restart, a session's history is whatever this replica has
 * seen. Bounded per session (messages and characters) and in all (sessions and characters),
 * oldest dropped, so neither a long-lived replica nor one caller's session grows without limit.
 */
export class MessageStore {
  /**
   * Each session's messages. A list holds up to twice `maxPerSession` before a trim (one copy
   * per `maxPerSession` additions, not one per addition); only the last `maxPerSession` count.
   */
  private readonly sessions = new Map<string, Session>();
  private chars = 0;
  private readonly maxPerSession: number;
  private readonly maxSessions: number;
  private readonly maxSessionChars: number;
  private readonly maxChars: number;

  constructor(limits: MessageStoreLimits = {}) {
    this.maxPerSession = limits.maxPerSession ?? 200;
    this.maxSessions = limits.maxSessions ?? 1000;
    this.maxSessionChars = limits.maxSessionChars ?? 1024 * 1024;
    this.maxChars = Math.max(limits.maxChars ?? 32 * 1024 * 1024, this.maxSessionChars);
  }

  add(message: Message): void {
    const key = message.sessionId;
    const session = this.sessions.get(key) ?? { list: [], chars: 0 };
    // Re-inserting moves the session to the end of the Map: the first key is the least recently used.
    this.sessions.delete(key);
    this.sessions.set(key, session);
    session.list.push(message);
    session.chars += sizeOf(message);
    this.chars += sizeOf(message);
    if (session.list.length > 2 * this.maxPerSession) this.keep(session, session.list.length - this.maxPerSession);
    if (session.chars > this.maxSessionChars) {
      // The oldest go until the rest fits (the message just added too, if it alone does not).
      let from = 0;
      for (let chars = session.chars; chars > this.maxSessionChars; from++) chars -= sizeOf(session.list[from]!);
      this.keep(session, from);
    }
    // The session just added to is the most recently used, and fits alone (maxChars >= maxSessionChars): never evicted here.
    while (this.sessions.size > this.maxSessions || this.chars > this.maxChars) {
      const oldest = this.sessions.keys().next().value as string;
      this.chars -= this.sessions.get(oldest)!.chars;
      this.sessions.delete(oldest);
    }
  }

  /** The session's list from index `from` on, as a new array. */
  private keep(session: Session, from: number): void {
    const kept = session.list.slice(from);
    const chars = kept.reduce((n, m) => n + sizeOf(m), 0);
    this.chars += chars - session.chars;
    session.list = kept;
    session.chars = chars;
  }

  list(sessionId: string): Message[] {
    return this.snapshot(sessionId)();
  }

  /**
   * The session's messages as they are now, copied only when read (most runs never read their
   * history: copying it for every run was a large part of a short flow's run).
   */
  snapshot(sessionId: string): () => Message[] {
    const list = this.sessions.get(sessionId)?.list;
    if (!list) return () => [];
    const end = list.length;
    let copy: Message[] | undefined;
    return () => (copy ??= list.slice(Math.max(0, end - this.maxPerSession), end));
  }

  /** Every stored message, session by session (least recently used session first). */
  all(): Message[] {
    return [...this.sessions.keys()].flatMap((id) => this.list(id));
  }

  /** The characters held (sizeOf each message), for tests. */
  get size(): number {
    return this.chars;
  }

  clear(): void {
    this.sessions.clear();
    this.chars = 0;
  }
}
