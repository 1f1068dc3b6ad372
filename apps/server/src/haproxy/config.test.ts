import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { renderConfig } from "./config.js";
import { HAVE_HAPROXY, startTestHaproxy } from "./test-haproxy.js";

/**
 * The configuration flowplane writes for its HAProxy bounds the connections it holds: without
 * `maxconn` HAProxy 2.6 sizes itself from the open-files limit and allocates its descriptor
 * table for all of it at start (an OOM kill where a container's limit is unbounded).
 */
describe("HAProxy's configuration", { skip: HAVE_HAPROXY || process.env.CI === "true" ? false : "haproxy is not installed" }, () => {
  const options = (maxConnections: number) => ({
    bind: { host: "127.0.0.1", port: 18080 }, node: { host: "127.0.0.1", port: 18081 }, socket: "/d/haproxy.sock", routesMap: "/d/r.map", keysMap: "/d/k.map",
    slots: 4, threads: 1, maxConnections, fastBodyMax: 16 * 1024, logSink: { port: 18082, token: "t" },
  });

  it("sets the global maxconn it is given, in a configuration HAProxy accepts (haproxy -c)", async () => {
    const cfg = renderConfig(options(4096));
    const global = cfg.slice(cfg.indexOf("\nglobal\n"), cfg.indexOf("\nring "));
    assert.match(global, /^ {2}maxconn 4096$/m);
    const dir = await mkdtemp(join(tmpdir(), "flowplane-haproxy-cfg-"));
    try {
      for (const f of ["r.map", "k.map"]) await writeFile(join(dir, f), "");
      await writeFile(join(dir, "haproxy.cfg"), cfg.replaceAll("/d/", `${dir}/`));
      const check = spawnSync("haproxy", ["-c", "-f", join(dir, "haproxy.cfg")], { encoding: "utf8" });
      assert.equal(check.status, 0, check.stdout + check.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a running HAProxy holds that bound (its runtime API's Maxconn)", async () => {
    const h = await startTestHaproxy({ slots: 1, onLine: () => undefined });
    try {
      const info = await h.api.run(["show info"]);
      assert.match(info, /^Maxconn: 256$/m, info.slice(0, 400));
    } finally {
      await h.stop();
    }
  });
});
