import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { type Db, migrate, openDb } from '../../src/db/open.js';
import { acquireRunLock, type LockOwner, newLockOwner } from '../../src/db/run-lock.js';
import {
  closeInterruptedRuns,
  interruptedRunsPlan,
  TAKEN_OVER_GRACE_MS,
} from '../../src/inventory/interrupted-runs.js';
import { runInventoryCycle, StoreLanes } from '../../src/inventory/sync-inventory.js';
import { createLogger } from '../../src/log.js';
import { readStatus } from '../../src/status.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * A run a dead process left open is closed out as `interrupted` by the next holder of the lock,
 * counted once, and never taken for the last run by `status` (and so `/readyz`). A run that may
 * still belong to a live process (a holder on another host, only gone quiet) is left alone, and
 * a run closed meanwhile is not reopened by its own process's finish.
 */

const tmp = tempDir('interrupted-runs');
let db: Db | undefined;
afterEach(() => {
  db?.close();
  tmp.remove();
});

function migrated(): Db {
  db = openDb(path.join(tmp.dir, 'sync.sqlite'));
  migrate(db);
  return db;
}

const openRun = (d: Db, startedAt: number) =>
  Number(
    d.prepare("INSERT INTO sync_runs (kind, started_at) VALUES ('inventory', ?)").run(startedAt)
      .lastInsertRowid,
  );
const outcome = (d: Db, id: number) =>
  d.prepare('SELECT finished_at AS at, outcome FROM sync_runs WHERE id = ?').get(id);

/** The lock as `holder` left it: acquired at `at`, never released. */
function leftHeld(d: Db, holder: LockOwner, at: number): void {
  const r = acquireRunLock(d, null, at, holder);
  if (!r.ok) throw new Error('test setup: lock refused');
}

it('closes open runs as interrupted when no one held the lock; status still reports the last finished run', () => {
  const d = migrated();
  const insert = d.prepare(
    'INSERT INTO sync_runs (kind, started_at, finished_at, outcome, changes) VALUES (?, ?, ?, ?, ?)',
  );
  insert.run('inventory', 1_000, 2_000, 'pushed', 3);
  const open = openRun(d, 5_000);

  const lock = acquireRunLock(d, null, 8_000);
  if (!lock.ok) throw new Error('lock refused');
  const plan = interruptedRunsPlan(d, lock);
  expect(plan.afterMs).toBe(0);
  expect(closeInterruptedRuns(d, 9_000, plan.upToId)).toBe(1);
  expect(closeInterruptedRuns(d, 9_500, plan.upToId)).toBe(0);
  expect(outcome(d, open)).toEqual({ at: 9_000, outcome: 'interrupted' });
  const counted = d
    .prepare("SELECT n FROM metric_counts WHERE metric = 'psnb2b_inventory_runs_total' AND labels LIKE ?")
    .get('%interrupted%');
  expect(counted).toEqual({ n: 1 });
  const status = readStatus(d, []);
  expect(status.inventory).toMatchObject({
    lastRunAt: new Date(2_000).toISOString(),
    lastOutcome: 'pushed',
    lastChanges: 3,
  });
});

it('closes the runs of a holder whose pid is gone on this host', () => {
  const d = migrated();
  // Beyond pid_max: no process has it.
  leftHeld(d, { ...newLockOwner(), pid: 4_194_305 }, Date.now());
  const open = openRun(d, 5_000);
  const lock = acquireRunLock(d, null);
  if (!lock.ok) throw new Error('lock refused');
  expect(lock.tookOverFrom?.pid).toBe(4_194_305);
  const plan = interruptedRunsPlan(d, lock);
  expect(plan.afterMs).toBe(0);
  expect(closeInterruptedRuns(d, 9_000, plan.upToId)).toBe(1);
  expect(outcome(d, open)).toMatchObject({ outcome: 'interrupted' });
});

it('closes the runs of a holder on another host (or a restarted container) only after a grace: it may still be running', () => {
  const d = migrated();
  const other = { ...newLockOwner(), hostname: 'other', hostId: 'other-host', pid: 1 };
  leftHeld(d, other, Date.now() - 60_000);
  const open = openRun(d, 5_000);
  const lock = acquireRunLock(d, null);
  if (!lock.ok) throw new Error('lock refused');
  expect(lock.tookOverFrom?.hostId).toBe('other-host');
  const plan = interruptedRunsPlan(d, lock);
  expect(plan.afterMs).toBe(TAKEN_OVER_GRACE_MS);
  // The new holder's own run, started meanwhile, is not the old one's to close.
  const mine = openRun(d, 8_000);
  expect(closeInterruptedRuns(d, 9_000, plan.upToId)).toBe(1);
  expect(outcome(d, open)).toEqual({ at: 9_000, outcome: 'interrupted' });
  expect(outcome(d, mine)).toEqual({ at: null, outcome: null });
});

it("a run closed meanwhile keeps its outcome: its own process's finish does not overwrite it, and says so", async () => {
  const d = migrated();
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => lines.push(c.toString('utf8')));
  const report = await runInventoryCycle({
    db: d,
    supplier: {
      // While this run pulls, another lock holder closes it out.
      getInventory: async () => {
        d.prepare(
          "UPDATE sync_runs SET finished_at = 1, outcome = 'interrupted' WHERE finished_at IS NULL",
        ).run();
        return { updatedAt: new Date().toISOString(), items: [] };
      },
    },
    supplierCalls: () => 0,
    stores: [],
    weights: new Map(),
    catalog: {
      mapping: { template: 'PSN-{region}-{denomination}', overrides: {} },
      reserve: 0,
      allocation: 'shared',
      guard: { maxZeroShare: 0.5, minEntries: 10, recheckSeconds: 0 },
    },
    log: createLogger({ level: 'warn', format: 'json', stream }),
    lanes: new StoreLanes(),
  });
  expect(report.outcome).not.toBe('interrupted');
  expect(d.prepare('SELECT finished_at AS at, outcome FROM sync_runs').all()).toEqual([
    { at: 1, outcome: 'interrupted' },
  ]);
  expect(lines.join('')).toMatch(/was closed meanwhile/);
});
