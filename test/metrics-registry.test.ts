import path from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { type Db, migrate, openDb } from '../src/db/open.js';
import { metricsRegistry } from '../src/metrics/metrics-registry.js';
import { RequestTally } from '../src/metrics/request-tally.js';
import { tempDir } from './helpers/temp-dir.js';

/** The registry over a real SQLite file: counters that survive the reaper and a restart, one registry per daemon. */

function freshDb(): { db: Db; file: string } {
  const file = path.join(tempDir('metrics').dir, 'sync.db');
  const db = openDb(file);
  migrate(db);
  return { db, file };
}

function finishRun(db: Db, outcome: string): void {
  const id = db
    .prepare("INSERT INTO sync_runs (kind, started_at) VALUES ('inventory', 1)")
    .run().lastInsertRowid;
  db.prepare('UPDATE sync_runs SET finished_at = 2, outcome = ? WHERE id = ?').run(outcome, id);
}

async function values(db: Db, tally: RequestTally, name: string): Promise<Record<string, number>> {
  const text = await metricsRegistry(db, tally).metrics();
  const family = parsePrometheusTextFormat(text).find((f) => f.name === name);
  return Object.fromEntries(
    (family?.metrics ?? []).map((m) => [JSON.stringify(m.labels ?? {}), Number(m.value)]),
  );
}

describe('metrics registry', () => {
  it('counts inventory runs by outcome, and the count survives the reaper deleting their rows', async () => {
    const { db } = freshDb();
    const tally = new RequestTally(db, () => []);
    finishRun(db, 'pushed');
    finishRun(db, 'pushed');
    finishRun(db, 'pull-failed');
    const before = await values(db, tally, 'psnb2b_inventory_runs_total');
    expect(before).toEqual({ '{"outcome":"pushed"}': 2, '{"outcome":"pull-failed"}': 1 });
    db.prepare('DELETE FROM sync_runs').run();
    expect(await values(db, tally, 'psnb2b_inventory_runs_total')).toEqual(before);
  });

  it('keeps request counts across a restart, and two registries never share a series', async () => {
    const { db, file } = freshDb();
    const tally = new RequestTally(db, () => []);
    tally.supplierAttempt('GET /inventory', '200');
    tally.supplierAttempt('GET /inventory', '200');
    tally.supplierAttempt('GET /orders/{id}', 'network');
    tally.flush();
    db.close();
    const db2 = openDb(file);
    const again = new RequestTally(db2, () => []);
    again.supplierAttempt('GET /inventory', '200');
    expect(await values(db2, again, 'psnb2b_supplier_requests_total')).toEqual({
      '{"endpoint":"GET /inventory","status":"200"}': 3,
      '{"endpoint":"GET /orders/{id}","status":"network"}': 1,
    });
    // A second daemon's registry (another database) starts from its own figures.
    const other = freshDb();
    expect(
      await values(other.db, new RequestTally(other.db, () => []), 'psnb2b_supplier_requests_total'),
    ).toEqual({});
  });
});
