import { z } from "zod";
import { errorSchema, errorStatuses, type Operation } from "@flowplane/core/api";

type Json = Record<string, unknown>;

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "invalid request: malformed JSON, or a field breaks a rule (details lists {field, message})",
  401: "no valid access key",
  403: "the caller lacks the role",
  404: "not found, or not visible to the caller",
  409: "conflict with the current state",
  413: "request body too large",
  415: "the body is not JSON",
  422: "not a flow flowplane can accept",
};

/**
 * Turns zod schemas into OpenAPI 3.1 schemas. Schemas named with `.meta({id})` become
 * `components/schemas` entries; zod writes them as `#/$defs/<id>`, which in an OpenAPI
 * document would point at the document's root, so they are moved and their refs rewritten.
 */
class SchemaConverter {
  readonly components: Record<string, unknown> = {};

  convert(schema: z.ZodType, io: "input" | "output"): unknown {
    const js = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" }) as Json;
    delete js.$schema;
    const defs = (js.$defs ?? {}) as Record<string, unknown>;
    delete js.$defs;
    for (const [id, def] of Object.entries(defs)) {
      const rewritten = rewriteRefs(def);
      const seen = this.components[id];
      if (seen !== undefined && JSON.stringify(seen) !== JSON.stringify(rewritten)) {
        throw new Error(`two different schemas are both named ${id} in the API contract`);
      }
      this.components[id] = rewritten;
    }
    return rewriteRefs(js);
  }
}

function rewriteRefs(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(rewriteRefs);
  if (v === null || typeof v !== "object") return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = k === "$ref" && typeof x === "string" ? x.replace(/^#\/\$defs\//, "#/components/schemas/") : rewriteRefs(x);
  }
  return out;
}

/** The OpenAPI 3.1 document of the control-plane API, built from the contract's operation table. */
export function openApiDocument(operations: Record<string, Operation>, info: { version: string }): Json {
  const conv = new SchemaConverter();
  const errorRef = conv.convert(errorSchema, "output");
  const paths: Record<string, Json> = {};
  for (const [operationId, o] of Object.entries(operations)) {
    const parameters: unknown[] = [...o.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    if (o.query) {
      const js = conv.convert(o.query, "input") as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(js.properties ?? {})) {
        parameters.push({ name, in: "query", required: (js.required ?? []).includes(name), schema });
      }
    }
    const responses: Json = {};
    for (const [status, schema] of Object.entries(o.ok) as [string, z.ZodType | null][]) {
      const r: Json = { description: schema?.description ?? describe(o, Number(status)) };
      if (schema) r.content = { "application/json": { schema: conv.convert(schema, "output") } };
      if (o.links && status === linkStatus(o)) r.links = o.links;
      if (o.headers) r.headers = Object.fromEntries(Object.entries(o.headers).map(([h, d]) => [h, { description: d, schema: { type: "string" } }]));
      responses[status] = r;
    }
    for (const status of errorStatuses(o)) {
      responses[String(status)] = {
        description: o.errors[status] ?? ERROR_DESCRIPTIONS[status] ?? "error",
        content: { "application/json": { schema: errorRef } },
      };
    }
    const op: Json = { operationId, summary: o.summary, tags: [o.tag], parameters, responses };
    if (o.auth !== false) op.security = [{ accessKey: [] }, { langflowApiKey: [] }, { bearer: [] }];
    if (o.body) op.requestBody = { required: true, content: { "application/json": { schema: conv.convert(o.body, "input") } } };
    (paths[`/api/v1${o.path}`] ??= {})[o.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: { title: "flowplane control plane", version: info.version, description: "Publish Langflow flows and run them as secured, versioned services." },
    servers: [{ url: "/" }],
    paths,
    components: {
      schemas: conv.components,
      securitySchemes: {
        accessKey: { type: "apiKey", in: "header", name: "x-access-key" },
        langflowApiKey: { type: "apiKey", in: "header", name: "x-api-key", description: "Langflow's header, accepted so Langflow clients work unchanged" },
        bearer: { type: "http", scheme: "bearer" },
      },
    },
  };
}

function describe(o: Operation, status: number): string {
  if (status === 204) return "done; no body";
  if (status === 201) return "created";
  if (status === 202) return "accepted";
  return o.summary;
}

/** The answer that carries an operation's links: its 201 when it creates, else its only success. */
function linkStatus(o: Operation): string | undefined {
  return "201" in o.ok ? "201" : Object.keys(o.ok)[0];
}
