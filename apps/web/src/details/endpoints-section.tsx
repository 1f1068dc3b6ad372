import { useId, useState } from "react";
import type { BundleVersion, Deployment } from "@flowplane/core/api";
import { useSession } from "../lib/session";
import { CodeBlock, CopyButton } from "../ui/copy";
import { CallKeyDialog } from "./call-key-dialog";
import { useFlowPicker } from "./flow-picker";
import { Section } from "./section";
import { MCP_CLIENT_OPTIONS, curlRun, mcpConfig, type McpClient } from "./snippets";

/** The Langflow (HTTP) and MCP URLs with copy buttons, a curl call and MCP client configuration. */
export function EndpointsSection({ d, version }: { d: Deployment; version: BundleVersion | null }) {
  const clientSelect = useId();
  const flows = version?.flows ?? [];
  const { flow, picker } = useFlowPicker(flows);
  const [client, setClient] = useState<McpClient>("cursor");
  const s = useSession();
  const [keying, setKeying] = useState(false);
  const noKeyReason = s.me.orgOwner ? undefined : "Only organisation owners create machine users. Ask one, or use your own key (Administration › People).";
  const action = (
    <span className="section-action">
      <button type="button" className="button button-small" disabled={noKeyReason !== undefined} title={noKeyReason} onClick={() => setKeying(true)}>Create a key to call this deployment</button>
      {noKeyReason && <span className="muted small" data-disabled-reason>{noKeyReason}</span>}
    </span>
  );
  return (
    <Section title="Endpoints" action={action}>
      {keying && <CallKeyDialog d={d} version={version} onClose={() => setKeying(false)} />}
      <dl className="endpoint-list">
        <div className="endpoint">
          <dt>Langflow HTTP API</dt>
          <dd><code className="url" data-endpoint="http">{d.endpoints.http}</code><CopyButton text={d.endpoints.http} what="the HTTP endpoint URL" /></dd>
        </div>
        <div className="endpoint">
          <dt>MCP server (streamable HTTP)</dt>
          <dd><code className="url" data-endpoint="mcp">{d.endpoints.mcp}</code><CopyButton text={d.endpoints.mcp} what="the MCP endpoint URL" /></dd>
        </div>
      </dl>
      <p className="muted small">
        Callers send an access key as <code>x-access-key</code> (or <code>Authorization: Bearer</code>); its user needs a role in this project.
        {d.networkAccess === "private" && " This deployment is private: these URLs are served only on the internal gateway listener."}
      </p>

      <div className="snippet-head">
        <h3>Call it with curl</h3>
        {picker}
      </div>
      {flow ? <CodeBlock code={curlRun(d.endpoints.http, flow.id)} label="curl command" kind="shell" /> : <p className="muted">Loading the flows…</p>}
      <p className="muted small">Langflow's own <code>/api/v1/run/&lt;flow&gt;</code> API is served too, so existing Langflow clients work unchanged.</p>

      <div className="snippet-head">
        <h3>Use it from an MCP client</h3>
        <span className="inline-select">
          <label htmlFor={clientSelect}>Client</label>
          <select id={clientSelect} value={client} onChange={(e) => setClient(e.target.value as McpClient)}>
            {MCP_CLIENT_OPTIONS.map((c) => <option key={c.value} value={c.value}>{c.label}</option>)}
          </select>
        </span>
      </div>
      <CodeBlock code={mcpConfig(client, d.resourceName, d.endpoints.mcp)} label="MCP client configuration" kind={MCP_CLIENT_OPTIONS.find((c) => c.value === client)?.language ?? "json"} />
      <p className="muted small">{MCP_CLIENT_OPTIONS.find((c) => c.value === client)?.where}</p>
    </Section>
  );
}
