import { z } from "zod";
import { nameProblem } from "./names.js";

/**
 * The wire shapes every operation shares. This folder (`@flowplane/core/api`) is the API
 * contract: it imports only zod, so the web app (a browser bundle) and the CLI can import it
 * without pulling in core's Node code.
 */

export const DEFAULT_PAGE_SIZE = 50;

/**
 * Characters a name shown to other people may not hold: C0 and C1 control characters (ESC
 * starts terminal escape sequences: a project named `\u001b]0;...\u0007` rewrote the title of
 * every terminal that listed it; a newline forges table rows and log-looking lines), DEL, and the
 * bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069: a name that reads
 * differently from what it is), and the line and paragraph separators.
 */
export const UNSHOWABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

/**
 * A name as people see it (users, projects, deployments): `field` must hold no UNSHOWABLE
 * character and follow names.ts's rules (no invisible character, the plain space only); it is
 * stored in Unicode's composed form (NFC), as keyboards type it, so one name has one spelling.
 */
export const shownName = (field: string, max: number) =>
  z.string({ error: (i) => (i.input === undefined ? `${field} is required` : `${field} must be a string`) }).trim().normalize("NFC")
    .min(1, `${field} is required`).max(max, `${field} must be at most ${max} characters`)
    .refine((s) => !UNSHOWABLE.test(s), `${field} may not contain control characters (such as a newline, a tab or ESC) or bidirectional overrides`)
    .superRefine(nameRule(field, max, nameProblem));

/**
 * names.ts's rules as a zod refinement: one issue with the rule's message. Not run on a name over
 * `max` (refused by its length already: the rules cost microseconds a character, and a 1 MiB name
 * in a publish held the API's event loop for seconds), nor on one UNSHOWABLE already refuses.
 */
export const nameRule = (what: string, max: number, problemOf: (what: string, s: string) => string | null) => (s: string, ctx: z.RefinementCtx) => {
  if (s.length > max || UNSHOWABLE.test(s)) return;
  const problem = problemOf(what, s);
  if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
};
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

/**
 * A whole number in a path or query string: plain decimal digits only, then held to `min..max`.
 * `z.coerce.number` would take `1e2` (100), `0x10` (16), ` 12 `, `+3`, `1.0` and `""` (0): one
 * resource under many spellings, and numbers the caller never wrote. Anything else is a 400
 * naming `field`.
 */
export const decimalInt = (field: string, min: number, max: number, what = "a whole number") =>
  z.string({ error: `${field} must be ${what} in decimal digits (such as ${Math.max(min, 1)})` })
    .regex(/^[0-9]{1,15}$/, `${field} must be ${what} in decimal digits (such as ${Math.max(min, 1)})`)
    .transform(Number)
    .pipe(z.number().min(min, `${field} must be at least ${min}`).max(max, `${field} must be at most ${max}`));

export const pageQuerySchema = z.object({
  limit: decimalInt("limit", 1, MAX_PAGE_SIZE).optional(),
  cursor: z.string().optional(),
});

/** An ISO 8601 time as the API writes it (`Date.prototype.toISOString`). */
export const timeSchema = z.string().meta({ format: "date-time" });
