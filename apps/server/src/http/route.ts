import type { FastifyReply } from "fastify";
import type { z } from "zod";
import type { Principal } from "@flowplane/core";

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface HandlerContext {
  principal: Principal;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: unknown;
  reply: FastifyReply;
}

/**
 * One API operation. The same zod schemas serve the service's validation and the OpenAPI
 * document (openapi.ts), so the document cannot drift from what the server accepts.
 */
export interface RouteDef {
  method: Method;
  /** Fastify path syntax, relative to /api/v1: "/projects/:projectId". */
  path: string;
  summary: string;
  tag: string;
  /** false for the few public operations (the OpenAPI document). */
  auth?: boolean;
  body?: z.ZodType;
  query?: z.ZodObject;
  /** Status → description; the first 2xx is the success status. */
  responses: Record<number, string>;
  handler: (ctx: HandlerContext) => Promise<unknown>;
}

export const route = (r: RouteDef): RouteDef => r;
