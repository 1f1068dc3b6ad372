import { createPgliteClient } from "./pglite.js";
import { createSqlStore } from "./store.js";
import { storeCases } from "./store.cases.js";

storeCases("PGlite (in memory)", async () => {
  const sql = await createPgliteClient();
  return { store: createSqlStore({ sql }), cleanup: () => sql.close() };
});
