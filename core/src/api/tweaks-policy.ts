/**
 * Which fields a run request may set through tweaks: the values of a deployment's
 * `runtime.tweaksPolicy` (Langflow 1.13's `tweaks_policy`). A module of its own, importing
 * nothing: the contract's schema (deployments.ts) and the replica's side (replica-access.ts,
 * which a replica loads without zod) share the one list.
 * - `permissive`: any field but Langflow's protected ones (the default, Langflow's too);
 * - `declared`: on a flow whose author marked fields editable via API (`api_editable`), only
 *   those; a flow with none marked stays permissive;
 * - `off`: no tweak at all; `input_value` and `session_id` still reach the flow.
 * Langflow's protected fields and flowplane's credential rules hold under all three.
 */
export const TWEAKS_POLICIES = ["permissive", "declared", "off"] as const;
export type TweaksPolicy = (typeof TWEAKS_POLICIES)[number];
