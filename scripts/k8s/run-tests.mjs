// `npm run test:k8s`: builds (or reuses) the cluster binaries, starts a throw-away Kubernetes
// control plane on loopback (cluster.mjs), runs every `*.k8s.test.js` against it, stops it.
import { spawn } from "node:child_process";
import { startCluster } from "./cluster.mjs";

// Only this runner's own readiness probes use fetch against the self-signed API server.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
const cluster = await startCluster({ log: (m) => console.error(`[k8s] ${m}`) });
let code = 1;
try {
  const child = spawn(process.execPath, ["scripts/test.mjs", "--k8s", ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, KUBECONFIG: cluster.kubeconfig, FLOWPLANE_K8S_TEST_CLUSTER: "1" },
  });
  code = await new Promise((r) => child.on("exit", (c, s) => r(c ?? (s ? 1 : 0))));
} finally {
  await cluster.stop();
}
process.exit(code);
