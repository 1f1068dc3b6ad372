import assert from "node:assert/strict";
import { closeSync, existsSync, openSync } from "node:fs";
import { chmod, link, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_RESOURCES, computeStatus, initialStatus, DEFAULT_RUNTIME, type Deployment, type RuntimeSpec } from "@flowplane/core";
import { startBundleServer, type BundleServer } from "@flowplane/driver-suite";
import { repoRoot } from "@flowplane/testkit";
import { LocalDriver } from "./local-driver.js";
import { Confinement, DEFAULT_UID_BASE, DEFAULT_UID_COUNT, folderUids, pidSpaceWarning, readableByOthers, readableInSandbox, type IsolationRequest } from "./sandbox.js";

/**
 * Replicas are kept from the control plane's data folder and from each other (sandbox.ts), with
 * real runtime processes. As root (CI, containers) the replica's uid is the deployment's own;
 * under bubblewrap its view has no data folder, no other deployment's folder and no other
 * process. CI runs as root with bubblewrap installed: there the sandbox is required, not hoped for.
 */
const RUNTIME = join(repoRoot, "apps", "runtime", "dist", "main.js");
const isRoot = process.getuid?.() === 0;
/** The scratch space each sandboxed replica gets here (its working folder and /tmp, each). */
const SCRATCH = 8 * 1024 * 1024;
const inCi = process.env.CI === "true";

const uidOf = async (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, "utf8"))?.[1]);
const envOf = async (pid: number) => new Map((await readFile(`/proc/${pid}/environ`, "utf8")).split("\0").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));

/**
 * Applies a deployment named `resourceName` whose replica runs `script`, and answers the pid of
 * the runtime itself. Until bwrap has set the sandbox up and exec'd the runtime, the pid the
 * driver knows is bwrap's (which then makes way for the runtime's real pid): read it again on
 * every turn.
 */
async function sandboxedRuntime(driver: LocalDriver, resourceName: string, script: string): Promise<number> {
  const spec: RuntimeSpec = {
    deploymentId: "d", projectId: "p", resourceName, generation: 1, bundle: { name: "b", version: "1", digest: `sha256:${"0".repeat(64)}` },
    bundleUrl: "http://127.0.0.1:9/", identityToken: "t", gatewaySecret: "sandbox-gateway-secret", engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
    resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: {},
  };
  await driver.apply(spec);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const pid = driver.pids(resourceName)[0] ?? 0;
    const cmdline = pid > 0 ? await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "") : "";
    if (cmdline.split("\0")[1] === script) return pid;
    if (Date.now() > deadline) assert.fail("the replica never started its runtime");
    await new Promise((r) => setTimeout(r, 50));
  }
}

function setup(request: IsolationRequest) {
  const t = {
    data: "", work: "", driver: undefined as unknown as LocalDriver, bundles: undefined as unknown as BundleServer,
    spec(resourceName: string): RuntimeSpec {
      return {
        deploymentId: `dep-${resourceName}`, projectId: "p", resourceName, generation: 1,
        bundle: { name: "suite", version: t.bundles.versionTag, digest: t.bundles.digest },
        bundleUrl: t.bundles.url(`dep-${resourceName}`), identityToken: t.bundles.token(`dep-${resourceName}`), gatewaySecret: "sandbox-gateway-secret",
        engine: "native", logLevel: "info", requestTimeoutSeconds: 30, networkAccess: "public",
        resources: { ...DEFAULT_RESOURCES, replicas: 1 }, env: { API_TOKEN: "a-credential-value" },
      };
    },
    async ready(resourceName: string): Promise<number> {
      const deadline = Date.now() + 60_000;
      for (;;) {
        await t.driver.apply(t.spec(resourceName));
        const ob = await t.driver.observe(resourceName);
        if (ob.replicas.some((r) => r.state === "ready")) return t.driver.pids(resourceName)[0]!;
        if (Date.now() > deadline) assert.fail(`not ready: ${JSON.stringify(ob)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
  before(async () => {
    // A stand-in for the control plane's data folder: keys at the top, deployments below.
    t.data = await mkdtemp(join(tmpdir(), "flowplane-iso-data-"));
    t.work = await mkdtemp(join(tmpdir(), "flowplane-iso-work-"));
    await writeFile(join(t.data, "admin.key"), "the-admin-key\n", { mode: 0o600 });
    t.bundles = await startBundleServer();
    t.driver = await LocalDriver.create({
      root: join(t.data, "deployments"), command: [process.execPath, RUNTIME], baseEnv: { PATH: process.env.PATH ?? "" },
      probeIntervalMs: 100, backoff: { baseMs: 200, maxMs: 1000 }, shutdownGraceMs: 3000,
      isolation: { request, hide: [t.data], workRoot: join(t.work, "run"), scratchBytes: SCRATCH },
    });
  });
  after(async () => {
    for (const n of await t.driver.list()) await t.driver.delete(n);
    await t.driver.close();
    await t.bundles.close();
    await rm(t.data, { recursive: true, force: true });
    await rm(t.work, { recursive: true, force: true });
  });
  return t;
}

describe("replica isolation: the strongest this machine allows", () => {
  const t = setup("auto");

  it("CI (root, bubblewrap installed) gets the sandbox", { skip: !inCi && "only required in CI" }, () => {
    assert.equal(isRoot, true, "CI runs as root");
    assert.equal(t.driver.isolation.mode, "sandbox", t.driver.isolation.detail);
  });

  it("runs each deployment under a uid of its own when the control plane is root", async () => {
    const [a, b] = [await t.ready("iso-a"), await t.ready("iso-b")];
    const [ua, ub] = [await uidOf(a), await uidOf(b)];
    if (isRoot && t.driver.isolation.mode !== "none") {
      for (const u of [ua, ub]) assert.ok(u >= DEFAULT_UID_BASE && u < DEFAULT_UID_BASE + DEFAULT_UID_COUNT, `uid ${u} is in the reserved range`);
      assert.notEqual(ua, ub, "two deployments never share a uid");
      assert.match((await t.driver.observe("iso-a")).isolation?.detail ?? "", new RegExp(`uid ${ua}`));
    } else {
      assert.equal(ua, process.getuid?.());
    }
    // Its working folder is its HOME and TMPDIR, owned by its uid, outside the data folder.
    const env = await envOf(a);
    assert.equal(env.get("HOME"), join(t.work, "run", "iso-a"));
    assert.equal(env.get("TMPDIR"), env.get("HOME"));
    const st = await stat(env.get("HOME")!);
    assert.equal(st.uid, ua);
    assert.equal(st.mode & 0o777, 0o700);
    assert.equal((await t.driver.observe("iso-a")).isolation?.mode, t.driver.isolation.mode);
  });

  it("under bubblewrap: no data folder, no other deployment's folder, no other process in the replica's view", async () => {
    if (t.driver.isolation.mode !== "sandbox") {
      assert.ok(!inCi, "CI must have the sandbox");
      return; // bwrap cannot run on this machine: the test above already checked what it gets instead
    }
    const pid = t.driver.pids("iso-a")[0]!;
    // /proc/<pid>/root is the replica's own view of the filesystem (its mount namespace).
    const view = (p: string) => join(`/proc/${pid}/root`, p);
    assert.ok(existsSync(view(RUNTIME)), "the runtime it runs from is there");
    assert.ok(existsSync(view(join(t.work, "run", "iso-a"))), "its own working folder is there");
    assert.ok(existsSync(join(t.data, "admin.key")), "the key exists outside");
    for (const hidden of [t.data, join(t.data, "admin.key"), join(t.data, "deployments"), join(t.work, "run", "iso-b")]) {
      assert.equal(existsSync(view(hidden)), false, `${hidden} is not in the replica's view`);
    }
    // Its own pid namespace: it is pid 1 and sees no other process (not the control plane, not other replicas).
    const pids = (await readdir(view("/proc"))).filter((e) => /^\d+$/.test(e));
    assert.deepEqual(pids, ["1"]);
    assert.match(await readFile(view("/proc/1/cmdline"), "utf8"), /--flowplane-replica=[0-9a-f]+\/iso-a\//);
    assert.notEqual(await readlink(`/proc/${pid}/ns/pid`), await readlink("/proc/self/ns/pid"));
  });

  it("under bubblewrap: its working folder and /tmp are tmpfs mounts of its own, bounded: it cannot fill the machine's disk", async () => {
    if (t.driver.isolation.mode !== "sandbox") {
      assert.ok(!inCi, "CI must have the sandbox");
      return;
    }
    const pid = t.driver.pids("iso-a")[0]!;
    const home = join(t.work, "run", "iso-a");
    const mounts = (await readFile(`/proc/${pid}/mounts`, "utf8")).split("\n").map((l) => l.split(" "));
    for (const dir of ["/tmp", home]) {
      const m = mounts.filter((f) => f[1] === dir).pop();
      assert.equal(m?.[2], "tmpfs", `${dir} is a tmpfs in the replica's view`);
      assert.match(m![3]!, new RegExp(`size=${SCRATCH / 1024}k`), `${dir} is bounded`);
      // Written through the replica's own view of its filesystem: full at its size, as the replica would find it.
      await assert.rejects(writeFile(join(`/proc/${pid}/root`, dir, "fill"), Buffer.alloc(SCRATCH + 1024 * 1024)), { code: "ENOSPC" });
      await rm(join(`/proc/${pid}/root`, dir, "fill"), { force: true });
    }
    assert.deepEqual(await readdir(home), [], "nothing it wrote reached the host's folder");
    assert.match(t.driver.isolation.detail, /private, 8 MiB each/);
  });

  it("deleting a deployment removes its working folder too", async () => {
    await t.driver.delete("iso-b");
    assert.equal(existsSync(join(t.work, "run", "iso-b")), false);
  });
});

describe("replica isolation without bubblewrap: a uid of its own (root only)", { skip: !isRoot && "only root can give a replica another uid" }, () => {
  const t = setup("user");

  it("drops the replica to the deployment's uid, in the control plane's own filesystem view", async () => {
    const pid = await t.ready("iso-u");
    assert.equal(t.driver.isolation.mode, "user", t.driver.isolation.detail);
    const uid = await uidOf(pid);
    assert.ok(uid >= DEFAULT_UID_BASE && uid < DEFAULT_UID_BASE + DEFAULT_UID_COUNT, `uid ${uid}`);
    assert.equal(await readlink(`/proc/${pid}/root`), "/", "no sandbox");
    // What keeps it from the data folder is the folder's mode: 0700, owned by the control plane.
    const st = await stat(t.data);
    assert.equal(st.uid, 0);
    assert.equal(st.mode & 0o077, 0);
  });
});

describe("replica isolation turned off: reported, never silent", () => {
  const t = setup("none");

  it("says so in the driver's isolation, each deployment's observation and its Isolated condition", async () => {
    const pid = await t.ready("iso-n");
    assert.equal(t.driver.isolation.mode, "none");
    assert.match(t.driver.isolation.detail, /can read/);
    assert.equal(await uidOf(pid), process.getuid?.());
    const ob = await t.driver.observe("iso-n");
    assert.equal(ob.isolation?.mode, "none");
    const d: Deployment = {
      id: "dep-iso-n", projectId: "p", displayName: "n", resourceName: "iso-n", appId: "a", routes: { http: "h", mcp: "m" },
      bundle: { name: "suite", version: "1", digest: "sha256:x" }, networkAccess: "public", runtime: DEFAULT_RUNTIME,
      parameters: {}, parameterOverrides: {}, credentialNames: [], resources: { ...DEFAULT_RESOURCES, replicas: 1 }, generation: 1, revision: 1,
      status: initialStatus(), createdAt: "", updatedAt: "", createdBy: "u", deletionRequestedAt: null, deletedAt: null,
    };
    const isolated = computeStatus(d, ob, { now: new Date().toISOString() }).conditions.find((c) => c.type === "Isolated");
    assert.deepEqual([isolated?.status, isolated?.reason], ["False", "NotIsolated"]);
    assert.equal(isolated?.message, t.driver.isolation.detail);
  });
});

describe("the machine's pid space against the per-deployment process cap", () => {
  it("warns when fewer than 64 deployments at their cap would use every process id, naming the numbers", () => {
    const w = pidSpaceWarning(1024, 32_768);
    assert.match(w ?? "", /kernel\.pid_max is 32768: 32 deployment\(s\) forking to their process cap \(1024 each\)/);
    assert.match(w ?? "", /sysctl -w kernel\.pid_max=4194304/);
    assert.equal(pidSpaceWarning(1024, 4_194_304), null, "systemd's default leaves room for 4,096 such deployments");
    assert.equal(pidSpaceWarning(1024, 65_536), null);
    assert.match(pidSpaceWarning(1024, 65_535) ?? "", /63 deployment/);
    assert.equal(pidSpaceWarning(1024, Number.NaN), null, "an unreadable pid_max is no warning");
  });

  it("is checked against this machine only where the cap applies (root, a uid per deployment)", { skip: !isRoot && "the cap applies only as root" }, async () => {
    const base = await mkdtemp(join(tmpdir(), "flowplane-pidspace-"));
    try {
      const make = (request: IsolationRequest, maxProcesses: number) => Confinement.create({ request, root: join(base, "data", "deployments"), command: [process.execPath, RUNTIME], workRoot: join(base, "run"), maxProcesses });
      // No pid_max holds 64 deployments of a million processes each (its ceiling is 4,194,304).
      assert.match((await make("user", 1_048_576)).pidSpaceWarning() ?? "", /forking to their process cap \(1048576 each\)/);
      assert.equal((await make("user", 64)).pidSpaceWarning(), null);
      assert.equal((await make("none", 1_048_576)).pidSpaceWarning(), null, "without a uid per deployment there is no cap to warn about");
    } finally {
      await rm(base, { recursive: true, force: true });
      await rm(join(base, "run"), { recursive: true, force: true });
    }
  });
});

describe("uids and working folders (root only)", { skip: !isRoot && "only root can give a replica another uid" }, () => {
  it("one uid per deployment, the same one again after a restart, none past the range", async () => {
    const base = await mkdtemp(join(tmpdir(), "flowplane-iso-uids-"));
    try {
      const make = () => Confinement.create({ request: "user", root: join(base, "data", "deployments"), command: [process.execPath, RUNTIME], workRoot: join(base, "run"), uidBase: 1_600_000_000, uidCount: 2 });
      const c = await make();
      const a = await c.prepare("dep-a");
      const b = await c.prepare("dep-b");
      assert.notEqual(a.uid, b.uid);
      for (const id of [a, b]) assert.ok(id.uid === 1_600_000_000 || id.uid === 1_600_000_001);
      assert.equal((await (await make()).prepare("dep-a")).uid, a.uid, "recorded by the working folder's owner");
      await assert.rejects(c.prepare("dep-c"), /no free uid/);
      await c.remove("dep-b");
      assert.equal((await c.prepare("dep-c")).uid, b.uid, "a removed deployment's uid is free again");
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it("gives no uid it cannot use: a runtime others cannot read means no isolation, said so", async () => {
    const base = await mkdtemp(join(tmpdir(), "flowplane-iso-closed-"));
    try {
      await writeFile(join(base, "main.js"), "", { mode: 0o644 });
      await chmod(base, 0o700);
      assert.equal(readableByOthers(join(base, "main.js")), false);
      assert.equal(readableByOthers(RUNTIME), true);
      const c = await Confinement.create({ request: "user", root: join(base, "deployments"), command: [process.execPath, join(base, "main.js")], workRoot: join(base, "..", `${base.split("/").pop()}-run`) });
      assert.equal(c.mode, "none");
      assert.match(c.detail, /not readable by other users/);
      await rm(c.workRoot, { recursive: true, force: true });
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it("in the sandbox only the runtime's own folder must let other users in: one in a closed home runs, a closed one is no isolation, said so", async (ctx) => {
    const probe = await Confinement.create({ request: "auto", root: join(tmpdir(), "flowplane-iso-probe", "deployments"), command: [process.execPath, RUNTIME], workRoot: join(tmpdir(), "flowplane-iso-probe-run") });
    await rm(probe.workRoot, { recursive: true, force: true });
    if (probe.mode !== "sandbox") {
      assert.ok(!inCi, "CI must have the sandbox");
      return ctx.skip("bubblewrap cannot run here");
    }
    // A clone in root's home: the home is 0700, the clone itself 0755 (npm start's layout as root).
    const home = await mkdtemp(join(tmpdir(), "flowplane-iso-home-"));
    const install = join(home, "flowplane");
    const log = join(home, "replica.log");
    try {
      await mkdir(join(install, "node_modules"), { recursive: true, mode: 0o755 });
      await chmod(install, 0o755);
      await writeFile(join(install, "main.js"), "console.log('runtime started'); setInterval(() => {}, 1000);\n", { mode: 0o644 });
      assert.equal(readableByOthers(join(install, "main.js")), false, "outside the sandbox the home closes it");
      const create = () => Confinement.create({ request: "auto", root: join(home, "data", "deployments"), command: [process.execPath, join(install, "main.js")], workRoot: `${home}-run` });
      const open = await create();
      assert.equal(open.mode, "sandbox", open.detail);
      // Run as the deployment's uid, it reads its runtime: the runtime's first line reaches its log.
      const fd = openSync(log, "w", 0o600);
      const launched = open.launch(await open.prepare("home"), [process.execPath, join(install, "main.js")], { PATH: process.env.PATH ?? "" }, fd);
      closeSync(fd);
      try {
        const deadline = Date.now() + 30_000;
        while (!(await readFile(log, "utf8")).includes("runtime started")) {
          if (launched.child.exitCode !== null || Date.now() > deadline) assert.fail(`the runtime did not start: ${await readFile(log, "utf8")}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        process.kill(await launched.pid, "SIGKILL");
      }
      // The install's own folder closed: its uid could not read it, in the sandbox or out of it.
      await chmod(install, 0o700);
      const closed = await create();
      assert.equal(closed.mode, "none");
      assert.match(closed.detail, new RegExp(`the runtime at ${join(install, "main.js")} is not readable by other users, so no uid can be dropped to, in the sandbox or out of it`));
    } finally {
      await rm(home, { recursive: true, force: true });
      await rm(`${home}-run`, { recursive: true, force: true });
    }
  });

  it("holds a replica's files, its log included, to maxFileBytes: a flow writing to stderr in a loop cannot fill the data folder's disk", { skip: !existsSync("/usr/bin/prlimit") && "util-linux's prlimit is missing" }, async () => {
    const base = await mkdtemp(join(tmpdir(), "flowplane-fsize-"));
    await chmod(base, 0o755);
    const script = join(base, "main.js");
    const log = join(base, "replica.log");
    try {
      // 4 MiB to stdout, each failed write counted; exits 0 when it got through the loop.
      await writeFile(script, "const fs = require('node:fs'); let failed = 0; const chunk = Buffer.alloc(65536, 120); for (let i = 0; i < 64; i++) { try { fs.writeSync(1, chunk); } catch (e) { if (e.code !== 'EFBIG') throw e; failed++; } } process.exit(failed > 0 ? 0 : 3);\n", { mode: 0o644 });
      const c = await Confinement.create({ request: "auto", root: join(base, "data", "deployments"), command: [process.execPath, script], workRoot: `${base}-run`, maxFileBytes: 1024 * 1024 });
      const fd = openSync(log, "w", 0o600);
      const launched = c.launch(await c.prepare("fsize"), [process.execPath, script], { PATH: process.env.PATH ?? "" }, fd);
      closeSync(fd);
      const code = await new Promise<number | null>((resolve) => launched.child.once("exit", (n) => resolve(n)));
      assert.equal(code, 0, `the writer failed (mode ${c.mode}): ${(await readFile(log, "utf8")).slice(0, 500)}`);
      assert.equal((await stat(log)).size, 1024 * 1024);
    } finally {
      await rm(base, { recursive: true, force: true });
      await rm(`${base}-run`, { recursive: true, force: true });
    }
  });

  it("refuses a working folder inside the data folder", async () => {
    await assert.rejects(Confinement.create({ root: "/tmp/x-data/deployments", hide: ["/tmp/x-data"], command: [process.execPath, RUNTIME], workRoot: "/tmp/x-data/run" }), /inside \/tmp\/x-data/);
  });
});

describe("a data folder inside the install the runtime runs from (npm start's layout)", () => {
  // The data folder named by its own path, and through a symlink to the install (FLOWPLANE_DATA_DIR
  // set by a path such as ~/flowplane/.flowplane, ~/flowplane a link to the clone): the sandbox
  // binds the install by its real path, so the hidden folder must be found by its real path too.
  for (const viaLink of [false, true]) it(`is an empty folder in the replica's view, while the install around it is there${viaLink ? " (named through a symlink)" : ""}`, async (ctx) => {
    const install = await mkdtemp(join(tmpdir(), "flowplane-iso-install-"));
    const data = join(install, ".flowplane");
    const link = `${install}-link`;
    let driver: LocalDriver | undefined;
    try {
      await symlink(install, link);
      // An install others can read, as a clone is (mkdtemp's folder is 0700: the deployment's uid
      // could not even start its runtime, and the check below would race a crash loop).
      await chmod(install, 0o755);
      await mkdir(join(install, "node_modules"));
      await writeFile(join(install, "main.js"), "setInterval(() => {}, 1000);\n");
      await mkdir(data, { mode: 0o700 });
      await writeFile(join(data, "admin.key"), "the-admin-key\n", { mode: 0o600 });
      driver = await LocalDriver.create({
        root: join(viaLink ? join(link, ".flowplane") : data, "deployments"), command: [process.execPath, join(install, "main.js")], baseEnv: { PATH: process.env.PATH ?? "" },
        isolation: { hide: [viaLink ? join(link, ".flowplane") : data], workRoot: `${install}-run` },
      });
      if (driver.isolation.mode !== "sandbox") {
        assert.ok(!inCi, "CI must have the sandbox");
        ctx.skip("bubblewrap cannot run here");
        return;
      }
      const pid = await sandboxedRuntime(driver, "inside", join(install, "main.js"));
      const view = (p: string) => join(`/proc/${pid}/root`, p);
      assert.ok(existsSync(view(join(install, "main.js"))), "the install is in the replica's view");
      assert.deepEqual(await readdir(view(data)), [], "the data folder is an empty tmpfs in the replica's view");
      assert.equal(existsSync(view(join(data, "admin.key"))), false);
    } finally {
      if (driver) {
        await driver.delete("inside");
        await driver.close();
      }
      await rm(install, { recursive: true, force: true });
      await rm(link, { force: true });
      await rm(`${install}-run`, { recursive: true, force: true });
    }
  });
});

it("a runtime reached through a symlink outside the sandbox's view is not runnable there (it is started by that path)", async () => {
  // A release layout: <dir>/current -> <dir>/releases/1; only the release (the real path) is bound.
  const dir = await mkdtemp(join(tmpdir(), "flowplane-iso-link-"));
  try {
    await chmod(dir, 0o755);
    const release = join(dir, "releases", "1");
    await mkdir(join(release, "bin"), { recursive: true, mode: 0o755 });
    await writeFile(join(release, "bin", "main.js"), "", { mode: 0o644 });
    await symlink(release, join(dir, "current"));
    assert.equal(readableInSandbox(join(release, "bin", "main.js"), [release]), true);
    assert.equal(readableInSandbox(join(dir, "current", "bin", "main.js"), [release]), false, "the link is not in the sandbox");
    // A link that is itself in view (under a bound folder) still resolves there.
    await symlink(join(release, "bin", "main.js"), join(release, "main-link.js"));
    assert.equal(readableInSandbox(join(release, "main-link.js"), [release]), true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it("the install bound into the sandbox stops at npm's install root: a stray node_modules above it (a home folder's) does not bring that folder in", async (ctx) => {
  // ~/node_modules left by an `npm install` run in the home folder, the clone in ~/flowplane:
  // the replicas must see the clone, not the home folder around it (keys, the CLI's contexts).
  const home = await mkdtemp(join(tmpdir(), "flowplane-iso-home-"));
  const clone = join(home, "flowplane");
  let driver: LocalDriver | undefined;
  try {
    await chmod(home, 0o755);
    await mkdir(join(home, "node_modules"), { mode: 0o755 });
    await writeFile(join(home, "private.txt"), "the operator's own file\n", { mode: 0o644 });
    await mkdir(join(clone, "node_modules"), { recursive: true, mode: 0o755 });
    await writeFile(join(clone, "package-lock.json"), "{}\n", { mode: 0o644 });
    await mkdir(join(clone, "apps", "runtime"), { recursive: true, mode: 0o755 });
    await writeFile(join(clone, "apps", "runtime", "main.js"), "setInterval(() => {}, 1000);\n", { mode: 0o644 });
    driver = await LocalDriver.create({
      root: join(`${home}-data`, "deployments"), command: [process.execPath, join(clone, "apps", "runtime", "main.js")], baseEnv: { PATH: process.env.PATH ?? "" },
      isolation: { hide: [`${home}-data`], workRoot: `${home}-run` },
    });
    if (driver.isolation.mode !== "sandbox") {
      assert.ok(!inCi, "CI must have the sandbox");
      ctx.skip("bubblewrap cannot run here");
      return;
    }
    const pid = await sandboxedRuntime(driver, "stray", join(clone, "apps", "runtime", "main.js"));
    const view = (p: string) => join(`/proc/${pid}/root`, p);
    assert.ok(existsSync(view(join(clone, "apps", "runtime", "main.js"))), "the install is in the replica's view");
    assert.ok(existsSync(view(join(clone, "node_modules"))), "with its packages");
    assert.equal(existsSync(view(join(home, "private.txt"))), false, "the folder above the install is not");
  } finally {
    if (driver) {
      await driver.delete("stray");
      await driver.close();
    }
    for (const d of [home, `${home}-data`, `${home}-run`]) await rm(d, { recursive: true, force: true });
  }
});

it("lfx named through an installer's link (~/.local/bin/lfx) brings its venv into the sandbox, not the folder around the link", async (ctx) => {
  // uv and pipx install a tool as a venv under ~/.local/share and link it from ~/.local/bin:
  // the venv (by the link's real path) is what replicas need, not the rest of ~/.local.
  const home = await mkdtemp(join(tmpdir(), "flowplane-iso-lfxlink-"));
  const local = join(home, ".local");
  const venv = join(local, "share", "tools", "lfx");
  let driver: LocalDriver | undefined;
  try {
    await chmod(home, 0o755);
    await mkdir(join(venv, "bin"), { recursive: true, mode: 0o755 });
    await writeFile(join(venv, "bin", "lfx"), "#!/bin/sh\n", { mode: 0o755 });
    await mkdir(join(local, "bin"), { mode: 0o755 });
    await symlink(join(venv, "bin", "lfx"), join(local, "bin", "lfx"));
    await writeFile(join(local, "private.txt"), "another tool's token\n", { mode: 0o644 });
    await mkdir(join(home, "app"), { mode: 0o755 });
    await writeFile(join(home, "app", "package-lock.json"), "{}\n", { mode: 0o644 });
    await writeFile(join(home, "app", "main.js"), "setInterval(() => {}, 1000);\n", { mode: 0o644 });
    driver = await LocalDriver.create({
      root: join(`${home}-data`, "deployments"), command: [process.execPath, join(home, "app", "main.js")], baseEnv: { PATH: process.env.PATH ?? "" },
      isolation: { hide: [`${home}-data`], workRoot: `${home}-run`, lfxBin: join(local, "bin", "lfx") },
    });
    if (driver.isolation.mode !== "sandbox") {
      assert.ok(!inCi, "CI must have the sandbox");
      ctx.skip("bubblewrap cannot run here");
      return;
    }
    const pid = await sandboxedRuntime(driver, "lfxlink", join(home, "app", "main.js"));
    const view = (p: string) => join(`/proc/${pid}/root`, p);
    assert.ok(existsSync(view(join(venv, "bin", "lfx"))), "the venv is in the replica's view");
    assert.equal(existsSync(view(join(local, "private.txt"))), false, "the rest of ~/.local is not");
    assert.equal((await envOf(pid)).get("FLOWPLANE_LFX_BIN"), join(venv, "bin", "lfx"), "named by the path that is in view");
  } finally {
    if (driver) {
      await driver.delete("lfxlink");
      await driver.close();
    }
    for (const d of [home, `${home}-data`, `${home}-run`]) await rm(d, { recursive: true, force: true });
  }
});

it("a node binary outside a Node installation (~/bin/node) is bound alone, not the folder above its own", async (ctx) => {
  // The prefix rule (…/bin/node -> …) fits nvm's and the official archive's layout; a binary
  // copied to ~/bin would otherwise put the home folder in every replica's view.
  const home = await mkdtemp(join(tmpdir(), "flowplane-iso-nodebin-"));
  const node = join(home, "bin", "node");
  let driver: LocalDriver | undefined;
  try {
    await chmod(home, 0o755);
    await mkdir(join(home, "bin"), { mode: 0o755 });
    try {
      await link(await realpath(process.execPath), node);
    } catch {
      ctx.skip("node cannot be hard-linked into the temp folder (another file system)");
      return;
    }
    await writeFile(join(home, "private.txt"), "the operator's own file\n", { mode: 0o644 });
    await mkdir(join(home, "app"), { mode: 0o755 });
    await writeFile(join(home, "app", "package-lock.json"), "{}\n", { mode: 0o644 });
    await writeFile(join(home, "app", "main.js"), "setInterval(() => {}, 1000);\n", { mode: 0o644 });
    driver = await LocalDriver.create({
      root: join(`${home}-data`, "deployments"), command: [node, join(home, "app", "main.js")], baseEnv: { PATH: process.env.PATH ?? "" },
      isolation: { hide: [`${home}-data`], workRoot: `${home}-run` },
    });
    if (driver.isolation.mode !== "sandbox") {
      assert.ok(!inCi, "CI must have the sandbox");
      ctx.skip("bubblewrap cannot run here");
      return;
    }
    const pid = await sandboxedRuntime(driver, "nodebin", join(home, "app", "main.js"));
    const view = (p: string) => join(`/proc/${pid}/root`, p);
    assert.ok(existsSync(view(node)), "node is in the replica's view (it runs)");
    assert.equal(existsSync(view(join(home, "private.txt"))), false, "the home folder around it is not");
  } finally {
    if (driver) {
      await driver.delete("nodebin");
      await driver.close();
    }
    for (const d of [home, `${home}-data`, `${home}-run`]) await rm(d, { recursive: true, force: true });
  }
});

describe("the uids working folders hold", () => {
  it("a folder removed between the listing and its lstat (another deployment's undeploy) holds none and fails nothing; other errors still do", async () => {
    const root = await mkdtemp(join(tmpdir(), "flowplane-uids-"));
    try {
      for (const d of ["a", "gone", "b"]) await mkdir(join(root, d));
      await writeFile(join(root, "not-a-folder"), "");
      const uid = process.getuid?.() ?? 0;
      const racing = async (path: string) => {
        if (path.endsWith("/gone")) throw Object.assign(new Error("ENOENT: no such file or directory"), { code: "ENOENT" });
        return { uid: path.endsWith("/a") ? uid : uid + 1 };
      };
      assert.deepEqual([...await folderUids(root, racing)].sort(), [uid, uid + 1].sort());
      const denied = async () => {
        throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
      };
      await assert.rejects(folderUids(root, denied), /EACCES/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
