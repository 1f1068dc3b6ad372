import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { maintenanceDue } from "./maintenance.js";

const table = (o: Partial<Parameters<typeof maintenanceDue>[0]>) => ({ rows: 10_000, deadRows: 0, insertedSinceVacuum: 0, changedSinceAnalyze: 0, ...o });

describe("maintenanceDue: autovacuum's default thresholds, for PGlite which has no autovacuum", () => {
  it("vacuums once the dead rows pass 50 + 20% of the table", () => {
    assert.equal(maintenanceDue(table({ deadRows: 2_050 })).vacuum, false);
    assert.equal(maintenanceDue(table({ deadRows: 2_051 })).vacuum, true);
    assert.equal(maintenanceDue(table({ rows: 0, deadRows: 51 })).vacuum, true, "a table never vacuumed counts as empty");
  });

  it("vacuums once the rows inserted since the last vacuum pass 1,000 + 20% of the table", () => {
    assert.equal(maintenanceDue(table({ insertedSinceVacuum: 3_000 })).vacuum, false);
    assert.equal(maintenanceDue(table({ insertedSinceVacuum: 3_001 })).vacuum, true);
  });

  it("analyzes once the rows changed since the last analyze pass 50 + 10% of the table", () => {
    assert.deepEqual(maintenanceDue(table({ changedSinceAnalyze: 1_050 })), { vacuum: false, analyze: false });
    assert.deepEqual(maintenanceDue(table({ changedSinceAnalyze: 1_051 })), { vacuum: false, analyze: true });
  });

  it("leaves a table that did not change alone", () => {
    assert.deepEqual(maintenanceDue(table({})), { vacuum: false, analyze: false });
    assert.deepEqual(maintenanceDue(table({ rows: 0 })), { vacuum: false, analyze: false });
  });
});
