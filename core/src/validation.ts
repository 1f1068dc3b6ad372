import type { z } from "zod";
import type { FieldError } from "./errors.js";

/** zod issues as flowplane's field errors: `field` is the dotted path ("resources.cpu.limit"). */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => {
    const field = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      return { field, message: `unknown field${issue.keys.length > 1 ? "s" : ""}: ${issue.keys.join(", ")}` };
    }
    if (issue.code === "invalid_type" && issue.input === undefined) {
      return { field, message: `${field || "value"} is required` };
    }
    if (issue.code === "invalid_type" && field === "") {
      return { field, message: `the request body must be a JSON ${issue.expected}` };
    }
    return { field, message: issue.message };
  });
}
