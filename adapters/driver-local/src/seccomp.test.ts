import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ABIS, ENOSYS, EOPNOTSUPP, EPERM, REFUSED, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, replicaSeccompFilter } from "./seccomp.js";

/**
 * The filter is decoded from its bytes and run by a small classic-BPF interpreter over
 * `seccomp_data` (nr, arch): what the kernel would answer for each call, not how it is laid out.
 * The kernel's own verdict on a real process is the sandbox test's (sandbox.seccomp.test.ts).
 */
interface Insn { code: number; jt: number; jf: number; k: number }

const decode = (b: Buffer): Insn[] => {
  assert.equal(b.length % 8, 0, "whole sock_filter records");
  return Array.from({ length: b.length / 8 }, (_, i) => ({ code: b.readUInt16LE(i * 8), jt: b[i * 8 + 2]!, jf: b[i * 8 + 3]!, k: b.readUInt32LE(i * 8 + 4) }));
};

/** Runs the program over (nr, arch) as the kernel would; only the instructions this filter may use are known, any other fails the test. */
function run(p: Insn[], nr: number, arch: number): number {
  const data = Buffer.alloc(64);
  data.writeInt32LE(nr | 0, 0);
  data.writeUInt32LE(arch >>> 0, 4);
  let a = 0;
  for (let pc = 0; pc < p.length; pc++) {
    const { code, jt, jf, k } = p[pc]!;
    switch (code) {
      case 0x20: // ld [k]
        assert.ok(k === 0 || k === 4, `loads only nr or arch (offset ${k})`);
        a = data.readUInt32LE(k);
        break;
      case 0x15: // jeq #k
        pc += a === k >>> 0 ? jt : jf;
        break;
      case 0x35: // jge #k (unsigned)
        pc += a >>> 0 >= k >>> 0 ? jt : jf;
        break;
      case 0x06: // ret #k
        return k >>> 0;
      default:
        assert.fail(`unexpected opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
  return assert.fail("the program ran off its end (the kernel's checker would refuse it)");
}

const errno = (e: number) => (SECCOMP_RET_ERRNO | e) >>> 0;
const AUDIT_ARCH_I386 = 0x4000_0003;
const AUDIT_ARCH_X86_64 = 0xc000_003e;
const AUDIT_ARCH_AARCH64 = 0xc000_00b7;

describe("the replicas' seccomp filter (seccomp.ts)", () => {
  it("is built for x86_64 and aarch64, and for no architecture whose numbers it does not know", () => {
    assert.ok(replicaSeccompFilter("x64"));
    assert.ok(replicaSeccompFilter("arm64"));
    assert.equal(replicaSeccompFilter("ia32"), null);
    assert.equal(replicaSeccompFilter("s390x"), null);
    assert.equal(replicaSeccompFilter("riscv64"), null);
  });

  it("checks the architecture first and kills any other, before any number is compared", () => {
    for (const [arch, own] of [["x64", AUDIT_ARCH_X86_64], ["arm64", AUDIT_ARCH_AARCH64]] as const) {
      const p = decode(replicaSeccompFilter(arch)!);
      assert.deepEqual([p[0]!.code, p[0]!.k], [0x20, 4], "the first instruction loads seccomp_data.arch");
      assert.equal(p[1]!.code, 0x15);
      assert.equal(p[1]!.k >>> 0, own);
      for (const other of [AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64, 0, 0xffff_ffff].filter((x) => x !== own)) {
        for (const nr of [0, 1, 101, 117, 438]) assert.equal(run(p, nr, other), SECCOMP_RET_KILL_PROCESS, `${arch}: arch 0x${other.toString(16)} nr ${nr}`);
      }
    }
  });

  it("x86_64: every x32 call is killed, whatever its number (no way around the numbers compared)", () => {
    const p = decode(replicaSeccompFilter("x64")!);
    for (const nr of [0x4000_0000, 0x4000_0000 + 438, 0x4000_0000 + 521, 0x4000_0000 + 539, 0x4000_0000 + 1, 0x7fff_ffff]) {
      assert.equal(run(p, nr, AUDIT_ARCH_X86_64), SECCOMP_RET_KILL_PROCESS, `nr 0x${nr.toString(16)}`);
    }
  });

  it("refuses each call that reaches into another process with EPERM, fallocate with EOPNOTSUPP, memfd_create and io_uring with ENOSYS", () => {
    const expected = { ptrace: EPERM, process_vm_readv: EPERM, process_vm_writev: EPERM, pidfd_getfd: EPERM, kcmp: EPERM, fallocate: EOPNOTSUPP, memfd_create: ENOSYS,
      io_uring_setup: ENOSYS, io_uring_enter: ENOSYS, io_uring_register: ENOSYS };
    assert.deepEqual(Object.fromEntries(REFUSED.map((r) => [r.name, r.errno])), expected);
    // The numbers, as the kernel headers spell them (x86_64: asm/unistd_64.h; aarch64: asm-generic/unistd.h).
    const numbers = {
      x64: { ptrace: 101, process_vm_readv: 310, process_vm_writev: 311, pidfd_getfd: 438, kcmp: 312, fallocate: 285, memfd_create: 319, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427 },
      arm64: { ptrace: 117, process_vm_readv: 270, process_vm_writev: 271, pidfd_getfd: 438, kcmp: 272, fallocate: 47, memfd_create: 279, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427 },
    };
    for (const [arch, own] of [["x64", AUDIT_ARCH_X86_64], ["arm64", AUDIT_ARCH_AARCH64]] as const) {
      assert.deepEqual(ABIS[arch]!.nr, numbers[arch]);
      const p = decode(replicaSeccompFilter(arch)!);
      for (const [name, nr] of Object.entries(numbers[arch])) assert.equal(run(p, nr, own), errno(expected[name as keyof typeof expected]), `${arch} ${name}`);
    }
  });

  it("allows everything else: ordinary work (read, write, openat, clone, execve, socket, pidfd_open, the neighbours of each refused number)", () => {
    const allowed = {
      x64: [0, 1, 2, 9, 41, 42, 49, 56, 57, 59, 61, 62, 100, 102, 257, 284, 286, 309, 313, 318, 320, 424, 428, 434, 435, 437, 439, 0x3fff_ffff],
      arm64: [46, 48, 56, 57, 63, 64, 116, 118, 129, 198, 220, 221, 260, 269, 273, 278, 280, 424, 428, 434, 437, 439],
    };
    for (const [arch, own] of [["x64", AUDIT_ARCH_X86_64], ["arm64", AUDIT_ARCH_AARCH64]] as const) {
      const p = decode(replicaSeccompFilter(arch)!);
      for (const nr of allowed[arch]) assert.equal(run(p, nr, own), SECCOMP_RET_ALLOW, `${arch} nr ${nr}`);
    }
  });

  it("is a program the kernel accepts: at most 4096 instructions, every jump inside it, ending in a return", () => {
    for (const arch of ["x64", "arm64"]) {
      const p = decode(replicaSeccompFilter(arch)!);
      assert.ok(p.length > 0 && p.length <= 4096);
      p.forEach((insn, i) => {
        if (insn.code === 0x15 || insn.code === 0x35) assert.ok(i + 1 + Math.max(insn.jt, insn.jf) < p.length, `jump at ${i} stays inside`);
      });
      assert.equal(p[p.length - 1]!.code, 0x06);
    }
  });
});
