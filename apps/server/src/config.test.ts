import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { test } from "node:test";
import { ConfigError, defaultGatewayWorkers, loadConfig, readCpuMax } from "./config.js";

test("FLOWPLANE_GATEWAY_WORKERS: one per core by default, 0..64 accepted, anything else refused naming the variable", () => {
  assert.equal(loadConfig({}, "/tmp").gatewayWorkers, defaultGatewayWorkers(readCpuMax()));
  assert.equal(loadConfig({ FLOWPLANE_GATEWAY_WORKERS: "0" }, "/tmp").gatewayWorkers, 0);
  assert.equal(loadConfig({ FLOWPLANE_GATEWAY_WORKERS: "64" }, "/tmp").gatewayWorkers, 64);
  for (const bad of ["-1", "65", "1.5", "many"]) {
    assert.throws(() => loadConfig({ FLOWPLANE_GATEWAY_WORKERS: bad }, "/tmp"), (e: unknown) => e instanceof ConfigError && /FLOWPLANE_GATEWAY_WORKERS/.test(e.message), bad);
  }
});

test("the default number of gateway workers: the cores, but at most the container's CPU limit rounded up", () => {
  const cores = availableParallelism();
  assert.equal(defaultGatewayWorkers(undefined), cores, "outside a container");
  assert.equal(defaultGatewayWorkers("max 100000\n"), cores, "no limit");
  assert.equal(defaultGatewayWorkers("50000 100000\n"), 1, "half a CPU: one worker");
  assert.equal(defaultGatewayWorkers("100000 100000"), 1);
  assert.equal(defaultGatewayWorkers(`${(cores + 3) * 100000} 100000`), cores, "a limit above the cores: the cores");
  assert.equal(defaultGatewayWorkers("garbage"), cores);
});

test("FLOWPLANE_GATEWAY_PROXY: node by default, haproxy opt-in with its binary, slots and connection bound, anything else refused naming the variable", () => {
  assert.deepEqual(loadConfig({}, "/tmp").gatewayProxy, { kind: "node" });
  assert.deepEqual(loadConfig({ FLOWPLANE_GATEWAY_PROXY: "haproxy", FLOWPLANE_GATEWAY_WORKERS: "2" }, "/tmp").gatewayProxy, { kind: "haproxy", bin: "haproxy", slots: 256, maxConnections: 4096 });
  assert.deepEqual(loadConfig({ FLOWPLANE_GATEWAY_PROXY: "haproxy", FLOWPLANE_GATEWAY_WORKERS: "1", FLOWPLANE_HAPROXY_BIN: "/opt/haproxy", FLOWPLANE_HAPROXY_SLOTS: "8", FLOWPLANE_HAPROXY_MAXCONN: "1000" }, "/tmp").gatewayProxy, { kind: "haproxy", bin: "/opt/haproxy", slots: 8, maxConnections: 1000 });
  const refused = (env: Record<string, string>, name: RegExp) => assert.throws(() => loadConfig(env, "/tmp"), (e: unknown) => e instanceof ConfigError && name.test(e.message), JSON.stringify(env));
  refused({ FLOWPLANE_GATEWAY_PROXY: "envoy" }, /FLOWPLANE_GATEWAY_PROXY/);
  refused({ FLOWPLANE_GATEWAY_PROXY: "haproxy", FLOWPLANE_GATEWAY_WORKERS: "0" }, /FLOWPLANE_GATEWAY_PROXY.*FLOWPLANE_GATEWAY_WORKERS must be at least 1/);
  refused({ FLOWPLANE_GATEWAY_PROXY: "haproxy", FLOWPLANE_HAPROXY_SLOTS: "0" }, /FLOWPLANE_HAPROXY_SLOTS/);
  refused({ FLOWPLANE_GATEWAY_PROXY: "haproxy", FLOWPLANE_HAPROXY_MAXCONN: "0" }, /FLOWPLANE_HAPROXY_MAXCONN/);
});

test("the API's bad-key budget: 20 at once and 2/s by default, set by FLOWPLANE_API_BAD_KEY_BURST and _PER_SECOND, refused when not a budget", () => {
  assert.deepEqual(loadConfig({}, "/tmp").apiBadKeys, { burst: 20, perSecond: 2 });
  assert.deepEqual(loadConfig({ FLOWPLANE_API_BAD_KEY_BURST: "100", FLOWPLANE_API_BAD_KEY_PER_SECOND: "0.5" }, "/tmp").apiBadKeys, { burst: 100, perSecond: 0.5 });
  assert.throws(() => loadConfig({ FLOWPLANE_API_BAD_KEY_BURST: "0" }, "/tmp"), /FLOWPLANE_API_BAD_KEY_BURST must be 1\.\.10000000/);
  assert.throws(() => loadConfig({ FLOWPLANE_API_BAD_KEY_PER_SECOND: "0" }, "/tmp"), /FLOWPLANE_API_BAD_KEY_PER_SECOND must be above 0/);
});

test("FLOWPLANE_KUBERNETES_EGRESS_EXCLUDE: none by default, a comma list of IPv4 and IPv6 CIDR ranges, anything else refused naming the variable", () => {
  assert.deepEqual(loadConfig({}, "/tmp").kubernetes.egressExclude, []);
  assert.deepEqual(loadConfig({ FLOWPLANE_KUBERNETES_EGRESS_EXCLUDE: " 34.118.224.0/20, 2600:1900::/28 ," }, "/tmp").kubernetes.egressExclude, ["34.118.224.0/20", "2600:1900::/28"]);
  // IPv6 written as the API server wants it (RFC 5952), whatever form it was given in.
  assert.deepEqual(loadConfig({ FLOWPLANE_KUBERNETES_EGRESS_EXCLUDE: "0064:FF9B:0000::/96,2600:1F14:0:0:0:0:0:0/40,10.0.0.0/8" }, "/tmp").kubernetes.egressExclude, ["64:ff9b::/96", "2600:1f14::/40", "10.0.0.0/8"]);
  // A range with bits past its prefix (which a strict API server refuses) is refused, naming the network address meant.
  assert.throws(() => loadConfig({ FLOWPLANE_KUBERNETES_EGRESS_EXCLUDE: "34.118.224.1/20" }, "/tmp"), /'34\.118\.224\.1\/20' is not: write 34\.118\.224\.0\/20/);
  assert.throws(() => loadConfig({ FLOWPLANE_KUBERNETES_EGRESS_EXCLUDE: "2600:1900::1/28" }, "/tmp"), /write 2600:1900::\/28/);
  // No address without its prefix, no host name, no /0 (an `except` must lie strictly inside 0.0.0.0/0 or ::/0), no prefix beyond the
  // family's, no IPv4-mapped IPv6 range (the API server refuses it inside ::/0: every deployment's policy would fail).
  for (const bad of ["34.118.224.0", "cluster.local/20", "0.0.0.0/0", "::/0", "10.0.0.0/33", "fd00::/129", "10.0.0.300/8", "10.0.0.0/8;rm", "::ffff:0:0/96", "::FFFF:10.0.0.0/104", "0:0:0:0:0:ffff:a00:0/104", "34.118.224.1/20", "2600:1900::1/28"]) {
    assert.throws(() => loadConfig({ FLOWPLANE_KUBERNETES_EGRESS_EXCLUDE: bad }, "/tmp"), (e: unknown) => e instanceof ConfigError && /FLOWPLANE_KUBERNETES_EGRESS_EXCLUDE/.test(e.message), bad);
  }
});

test("FLOWPLANE_KUBERNETES_DNS: CoreDNS in kube-system by default (blank too); selectors and addresses parsed; a bad entry refused naming the variable and the entry", () => {
  const kubeDns = { kind: "pods", namespace: "kube-system", labelKey: "k8s-app", labelValue: "kube-dns" };
  assert.deepEqual(loadConfig({}, "/tmp").kubernetes.dns, [kubeDns]);
  // Set but blank (a compose file's unset ${VAR}) is the default: no DNS at all would fail every flow.
  assert.deepEqual(loadConfig({ FLOWPLANE_KUBERNETES_DNS: " , " }, "/tmp").kubernetes.dns, [kubeDns]);
  // OpenShift's label key holds a `/` and dots: the namespace ends at the first `/`, the value starts after the `=`.
  assert.deepEqual(loadConfig({ FLOWPLANE_KUBERNETES_DNS: "openshift-dns/dns.operator.openshift.io/daemonset-dns=default" }, "/tmp").kubernetes.dns,
    [{ kind: "pods", namespace: "openshift-dns", labelKey: "dns.operator.openshift.io/daemonset-dns", labelValue: "default" }]);
  // NodeLocal DNSCache: its address and the kube-dns Service's, beside the pods; a lone address is its /32 or /128, IPv6 canonical.
  assert.deepEqual(loadConfig({ FLOWPLANE_KUBERNETES_DNS: " kube-system/k8s-app=kube-dns, 169.254.20.10 ,10.96.0.10/32,FD00:0::A,10.53.0.0/24" }, "/tmp").kubernetes.dns, [
    kubeDns, { kind: "addresses", cidr: "169.254.20.10/32" }, { kind: "addresses", cidr: "10.96.0.10/32" }, { kind: "addresses", cidr: "fd00::a/128" }, { kind: "addresses", cidr: "10.53.0.0/24" },
  ]);
  const refused = (value: string, words: RegExp) => assert.throws(() => loadConfig({ FLOWPLANE_KUBERNETES_DNS: value }, "/tmp"), (e: unknown) => e instanceof ConfigError && /^invalid configuration: FLOWPLANE_KUBERNETES_DNS: FLOWPLANE_KUBERNETES_DNS must be a comma list of namespace\/label=value/.test(e.message) && words.test(e.message), value);
  refused("k8s-app=kube-dns", /'k8s-app=kube-dns' is not: a selector is namespace\/label=value/);
  refused("kube-system/k8s-app", /'kube-system\/k8s-app' is not: not an IP address or CIDR range/);
  refused("Kube_System/k8s-app=kube-dns", /'Kube_System' is not a namespace name/);
  refused("kube-system/-k8s-app=kube-dns", /'-k8s-app' is not a label key/);
  refused("kube-system/Bad_Prefix/app=x", /'Bad_Prefix\/app' is not a label key/);
  refused("kube-system/k8s-app=", /'' is not a label value/);
  refused("kube-system/k8s-app=kube dns", /'kube dns' is not a label value/);
  refused("kube-system/k8s-app=a=b", /'a=b' is not a label value/);
  refused("dns.internal", /'dns\.internal' is not: not an IP address or CIDR range/);
  refused("10.96.0.10/16", /'10\.96\.0\.10\/16' is not: write 10\.96\.0\.0\/16/);
  refused("0.0.0.0/0", /'0\.0\.0\.0\/0' is not: a range of every address would let DNS go anywhere/);
  refused("::/0", /a range of every address/);
  refused("10.0.0.300", /not an IP address or CIDR range/);
  // Every bad entry is named, not only the first; the good ones around them do not hide them.
  refused("kube-system/k8s-app=kube-dns,bad entry,10.0.0.1/8", /'bad entry' is not.*'10\.0\.0\.1\/8' is not: write 10\.0\.0\.0\/8/);
});

test("FLOWPLANE_METRICS_TOKEN: none by default or when empty; at least 32 characters and no spaces, else refused naming the variable", () => {
  assert.equal(loadConfig({}, "/tmp").metricsToken, undefined);
  // Set but empty (a compose file's unset ${VAR}, a chart's empty value) is unset, as FLOWPLANE_SECRET_KEY's empty is: no token, no failed start.
  assert.equal(loadConfig({ FLOWPLANE_METRICS_TOKEN: "" }, "/tmp").metricsToken, undefined);
  const token = "a".repeat(32);
  assert.equal(loadConfig({ FLOWPLANE_METRICS_TOKEN: token }, "/tmp").metricsToken, token);
  for (const bad of ["short", `${"a".repeat(20)} ${"b".repeat(20)}`]) {
    assert.throws(() => loadConfig({ FLOWPLANE_METRICS_TOKEN: bad }, "/tmp"), (e: unknown) => e instanceof ConfigError && /FLOWPLANE_METRICS_TOKEN/.test(e.message), bad);
  }
});

test("a number variable set but empty is unset (its default), not 0; an empty DATABASE_URL stays refused", () => {
  const numbers = [
    "FLOWPLANE_PORT", "FLOWPLANE_PRIVATE_PORT", "FLOWPLANE_BODY_LIMIT_BYTES", "FLOWPLANE_BODY_TIMEOUT_SECONDS", "FLOWPLANE_RUNTIME_SCRATCH_MIB",
    "FLOWPLANE_RUNTIME_MAX_PROCESSES", "FLOWPLANE_RUNTIME_UID_BASE", "FLOWPLANE_RESYNC_SECONDS", "FLOWPLANE_RECONCILE_CONCURRENCY", "FLOWPLANE_KUBERNETES_QPS",
    "FLOWPLANE_KUBERNETES_BURST", "FLOWPLANE_GATEWAY_WORKERS", "FLOWPLANE_HAPROXY_SLOTS", "FLOWPLANE_HAPROXY_MAXCONN", "FLOWPLANE_MAX_CONNECTIONS", "FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS", "FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS_PRIVATE", "FLOWPLANE_MAX_CONNECTIONS_PER_DEPLOYMENT", "FLOWPLANE_API_BAD_KEY_BURST", "FLOWPLANE_API_BAD_KEY_PER_SECOND",
    "FLOWPLANE_RUNS_MAX_AGE_HOURS", "FLOWPLANE_RUNS_MAX_PER_DEPLOYMENT", "FLOWPLANE_TRACES_MAX_BYTES_PER_DEPLOYMENT", "FLOWPLANE_RUNS_SWEEP_SECONDS", "FLOWPLANE_METRICS_SAMPLE_SECONDS", "FLOWPLANE_WARM_REVISION_SECONDS",
  ];
  // Each alone, so a failure names the variable (FLOWPLANE_GATEWAY_WORKERS="" was 0: the gateway in the control plane's process).
  for (const name of numbers) assert.deepEqual(loadConfig({ [name]: "" }, "/tmp"), loadConfig({}, "/tmp"), name);
  // Only spaces is blank too: Number(" ") is 0 as Number("") is.
  for (const name of numbers) assert.deepEqual(loadConfig({ [name]: " \t" }, "/tmp"), loadConfig({}, "/tmp"), `${name} blank`);
  assert.throws(() => loadConfig({ DATABASE_URL: "" }, "/tmp"), (e: unknown) => e instanceof ConfigError && /DATABASE_URL/.test(e.message));
});

test("FLOWPLANE_HOST=localhost listens as 127.0.0.1 (its ::1 twin held beside it), not as a name Fastify binds twice", () => {
  assert.equal(loadConfig({ FLOWPLANE_HOST: "localhost" }, "/tmp").host, "127.0.0.1");
  assert.equal(loadConfig({ FLOWPLANE_HOST: "0.0.0.0" }, "/tmp").host, "0.0.0.0");
  assert.equal(loadConfig({}, "/tmp").host, "127.0.0.1");
});

test("FLOWPLANE_TRACES_MAX_BYTES_PER_DEPLOYMENT: 256 MiB by default, 1 MiB..1 TiB accepted, anything else refused naming the variable", () => {
  assert.equal(loadConfig({}, "/tmp").tracesMaxBytesPerDeployment, 256 * 1024 * 1024);
  assert.equal(loadConfig({ FLOWPLANE_TRACES_MAX_BYTES_PER_DEPLOYMENT: "1048576" }, "/tmp").tracesMaxBytesPerDeployment, 1_048_576);
  for (const bad of ["1048575", "1099511627777", "2097152.5", "lots"]) {
    assert.throws(() => loadConfig({ FLOWPLANE_TRACES_MAX_BYTES_PER_DEPLOYMENT: bad }, "/tmp"), (e: unknown) => e instanceof ConfigError && /FLOWPLANE_TRACES_MAX_BYTES_PER_DEPLOYMENT/.test(e.message), bad);
  }
});

test("FLOWPLANE_GATEWAY_CORS_ORIGINS: off unless set (blank too); * or a list of exact origins, normalized; anything else refused naming the variable and the entry", () => {
  assert.deepEqual(loadConfig({}, "/tmp").gatewayCors, { mode: "off" });
  assert.deepEqual(loadConfig({ FLOWPLANE_GATEWAY_CORS_ORIGINS: " " }, "/tmp").gatewayCors, { mode: "off" });
  assert.deepEqual(loadConfig({ FLOWPLANE_GATEWAY_CORS_ORIGINS: "*" }, "/tmp").gatewayCors, { mode: "any" });
  assert.deepEqual(loadConfig({ FLOWPLANE_GATEWAY_CORS_ORIGINS: "https://shop.example.com, http://localhost:3000" }, "/tmp").gatewayCors, { mode: "list", origins: ["https://shop.example.com", "http://localhost:3000"] });
  // As a browser writes its Origin header: lower-case host, no default port, no trailing slash; duplicates once.
  assert.deepEqual(loadConfig({ FLOWPLANE_GATEWAY_CORS_ORIGINS: "https://Shop.Example.com:443/,https://shop.example.com,http://[::1]:8080" }, "/tmp").gatewayCors, { mode: "list", origins: ["https://shop.example.com", "http://[::1]:8080"] });
  for (const [bad, why] of [
    ["https://shop.example.com/widget", /no path/], ["shop.example.com", /not a URL/], ["ftp://shop.example.com", /http or https/],
    ["https://user:pw@shop.example.com", /credentials/], ["https://shop.example.com?x=1", /query/], ["*,https://a.example", /not a URL/],
  ] as const) {
    assert.throws(() => loadConfig({ FLOWPLANE_GATEWAY_CORS_ORIGINS: bad }, "/tmp"), (e: unknown) => e instanceof ConfigError && /FLOWPLANE_GATEWAY_CORS_ORIGINS/.test(e.message) && e.message.includes(`'${bad.split(",")[0]}'`) && why.test(e.message), bad);
  }
});

test("connection bounds: per listener, the private listener's per-address bound its own or the public one's, 0 for none; per local deployment on both; anything else refused naming the variable", () => {
  assert.deepEqual(loadConfig({}, "/tmp").connections, { public: { total: 16_384, perAddress: 1_024, perDeployment: 1_024 }, private: { total: 16_384, perAddress: 1_024, ipv6Prefix: 128, perDeployment: 1_024 } });
  assert.deepEqual(loadConfig({ FLOWPLANE_MAX_CONNECTIONS: "4096", FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS: "0" }, "/tmp").connections, { public: { total: 4096, perAddress: 0, perDeployment: 1_024 }, private: { total: 4096, perAddress: 0, ipv6Prefix: 128, perDeployment: 1_024 } });
  assert.deepEqual(loadConfig({ FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS: "0", FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS_PRIVATE: "64", FLOWPLANE_MAX_CONNECTIONS_PER_DEPLOYMENT: "0" }, "/tmp").connections, { public: { total: 16_384, perAddress: 0, perDeployment: 0 }, private: { total: 16_384, perAddress: 64, ipv6Prefix: 128, perDeployment: 0 } });
  for (const [name, bad] of [["FLOWPLANE_MAX_CONNECTIONS", "0"], ["FLOWPLANE_MAX_CONNECTIONS", "1.5"], ["FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS", "-1"], ["FLOWPLANE_MAX_CONNECTIONS_PER_ADDRESS_PRIVATE", "many"], ["FLOWPLANE_MAX_CONNECTIONS_PER_DEPLOYMENT", "-1"]] as const) {
    assert.throws(() => loadConfig({ [name]: bad }, "/tmp"), (e: unknown) => e instanceof ConfigError && e.message.includes(name), `${name}=${bad}`);
  }
});
