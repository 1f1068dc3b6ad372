import assert from "node:assert/strict";
import { closeSync, existsSync, openSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { lastFailure } from "./processes.js";
import { Confinement } from "./sandbox.js";

/**
 * The seccomp filter (seccomp.ts) with real bubblewrap, a real kernel and real processes: a
 * runtime stand-in is pid 1 of the sandbox, holding its log (a file the test opened, 0600 root's,
 * as the driver opens `replica-<id>.log`) as stdout, and starts a Python probe as its child, the
 * way the runtime starts lfx: same uid, same sandbox. The probe reports what each call answered.
 */
const inCi = process.env.CI === "true";
const PYTHON = "/usr/bin/python3";

/** The flow's side: the calls that reach into pid 1, the reviewer's attack, and ordinary work. Prints one JSON object: "ok" or the errno of each call. */
const PROBE = String.raw`
import ctypes, json, os, socket, struct, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
out = {}
def call(name, *args):
    ctypes.set_errno(0)
    # syscall(2) is variadic and reads longs: a bare Python int would be passed as a C int.
    r = libc.syscall(*[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    out[name] = "ok" if r >= 0 else ctypes.get_errno()
    return r
NR = {"x86_64": dict(ptrace=101, process_vm_readv=310, pidfd_open=434, pidfd_getfd=438, memfd_create=319, io_uring_setup=425),
      "aarch64": dict(ptrace=117, process_vm_readv=270, pidfd_open=434, pidfd_getfd=438, memfd_create=279, io_uring_setup=425)}[os.uname().machine]
status = open("/proc/self/status").read()
out["seccomp"] = [l.split()[1] for l in status.splitlines() if l.startswith("Seccomp:")][0]
out["uid"] = os.getuid(); out["runtime_uid"] = os.stat("/proc/1").st_uid; out["pid"] = os.getpid()
# The attack: the runtime's stdout (the replica's log) taken through a pidfd, then disk reserved
# past its size (1 MiB here; 2 GiB would do the same).
pidfd = call("pidfd_open", NR["pidfd_open"], 1, 0)
fd = call("pidfd_getfd", NR["pidfd_getfd"], pidfd, 1, 0)
if fd >= 0:
    ctypes.set_errno(0)
    r = libc.fallocate(fd, 1, 0, 1024 * 1024)
    out["fallocate_log"] = "ok" if r == 0 else ctypes.get_errno()
PTRACE_SEIZE, PTRACE_DETACH = 0x4206, 17
if call("ptrace_seize", NR["ptrace"], PTRACE_SEIZE, 1, 0, 0) >= 0:
    libc.syscall(NR["ptrace"], PTRACE_DETACH, 1, 0, 0)
# Eight bytes of pid 1's first mapping: readable whenever the call itself is allowed.
start = int(open("/proc/1/maps").readline().split("-")[0], 16)
buf = ctypes.create_string_buffer(8)
local = struct.pack("PN", ctypes.addressof(buf), 8)
remote = struct.pack("PN", start, 8)
call("process_vm_readv", NR["process_vm_readv"], 1, ctypes.c_char_p(local), 1, ctypes.c_char_p(remote), 1, 0)
call("memfd_create", NR["memfd_create"], ctypes.c_char_p(b"x"), 0)
# An io_uring request runs in the kernel past the filter (IORING_OP_FALLOCATE would reserve disk):
# the ring itself cannot be made. struct io_uring_params is 120 bytes.
params = ctypes.create_string_buffer(120)
call("io_uring_setup", NR["io_uring_setup"], 8, params)
with open(os.path.join(os.environ["TMPDIR"], "own"), "wb") as f:
    ctypes.set_errno(0)
    r = libc.fallocate(f.fileno(), 0, 0, 4096)
    out["fallocate_own"] = "ok" if r == 0 else ctypes.get_errno()
# Ordinary work goes on: a child process, a file, loopback networking.
out["spawn"] = subprocess.run(["/bin/sh", "-c", "echo spawned"], capture_output=True, text=True).stdout.strip()
out["read"] = open("/etc/hosts").read() != ""
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
cli = socket.create_connection(srv.getsockname()); conn, _ = srv.accept()
cli.sendall(b"ping"); out["loopback"] = conn.recv(4).decode()
print(json.dumps(out), flush=True)
`;

/** pid 1: keeps its stdout (the log) and runs the probe as its child, which writes its answer beside it. */
const RUNTIME = String.raw`
const { spawnSync } = require("node:child_process");
const { writeFileSync } = require("node:fs");
const r = spawnSync(${JSON.stringify(PYTHON)}, [process.argv[2]], { encoding: "utf8", env: process.env });
writeFileSync(process.env.HOME + "/result.json", r.stdout || JSON.stringify({ failed: r.stderr || String(r.error) }));
console.log("runtime started");
setInterval(() => {}, 1000);
`;

describe("the sandbox's seccomp filter, in a real sandbox", () => {
  it("a child of the runtime under its uid gets EPERM reaching into pid 1 (pidfd_getfd, ptrace, process_vm_readv), cannot reserve disk on the runtime's log, and still spawns, reads and uses loopback", { skip: !existsSync(PYTHON) && `${PYTHON} is missing (the in-sandbox probe)` }, async (ctx) => {
    const base = await mkdtemp(join(tmpdir(), "flowplane-seccomp-"));
    const log = join(base, "replica.log");
    let pid = 0;
    try {
      await chmod(base, 0o755);
      await writeFile(join(base, "package-lock.json"), "{}\n", { mode: 0o644 });
      await writeFile(join(base, "main.cjs"), RUNTIME, { mode: 0o644 });
      await writeFile(join(base, "probe.py"), PROBE, { mode: 0o644 });
      const c = await Confinement.create({ request: "auto", root: join(`${base}-data`, "deployments"), command: [process.execPath, join(base, "main.cjs")], workRoot: `${base}-run` });
      if (c.mode !== "sandbox") {
        assert.ok(!inCi, "CI must have the sandbox");
        return ctx.skip(`bubblewrap cannot run here: ${c.detail}`);
      }
      const id = await c.prepare("seccomp");
      // The log as the driver opens it: the control plane's file, which the replica's uid could not open itself.
      const fd = openSync(log, "a", 0o600);
      const launched = c.launch(id, [process.execPath, join(base, "main.cjs"), join(base, "probe.py")], { PATH: "/usr/bin:/bin" }, fd);
      closeSync(fd);
      pid = await launched.pid;
      const result = join(`/proc/${pid}/root`, id.workDir, "result.json");
      const deadline = Date.now() + 30_000;
      while (!existsSync(result) || !(await readFile(log, "utf8")).includes("runtime started")) {
        if (launched.child.exitCode !== null || Date.now() > deadline) assert.fail(`the sandboxed runtime did not report: ${await readFile(log, "utf8")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const { EPERM, ENOSYS, EOPNOTSUPP } = constants.errno;
      const got = JSON.parse(await readFile(result, "utf8")) as Record<string, unknown>;
      assert.equal(got.failed, undefined, String(got.failed));
      assert.equal(got.seccomp, "2", "the probe runs under a seccomp filter");
      assert.equal(got.uid, got.runtime_uid, "the probe is the runtime's child under its uid, as lfx is");
      assert.equal(got.pidfd_open, "ok", "a pidfd for pid 1 is no harm by itself");
      assert.equal(got.pidfd_getfd, EPERM, "the runtime's descriptors cannot be taken");
      assert.equal(got.fallocate_log, undefined, "so there was no log descriptor to reserve disk on");
      assert.equal(got.ptrace_seize, EPERM);
      assert.equal(got.process_vm_readv, EPERM);
      assert.equal(got.memfd_create, ENOSYS);
      assert.equal(got.io_uring_setup, ENOSYS, "no io_uring: its requests would bypass the filter");
      assert.equal(got.fallocate_own, EOPNOTSUPP, "no file in the sandbox's reach takes disk beyond its size");
      assert.deepEqual([got.spawn, got.read, got.loopback], ["spawned", true, "ping"], "ordinary work still works");
      const st = await stat(log);
      assert.ok(st.blocks * 512 < st.size + 64 * 1024, `the log holds no disk past its size (${st.blocks * 512} bytes for ${st.size})`);
    } finally {
      if (pid > 0) process.kill(pid, "SIGKILL");
      for (const d of [base, `${base}-data`, `${base}-run`]) await rm(d, { recursive: true, force: true });
    }
  });

  it("a filter bubblewrap refuses means no sandbox mode, said so, rather than a sandbox without it", async (ctx) => {
    const base = await mkdtemp(join(tmpdir(), "flowplane-seccomp-bad-"));
    try {
      await chmod(base, 0o755);
      await writeFile(join(base, "package-lock.json"), "{}\n", { mode: 0o644 });
      await writeFile(join(base, "main.js"), "", { mode: 0o644 });
      const make = (seccompFilter?: Buffer) => Confinement.create({ request: "auto", root: join(`${base}-data`, "deployments"), command: [process.execPath, join(base, "main.js")], workRoot: `${base}-run`, ...(seccompFilter ? { seccompFilter } : {}) });
      if ((await make()).mode !== "sandbox") {
        assert.ok(!inCi, "CI must have the sandbox");
        return ctx.skip("bubblewrap cannot run here");
      }
      // Not whole sock_filter records: bwrap refuses it before it sets anything up.
      const refused = await make(Buffer.alloc(12));
      assert.notEqual(refused.mode, "sandbox");
      assert.match(refused.detail, /bubblewrap cannot run here \(.*seccomp/i);
    } finally {
      for (const d of [base, `${base}-data`, `${base}-run`]) await rm(d, { recursive: true, force: true });
    }
  });

  it("a replica whose bubblewrap exits refusing its setup reports that as its failure", async () => {
    const base = await mkdtemp(join(tmpdir(), "flowplane-seccomp-log-"));
    try {
      await writeFile(join(base, "replica.log"), "bwrap: prctl(PR_SET_SECCOMP): Invalid argument\n");
      assert.deepEqual(await lastFailure(join(base, "replica.log")), { reason: "SandboxFailed", message: "the sandbox could not be set up (prctl(PR_SET_SECCOMP): Invalid argument)" });
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
