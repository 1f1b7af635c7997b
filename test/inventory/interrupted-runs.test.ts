import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { type Db, migrate, openDb } from '../../src/db/open.js';
import { closeInterruptedRuns } from '../../src/inventory/interrupted-runs.js';
import { readStatus } from '../../src/status.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * A run a dead process left open is closed out as `interrupted` by the next holder of the lock,
 * counted once, and never taken for the last run by `status` (and so `/readyz`).
 */

const tmp = tempDir('interrupted-runs');
let db: Db | undefined;
afterEach(() => {
  db?.close();
  tmp.remove();
});

it('closes open runs as interrupted; status still reports the last finished run', () => {
  db = openDb(path.join(tmp.dir, 'sync.sqlite'));
  migrate(db);
  const insert = db.prepare(
    'INSERT INTO sync_runs (kind, started_at, finished_at, outcome, changes) VALUES (?, ?, ?, ?, ?)',
  );
  insert.run('inventory', 1_000, 2_000, 'pushed', 3);
  insert.run('inventory', 5_000, null, null, null);

  expect(closeInterruptedRuns(db, 9_000)).toBe(1);
  expect(closeInterruptedRuns(db, 9_500)).toBe(0);
  expect(db.prepare('SELECT finished_at AS at, outcome FROM sync_runs WHERE id = 2').get()).toEqual({
    at: 9_000,
    outcome: 'interrupted',
  });
  const counted = db
    .prepare("SELECT n FROM metric_counts WHERE metric = 'psnb2b_inventory_runs_total' AND labels LIKE ?")
    .get('%interrupted%');
  expect(counted).toEqual({ n: 1 });
  const status = readStatus(db, []);
  expect(status.inventory).toMatchObject({
    lastRunAt: new Date(2_000).toISOString(),
    lastOutcome: 'pushed',
    lastChanges: 3,
  });
});
