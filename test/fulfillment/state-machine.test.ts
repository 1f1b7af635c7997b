import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/db/migrations.js';
import { type Db, immediate, migrate, openDb } from '../../src/db/open.js';
import { runDeliveries } from '../../src/fulfillment/delivering.js';
import { catalogView } from '../../src/fulfillment/fulfillment-job.js';
import { linesInState } from '../../src/fulfillment/fulfillment-ledger.js';
import { ordersStatus } from '../../src/fulfillment/orders-report.js';
import { resumeIntents } from '../../src/fulfillment/purchasing.js';
import * as points from '../../src/fulfillment/recovery-points.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Recovery points as the code's data: the table of points and moves is what the code, the
 * database's CHECK constraints and these tests all read.
 */

let w: FulfillmentWorld | undefined;
let bare: Db | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
  bare?.close();
  bare = undefined;
});

function freshDb(): Db {
  bare = openDb(path.join(tempDir('states').dir, 'sync.db'));
  migrate(bare);
  return bare;
}

const STATE_COLUMNS = [
  { table: 'shop_lines', column: 'state', kind: 'line' },
  { table: 'purchase_intents', column: 'state', kind: 'intent' },
  { table: 'deliveries', column: 'state', kind: 'delivery' },
  { table: 'claims', column: 'state', kind: 'claim' },
] as const;

/** The values a column's CHECK (col IN (…)) allows, read from the schema SQLite holds. */
function checkList(db: Db, table: string, column: string): string[] | null {
  const sql = (
    db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) as {
      sql: string;
    }
  ).sql;
  const m = new RegExp(`CHECK \\(${column} IN \\(([^)]*)\\)\\)`).exec(sql);
  return m ? [...(m[1] as string).matchAll(/'([^']*)'/g)].map((x) => x[1] as string).sort() : null;
}

/** A world with one order delivered: a row of every kind exists (claims aside). */
async function deliveredWorld() {
  w = await startFulfillmentWorld();
  const world = w;
  const placed = world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 1 }] });
  await world.until(() => ordersStatus(world.runtime.db).orders.delivered === 1, 'delivered');
  return { world, placed };
}

describe('the points table and the database agree', () => {
  it('every state column has a CHECK listing exactly the table’s points', () => {
    const db = freshDb();
    for (const c of STATE_COLUMNS) {
      expect({ table: c.table, allowed: checkList(db, c.table, c.column) }).toEqual({
        table: c.table,
        allowed: Object.keys(points.RECOVERY_POINTS[c.kind]).sort(),
      });
    }
    expect(checkList(db, 'shop_lines', 'hold_reason')).toEqual(Object.keys(points.HOLD_NOTES).sort());
  });

  it('a bad state written by raw SQL is refused by the database', async () => {
    const { world } = await deliveredWorld();
    const db = world.runtime.db;
    for (const c of STATE_COLUMNS.filter((x) => x.kind !== 'claim')) {
      expect(() => db.prepare(`UPDATE ${c.table} SET ${c.column} = 'bogus'`).run(), c.table).toThrow(
        /CHECK constraint failed/,
      );
    }
    expect(() => db.prepare("UPDATE shop_lines SET hold_reason = 'because'").run()).toThrow(
      /CHECK constraint failed/,
    );
  });

  it('every move names only points of its own table', () => {
    for (const [kind, table] of Object.entries(points.RECOVERY_POINTS)) {
      for (const [from, spec] of Object.entries(table)) {
        for (const to of spec.to) expect(Object.keys(table), `${kind} ${from} → ${to}`).toContain(to);
        expect(spec.terminal, `${kind} ${from}`).toBe(spec.to.length === 0);
      }
    }
  });
});

describe('advance', () => {
  it('refuses an illegal move with an error naming kind, row, from and to; the row stays', async () => {
    const { world } = await deliveredWorld();
    const db = world.runtime.db;
    const line = linesInState(db, 'delivered')[0];
    if (!line) throw new Error('no delivered line');
    const err = (() => {
      try {
        immediate(db, () => points.advance(db, 'line', line.id, 'delivered', 'open'));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(points.StateMoveError);
    expect(err).toMatchObject({
      rowKind: 'line',
      row: line.id,
      from: 'delivered',
      to: 'open',
      reason: 'illegal',
    });
    expect(linesInState(db, 'delivered')).toHaveLength(1);
  });

  it('detects a lost race: a row no longer at `from` is not overwritten', async () => {
    const { world } = await deliveredWorld();
    const db = world.runtime.db;
    const line = linesInState(db, 'delivered')[0];
    if (!line) throw new Error('no delivered line');
    // Another writer took it from open to delivered: our stale open → held must not land.
    let err: unknown;
    try {
      immediate(db, () => points.advance(db, 'line', line.id, 'open', 'held'));
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: 'StateMoveError', reason: 'lost-race', from: 'open', to: 'held' });
    expect(linesInState(db, 'held')).toHaveLength(0);
  });
});

describe('completers', () => {
  it('an intent at an unknown point is a bug that raises', async () => {
    const { world } = await deliveredWorld();
    const db = world.runtime.db;
    db.pragma('ignore_check_constraints = ON');
    db.prepare("UPDATE purchase_intents SET state = 'teleported'").run();
    db.pragma('ignore_check_constraints = OFF');
    await expect(resumeIntents(world.f.ctx, catalogView(world.f.ctx))).rejects.toThrow(
      /unknown point "teleported"/,
    );
  });

  it('a delivery at an unknown point is a bug that raises', async () => {
    const { world } = await deliveredWorld();
    const db = world.runtime.db;
    db.pragma('ignore_check_constraints = ON');
    db.prepare("UPDATE deliveries SET state = 'teleported'").run();
    db.pragma('ignore_check_constraints = OFF');
    await expect(runDeliveries(world.f.ctx)).rejects.toThrow(/unknown point "teleported"/);
  });

  it('a delivery records its steps by name: the last one done', async () => {
    const { world } = await deliveredWorld();
    const steps = world.runtime.db.prepare('SELECT step, state FROM deliveries').all();
    expect(steps).toEqual([{ step: 'fulfill', state: 'done' }]);
  });
});

describe('migration to CHECKed tables', () => {
  it('keeps every row, and a delivery mid-way restarts from its first step (each step reads back)', () => {
    const db = openDb(path.join(tempDir('states').dir, 'sync.db'));
    bare = db;
    db.pragma('foreign_keys = OFF');
    for (let v = 0; v < 2; v++) db.exec(MIGRATIONS[v] as string);
    db.pragma('user_version = 2');
    db.pragma('foreign_keys = ON');
    db.exec(`
      INSERT INTO shop_lines (id, store, order_id, line_id, order_number, sku, entry_key, units, state, received_at, updated_at)
        VALUES (1, 's', 'o1', 'l1', '#1', 'PSN-US-50', 'US:50', 1, 'open', 1, 1);
      INSERT INTO purchase_intents (id, idempotency_key, state, items, total_cents, created_at, updated_at)
        VALUES ('i1', 'k1', 'stored', '[]', 4650, 1, 1);
      INSERT INTO intent_lines (intent_id, line, entry_key, units) VALUES ('i1', 1, 'US:50', 1);
      INSERT INTO codes (id, intent_id, supplier_order_id, entry_key, currency, code_enc, code_hash, masked, line, unit_index, delivery_id, stored_at)
        VALUES (1, 'i1', 'so1', 'US:50', 'USD', x'00', 'h1', 'A-…-Z', 1, 0, 'd1', 1);
      INSERT INTO deliveries (id, store, order_id, step, completes, state, attempts, created_at)
        VALUES ('d1', 's', 'o1', 1, 1, 'pending', 2, 1);
      INSERT INTO claims (id, idempotency_key, code_id, supplier_order_id, error_code, state, window_closes_at, created_at)
        VALUES ('c1', 'ck1', 1, 'so1', 'E1', 'open', 9, 1);
    `);
    migrate(db);
    expect(db.prepare('SELECT state, units FROM shop_lines').all()).toEqual([{ state: 'open', units: 1 }]);
    expect(db.prepare('SELECT state FROM purchase_intents').all()).toEqual([{ state: 'stored' }]);
    expect(db.prepare('SELECT step, state, attempts FROM deliveries').all()).toEqual([
      { step: null, state: 'pending', attempts: 2 },
    ]);
    expect(db.prepare('SELECT state FROM claims').all()).toEqual([{ state: 'open' }]);
    expect(db.prepare('SELECT line, delivery_id AS d FROM codes').all()).toEqual([{ line: 1, d: 'd1' }]);
    expect(db.pragma('foreign_key_check')).toEqual([]);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
  });
});
