import { z } from "zod";
import type { RouteDef } from "./route.js";

const ERROR_SCHEMA = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: { code: { type: "string" }, message: { type: "string" }, details: {} },
    },
  },
};

/** The OpenAPI 3.1 document of the control-plane API, built from the route table. */
export function openApiDocument(routes: RouteDef[], info: { version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = `/api/v1${r.path.replace(/:(\w+)/g, "{$1}")}`;
    const parameters: unknown[] = [...r.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
    if (r.query) {
      const js = z.toJSONSchema(r.query, { io: "input", unrepresentable: "any" }) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(js.properties ?? {})) {
        parameters.push({ name, in: "query", required: (js.required ?? []).includes(name), schema });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, description] of Object.entries(r.responses)) {
      responses[status] = Number(status) >= 400
        ? { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } }
        : { description };
    }
    const op: Record<string, unknown> = { summary: r.summary, tags: [r.tag], parameters, responses };
    if (r.auth !== false) op.security = [{ accessKey: [] }, { bearer: [] }];
    if (r.body) {
      op.requestBody = { required: true, content: { "application/json": { schema: z.toJSONSchema(r.body, { io: "input", unrepresentable: "any" }) } } };
    }
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: { title: "flowplane control plane", version: info.version, description: "Publish Langflow flows and run them as secured, versioned services." },
    servers: [{ url: "/" }],
    paths,
    components: {
      schemas: { Error: ERROR_SCHEMA },
      securitySchemes: {
        accessKey: { type: "apiKey", in: "header", name: "x-access-key" },
        bearer: { type: "http", scheme: "bearer" },
      },
    },
  };
}
