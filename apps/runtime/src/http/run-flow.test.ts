import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { FlowRunError, type EngineRunRequest, type EngineRunResult, type FlowEngine, type RunCancel } from "@flowplane/core/replica";
import { memoryLogger } from "@flowplane/logging";
import { readConfig } from "../config.js";
import { HttpError, runFlow, type HostContext } from "./context.js";
import { RunDeadlines } from "./deadlines.js";

// runFlow arms a run's timeout and its caller's cancellation only once the run waits
// (FlowEngine.start): a run done at once leaves no timer or listener to set up and tear down,
// and a run that waits is still cut by either.

const RESULT: EngineRunResult = { sessionId: "s", inputs: {}, outputs: [], chat: null };
const REQUEST: EngineRunRequest = { inputValue: "hi", inputType: "chat", outputType: "chat" };

/** An engine whose runs answer with `answer(cancel)`: a value (done at once) or a promise; `calls` has each run's cancel. */
function engine(answer: (cancel: RunCancel) => EngineRunResult | Promise<EngineRunResult>, withStart = true) {
  const calls: RunCancel[] = [];
  const e: FlowEngine = {
    name: "native",
    load: async () => [],
    run: async (_id, _r, cancel) => {
      calls.push(cancel!);
      return answer(cancel!);
    },
    // A stream says so through its sink: a test can tell which of the two ran.
    stream: async (_id, _r, sink, cancel) => {
      calls.push(cancel!);
      sink({ event: "add_message", data: { via: "stream" } });
      return answer(cancel!);
    },
    close: async () => undefined,
  };
  if (withStart) e.start = (_id, _r, _s, cancel) => {
    calls.push(cancel!);
    return answer(cancel!);
  };
  return { e, calls };
}

function context(e: FlowEngine, timeoutMs = 60_000): HostContext {
  return {
    config: readConfig({ FLOWPLANE_BUNDLE_PATH: "/nonexistent" }),
    log: memoryLogger("error").log,
    state: { ready: true, draining: false, failed: null, engine: e, flows: [], bundle: null, inFlight: 0 },
    deadlines: new RunDeadlines(timeoutMs),
  };
}

/** The deadlines' timer is unref'd (a replica's never holds it open): the test's process needs a reason to stay. */
async function kept<T>(p: Promise<T>): Promise<T> {
  const alive = setInterval(() => undefined, 1000);
  try {
    return await p;
  } finally {
    clearInterval(alive);
  }
}

/** What runFlow reads of a response: its `close` event and whether it is gone or finished. */
function response(): ServerResponse & EventEmitter {
  return Object.assign(new EventEmitter(), { destroyed: false, writableFinished: false }) as unknown as ServerResponse & EventEmitter;
}

test("a run done at once answers with no deadline and no listener armed", async () => {
  const res = response();
  let armed = -1;
  let listeners = -1;
  const ctx = context(engine(() => {
    armed = ctx.deadlines.size;
    listeners = res.listenerCount("close");
    return RESULT;
  }).e);
  assert.equal(await runFlow(ctx, { requestId: "r", fromGateway: false }, "f", REQUEST, undefined, res), RESULT);
  assert.equal(armed, 0);
  assert.equal(listeners, 0);
  assert.equal(res.listenerCount("close"), 0);
});

test("a run that waits is cancelled when its caller leaves: the engine's cancel is aborted and the call rejects at once", async () => {
  const res = response();
  const { e, calls } = engine(() => new Promise<never>(() => undefined));
  const ctx = context(e);
  const run = runFlow(ctx, { requestId: "r", fromGateway: false }, "f", REQUEST, undefined, res);
  await new Promise((r) => setImmediate(r));
  assert.equal(ctx.deadlines.size, 1, "the waiting run has its deadline");
  assert.equal(res.listenerCount("close"), 1);
  res.destroyed = true;
  res.emit("close");
  await assert.rejects(run, (err: unknown) => err instanceof FlowRunError && err.message === "the run was cancelled");
  assert.equal(calls[0]?.aborted, true);
  assert.equal(ctx.deadlines.size, 0);
  assert.equal(res.listenerCount("close"), 0);
});

test("a run that waits past the request timeout is a 504, and the engine's run is cancelled", async () => {
  const { e, calls } = engine(() => new Promise<never>(() => undefined));
  const ctx = context(e, 20);
  const signal = new AbortController().signal;
  await assert.rejects(kept(runFlow(ctx, { requestId: "r", fromGateway: false }, "f", REQUEST, undefined, signal)), (err: unknown) => err instanceof HttpError && err.status === 504 && err.code === "timeout");
  assert.equal(calls[0]?.aborted, true);
  assert.equal(ctx.deadlines.size, 0);
});

test("a caller gone before the run starts: nothing runs", async () => {
  const { e, calls } = engine(() => RESULT);
  const gone = new AbortController();
  gone.abort();
  await assert.rejects(runFlow(context(e), { requestId: "r", fromGateway: false }, "f", REQUEST, undefined, gone.signal), /the run was cancelled/);
  const res = response();
  res.destroyed = true;
  await assert.rejects(runFlow(context(e), { requestId: "r", fromGateway: false }, "f", REQUEST, undefined, res), /the run was cancelled/);
  assert.equal(calls.length, 0);
});

test("a caller who leaves while the run's first part runs cancels it once it waits", async () => {
  const gone = new AbortController();
  const { e, calls } = engine(() => {
    gone.abort();
    return new Promise<never>(() => undefined);
  });
  await assert.rejects(runFlow(context(e), { requestId: "r", fromGateway: false }, "f", REQUEST, undefined, gone.signal), /the run was cancelled/);
  assert.equal(calls[0]?.aborted, true);
});

test("an engine without start (lfx) runs through run and stream, under the same timeout", async () => {
  const sync = engine(() => RESULT, false);
  assert.equal(await runFlow(context(sync.e), { requestId: "r", fromGateway: false }, "f", REQUEST), RESULT);
  const events: unknown[] = [];
  assert.equal(await runFlow(context(sync.e), { requestId: "r", fromGateway: false }, "f", REQUEST, (ev) => events.push(ev)), RESULT);
  assert.deepEqual(events, [{ event: "add_message", data: { via: "stream" } }], "a run with a sink is a stream");
  const slow = engine(() => new Promise<never>(() => undefined), false);
  await assert.rejects(kept(runFlow(context(slow.e, 20), { requestId: "r", fromGateway: false }, "f", REQUEST)), (err: unknown) => err instanceof HttpError && err.status === 504);
});

test("a run that fails at once fails the call with its own error", async () => {
  const { e } = engine(() => {
    throw new FlowRunError("the component failed", "c-1");
  });
  await assert.rejects(runFlow(context(e), { requestId: "r", fromGateway: false }, "f", REQUEST), (err: unknown) => err instanceof FlowRunError && err.componentId === "c-1");
});

test("the request timeout counts from the run's start: a run whose synchronous part outlasted it is cut as soon as it waits", async () => {
  const busy = (ms: number) => {
    const t = performance.now();
    while (performance.now() - t < ms) { /* the run's synchronous part */ }
  };
  for (const withStart of [true, false]) {
    const { e, calls } = engine(() => {
      busy(150);
      return new Promise<never>(() => undefined);
    }, withStart);
    const ctx = context(e, 100);
    // The engine's synchronous part has run when runFlow returns, and the deadline is armed. Timers
    // fire in the order they fall due: a deadline already passed (counted from the run's start)
    // comes before a timer of 50 ms set now; one counted from the first wait (100 ms) after it.
    const run = runFlow(ctx, { requestId: "r", fromGateway: false }, "f", REQUEST).then(() => "answered", (err: unknown) => (err instanceof HttpError && err.status === 504 ? "504" : String(err)));
    const later = new Promise<string>((resolve) => setTimeout(() => resolve("50 ms passed first"), 50));
    assert.equal(await kept(Promise.race([run, later])), "504", withStart ? "with start" : "without start");
    assert.equal(calls[0]?.aborted, true);
  }
});
