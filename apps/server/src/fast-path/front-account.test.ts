import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { frontAccount, makeFrontFolder } from "./front-account.js";

const PASSWD = "root:x:0:0:root:/root:/bin/bash\n# a comment\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUPS = "root:x:0:\nnogroup:x:65534:\n";

describe("frontAccount: who a native front runs as", () => {
  it("is none when the control plane is not root: the front stays its user", () => {
    assert.equal(frontAccount({ uid: 1000, passwd: PASSWD, groups: GROUPS }), undefined);
    assert.equal(frontAccount({ uid: undefined, passwd: PASSWD, groups: GROUPS }), undefined);
  });

  it("is nobody and its primary group by name (Debian's nogroup) when root", () => {
    assert.deepEqual(frontAccount({ uid: 0, passwd: PASSWD, groups: GROUPS }), { user: "nobody", group: "nogroup", uid: 65534, gid: 65534 });
    // Another system's naming: the group found by the gid, whatever its name.
    assert.deepEqual(frontAccount({ uid: 0, passwd: "nobody:x:99:99::/:/sbin/nologin\n", groups: "nobody:x:99:\n" }), { user: "nobody", group: "nobody", uid: 99, gid: 99 });
  });

  it("refuses, naming what is missing, rather than run the front as root", () => {
    assert.throws(() => frontAccount({ uid: 0, passwd: "root:x:0:0:root:/root:/bin/bash\n", groups: GROUPS }), /user "nobody", which this system does not have/);
    assert.throws(() => frontAccount({ uid: 0, passwd: "nobody:x:0:0::/:/bin/sh\n", groups: GROUPS }), /or has as root/);
    assert.throws(() => frontAccount({ uid: 0, passwd: PASSWD, groups: "root:x:0:\n" }), /group \(gid 65534\) is not in \/etc\/group/);
    // A replica given nobody's uid could signal the front and reach the workers' socket.
    assert.throws(() => frontAccount({ uid: 0, passwd: PASSWD, groups: GROUPS, replicaUids: { base: 60_000, count: 10_000 } }), /uid 65534.*among the uids given to deployments.*FLOWPLANE_RUNTIME_UID_BASE 60000/);
    assert.equal(frontAccount({ uid: 0, passwd: PASSWD, groups: GROUPS, replicaUids: { base: 65_535, count: 10 } })?.uid, 65534);
    assert.equal(frontAccount({ uid: 0, passwd: PASSWD, groups: GROUPS, replicaUids: { base: 60_000, count: 5534 } })?.uid, 65534);
  });

  it("reads this system's own files", { skip: process.getuid?.() !== 0 ? "the account is looked up only as root" : false }, () => {
    const a = frontAccount({ uid: 0 });
    assert.ok(a && a.user === "nobody" && a.uid > 0 && a.gid > 0 && a.group.length > 0);
  });
});

describe("makeFrontFolder: where the front meets the workers", () => {
  it("is a fresh folder, root's, entered (not listed) by the account's group only, and removed whole", { skip: process.getuid?.() !== 0 ? "only root can give a folder to another group" : false }, () => {
    const parent = mkdtempSync(join(tmpdir(), "flowplane-front-test-"));
    try {
      const account = frontAccount({ uid: 0 })!;
      const a = makeFrontFolder(account, parent);
      const b = makeFrontFolder(account, parent);
      assert.notEqual(a.path, b.path);
      const st = statSync(a.path);
      assert.equal(st.mode & 0o777, 0o710);
      assert.equal(st.uid, 0);
      assert.equal(st.gid, account.gid);
      a.remove();
      assert.throws(() => statSync(a.path), /ENOENT/);
      b.remove();
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
