import { z } from "zod";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type PageRequest } from "@flowplane/core";
import { parse } from "../../services/identity.js";

export const pageQuery = z.object({
  limit: z.coerce.number({ error: "limit must be a number" }).int("limit must be a whole number").min(1, "limit must be at least 1").max(MAX_PAGE_SIZE, `limit must be at most ${MAX_PAGE_SIZE}`).optional(),
  cursor: z.string().optional(),
});

export function pageOf(query: Record<string, string | undefined>): PageRequest {
  const q = parse(pageQuery, { limit: query.limit, cursor: query.cursor });
  return { limit: q.limit ?? DEFAULT_PAGE_SIZE, cursor: q.cursor };
}

export const param = (params: Record<string, string>, name: string): string => params[name] ?? "";
