import type { Flow } from "@flowplane/core/replica";

/** The OpenAPI 3.1 description of the runtime contract (DESIGN.md section 6). */
const error = { $ref: "#/components/schemas/Error" };
const json = (schema: unknown) => ({ content: { "application/json": { schema } } });
const flowId = { name: "id", in: "path", required: true, schema: { type: "string" } };
/** Langflow's error shape on its own routes. */
const detail = { type: "object", properties: { detail: {} } };
const upload = { content: { "multipart/form-data": { schema: { type: "object", properties: { file: { type: "string", format: "binary" } }, required: ["file"] } } } };

export function openApiDocument(flows: readonly Flow[]) {
  return {
    openapi: "3.1.0",
    info: { title: "flowplane runtime", version: "1", description: `Flows: ${flows.map((f) => `${f.name} (${f.id})`).join(", ") || "none loaded"}` },
    paths: {
      "/flows": { get: { summary: "List the flows", responses: { 200: json({ type: "array", items: { $ref: "#/components/schemas/FlowMeta" } }) } } },
      "/flows/{id}/info": { get: { summary: "One flow and its input schema", parameters: [flowId], responses: { 200: json({ type: "object" }), 404: json(error) } } },
      "/flows/{id}/run": {
        post: {
          summary: "Run a flow (lfx serve's shape)",
          parameters: [flowId],
          requestBody: json({ $ref: "#/components/schemas/RunRequest" }),
          responses: { 200: json({ $ref: "#/components/schemas/RunResponse" }), 400: json(error), 404: json(error), 413: json(error), 500: json({ $ref: "#/components/schemas/RunResponse" }) },
        },
      },
      "/flows/{id}/stream": {
        post: { summary: "Run a flow as a stream of events (add_message, token, end, error)", parameters: [flowId], requestBody: json({ $ref: "#/components/schemas/RunRequest" }), responses: { 200: { content: { "text/event-stream": {} } } } },
      },
      "/api/v1/run/{id}": {
        post: {
          summary: "Langflow's run API (flow id or endpoint name; ?stream=true)",
          parameters: [flowId, { name: "stream", in: "query", schema: { type: "boolean" } }],
          requestBody: json({
            type: "object",
            properties: {
              input_value: { type: ["string", "null"] },
              input_type: { enum: ["chat", "text", "any"] },
              output_type: { enum: ["chat", "text", "any", "debug"] },
              output_component: { type: "string" },
              tweaks: { type: ["object", "null"] },
              session_id: { type: ["string", "null"] },
            },
          }),
          responses: { 200: json({ type: "object", properties: { session_id: { type: "string" }, outputs: { type: "array" } } }), 400: json(error), 404: json(error), 422: json(detail) },
        },
      },
      "/api/v2/files": {
        post: {
          summary: "Langflow's upload (multipart `file`) into this replica's private folder; the answer's path goes in a Read File tweak",
          requestBody: upload,
          responses: { 201: json({ type: "object", properties: { id: { type: "string" }, name: { type: "string" }, path: { type: "string" }, size: { type: "integer" }, provider: { type: "null" } } }), 400: json(detail), 413: json(detail), 422: json(detail) },
        },
      },
      "/api/v1/files/upload/{flow_id}": {
        post: {
          summary: "Langflow's v1 upload for a flow, into this replica's private folder",
          parameters: [{ name: "flow_id", in: "path", required: true, schema: { type: "string" } }],
          requestBody: upload,
          responses: { 201: json({ type: "object", properties: { flowId: { type: "string" }, file_path: { type: "string" } } }), 400: json(detail), 404: json(detail), 413: json(detail), 422: json(detail) },
        },
      },
      "/mcp": { post: { summary: "Model Context Protocol over streamable HTTP (stateless); one tool per flow", responses: { 200: {} } } },
      "/health": { get: { summary: "Liveness", responses: { 200: {} } } },
      "/ready": { get: { summary: "Readiness: 200 once every flow is loaded, 503 before and while draining", responses: { 200: {}, 503: {} } } },
    },
    components: {
      schemas: {
        Error: { type: "object", properties: { error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" }, details: {} } } } },
        FlowMeta: { type: "object", properties: { id: { type: "string" }, name: { type: "string" }, description: { type: "string" }, endpoint_name: { type: ["string", "null"] } } },
        RunRequest: {
          type: "object",
          properties: { input_value: { type: "string" }, inputs: { type: "object", properties: { input_value: { type: "string" } } }, session_id: { type: "string" }, global_vars: { type: "object", additionalProperties: { type: "string" } } },
        },
        RunResponse: { type: "object", properties: { result: { type: "string" }, success: { type: "boolean" }, logs: { type: "string" }, type: { type: "string" }, component: { type: "string" } } },
      },
    },
  };
}
