import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { accessKeyShaped, type Principal } from "@flowplane/core";
import { AuthFailures } from "../auth-failures.js";
import { clientAddress, listenerPort } from "./relayed-client.js";
import type { RootLogger } from "@flowplane/logging";
import { contractProblem, operations, type Operation } from "@flowplane/core/api";
import type { BundleDownloadService } from "../services/bundle-download.js";
import type { BundleService } from "../services/bundles.js";
import type { DeploymentService } from "../services/deployments.js";
import type { IdentityService } from "../services/identity.js";
import { accessKeyOf } from "./access-key.js";
import type { RunsService } from "../runs/service.js";
import type { TraceGrant, TraceIngest } from "../traces/ingest.js";
import { BodyBudget, bodyBudgetLimits, registerBodyBudget } from "./body-budget.js";
import { hasBody } from "../gateway/body.js";
import { registerEarlyRefusal } from "./early-refusal.js";
import { registerInputHygiene } from "./input-hygiene.js";
import { checkWriteQuery } from "./write-query.js";
import { listenerApp } from "./listener.js";
import { openApiDocument } from "./openapi.js";
import { fastifyPath, type RouteDef } from "./route.js";
import { bundleRoutes } from "./routes/bundles.js";
import { deploymentRoutes } from "./routes/deployments.js";
import { identityRoutes } from "./routes/identity.js";
import { runRoutes } from "./routes/runs.js";
import { metricsRoutes } from "./routes/metrics.js";
import { notFoundBody } from "./not-found.js";
import { NotFoundError } from "@flowplane/core";
import { adminKeyProofRequestSchema } from "@flowplane/core/api";
import { parse } from "../services/identity.js";
import type { AdminKeyProver } from "./admin-key-proof.js";
import type { MetricsService } from "../deployment-metrics/service.js";

export interface ApiOptions {
  identity: IdentityService;
  bundles: BundleService;
  deployments: DeploymentService;
  runs: RunsService;
  metrics: MetricsService;
  download: BundleDownloadService;
  /** Where replicas send their runs' traces (the internal traces endpoint). */
  traces: TraceIngest;
  /** Largest accepted request body in bytes (413 above). */
  bodyLimit: number;
  /** The process's logger (`@flowplane/logging`), or false for no request log (tests). */
  logger: RootLogger | false;
  version: string;
  /**
   * Test mode: every answer of an operation is checked against the API contract (status
   * declared, body matching its schema). A mismatch is reported here and the answer becomes a
   * 500 `contract_violation` naming it, so the test that made the request fails. Off in production.
   */
  checkAnswers?: (problem: string) => void;
  /** Failed authentications per client address (auth-failures.ts); default: a budget of this API's own (20 at once, 2/s). */
  authFailures?: AuthFailures;
  /** This start's relay secret: a request a gateway worker relays names its client beside it (relayed-client.ts). */
  relaySecret?: string;
  /** How much request-body memory callers hold at once (body-budget.ts); default bodyBudgetLimits(bodyLimit). */
  bodyBudget?: BodyBudget;
  /** Answers the CLI's admin-key challenge (admin-key-proof.ts); absent: that operation answers 404. */
  adminKeyProver?: AdminKeyProver;
}

export const API_PREFIX = "/api/v1";
/** Sent with every answer of the API's listener unless the route set its own (the web UI's pages do: web.ts). */
export const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
} as const;
/** Where runtime replicas download their bundle; outside the user API, with its own authentication. */
export const INTERNAL_BUNDLE_PATH = "/internal/v1/deployments/:id/bundle";
/** Where runtime replicas send their runs' traces, with the same identity token (traces/ingest.ts). */
export const INTERNAL_TRACES_PATH = "/internal/v1/deployments/:id/traces";


/**
 * The control-plane API as a Fastify instance. Logs are JSON; the key headers are redacted
 * and request bodies (which carry credentials) are never logged.
 */
export function buildApi(o: ApiOptions): FastifyInstance {
  // The router's limits, the framework's own refusals and JSON bodies as every listener has them (listener.ts).
  const app = listenerApp({ logger: o.logger, bodyLimit: o.bodyLimit, requestIdHeader: "x-request-id" });

  // Who sent a body, for the body budget: the API's user, a replica's deployment (its traces),
  // else the client's address (a route that reads no body; a body sent to no route is refused unread).
  const callers = new WeakMap<object, string>();
  const bodies = registerBodyBudget(app, o.bodyBudget ?? new BodyBudget(bodyBudgetLimits(o.bodyLimit)),
    (req) => callers.get(req) ?? `address ${clientAddress(req, o.relaySecret)}`);
  registerEarlyRefusal(app);
  registerInputHygiene(app);
  // Every answer of this listener (the API's JSON, the web UI's files, errors, 404s) is a
  // resource of the origin whose tabs hold access keys: no page may frame it (clickjacking the
  // UI's Undeploy or Create key) and no browser may sniff a JSON answer that echoes a tenant's
  // text into HTML or script. A page that sets its own policy (web.ts) keeps it; the gateway's
  // routes are answered before Fastify (gateway/headers.ts sets theirs).
  app.addHook("onSend", async (_req, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) if (!reply.hasHeader(name)) void reply.header(name, value);
    return payload;
  });
  // The caller is authenticated on the headers alone, before the body is read (early-refusal.ts).
  const principals = new WeakMap<object, Principal>();
  // Bad keys per client address (auth-failures.ts): an address over budget is answered 429 with
  // Retry-After, for what cannot be a key before any lookup, for a bad key after it; a good key passes.
  const failures = o.authFailures ?? new AuthFailures();
  const authenticate = async (req: FastifyRequest): Promise<Principal> => {
    const key = accessKeyOf(req.headers);
    return failures.authenticate(clientAddress(req, o.relaySecret), key, () => accessKeyShaped(key), () => o.identity.authenticate(key));
  };

  const routes: RouteDef[] = [...identityRoutes(o.identity), ...bundleRoutes(o.bundles), ...deploymentRoutes(o.deployments), ...runRoutes(o.runs), ...metricsRoutes(o.metrics)];
  const doc = openApiDocument(operations, { version: o.version });

  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(notFoundBody(req.method, req.url));
  });

  // A known path asked with a method it does not serve: 405 with the methods it does serve
  // (an onRequest hook, so it also answers methods with a body, such as QUERY, before parsing).
  const allowed = methodsByPath(Object.values(operations));
  app.addHook("onRequest", async (req, reply) => {
    if (req.routeOptions.url !== undefined) return;
    const path = req.url.split("?")[0] ?? "";
    const methods = allowed.find((a) => a.pattern.test(path))?.methods;
    // A body sent to no route is refused on its headers, unread (early-refusal.ts), as a bad key is:
    // read, it took room in the body budget under its address, which a client with no key held for
    // as long as the body pace let it send (a 10 MiB body at 4 KiB/s: 40 minutes), three addresses
    // all of it, so that every member's large publish waited 30 s for a 429.
    if (!methods && hasBody(req.raw)) return reply.code(404).send(notFoundBody(req.method, req.url));
    if (!methods) return;
    return reply.code(405).header("allow", methods.join(", ")).send({
      error: { code: "method_not_allowed", message: `${req.method} is not allowed on ${path}; it answers ${methods.join(", ")}` },
    });
  });

  app.get(`${API_PREFIX}/openapi.json`, async () => doc);
  const bearer = (auth: unknown) => (typeof auth === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1] : undefined);
  app.get(INTERNAL_BUNDLE_PATH, async (req) => {
    const revision = (req.query as { revision?: unknown } | undefined)?.revision;
    return o.download.download((req.params as { id: string }).id, bearer(req.headers.authorization), typeof revision === "string" ? revision : undefined);
  });
  // The token is checked on the headers, before the body is read (early-refusal.ts); the batch then needs the grant.
  const grants = new WeakMap<object, TraceGrant>();
  app.post(INTERNAL_TRACES_PATH, {
    onRequest: async (req) => {
      const id = (req.params as { id: string }).id;
      grants.set(req, await o.traces.authorize(id, bearer(req.headers.authorization)));
      callers.set(req, `deployment ${id}`);
    },
  }, async (req) => {
    const grant = grants.get(req);
    if (!grant) throw new Error("unreachable: onRequest authorizes every trace batch");
    return bodies.handle(req, () => o.traces.receive(grant, req.body));
  });
  // The one public operation: the CLI's admin-key challenge, answered without a key (its caller
  // has none to send yet); its body counts in the body budget under the caller's address.
  const proof = operations.proveAdminKey;
  app.route({
    method: proof.method,
    url: `${API_PREFIX}${fastifyPath(proof.path)}`,
    handler: async (req) => bodies.handle(req, async () => {
      checkWriteQuery(proof, req.query as Record<string, unknown> | undefined);
      const { nonce } = parse(adminKeyProofRequestSchema, req.body);
      if (!o.adminKeyProver) throw new NotFoundError("this process keeps no admin key");
      return o.adminKeyProver.answer(nonce, listenerPort(req, o.relaySecret));
    }),
    ...(o.checkAnswers ? { onSend: answerCheck(proof, o.checkAnswers) } : {}),
  });
  for (const r of routes) {
    app.route({
      method: r.op.method,
      url: `${API_PREFIX}${fastifyPath(r.op.path)}`,
      onRequest: async (req) => {
        const principal = await authenticate(req);
        principals.set(req, principal);
        callers.set(req, `user ${principal.userId}`);
      },
      handler: async (req, reply) => {
        const authenticated = principals.get(req);
        if (!authenticated) throw new Error("unreachable: onRequest authenticates every API request");
        checkWriteQuery(r.op, req.query as Record<string, unknown> | undefined);
        const out = await bodies.handle(req, async () => r.handler({
          // The caller was authenticated on the headers, and a body may come minutes later (the
          // body pace grants any body 300 s, a large one more; the body budget may hold it back
          // too). The principal of then acted on it: a key revoked, a user deactivated or a role
          // removed meanwhile still did one write, a revoked key minting a new key for its user,
          // a removed project owner making someone else owner. A request with a body is
          // authenticated again once the body is in (one more statement, on writes only): the
          // refusal is as immediate as the docs promise, and the roles are those of now.
          principal: hasBody(req.raw) ? await authenticate(req) : authenticated,
          reauthenticate: () => o.identity.authenticate(accessKeyOf(req.headers)),
          params: req.params as Record<string, string>,
          query: req.query as Record<string, string | undefined>,
          body: req.body,
          reply,
        }));
        return reply.statusCode === 204 ? reply.send() : out;
      },
      ...(o.checkAnswers ? { onSend: answerCheck(r.op, o.checkAnswers) } : {}),
    });
  }
  return app;
}

/** The test mode's hook: the serialized answer, parsed and checked against the operation's contract. */
function answerCheck(op: Operation, report: (problem: string) => void) {
  return async (_req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    if (payload !== undefined && payload !== null && typeof payload !== "string") return payload; // a stream or buffer: not a JSON answer
    let body: unknown = undefined;
    if (typeof payload === "string" && payload.length > 0) {
      try {
        body = JSON.parse(payload);
      } catch {
        body = payload;
      }
    }
    const problem = contractProblem(op, reply.statusCode, body);
    if (!problem) return payload;
    report(problem);
    void reply.code(500).header("content-type", "application/json; charset=utf-8");
    return JSON.stringify({ error: { code: "contract_violation", message: problem } });
  };
}

/** Each contract path as a pattern, with the methods it serves (HEAD with GET, as Fastify serves it). */
function methodsByPath(ops: Operation[]): { pattern: RegExp; methods: string[] }[] {
  const byPath = new Map<string, Set<string>>();
  for (const op of ops) {
    const m = byPath.get(op.path) ?? new Set<string>();
    m.add(op.method);
    if (op.method === "GET") m.add("HEAD");
    byPath.set(op.path, m);
  }
  return [...byPath].map(([path, methods]) => ({
    pattern: new RegExp(`^${API_PREFIX}${path.replace(/\{\w+\}/g, "[^/]+")}/?$`),
    methods: [...methods].sort(),
  }));
}
