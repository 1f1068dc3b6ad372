import { z } from "zod";
import type { BundleVersion } from "./bundle.js";
import {
  checkEngine,
  checkResources,
  checkValues,
  deployRequestSchema,
  resolveResources,
  resolveRuntime,
  resourcesSchema,
  type NetworkAccess,
  type Resources,
  type RuntimeConfig,
} from "./deployment.js";
import type { FieldError } from "./errors.js";
import { reservedKeyErrors, totalValueErrors, valueErrors } from "./parameter-values.js";
import { fieldErrors } from "./validation.js";

/** A deploy request as far as it could be read; each dialog section is parsed on its own. */
export interface DeployDraft {
  displayName?: string;
  bundle?: { name: string; version: string };
  networkAccess?: NetworkAccess;
  runtime: RuntimeConfig;
  credentials: Record<string, string>;
  parameters: Record<string, string>;
  resources: Resources;
}

const shape = deployRequestSchema.shape;

/**
 * Parses each section of a deploy request separately, so one bad section does not hide the
 * errors of another (a dry run of step 3 still reports a bad CPU value when step 2 is empty).
 */
export function parseDeployDraft(input: unknown): { draft: DeployDraft; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const draft: DeployDraft = { runtime: resolveRuntime(undefined), credentials: {}, parameters: {}, resources: resolveResources(undefined) };
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { draft, errors: [{ field: "", message: "the request body must be a JSON object" }] };
  }
  const body = input as Record<string, unknown>;
  for (const key of Object.keys(body)) {
    if (!(key in shape)) errors.push({ field: key, message: `unknown field: ${key}` });
  }
  const section = <S extends z.ZodType>(key: keyof typeof shape & string, schema: S): z.infer<S> | undefined => {
    const r = schema.safeParse(body[key]);
    if (r.success) return r.data;
    errors.push(...fieldErrors(r.error, [key]));
    return undefined;
  };
  draft.displayName = section("displayName", shape.displayName);
  draft.bundle = section("bundle", shape.bundle);
  draft.networkAccess = section("networkAccess", shape.networkAccess);
  const runtime = section("runtime", shape.runtime);
  draft.runtime = resolveRuntime(runtime);
  draft.credentials = section("credentials", shape.credentials) ?? {};
  draft.parameters = section("parameters", shape.parameters) ?? {};
  const values = { credentials: draft.credentials, parameters: draft.parameters };
  errors.push(...reservedKeyErrors("credentials", draft.credentials), ...reservedKeyErrors("parameters", draft.parameters),
    ...valueErrors(values), ...totalValueErrors(values));
  const resources = section("resources", shape.resources);
  draft.resources = resolveResources(resources);
  if (resources !== undefined || body.resources === undefined) {
    errors.push(...checkResources(draft.resources));
  } else {
    // A bad replica count must not hide a bad CPU or memory value: check those on their own.
    const sizes = resourcesSchema.pick({ cpu: true, memory: true }).strip().safeParse(body.resources);
    if (sizes.success) errors.push(...checkResources(resolveResources(sizes.data)));
  }
  return { draft, errors };
}

/** The checks that need the resolved bundle version. */
export function checkDraftAgainstVersion(draft: DeployDraft, version: BundleVersion): FieldError[] {
  return [...checkValues(version, draft.credentials, draft.parameters, true), ...checkEngine(draft.runtime, version)];
}
