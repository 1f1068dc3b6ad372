import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { autogroupsOn, holdSessionsAt } from "./cpu-priority.js";
import { REPLICA_NICE } from "./sandbox.js";

/**
 * What the scheduler does with a replica's session held at REPLICA_NICE where it groups sessions
 * (autogroup): two processes spin on one CPU, a "replica" in a session of its own (detached, as
 * the driver starts one) and one in this process's session (the control plane's stand-in). The
 * CPU each got is read from /proc (utime + stime, in ticks).
 */
const UNAVAILABLE = !autogroupsOn() ? "this kernel does not group sessions (autogroup off): niceness alone orders them" : !existsSync("/usr/bin/taskset") ? "util-linux's taskset is missing" : false;

describe("cpu priority: a replica's session where the kernel schedules sessions as groups", { skip: UNAVAILABLE }, () => {
  const children: ChildProcess[] = [];
  after(() => { for (const c of children) c.kill("SIGKILL"); });
  const spin = (detached: boolean) => {
    const c = spawn("/usr/bin/taskset", ["-c", "0", process.execPath, "-e", "for(;;){}"], { detached, stdio: "ignore" });
    children.push(c);
    return c.pid!;
  };
  const ticks = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  };
  const share = async (replica: number, controlPlane: number) => {
    const [r0, c0] = [ticks(replica), ticks(controlPlane)];
    await new Promise((res) => setTimeout(res, 2500));
    const [r, c] = [ticks(replica) - r0, ticks(controlPlane) - c0];
    return r / Math.max(1, r + c);
  };
  const groupOf = (pid: number | "self") => readFileSync(`/proc/${pid}/autogroup`, "utf8").trim();

  it("a replica's session held at nice 10 yields the CPU to the control plane's; this process's group is untouched", async () => {
    const own = groupOf("self");
    const replica = spin(true);
    const controlPlane = spin(false);
    await new Promise((res) => setTimeout(res, 300)); // both running
    assert.match(groupOf(replica), / nice 0$/);
    const before = await share(replica, controlPlane);
    holdSessionsAt([replica, controlPlane, process.pid], REPLICA_NICE);
    assert.match(groupOf(replica), new RegExp(` nice ${REPLICA_NICE}$`));
    assert.equal(groupOf("self"), own, "the control plane's group is never touched");
    assert.equal(groupOf(controlPlane), own, "a process of the control plane's session is not either");
    const held = await share(replica, controlPlane);
    // Equal groups split the CPU about evenly; nice 10 against 0 weighs 110 against 1024 (about 10%).
    assert.ok(before > 0.35, `before: the replica's session took ${before.toFixed(2)} of the CPU`);
    assert.ok(held < 0.3, `held: the replica's session took ${held.toFixed(2)} of the CPU`);
  });
});
