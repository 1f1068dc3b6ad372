// Run as a child process by pglite-template.ts: creates a PGlite database in the folder given as
// the only argument, applies every migration, writes the same database as a tar file beside it
// (for databases in memory, which cannot be copied as a folder), closes it cleanly and exits. Out of the control plane's process because
// initdb leaves ~600 MiB of WebAssembly memory behind that is only returned when the process ends.
import { writeFile } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { migrate } from "./migrations.js";
import { pgliteSqlClient } from "./pglite.js";

const dir = process.argv[2];
if (!dir) {
  process.stderr.write("usage: pglite-initdb <folder>\n");
  process.exit(2);
}
const db = new PGlite(dir);
await db.waitReady;
await migrate(pgliteSqlClient(db));
const tar = await db.dumpDataDir("none");
await db.close();
await writeFile(`${dir}.tar`, Buffer.from(await tar.arrayBuffer()));
