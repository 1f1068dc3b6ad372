import { Worker } from "node:worker_threads";
import { DomainError, prepareVersion, type NewBundleVersion } from "@flowplane/core";

/**
 * Turns a publish request into the version to store (core's `prepareVersion`: parse and check
 * every flow, parameters, digest, compatibility report). `bodyBytes`: the request body's size,
 * undefined when unknown (a chunked body).
 */
export type VersionPreparer = (input: unknown, createdBy: string, bodyBytes: number | undefined) => Promise<NewBundleVersion>;

/** On the caller's thread: for tests, and for the small publishes a thread would only slow down. */
export const inlinePreparer: VersionPreparer = async (input, createdBy) => prepareVersion(input, createdBy);

/** Below this body size a publish is prepared on the event loop: a few milliseconds, less than starting a thread. */
export const INLINE_PREPARE_MAX_BYTES = 1024 * 1024;

/** Large publishes prepared at once; more wait their turn (each thread holds a copy of its bundle). */
export const PREPARE_THREADS = 2;

export interface ThreadedPreparerOptions {
  /** Bodies up to this size are prepared inline (default INLINE_PREPARE_MAX_BYTES). */
  inlineMaxBytes?: number;
  /** At most this many worker threads at once (default PREPARE_THREADS). */
  threads?: number;
}

/** What a preparing thread answers (prepare-worker.ts): the version with its flows as JSON text, or a domain error. */
export type PrepareAnswer =
  | { version: Omit<NewBundleVersion, "rawFlows"> & { rawFlowsJson: string } }
  | { error: { name: string; code: DomainError["code"]; message: string; details: unknown } };

/**
 * Prepares a large publish on a worker thread of its own. Done on the event loop, a 10 MiB
 * bundle (the largest body allowed, which any member who may publish can send) held it for a
 * few hundred milliseconds of parsing, checking and hashing, plus the JSON text the store
 * writes: every other team's API calls, and the gateway when it runs in this process, waited.
 * The thread starts per publish (no idle thread holds memory) and at most `threads` run at
 * once. Its answers are the inline ones: the same version, the same 400 and 422 errors.
 */
export function threadedPreparer(o: ThreadedPreparerOptions = {}): VersionPreparer {
  const inlineMax = o.inlineMaxBytes ?? INLINE_PREPARE_MAX_BYTES;
  const slots = new Slots(o.threads ?? PREPARE_THREADS);
  return async (input, createdBy, bodyBytes) => {
    if (bodyBytes !== undefined && bodyBytes <= inlineMax) return prepareVersion(input, createdBy);
    await slots.take();
    try {
      const answer = await onThread(input, createdBy);
      if ("error" in answer) {
        const e = new DomainError(answer.error.code, answer.error.message, answer.error.details);
        e.name = answer.error.name;
        throw e;
      }
      // The flows the store keeps are the request's own (zod passes them through as they came);
      // only their JSON text, written by the thread, crosses back.
      return { ...answer.version, rawFlows: (input as { flows: unknown[] }).flows };
    } finally {
      slots.give();
    }
  };
}

function onThread(input: unknown, createdBy: string): Promise<PrepareAnswer> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./prepare-worker.js", import.meta.url), { workerData: { input, createdBy } });
    let answered = false;
    worker.once("message", (m: PrepareAnswer) => {
      answered = true;
      resolve(m);
    });
    // An unexpected failure in the thread (it crashed, ran out of memory) is one, as it was inline: a 500, logged.
    worker.once("error", (e) => {
      answered = true;
      reject(e);
    });
    worker.once("exit", (code) => {
      if (!answered) reject(new Error(`the thread preparing a publish exited with code ${code} without an answer`));
    });
  });
}

/** A counting semaphore, first come first served. */
class Slots {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}
  async take(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}
