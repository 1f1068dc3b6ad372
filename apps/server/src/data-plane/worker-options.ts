/**
 * Node's options for a gateway worker: the control plane's own (a forked worker inherits them),
 * less those that size V8 for the control plane's idle memory (`--max-semi-space-size`,
 * `--v8-pool-size`: package.json's start script; docs/performance.md, "The control plane's
 * process settings"). A worker is a proxy under load, and its cost is measured with V8's
 * defaults (bench/gateway.mjs); those options were measured for a process that mostly waits.
 */
const CONTROL_PLANE_ONLY = ["--max-semi-space-size", "--v8-pool-size"];

export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    // V8 reads `--v8_pool_size` as `--v8-pool-size`.
    const [name = "", value] = a.split("=", 2);
    if (!CONTROL_PLANE_ONLY.includes(name.replaceAll("_", "-"))) out.push(a);
    else if (value === undefined) i++; // `--v8-pool-size 1`: its value goes too
  }
  return out;
}
