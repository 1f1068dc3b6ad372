// A real Kubernetes control plane on loopback for the Kubernetes tests: etcd (Debian's
// etcd-server), kube-apiserver, kube-controller-manager and kube-scheduler (built by
// install-binaries.sh), and kwok standing in for nodes and kubelets so pods become Running
// and Ready. Nothing listens beyond 127.0.0.1; everything lives in one temporary folder and
// is removed by stop().
//
//   node scripts/k8s/cluster.mjs            start, print KUBECONFIG, wait for Ctrl-C
//   import { startCluster } from "./cluster.mjs"
import { execFileSync, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const here = new URL(".", import.meta.url).pathname;

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    }).on("error", reject);
  });
}

export function binaries() {
  return execFileSync(join(here, "install-binaries.sh"), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

export async function startCluster({ log = () => undefined } = {}) {
  const bin = binaries();
  const dir = mkdtempSync(join(tmpdir(), "flowplane-k8s-"));
  const procs = [];
  const run = (name, cmd, args) => {
    const out = openSync(join(dir, `${name}.log`), "w");
    const p = spawn(cmd, args, { stdio: ["ignore", out, out] });
    p.on("exit", (code, signal) => {
      if (!stopping) log(`${name} exited (${signal ?? code}); see ${join(dir, `${name}.log`)}`);
    });
    p.component = name;
    procs.push(p);
    return p;
  };
  let stopping = false;
  const stop = async () => {
    stopping = true;
    for (const p of procs.reverse()) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => (p.exitCode !== null || p.signalCode ? null : new Promise((r) => p.once("exit", r)))));
    if (!process.env.FLOWPLANE_K8S_KEEP) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const [etcdPort, etcdPeer, apiPort, kwokPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(join(dir, "sa.key"), privateKey.export({ type: "pkcs1", format: "pem" }), { mode: 0o600 });
    writeFileSync(join(dir, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
    const token = randomBytes(24).toString("hex");
    // A second identity for flowplane itself, so the audit log counts exactly the requests it sends.
    const flowplaneToken = randomBytes(24).toString("hex");
    writeFileSync(join(dir, "tokens.csv"), `${token},admin,admin,system:masters\n${flowplaneToken},flowplane,flowplane,system:masters\n`, { mode: 0o600 });
    // A throw-away loopback cluster: the client trusts the API server's self-signed certificate.
    const writeKubeconfig = (file, user) => {
      writeFileSync(file, [
        "apiVersion: v1", "kind: Config", "current-context: test",
        "clusters:", "- name: test", "  cluster:", `    server: https://127.0.0.1:${apiPort}`, "    insecure-skip-tls-verify: true",
        "users:", "- name: admin", "  user:", `    token: ${user}`,
        "contexts:", "- name: test", "  context:", "    cluster: test", "    user: admin", "",
      ].join("\n"), { mode: 0o600 });
      return file;
    };
    const kubeconfig = writeKubeconfig(join(dir, "kubeconfig"), token);
    const flowplaneKubeconfig = writeKubeconfig(join(dir, "kubeconfig-flowplane"), flowplaneToken);
    const auditLog = join(dir, "audit.log");
    writeFileSync(join(dir, "audit-policy.yaml"), [
      "apiVersion: audit.k8s.io/v1", "kind: Policy", "omitStages: [RequestReceived]", "rules:",
      "- level: Metadata", "  users: [flowplane]", "- level: None", "",
    ].join("\n"));

    run("etcd", "etcd", [
      `--data-dir=${join(dir, "etcd")}`, `--listen-client-urls=http://127.0.0.1:${etcdPort}`, `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`, "--unsafe-no-fsync", "--quota-backend-bytes=4294967296",
    ]);
    run("kube-apiserver", join(bin, "kube-apiserver"), [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, "certs")}`, `--token-auth-file=${join(dir, "tokens.csv")}`, "--authorization-mode=RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local", `--service-account-key-file=${join(dir, "sa.pub")}`,
      `--service-account-signing-key-file=${join(dir, "sa.key")}`, "--service-cluster-ip-range=10.96.0.0/16",
      "--enable-priority-and-fairness=false", "--max-requests-inflight=2000", "--max-mutating-requests-inflight=1000",
      "--watch-cache=true", "--profiling=false", "--endpoint-reconciler-type=none",
      `--audit-policy-file=${join(dir, "audit-policy.yaml")}`, `--audit-log-path=${auditLog}`, "--audit-log-format=json", "--audit-log-maxsize=0",
    ]);
    await waitFor("kube-apiserver", async () => {
      const r = await fetch(`https://127.0.0.1:${apiPort}/readyz`, { headers: { authorization: `Bearer ${token}` } }).catch(() => null);
      return r?.status === 200;
    }, 90_000);
    const common = [`--kubeconfig=${kubeconfig}`, "--leader-elect=false"];
    run("kube-controller-manager", join(bin, "kube-controller-manager"), [
      ...common, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
      "--bind-address=127.0.0.1", "--secure-port=0", `--service-account-private-key-file=${join(dir, "sa.key")}`,
      `--root-ca-file=${join(dir, "certs", "apiserver.crt")}`, "--use-service-account-credentials=false",
      "--controllers=*,-nodeipam,-cloud-node-lifecycle,-route,-service,-persistentvolume-binder,-attachdetach",
      "--concurrent-deployment-syncs=20", "--concurrent-replicaset-syncs=20", "--concurrent-namespace-syncs=20", "--kube-api-qps=500", "--kube-api-burst=1000",
    ]);
    run("kube-scheduler", join(bin, "kube-scheduler"), [...common, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`, "--bind-address=127.0.0.1", "--secure-port=0", "--kube-api-qps=500", "--kube-api-burst=1000"]);
    run("kwok", join(bin, "kwok"), [
      `--kubeconfig=${kubeconfig}`, "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
      "--manage-nodes-with-label-selector=", "--cidr=10.0.0.0/16", "--node-ip=10.0.0.1", "--node-lease-duration-seconds=40",
      `--server-address=127.0.0.1:${kwokPort}`,
    ]);
    const nodes = Number(process.env.FLOWPLANE_K8S_NODES ?? 4);
    for (let i = 0; i < nodes; i++) {
      const node = {
        apiVersion: "v1", kind: "Node",
        metadata: { name: `kwok-node-${i}`, annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" }, labels: { "kubernetes.io/hostname": `kwok-node-${i}`, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", type: "kwok" } },
        status: { allocatable: { cpu: "64", memory: "512Gi", pods: "1100" }, capacity: { cpu: "64", memory: "512Gi", pods: "1100" } },
      };
      const r = await fetch(`https://127.0.0.1:${apiPort}/api/v1/nodes`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(node) });
      if (r.status !== 201) throw new Error(`creating node ${i}: ${r.status} ${await r.text()}`);
    }
    await waitFor("kwok nodes Ready", async () => {
      const r = await fetch(`https://127.0.0.1:${apiPort}/api/v1/nodes`, { headers: { authorization: `Bearer ${token}` } });
      const list = await r.json();
      return list.items.length === nodes && list.items.every((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")
        && !(n.spec?.taints ?? []).some((t) => t.key === "node.kubernetes.io/not-ready"));
    }, 60_000);
    await waitFor("the default ServiceAccount controller", async () => {
      const r = await fetch(`https://127.0.0.1:${apiPort}/api/v1/namespaces/default/serviceaccounts/default`, { headers: { authorization: `Bearer ${token}` } });
      return r.status === 200;
    }, 60_000);
    log(`cluster ready: KUBECONFIG=${kubeconfig}`);
    // components: name and pid of each process, for a benchmark's CPU accounting.
    const components = procs.map((p) => ({ name: p.component, pid: p.pid }));
    return { dir, kubeconfig, flowplaneKubeconfig, auditLog, server: `https://127.0.0.1:${apiPort}`, token, components, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function waitFor(what, check, ms) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // Node's fetch must accept the API server's self-signed certificate on loopback.
  process.env.NODE_TLS_REJECT_UNAUTHORIZED ??= "0";
  const c = await startCluster({ log: (m) => console.error(m) });
  console.log(`export KUBECONFIG=${c.kubeconfig}`);
  const stop = async () => {
    await c.stop();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
