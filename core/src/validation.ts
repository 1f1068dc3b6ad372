import type { z } from "zod";
import type { FieldError } from "./errors.js";

/**
 * zod issues as flowplane's field errors: `field` is the dotted path ("resources.cpu.limit").
 * `at`: the path of the value the schema checked, when it is a part of the request body (one
 * section of it, checked on its own), so that a missing or mistyped section is named as a field.
 */
export function fieldErrors(error: z.ZodError, at: readonly string[] = []): FieldError[] {
  return error.issues.map((issue) => {
    const field = [...at, ...issue.path.map(String)].join(".");
    if (issue.code === "unrecognized_keys") {
      return { field, message: `unknown field${issue.keys.length > 1 ? "s" : ""}: ${issue.keys.join(", ")}` };
    }
    if (issue.code === "invalid_type" && field === "") {
      return { field, message: `the request body must be a JSON ${issue.expected}` };
    }
    // zod's own wording ("Invalid input: expected string, received undefined") is replaced; a
    // schema's own message is kept. The issue carries no input (so no value can reach a log),
    // which is why a missing field is told apart by zod's wording, not by the input.
    if (issue.code === "invalid_type" && issue.message.startsWith("Invalid input")) {
      return { field, message: /received undefined$/.test(issue.message) ? `${field} is required` : `${field} must be ${article(issue.expected)}` };
    }
    return { field, message: issue.message };
  });
}

const article = (type: string) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);
