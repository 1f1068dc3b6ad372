import { z } from "zod";

/**
 * The wire shapes every operation shares. This folder (`@flowplane/core/api`) is the API
 * contract: it imports only zod, so the web app (a browser bundle) and the CLI can import it
 * without pulling in core's Node code.
 */

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export const fieldErrorSchema = z.strictObject({
  field: z.string().meta({ description: 'dotted path of the field ("resources.cpu.limit"); "" for the whole body' }),
  message: z.string(),
});
export type FieldError = z.infer<typeof fieldErrorSchema>;

/** The one error shape: every 4xx and 5xx answer of the API. */
export const errorSchema = z.strictObject({
  error: z.strictObject({
    code: z.string().meta({ description: "stable machine-readable code (validation_failed, unauthenticated, forbidden, not_found, conflict, …)" }),
    message: z.string(),
    details: z.unknown().optional().meta({ description: "for validation_failed: a list of {field, message}" }),
  }),
}).meta({ id: "Error" });
export type ErrorBody = z.infer<typeof errorSchema>;

/** `{items, nextCursor}`: one page of a list; pass `nextCursor` back as `?cursor=` for the next one. */
export const pageOf = <T extends z.ZodType>(item: T) => z.strictObject({
  items: z.array(item),
  nextCursor: z.string().nullable().meta({ description: "opaque; null on the last page" }),
});
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const pageQuerySchema = z.object({
  limit: z.coerce.number({ error: "limit must be a number" }).int("limit must be a whole number").min(1, "limit must be at least 1").max(MAX_PAGE_SIZE, `limit must be at most ${MAX_PAGE_SIZE}`).optional(),
  cursor: z.string().optional(),
});

/** An ISO 8601 time as the API writes it (`Date.prototype.toISOString`). */
export const timeSchema = z.string().meta({ format: "date-time" });
