import { useState } from "react";
import { MAX_KEY_DAYS, MIN_KEY_DAYS, type BundleVersion, type CreatedKey, type Deployment } from "@flowplane/core/api";
import { errorText } from "../api/client";
import { useSession } from "../lib/session";
import { CodeBlock } from "../ui/copy";
import { TextField } from "../ui/field";
import { Modal } from "../ui/modal";
import { KeyShownOnce } from "../pages/key-bits";
import { MCP_CLIENT_OPTIONS, curlRunWithKey, mcpConfigWithKey, type McpClient } from "./snippets";

/**
 * "Create a key to call this deployment", in one step: a machine user, the viewer role in the
 * deployment's project (the least that lets it call), and a key; then the key and the curl and
 * MCP snippets with it filled in, shown this once. Org owners only: creating users is theirs.
 */
export function CallKeyDialog({ d, version, onClose }: { d: Deployment; version: BundleVersion | null; onClose: () => void }) {
  const s = useSession();
  const [name, setName] = useState(`${d.resourceName}-caller`.slice(0, 64));
  const [days, setDays] = useState("90");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [client, setClient] = useState<McpClient>("cursor");
  // Three calls, not one transaction: everything the last one needs is checked before the first,
  // and a user made by an attempt that failed later is reused by the next attempt, not made again.
  const [madeUser, setMadeUser] = useState<string | null>(null);
  const daysNumber = Number(days);
  const daysError = Number.isInteger(daysNumber) && daysNumber >= MIN_KEY_DAYS && daysNumber <= MAX_KEY_DAYS ? undefined : `a whole number of days from ${MIN_KEY_DAYS} to ${MAX_KEY_DAYS}`;
  const create = async () => {
    if (daysError) return;
    setBusy(true);
    setError(null);
    try {
      const user = madeUser ?? (await s.api("createUser", { body: { name, kind: "machine" } })).id;
      setMadeUser(user);
      await s.api("setMember", { params: { projectId: d.projectId, userId: user }, body: { role: "viewer" } });
      setCreated(await s.api("createAccessKey", { params: { userId: user }, body: { expiresInDays: daysNumber } }));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const flow = version?.flows[0];
  return (
    <Modal title="Create a key to call this deployment" wide onClose={onClose}
      description={created ? undefined : `Creates a machine user with the viewer role in this project and an access key for it. The key is shown once.`}
      footer={created
        ? <button type="button" className="button button-primary" onClick={onClose}>I have stored the key</button>
        : <>
          <button type="button" className="button" onClick={onClose}>Cancel</button>
          <button type="button" className="button button-primary" disabled={busy || !name.trim() || Boolean(daysError)} onClick={() => void create()}>{busy ? "Creating…" : "Create key"}</button>
        </>}>
      {!created ? (
        <form onSubmit={(e) => { e.preventDefault(); void create(); }}>
          <TextField label="Machine user name" value={name} disabled={madeUser !== null} onChange={(e) => setName(e.target.value)} maxLength={64} required hint="The application or agent that will call it." />
          <TextField label="Expires in (days)" type="number" min={MIN_KEY_DAYS} max={MAX_KEY_DAYS} value={days} onChange={(e) => setDays(e.target.value)} error={daysError} hint={`${MIN_KEY_DAYS} to ${MAX_KEY_DAYS} days. A machine user may hold two live keys, to rotate.`} />
          {error && <p className="notice notice-error" role="alert">{error}</p>}
        </form>
      ) : (
        <div data-call-key>
          <KeyShownOnce created={created} />
          {flow && <CodeBlock code={curlRunWithKey(d.endpoints.http, flow.id, created.key)} label="curl command with the key" kind="shell" />}
          <div className="snippet-head">
            <h3>MCP client</h3>
            <span className="inline-select">
              <select aria-label="MCP client" value={client} onChange={(e) => setClient(e.target.value as McpClient)}>
                {MCP_CLIENT_OPTIONS.map((c) => <option key={c.value} value={c.value}>{c.label}</option>)}
              </select>
            </span>
          </div>
          <CodeBlock code={mcpConfigWithKey(client, d.resourceName, d.endpoints.mcp, created.key)} label="MCP client configuration with the key" kind={MCP_CLIENT_OPTIONS.find((c) => c.value === client)?.language ?? "json"} />
        </div>
      )}
    </Modal>
  );
}
