export type { SqlClient } from "./sql.js";
export { createPgliteClient } from "./pglite.js";
export { preparePgliteTemplate } from "./pglite-template.js";
export { useBaselineWasmCompiler } from "./pglite-compiler.js";
export { createPostgresClient } from "./postgres.js";
export { migrate, MIGRATIONS, type Migration } from "./migrations.js";
export { createSqlStore, type SqlStoreOptions } from "./store.js";
export { openStore, type OpenStoreOptions } from "./open.js";
export { createTestDatabase, postgresSkipReason } from "./test-databases.js";
