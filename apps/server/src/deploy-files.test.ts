import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { repoRoot } from "@flowplane/testkit";
import { loadConfig } from "./config.js";
import { NGINX_PACKAGES } from "./nginx/config.js";

/**
 * The container build files cannot be built here (no Docker engine), so what can be checked
 * without one is: every path they copy exists, the entry points they run are what the build
 * produces, and the Kubernetes install manifests parse and point at those images.
 * `npm run test:k8s` applies the manifests to a real API server (install.k8s.test.ts).
 */
describe("deploy files", () => {
  for (const file of ["control-plane.Dockerfile", "runtime.Dockerfile"]) {
    it(`${file}: copies existing paths and runs a built entry point`, () => {
      const text = readFileSync(join(repoRoot, "deploy/docker", file), "utf8");
      const copies = [...text.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
      assert.ok(copies.length > 0);
      for (const src of copies) assert.ok(existsSync(join(repoRoot, src)), `${src} exists`);
      const entry = /^ENTRYPOINT \[(.+)\]$/m.exec(text)?.[1];
      const js = JSON.parse(`[${entry}]`).find((a: string) => a.endsWith(".js")) as string;
      assert.ok(existsSync(join(repoRoot, js)), `${js} is built by npm run build`);
      assert.match(text, /^USER 10001$/m, "runs as the non-root user the manifests expect");
      // Pid 1 is an init that reaps orphans (Node does not), installed in the image that runs it.
      const final = text.slice(text.lastIndexOf("\nFROM "));
      assert.deepEqual(JSON.parse(`[${entry}]`).slice(0, 3), ["tini", "--", "node"], "the entry point runs under tini");
      assert.match(final, /^RUN apt-get update && apt-get install -y --no-install-recommends [^\n]*\btini\b/m, "tini is installed in the final stage");
    });
  }

  it("install manifests parse, and use the images and roles the code expects", () => {
    const docs = parseAllDocuments(readFileSync(join(repoRoot, "deploy/kubernetes/flowplane.yaml"), "utf8")).map((d) => d.toJSON() as { kind: string; spec?: { template?: { spec?: { containers?: { image: string; env?: { name: string; value: string }[] }[] } } } });
    const containers = docs.flatMap((d) => d.spec?.template?.spec?.containers ?? []);
    assert.equal(containers.length, 2);
    const roles = containers.map((c) => c.env?.find((e) => e.name === "FLOWPLANE_ROLES")?.value).sort();
    assert.deepEqual(roles, ["api,reconciler", "gateway"]);
    for (const c of containers) assert.equal(c.env?.find((e) => e.name === "FLOWPLANE_DRIVER")?.value, "kubernetes");
  });

  it("each container's environment is a configuration the server accepts; a native fast path (HAProxy, nginx) is asked only of an image that installs it", () => {
    const docs = parseAllDocuments(readFileSync(join(repoRoot, "deploy/kubernetes/flowplane.yaml"), "utf8")).map((d) => d.toJSON() as { spec?: { template?: { spec?: { containers?: { name: string; image: string; env?: { name: string; value: string }[]; readinessProbe?: { tcpSocket?: { port: string } } }[] } } } });
    const containers = docs.flatMap((d) => d.spec?.template?.spec?.containers ?? []);
    const finalStage = (file: string) => {
      const text = readFileSync(join(repoRoot, "deploy/docker", file), "utf8");
      return text.slice(text.lastIndexOf("\nFROM "));
    };
    let proxied = 0;
    for (const c of containers) {
      // What the Secret `flowplane` adds (the manifest's header says what it holds), as placeholders.
      const env = { DATABASE_URL: "postgres://flowplane@db.example/flowplane", FLOWPLANE_SECRET_KEY: "a".repeat(64), ...Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value])) };
      const config = loadConfig(env, "/opt/flowplane");
      if (config.gatewayProxy.kind === "node") continue;
      proxied++;
      const name = config.gatewayProxy.kind === "haproxy" ? "HAProxy" : "nginx";
      assert.ok(config.roles.has("gateway"), `${c.name}: ${name} fronts a gateway`);
      // The image the manifest names is the control plane's (the first test checks that), built by control-plane.Dockerfile.
      assert.match(c.image, /^flowplane\/control-plane:/);
      const installs = /^RUN apt-get update && apt-get install -y --no-install-recommends ([^\n]*)/m.exec(finalStage("control-plane.Dockerfile"))?.[1]?.split(/\s+/) ?? [];
      for (const pkg of config.gatewayProxy.kind === "haproxy" ? ["haproxy"] : NGINX_PACKAGES) assert.ok(installs.includes(pkg), `${c.name} runs ${name}: its image installs ${pkg}`);
      // The public port is the proxy's: a pod whose proxy is down is not ready.
      assert.equal(c.readinessProbe?.tcpSocket?.port, "public", `${c.name}: readiness probed on ${name}'s port`);
    }
    assert.equal(proxied, 1, "the gateway pods serve through a native proxy");
  });
});
