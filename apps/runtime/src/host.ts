import { IOCapture, applyModelChoices, applyRequiredSecrets, parseFlow, type FlowEngine } from "@flowplane/core/replica";
import { downloadBundle, identityToken, readBundlePath, verifyBundle, type Bundle } from "./bundle.js";
import type { RuntimeConfig } from "./config.js";
import { createEngine } from "./engines.js";
import { buildApp, type RuntimeApp } from "./http/app.js";
import { RunDeadlines } from "./http/deadlines.js";
import type { HostContext, RuntimeState } from "./http/context.js";
import type { Logger } from "@flowplane/core/replica";
import { startProbeServer, type ProbeServer } from "./probes/probe-server.js";
import { TraceShipper } from "./traces.js";

export interface RuntimeHost {
  app: RuntimeApp;
  state: RuntimeState;
  /** The bound address (`http://host:port`). */
  url: string;
  /** The probe listener's address, when FLOWPLANE_PROBE_PORT is set. */
  probeUrl: string | null;
  /** Resolves when the bundle is loaded (ready), rejects with the fatal start error. */
  loaded: Promise<void>;
  /** Resolves with the reason if the engine stops serving after start (lfx died); never otherwise. */
  failed: Promise<string>;
  /** Stops taking traffic (/ready 503), waits for in-flight requests up to the grace, closes. True when drained in time. */
  shutdown(): Promise<boolean>;
}

export interface HostOptions {
  config: RuntimeConfig;
  log: Logger;
  /** Engine factory, replaceable in tests; by default FLOWPLANE_ENGINE decides. */
  createEngine?: (...args: Parameters<typeof createEngine>) => FlowEngine | Promise<FlowEngine>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The least time the last traces are given at a drain, when the grace period is already spent. */
const TRACES_CLOSE_MIN_MS = 3000;

/**
 * Listens first (liveness answers at once, readiness 503), then downloads and verifies the
 * bundle, loads its flows into the engine, and only then reports ready.
 */
export async function startHost(options: HostOptions): Promise<RuntimeHost> {
  const { config, log } = options;
  const state: RuntimeState = { ready: false, draining: false, failed: null, engine: null, flows: [], bundle: null, inFlight: 0 };
  let fail: (reason: string) => void = () => undefined;
  const failed = new Promise<string>((resolve) => (fail = resolve));
  const onFatal = (reason: string) => {
    if (state.failed || state.draining) return;
    // Not ready at once, so the gateway stops sending traffic before the process exits.
    state.ready = false;
    state.failed = reason;
    publish();
    log.error({ engine: state.engine?.name ?? null, reason }, "engine stopped");
    fail(reason);
  };
  // Inputs and outputs kept only when the deployment opts in (runtime.io), and only with traces.
  const io = config.io && config.traces ? new IOCapture({ secrets: config.io.secrets, maxChars: config.io.maxChars }) : null;
  // A token read from a file (Kubernetes' projected token) is redacted too: at start, and each time it is read again.
  const traces = config.traces ? new TraceShipper({ target: config.traces, log, ...(io ? { onToken: (t: string) => io.add([t]) } : {}) }) : null;
  if (io && config.traces) await identityToken(config.traces).then((t) => t && io.add([t]), () => undefined);
  const ctx: HostContext = { config, log, state, traces, io, deadlines: new RunDeadlines(config.requestTimeoutMs) };
  const app = buildApp(ctx);
  const url = await inherited("FLOWPLANE_RUNTIME_FD", config.fd, config.port, () => app.listen(config.host, config.port, config.fd));
  log.info({ url }, "listening");
  // The probe listener, before the bundle loads: it says `loading` until the flows are in.
  let probes: ProbeServer | null = null;
  if (config.probes) {
    try {
      const { port, fd } = config.probes;
      probes = await inherited("FLOWPLANE_PROBE_FD", fd, port, () => startProbeServer({ host: config.host, port, ...(fd !== undefined ? { fd } : {}) }), (p) => p.url);
    } catch (err) {
      // No probe listener, no replica a driver can see: the start fails.
      await app.close().catch(() => undefined);
      throw err;
    }
    log.info({ url: probes.url }, "probes listening");
  }
  // What /ready says on the main port, published to the probe listener at every change.
  function publish(): void {
    const ready = state.ready && !state.draining;
    probes?.publish(ready ? "ready" : state.failed ? "failed" : state.draining ? "draining" : "loading", state.flows.length);
  }
  publish();
  if (config.gatewaySecret === null) log.warn("no FLOWPLANE_GATEWAY_SECRET: every caller is served (fine by hand; a driver always sets it)");
  // Names only: a reserved name would steer this process, so it never reaches the flow.
  if (config.droppedParameters.length > 0) log.warn({ names: config.droppedParameters }, "reserved parameter names ignored");

  const loaded = (async () => {
    const started = Date.now();
    const bundle: Bundle = config.bundle.kind === "path" ? await readBundlePath(config.bundle.path) : await downloadBundle(config.bundle, log);
    verifyBundle(bundle, config.expectedDigest, config.expectedVersion);
    // Models chosen at deploy time (MODEL_<node>) go into the flows before either engine sees
    // them, and required secret fields exported empty are bound to their credentials.
    const flows = bundle.flows.map((raw, i) => applyRequiredSecrets(applyModelChoices(parseFlow(raw, `flows[${i}]`), config.parameters)));
    const engine: FlowEngine = await (options.createEngine ?? createEngine)(config.engine, flows, config.lfx, { onFatal, log });
    log.info({ engine: engine.name, flows: flows.length }, "loading");
    try {
      state.flows = await engine.load(flows, config.parameters);
    } catch (err) {
      await engine.close().catch(() => undefined);
      throw err;
    }
    state.engine = engine;
    state.bundle = { name: bundle.name, versionTag: bundle.versionTag, digest: bundle.digest };
    state.ready = true;
    publish();
    log.info({ bundle: bundle.name, version: bundle.versionTag, digest: bundle.digest, engine: engine.name, flows: flows.length, ms: Date.now() - started }, "ready");
  })();
  // Its failure is the caller's to report (main awaits `loaded`), after this returns; until the
  // process is gone the probes say `failed`, not `loading`.
  loaded.catch((err: unknown) => {
    state.failed = err instanceof Error ? err.message : String(err);
    publish();
  });

  async function shutdown(): Promise<boolean> {
    state.draining = true;
    app.drain();
    publish();
    log.info({ inFlight: state.inFlight, graceMs: config.shutdownGraceMs }, "draining");
    // Monotonic: a step of the wall clock during a drain neither cuts it nor stretches it.
    const deadline = performance.now() + config.shutdownGraceMs;
    // Keep serving for the drain delay (responses say Connection: close, so pooled connections
    // end cleanly): a request a gateway sent just before it stopped routing here is answered,
    // never reset. Then in-flight requests finish.
    await sleep(Math.min(config.drainDelayMs, config.shutdownGraceMs));
    while (state.inFlight > 0 && performance.now() < deadline) await sleep(25);
    const drained = state.inFlight === 0;
    if (!drained) log.warn({ inFlight: state.inFlight }, "grace period over; closing with requests in flight");
    await Promise.race([app.close(), sleep(Math.max(0, deadline - performance.now()) + 1000)]);
    // An engine or a trace flush that fails to close is said, and the shutdown goes on: what
    // follows (the probe listener closed, the exit code) must not hang on it or become an
    // unhandled rejection with a stack trace.
    await state.engine?.close().catch((err: unknown) => log.warn({ reason: err instanceof Error ? err.message : String(err) }, "engine did not close cleanly"));
    // The last runs' traces, after the last requests are answered: within what is left of the
    // grace period, and at least TRACES_CLOSE_MIN_MS when it is spent (the pod is given 5 s more
    // than the grace, core manifests.ts, of which the listener's close above may take 1), so a
    // slow or refusing control plane never holds the exit until the kill.
    await traces?.close(Math.max(TRACES_CLOSE_MIN_MS, deadline - performance.now())).catch((err: unknown) => log.warn({ reason: err instanceof Error ? err.message : String(err) }, "traces did not flush"));
    await probes?.close();
    return drained;
  }

  return { app, state, url, probeUrl: probes?.url ?? null, loaded, failed, shutdown };
}

/**
 * Serves a listener, and when it is an inherited descriptor, checks that it is the socket the
 * driver meant: a listening TCP socket on the port named beside it. A wrapper command that closed
 * or reused the descriptor would otherwise leave the runtime on another socket, or failing with
 * a bare EINVAL. The error names the variable, so the driver reports InvalidConfiguration.
 */
async function inherited<T>(name: string, fd: number | undefined, port: number, listen: () => Promise<T>, urlOf: (t: T) => string = String): Promise<T> {
  if (fd === undefined) return listen();
  const got = await listen().catch((err: unknown) => {
    throw new Error(`${name} ${fd} is not a listening socket this process can serve (${err instanceof Error ? err.message : String(err)})`);
  });
  const bound = new URL(urlOf(got)).port;
  if (bound !== String(port)) throw new Error(`${name} ${fd} listens on port ${bound}, not on the port named for it (${port})`);
  return got;
}
