import { bundleDigest } from "@flowplane/core";
import { loadFixture, startHttpServer } from "@flowplane/testkit";

export interface BundleServer {
  /** The download URL of the bundle for `deploymentId`, and the token that opens it. */
  url(deploymentId: string): string;
  token(deploymentId: string): string;
  digest: string;
  versionTag: string;
  downloads: number;
  close(): Promise<void>;
}

/**
 * A stand-in for the control plane's internal bundle endpoint: one fixture bundle, served only
 * with the right per-deployment bearer token (401 otherwise), so drivers are tested against the
 * same download contract the runtime uses in production.
 */
export async function startBundleServer(fixture: string | unknown[] = "simple-chat-no-llm"): Promise<BundleServer> {
  // A fixture's name, or the raw Langflow exports themselves.
  const flows = typeof fixture === "string" ? [loadFixture(fixture)] : fixture;
  const digest = bundleDigest(flows);
  const state = { downloads: 0 };
  const srv = await startHttpServer((req, res) => {
    const m = /^\/bundles\/([^/]+)$/.exec(req.url ?? "");
    if (!m || req.headers.authorization !== `Bearer token-${m[1]}`) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"error":{"code":"unauthenticated","message":"bad token"}}');
      return;
    }
    state.downloads += 1;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ name: "suite", versionTag: "v1", digest, flows }));
  });
  return {
    url: (id) => `${srv.url}/bundles/${id}`,
    token: (id) => `token-${id}`,
    digest,
    versionTag: "v1",
    get downloads() {
      return state.downloads;
    },
    close: () => srv.close(),
  };
}
