import { afterEach, describe, expect, it } from 'vitest';
import { parseSku } from '../../config/sku-template.js';
import { raiseAlert, resolveAlert } from '../../src/alerts.js';
import { type Db, immediate } from '../../src/db/open.js';
import { Reaper } from '../../src/db/reaper.js';
import { checkCodes } from '../../src/fulfillment/check-codes.js';
import { CLAIM_WINDOW_MS } from '../../src/fulfillment/claims.js';
import { catalogView } from '../../src/fulfillment/fulfillment-job.js';
import {
  createIntent,
  insertLine,
  intentsIn,
  isKnownCode,
  recordWebhookEvent,
} from '../../src/fulfillment/fulfillment-ledger.js';
import { ordersStatus } from '../../src/fulfillment/orders-report.js';
import { readStatus } from '../../src/status.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

/**
 * The reaper prunes what only records the past, by age, and never what something still refers
 * to; delivered codes lose their ciphertext long after their claim window, but never their hash.
 */

const DAY = 86_400_000;
let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const count = (db: Db, sql: string, ...p: unknown[]) => (db.prepare(sql).get(...p) as { n: number }).n;

/** A line of a made-up order, at `state`, with an intent for it left at `point`, both `ageDays` old. */
function seedIntent(
  world: FulfillmentWorld,
  point: 'rejected' | 'superseded' | 'abandoned',
  lineState: 'open' | 'held' | 'delivered' | 'dropped',
  ageDays: number,
): string {
  const db = world.runtime.db;
  const sku = world.skus[2] as string;
  const entry = parseSku('PSN-{region}-{denomination}', sku);
  if (!entry) throw new Error('sku does not parse');
  const entryKey = `${entry.region}:${entry.denomination}`;
  const at = Date.now() - ageDays * DAY;
  return immediate(db, () => {
    const line = insertLine(
      db,
      {
        store: 'shop-s',
        orderId: `seed-${point}-${lineState}-${ageDays}`,
        lineId: '1',
        orderNumber: '#seed',
        sku,
        entryKey,
        units: 1,
        receivedAt: at,
      },
      at,
    );
    const intent = createIntent(
      db,
      { allocations: [{ line, entryKey, units: 1 }], priceCents: catalogView(world.f.ctx).priceCents },
      at,
    );
    if (!intent) throw new Error('no intent');
    // Seeded as a crash or an old program might have left them: straight to the point, no moves.
    db.prepare('UPDATE purchase_intents SET state = ?, updated_at = ? WHERE id = ?').run(
      point,
      at,
      intent.id,
    );
    db.prepare('UPDATE shop_lines SET state = ? WHERE id = ?').run(lineState, line);
    return intent.id;
  });
}

describe('reaper', () => {
  it('prunes webhook events, sync runs, resolved alerts and dead intents after retention.days', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const db = world.runtime.db;
    const old = Date.now() - 31 * DAY;
    const recent = Date.now() - 29 * DAY;
    immediate(db, () => {
      recordWebhookEvent(db, 'shop-s', 'evt-old', 'order 1', old);
      recordWebhookEvent(db, 'shop-s', 'evt-recent', 'order 2', recent);
      for (const at of [old, old + 1, recent]) {
        db.prepare(
          `INSERT INTO sync_runs (kind, store, started_at, finished_at, outcome) VALUES ('inventory', NULL, ?, ?, 'pushed')`,
        ).run(at, at + 10);
      }
      raiseAlert(db, 'store-push', 'old', 'gone long ago', old);
      resolveAlert(db, 'store-push', 'old', old);
      raiseAlert(db, 'store-push', 'recent', 'gone lately', recent);
      resolveAlert(db, 'store-push', 'recent', recent);
      raiseAlert(db, 'balance', '', 'still open, and old', old);
    });
    const runsBefore = count(db, 'SELECT COUNT(*) AS n FROM sync_runs');
    const deadOld = seedIntent(world, 'superseded', 'delivered', 31);
    const rejectedOld = seedIntent(world, 'rejected', 'dropped', 31);
    const abandonedButHeld = seedIntent(world, 'abandoned', 'held', 31);
    const rejectedRecent = seedIntent(world, 'rejected', 'dropped', 29);

    const report = new Reaper(db, { days: 30, codesDays: 90 }).runOnce();

    expect(report).toMatchObject({ webhookEvents: 1, syncRuns: 2, alerts: 1, intents: 2, codesErased: 0 });
    expect(count(db, 'SELECT COUNT(*) AS n FROM webhook_events WHERE event_id = ?', 'evt-recent')).toBe(1);
    expect(count(db, 'SELECT COUNT(*) AS n FROM sync_runs')).toBe(runsBefore - 2);
    const alerts = db.prepare('SELECT kind, subject FROM alerts ORDER BY id').all();
    expect(alerts).toEqual([
      { kind: 'store-push', subject: 'recent' },
      { kind: 'balance', subject: '' },
    ]);
    const ids = (db.prepare('SELECT id FROM purchase_intents').all() as { id: string }[]).map((r) => r.id);
    expect(ids).not.toContain(deadOld);
    expect(ids).not.toContain(rejectedOld);
    // An abandoned intent whose line is still held for the operator stays, and so does a recent one.
    expect(ids).toContain(abandonedButHeld);
    expect(ids).toContain(rejectedRecent);
    expect(
      count(db, 'SELECT COUNT(*) AS n FROM intent_lines WHERE intent_id IN (?, ?)', deadOld, rejectedOld),
    ).toBe(0);
    // Idempotent: a second run finds nothing.
    expect(new Reaper(db, { days: 30, codesDays: 90 }).runOnce()).toEqual({
      webhookEvents: 0,
      syncRuns: 0,
      alerts: 0,
      intents: 0,
      codesErased: 0,
    });
  });

  it('keeps the latest finished run of each kind, however old, an interrupted one after it too: status reads it', async () => {
    w = await startFulfillmentWorld();
    const db = w.runtime.db;
    db.prepare('DELETE FROM sync_runs').run();
    const old = Date.now() - 60 * DAY;
    const insert = db.prepare(
      `INSERT INTO sync_runs (kind, store, started_at, finished_at, outcome) VALUES ('inventory', NULL, ?, ?, ?)`,
    );
    insert.run(old, old + 10, 'pushed');
    // Status skips interrupted runs: were this one kept instead, status would find no run at all.
    insert.run(old + 20, old + 30, 'interrupted');
    new Reaper(db, { days: 30, codesDays: 90 }).runOnce();
    expect(db.prepare('SELECT outcome FROM sync_runs').all()).toEqual([{ outcome: 'pushed' }]);
    expect(readStatus(db, []).inventory.lastOutcome).toBe('pushed');
  });

  it('erases delivered ciphertexts past the claim window + codesDays; the same code is still refused', async () => {
    w = await startFulfillmentWorld();
    const world = w;
    const db = world.runtime.db;
    world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity: 2 }] });
    await world.until(() => ordersStatus(db).orders.delivered === 1, 'delivered');
    const [stored] = intentsIn(db, 'stored');
    const supplierOrder = world.supplier.ledger().orders[0];
    const issued = world.supplier.codesIssued(supplierOrder?.id as string);
    const code = issued[0]?.code as string;
    // A pooled code of the same intent (bought for a sale refunded meanwhile) is stock: never erased.
    db.prepare(
      'UPDATE codes SET line = NULL, unit_index = NULL, delivered_at = NULL WHERE id = (SELECT MAX(id) FROM codes)',
    ).run();
    const before = db.prepare('SELECT code_hash AS hash, masked FROM codes ORDER BY id').all();

    const keep = new Reaper(db, { days: 30, codesDays: 90 }).runOnce();
    expect(keep.codesErased).toBe(0);

    // The supplier delivered it 7 days + 91 days ago: the claim window closed 91 days ago.
    db.prepare('UPDATE purchase_intents SET supplier_delivered_at = ? WHERE id = ?').run(
      Date.now() - CLAIM_WINDOW_MS - 91 * DAY,
      stored?.id,
    );
    const report = new Reaper(db, { days: 30, codesDays: 90 }).runOnce();
    expect(report.codesErased).toBe(1);
    const rows = db
      .prepare('SELECT length(code_enc) AS len, code_hash AS hash, masked FROM codes ORDER BY id')
      .all() as { len: number; hash: string; masked: string }[];
    expect(rows.map((r) => r.len > 0)).toEqual([false, true]);
    expect(rows.map(({ hash, masked }) => ({ hash, masked }))).toEqual(before);
    // The erased code offered again (a supplier resending it) is still ours, so it is refused.
    const vault = world.f.ctx.vault;
    expect(isKnownCode(db, vault, code)).toBe(true);
    const entry = issued[0] as { region: string; denomination: number };
    expect(
      checkCodes(
        [{ region: entry.region, denomination: entry.denomination, qty: 1 }],
        [{ ...entry, code }],
        (c) => isKnownCode(db, vault, c),
      ),
    ).toMatchObject({ ok: false, problem: 'known' });
  });
});
