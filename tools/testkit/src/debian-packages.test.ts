import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

/**
 * scripts/lib/debian-packages.sh (test-all.sh's and bench.sh's apt-get step) with a fake apt-get,
 * in a mount namespace of its own whose /usr/sbin is an empty tmpfs: the policy-rc.d it writes
 * there is never the machine's. Needs root and unshare (a container without CAP_SYS_ADMIN skips).
 */
const LIB = fileURLToPath(new URL("../../../scripts/lib/debian-packages.sh", import.meta.url));
const CAN = process.getuid?.() === 0 && spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs tmpfs /mnt"]).status === 0;

describe("install_debian_packages (scripts/lib/debian-packages.sh)", { timeout: 60_000, skip: CAN ? false : "needs root and unshare -m" }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "flowplane-debian-packages-"));
    // apt-get install: says it started, then fails (FAKE_FAIL) or takes its time (FAKE_SLEEP).
    await writeFile(join(dir, "apt-get"), `#!/bin/sh\ncase "$1" in install) touch "${dir}/started"; [ -n "$FAKE_FAIL" ] && exit 100; sleep "\${FAKE_SLEEP:-0}";; esac\nexit 0\n`);
    await chmod(join(dir, "apt-get"), 0o755);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Runs `scenario` (bash; `$S` installs a package with the library) in the namespace: what it printed, then what /usr/sbin holds after. */
  const inNamespace = (scenario: string, env: Record<string, string> = {}) => {
    const script = `set -uo pipefail
mount -t tmpfs tmpfs /usr/sbin
${env.POLICY ? `printf '%s' "$POLICY" > /usr/sbin/policy-rc.d` : ""}
rm -f ${dir}/started
S='set -euo pipefail; . ${LIB}; install_debian_packages wrk'
${scenario}
echo "left: $(ls /usr/sbin) $(cat /usr/sbin/policy-rc.d 2>/dev/null)"`;
    const r = spawnSync("unshare", ["-m", "--propagation", "private", "bash", "-c", script], { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, ...env } });
    return r.stdout;
  };

  it("removes the policy it put in place when the install succeeds or fails, and keeps the caller's exit on failure", () => {
    assert.match(inNamespace(`bash -c "$S"; echo "rc=$?"`), /rc=0\nleft:  \n$/);
    assert.match(inNamespace(`FAKE_FAIL=1 bash -c "$S"; echo "rc=$?"`), /rc=100\nleft:  \n$/);
  });

  it("removes it when the install is interrupted (Ctrl-C) or terminated", () => {
    const wait = `while [ ! -e ${dir}/started ]; do sleep 0.05; done`;
    // Ctrl-C reaches the whole foreground process group: the script and apt-get alike.
    assert.match(inNamespace(`set -m; FAKE_SLEEP=3 bash -c "$S" & pid=$!; ${wait}; kill -INT -- -$pid; wait $pid; echo "rc=$?"; sleep 3.5`), /rc=130\nleft:  \n$/);
    assert.match(inNamespace(`set -m; FAKE_SLEEP=3 bash -c "$S" & pid=$!; ${wait}; kill -TERM -- -$pid; wait $pid; echo "rc=$?"; sleep 3.5`), /rc=143\nleft:  \n$/);
  });

  it("leaves a policy it did not put there", () => {
    assert.match(inNamespace(`FAKE_FAIL=1 bash -c "$S"; echo "rc=$?"`, { POLICY: "#!/bin/sh\nexit 0\n" }), /rc=100\nleft: policy-rc.d #!\/bin\/sh\nexit 0\n$/);
  });
});
