import { raiseAlert, resolveAlert } from '../alerts.js';
import type { Db } from '../db/open.js';
import type { SafeError } from '../errors.js';
import { inList } from './fulfillment-ledger.js';
import { advance, type DeliveryPoint, terminalPoints } from './recovery-points.js';

/**
 * The deliveries table: reads, and the moves that end a delivery. No awaits; callers wrap these
 * in `immediate()` transactions.
 */

export interface DeliveryRow {
  id: string;
  store: string;
  orderId: string;
  state: DeliveryPoint;
  /** The name of the last shop write done (null: none yet). */
  step: string | null;
  completes: number;
  attempts: number;
  nextTryAt: number;
  createdAt: number;
  /** A write of it may have reached the shop: its codes may be in the buyer's hands. */
  mayHaveWritten: number;
  lastError: string | null;
}

const COLUMNS = `id, store, order_id AS orderId, state, step, completes, attempts, next_try_at AS nextTryAt,
  created_at AS createdAt, may_have_written AS mayHaveWritten, last_error AS lastError`;

/** Every delivery not at a terminal point, oldest first, whatever its point says. */
export function unsettledDeliveries(db: Db): DeliveryRow[] {
  return db
    .prepare(
      `SELECT ${COLUMNS} FROM deliveries WHERE state NOT IN (${inList(terminalPoints('delivery'))}) ORDER BY created_at`,
    )
    .all() as DeliveryRow[];
}

export function deliveryById(db: Db, id: string): DeliveryRow | undefined {
  return db.prepare(`SELECT ${COLUMNS} FROM deliveries WHERE id = ?`).get(id) as DeliveryRow | undefined;
}

/** The order's delivery that has not ended (at most one: a new one starts only after it ends). */
export function unsettledDeliveryOf(db: Db, store: string, orderId: string): DeliveryRow | undefined {
  return db
    .prepare(
      `SELECT ${COLUMNS} FROM deliveries WHERE store = ? AND order_id = ?
         AND state NOT IN (${inList(terminalPoints('delivery'))}) ORDER BY created_at LIMIT 1`,
    )
    .get(store, orderId) as DeliveryRow | undefined;
}

/**
 * Before each shop write: records that its codes may reach the buyer (never the pool again), while
 * the delivery is still pending. False when an intake ended it meanwhile: nothing more is written.
 */
export function claimWrite(db: Db, id: string): boolean {
  return (
    db.prepare("UPDATE deliveries SET may_have_written = 1 WHERE id = ? AND state = 'pending'").run(id)
      .changes === 1
  );
}

/** Ends a delivery none of whose writes can have reached the shop: its codes are free again. */
export function cancelDelivery(db: Db, d: Pick<DeliveryRow, 'id' | 'state'>, now: number): void {
  advance(db, 'delivery', d.id, d.state, 'cancelled', now);
  db.prepare('UPDATE codes SET delivery_id = NULL WHERE delivery_id = ? AND delivered_at IS NULL').run(d.id);
  resolveDeliveryAlerts(db, d.id, now);
}

export function resolveDeliveryAlerts(db: Db, deliveryId: string, now: number): void {
  resolveAlert(db, 'delivery-failing', deliveryId, now);
  resolveAlert(db, 'delivery-failed', deliveryId, now);
}

/**
 * A delivery that will not go through by itself: `failed`, its codes kept (never pooled), an
 * alert naming the cause and the two commands that decide.
 */
export function failDelivery(
  db: Db,
  d: Pick<DeliveryRow, 'id' | 'state' | 'store' | 'orderId'>,
  cause: string,
  error: SafeError | null,
  now: number,
): void {
  if (d.state !== 'failed') advance(db, 'delivery', d.id, d.state, 'failed', now);
  db.prepare('UPDATE deliveries SET last_error = COALESCE(?, last_error) WHERE id = ?').run(
    error ? JSON.stringify(error) : null,
    d.id,
  );
  resolveAlert(db, 'delivery-failing', d.id, now);
  raiseAlert(
    db,
    'delivery-failed',
    d.id,
    `delivery into ${d.store} order ${d.orderId} failed: ${cause}; its codes are kept. Decide with \`psnb2b-sync orders retry-delivery --store ${d.store} --order ${d.orderId}\` or \`orders abandon-delivery …\``,
    now,
  );
}
