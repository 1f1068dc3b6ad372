import { createPostgresClient } from "./postgres.js";
import { createSqlStore } from "./store.js";
import { storeCases } from "./store.cases.js";
import { createTestDatabase, postgresSkipReason } from "./test-databases.js";

storeCases("PostgreSQL", async () => {
  const db = await createTestDatabase();
  const sql = await createPostgresClient(db.url);
  return {
    store: createSqlStore({ sql }),
    cleanup: async () => {
      await sql.close();
      await db.drop();
    },
  };
}, postgresSkipReason());
