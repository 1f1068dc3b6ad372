// Run as a child process by pglite-template.ts: creates a PGlite database in the folder given as
// the only argument, applies every migration, closes it cleanly and exits. Out of the control plane's process because
// initdb leaves ~600 MiB of WebAssembly memory behind that is only returned when the process ends.
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
await db.close();
