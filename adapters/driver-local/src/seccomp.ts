/**
 * The seccomp filter bubblewrap applies to everything in a replica's sandbox (`bwrap --seccomp
 * FD`: a classic-BPF program, raw `struct sock_filter` records, read from that descriptor; bwrap
 * sets no_new_privs before applying it, and the filter is inherited by every process the replica
 * starts and cannot be removed).
 *
 * Why: in the sandbox the runtime (pid 1) and lfx's Python (the flow's own code) run under one
 * uid, so the flow may trace the runtime. `pidfd_getfd` then hands it the runtime's descriptors,
 * among them its stdout, the replica's log file in the control plane's data folder: there
 * `fallocate(FALLOC_FL_KEEP_SIZE)` reserves disk that no file size shows, so RLIMIT_FSIZE and log
 * rotation never see it. The refused calls:
 * - `ptrace`, `process_vm_readv`, `process_vm_writev`, `pidfd_getfd`, `kcmp` (EPERM): each reaches
 *   into another process of the sandbox (its memory, its descriptors, or a comparison of them).
 *   Neither Node nor CPython makes them in normal work.
 * - `fallocate` (EOPNOTSUPP, what a file system without it answers; glibc's posix_fallocate then
 *   writes the range instead, which file sizes and RLIMIT_FSIZE do see): the flow can still
 *   open `/proc/1/mem` (same uid, the kernel's ptrace-read check, not a syscall this filter can
 *   tell apart) and make the runtime itself call it on its log; refused, no process of the
 *   sandbox can reserve disk beyond a file's size. Its writable folders are bounded tmpfs mounts.
 * - `memfd_create` (ENOSYS, as on a kernel built without it, which callers already handle): a
 *   memfd's pages written with write() are not in any process's VmRSS, which is what the
 *   driver's memory limit reads (memory-limit.ts); neither the runtime nor lfx uses one.
 * - `io_uring_setup`, `io_uring_enter`, `io_uring_register` (ENOSYS, as on a kernel without
 *   io_uring; libuv then uses its thread pool): an io_uring request runs in the kernel without
 *   passing through this filter, so IORING_OP_FALLOCATE reserved disk as the refused fallocate
 *   did (a reviewer's reproduction: 64 MiB on the runtime's log from the sandbox). Docker's
 *   default profile refuses them too.
 *
 * Invariants of the program: the architecture is checked first, and a call made under any other
 * ABI than the one whose numbers this program holds (i386 through int 0x80, x32 on x86_64: the
 * syscall numbers with bit 30 set) kills the process; numbers are compared only after that.
 * Unknown architectures get no filter (`null`): the caller must then not claim the sandbox.
 */

/** `struct sock_filter` opcodes (linux/bpf_common.h). */
const BPF_LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS: A = the 32-bit word at offset k of seccomp_data
const BPF_JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K: pc += (A == k) ? jt : jf
const BPF_JGE_K = 0x35; // BPF_JMP | BPF_JGE | BPF_K: pc += (A >= k) ? jt : jf
const BPF_RET_K = 0x06; // BPF_RET | BPF_K: the filter's answer is k

/** `struct seccomp_data` offsets (linux/seccomp.h): `int nr; __u32 arch; ...`. */
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;

/** Answers (linux/seccomp.h). KILL_PROCESS degrades to killing the thread on kernels before 4.14. */
export const SECCOMP_RET_KILL_PROCESS = 0x8000_0000;
export const SECCOMP_RET_ERRNO = 0x0005_0000;
export const SECCOMP_RET_ALLOW = 0x7fff_0000;

/** The x32 ABI's syscalls share AUDIT_ARCH_X86_64 and carry this bit in their number (asm/unistd.h __X32_SYSCALL_BIT). */
export const X32_SYSCALL_BIT = 0x4000_0000;

/** errno values (asm-generic/errno-base.h, errno.h: the same on x86_64 and aarch64). */
export const EPERM = 1;
export const ENOSYS = 38;
export const EOPNOTSUPP = 95;

/** What is refused, and with which errno. */
export const REFUSED: ReadonlyArray<{ name: RefusedName; errno: number }> = [
  { name: "ptrace", errno: EPERM },
  { name: "process_vm_readv", errno: EPERM },
  { name: "process_vm_writev", errno: EPERM },
  { name: "pidfd_getfd", errno: EPERM },
  { name: "kcmp", errno: EPERM },
  { name: "fallocate", errno: EOPNOTSUPP },
  { name: "memfd_create", errno: ENOSYS },
  { name: "io_uring_setup", errno: ENOSYS },
  { name: "io_uring_enter", errno: ENOSYS },
  { name: "io_uring_register", errno: ENOSYS },
];

type RefusedName = "ptrace" | "process_vm_readv" | "process_vm_writev" | "pidfd_getfd" | "kcmp" | "fallocate" | "memfd_create"
  | "io_uring_setup" | "io_uring_enter" | "io_uring_register";

interface Abi {
  /** AUDIT_ARCH_* (linux/audit.h): EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE. */
  auditArch: number;
  /** Whether numbers with X32_SYSCALL_BIT reach the kernel under this auditArch (x86_64 only). */
  x32: boolean;
  nr: Record<RefusedName, number>;
}

/**
 * Per Node's `process.arch`. Numbers from the kernel's headers: x86_64's asm/unistd_64.h;
 * aarch64 uses asm-generic/unistd.h.
 */
export const ABIS: Readonly<Partial<Record<NodeJS.Architecture, Abi>>> = {
  x64: {
    auditArch: 0xc000_003e, // EM_X86_64 (62)
    x32: true,
    nr: { ptrace: 101, process_vm_readv: 310, process_vm_writev: 311, pidfd_getfd: 438, kcmp: 312, fallocate: 285, memfd_create: 319, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427 },
  },
  arm64: {
    auditArch: 0xc000_00b7, // EM_AARCH64 (183)
    x32: false,
    nr: { ptrace: 117, process_vm_readv: 270, process_vm_writev: 271, pidfd_getfd: 438, kcmp: 272, fallocate: 47, memfd_create: 279, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427 },
  },
};

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/**
 * The filter for `arch` (default: this process's) as bwrap reads it: 8 bytes per instruction,
 * `u16 code, u8 jt, u8 jf, u32 k` in the machine's byte order (little-endian on both ABIs
 * here). `null` for an architecture whose numbers are not known here.
 */
export function replicaSeccompFilter(arch: string = process.arch): Buffer | null {
  const abi = ABIS[arch as NodeJS.Architecture];
  if (!abi) return null;
  const errnos = [...new Set(REFUSED.map((r) => r.errno))];
  // Layout, every jump forward (classic BPF has no other):
  //   ld arch; jeq ARCH ? next : KILL; ld nr; [jge X32 ? KILL : next;]
  //   jeq nr_i ? RET(errno_i) : next ...; ret ALLOW; ret ERRNO(e) ...; ret KILL
  const head = abi.x32 ? 4 : 3;
  const allowAt = head + REFUSED.length;
  const errnoAt = (e: number) => allowAt + 1 + errnos.indexOf(e);
  const killAt = allowAt + 1 + errnos.length;
  const to = (from: number, target: number) => target - from - 1;
  const p: Insn[] = [
    { code: BPF_LD_W_ABS, jt: 0, jf: 0, k: OFFSET_ARCH },
    { code: BPF_JEQ_K, jt: 0, jf: to(1, killAt), k: abi.auditArch },
    { code: BPF_LD_W_ABS, jt: 0, jf: 0, k: OFFSET_NR },
  ];
  if (abi.x32) p.push({ code: BPF_JGE_K, jt: to(3, killAt), jf: 0, k: X32_SYSCALL_BIT });
  for (const r of REFUSED) p.push({ code: BPF_JEQ_K, jt: to(p.length, errnoAt(r.errno)), jf: 0, k: abi.nr[r.name] });
  p.push({ code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_ALLOW });
  for (const e of errnos) p.push({ code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_ERRNO | e });
  p.push({ code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_KILL_PROCESS });
  const out = Buffer.alloc(p.length * 8);
  p.forEach((insn, i) => {
    if (insn.jt > 255 || insn.jf > 255) throw new Error("seccomp filter: a jump is too long for classic BPF");
    out.writeUInt16LE(insn.code, i * 8);
    out.writeUInt8(insn.jt, i * 8 + 2);
    out.writeUInt8(insn.jf, i * 8 + 3);
    out.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return out;
}
