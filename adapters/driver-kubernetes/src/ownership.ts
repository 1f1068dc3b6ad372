import type { KubernetesObject, V1ManagedFieldsEntry } from "@kubernetes/client-node";

/**
 * Field ownership after a create (docs/kubernetes-at-scale.md, "Created, then applied").
 *
 * The driver creates a new deployment's objects with a POST (about two thirds of a server-side
 * apply's API server CPU, measured) and changes them later with server-side apply. A POST records
 * its fields under the driver's field manager with the operation `Update`; an apply owns fields
 * under the same manager with the operation `Apply`, and removes only fields that the `Apply`
 * entry owned. Left as they are, fields the POST set and a later apply no longer names (an
 * environment variable, a label, an egress rule) would stay on the object for good.
 *
 * So, at the first apply after such a create, the `Update` entry's fields are moved into the
 * `Apply` entry (what Kubernetes' own client does when it moves an object from client-side to
 * server-side apply: client-go's csaupgrade), and the apply is sent again: it then removes what it
 * no longer names. Defaulted fields the POST's entry listed come back with their defaults.
 */

/** The union of two `fieldsV1` sets (a tree of keys whose leaves are `{}`). */
export function unionFields(a: unknown, b: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(isTree(a) ? a : {}) };
  if (isTree(b)) for (const [k, v] of Object.entries(b)) out[k] = k in out ? unionFields(out[k], v) : v;
  return out;
}

const isTree = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * `obj` (as the API server returned it) with `manager`'s `Update` entries of the main resource
 * merged into its `Apply` entry; null when it has none (nothing to move).
 */
export function withApplyOwnership<T extends KubernetesObject>(obj: T, manager: string, now = new Date()): T | null {
  const entries: V1ManagedFieldsEntry[] = obj.metadata?.managedFields ?? [];
  const mine = (e: V1ManagedFieldsEntry, op: string) => e.manager === manager && e.operation === op && !e.subresource;
  const updates = entries.filter((e) => mine(e, "Update"));
  if (updates.length === 0) return null;
  const apply = entries.find((e) => mine(e, "Apply"));
  const fields = [apply, ...updates].reduce<Record<string, unknown>>((acc, e) => unionFields(acc, e?.fieldsV1), {});
  const merged: V1ManagedFieldsEntry = {
    manager, operation: "Apply", apiVersion: apply?.apiVersion ?? updates[0]!.apiVersion ?? obj.apiVersion,
    time: now, fieldsType: "FieldsV1", fieldsV1: fields,
  };
  const rest = entries.filter((e) => e !== apply && !updates.includes(e));
  return { ...obj, metadata: { ...obj.metadata, managedFields: [...rest, merged] } };
}
