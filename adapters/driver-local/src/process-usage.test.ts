import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { parseRss, parseStat, readProcessTable, treeUsage } from "./process-usage.js";

test("parseStat: fields counted after the command's last parenthesis (a name with spaces and parentheses)", () => {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
  const line = "4242 (my (odd) name) S 17 4242 4242 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 1 0 123 456 789";
  assert.deepEqual(parseStat(line), { ppid: 17, cpuTicks: 250 + 50 + 7 + 3, zombie: false });
  assert.equal(parseStat(line.replace(") S ", ") Z "))?.zombie, true, "an exited process not yet reaped");
  assert.equal(parseStat("garbage"), null);
  assert.equal(parseRss("Name:\tx\nVmRSS:\t   2048 kB\nThreads: 1\n"), 2048 * 1024);
  assert.equal(parseRss("Name:\tkthreadd\n"), 0, "a kernel thread has no VmRSS");
});

test("treeUsage: a real process tree (a parent and the child that burns CPU) sums both; CPU time only grows", async (t) => {
  // The parent sleeps; its child spins. The child's CPU must count for the parent's tree.
  const parent = spawn(process.execPath, ["-e", `
    const { spawn } = require("node:child_process");
    const c = spawn(process.execPath, ["-e", "const big = Buffer.alloc(48 * 1024 * 1024, 1); for (;;) { big[0]++; }"], { stdio: "ignore" });
    process.stdout.write(String(c.pid) + "\\n");
    setInterval(() => {}, 1000);
  `], { stdio: ["ignore", "pipe", "ignore"] });
  const childPid = await new Promise<number>((resolve) => parent.stdout.once("data", (b: Buffer) => resolve(Number(String(b).trim()))));
  t.after(() => {
    try { process.kill(childPid, "SIGKILL"); } catch { /* gone */ }
    parent.kill("SIGKILL");
  });
  const deadline = Date.now() + 20_000;
  let first: { cpuSecondsTotal: number; memoryBytes: number } | null = null;
  let child: { cpuSecondsTotal: number; memoryBytes: number } | null = null;
  // Poll until the child has used some CPU and holds its 48 MiB.
  while (Date.now() < deadline) {
    const table = await readProcessTable();
    first = treeUsage(table, parent.pid!);
    child = treeUsage(table, childPid);
    if (first && child && child.cpuSecondsTotal >= 0.2 && child.memoryBytes >= 48 * 1024 * 1024) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(first && child, "both processes are in the table");
  assert.ok(child.cpuSecondsTotal >= 0.2, `the child spun: ${child.cpuSecondsTotal}`);
  assert.ok(first.cpuSecondsTotal >= child.cpuSecondsTotal, "the parent's tree includes the child's CPU");
  assert.ok(first.memoryBytes > child.memoryBytes, "and its memory plus the parent's own");
  let later = first;
  while (Date.now() < deadline && later.cpuSecondsTotal <= first.cpuSecondsTotal) {
    await new Promise((r) => setTimeout(r, 100));
    later = treeUsage(await readProcessTable(), parent.pid!) ?? later;
  }
  assert.ok(later.cpuSecondsTotal > first.cpuSecondsTotal, "CPU time grows while the child spins");
  assert.equal(treeUsage(await readProcessTable(), 0), null);
  assert.equal(treeUsage(new Map(), parent.pid!), null, "a pid not in the table: not running");
});
