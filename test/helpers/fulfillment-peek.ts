import { withDb } from './sqlite-peek.js';

/**
 * Read-only looks into a daemon's money-path tables from the test process (WAL lets us read
 * while it writes, and right after it was killed): intents by recovery point, shop lines,
 * recorded webhook events. Counts and ids only — the codes are encrypted and stay that way.
 */

export interface PeekIntent {
  id: string;
  idempotencyKey: string;
  state: string;
  supplierOrderId: string | null;
  attempts: number;
}

export function intentsIn(file: string, ...states: string[]): PeekIntent[] {
  return withDb(file, (db) => {
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'purchase_intents'");
    if (!has.get()) return [];
    const where = states.length ? `WHERE state IN (${states.map(() => '?').join(', ')})` : '';
    return db
      .prepare(
        `SELECT id, idempotency_key AS idempotencyKey, state, supplier_order_id AS supplierOrderId, attempts
         FROM purchase_intents ${where} ORDER BY created_at, id`,
      )
      .all(...states) as PeekIntent[];
  });
}

export interface PeekLine {
  orderId: string;
  lineId: string;
  sku: string;
  units: number;
  state: string;
  holdReason: string | null;
}

export function shopLines(file: string, orderId?: string): PeekLine[] {
  return withDb(file, (db) => {
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'shop_lines'");
    if (!has.get()) return [];
    return db
      .prepare(
        `SELECT order_id AS orderId, line_id AS lineId, sku, units, state, hold_reason AS holdReason
         FROM shop_lines ${orderId === undefined ? '' : 'WHERE order_id = ?'} ORDER BY id`,
      )
      .all(...(orderId === undefined ? [] : [orderId])) as PeekLine[];
  });
}

/** Units of each intent per shop line (who bought what, for "each line bought once"). */
export function intentUnitsByLine(
  file: string,
): { orderId: string; lineId: string; state: string; units: number }[] {
  return withDb(
    file,
    (db) =>
      db
        .prepare(
          `SELECT l.order_id AS orderId, l.line_id AS lineId, pi.state, il.units
           FROM intent_lines il JOIN shop_lines l ON l.id = il.line JOIN purchase_intents pi ON pi.id = il.intent_id`,
        )
        .all() as { orderId: string; lineId: string; state: string; units: number }[],
  );
}

/** Webhook events the daemon accepted and recorded, by source. */
export function webhookEvents(file: string, source?: string): { source: string; subject: string }[] {
  return withDb(
    file,
    (db) =>
      db
        .prepare(
          `SELECT source, subject FROM webhook_events ${source === undefined ? '' : 'WHERE source = ?'} ORDER BY received_at`,
        )
        .all(...(source === undefined ? [] : [source])) as { source: string; subject: string }[],
  );
}

export interface InFlight {
  /** Shop lines received. */
  lines: number;
  /** Lines in state open (a parked intent keeps its lines open). */
  open: number;
  /** Open lines with units neither coded nor held by an intent that may still bring codes. */
  unbought: number;
  /** Intents not yet settled (created, sending, ordered). */
  intents: number;
  /** Codes assigned to a line and not yet delivered. */
  undelivered: number;
  /** Deliveries between shop writes. */
  deliveries: number;
}

/** What is still moving, by recovery point. */
export function workInFlight(file: string): InFlight {
  return withDb(file, (db) => {
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'");
    if (!has.get()) return { lines: 0, open: 0, unbought: 0, intents: 0, undelivered: 0, deliveries: 0 };
    return db
      .prepare(
        `SELECT (SELECT COUNT(*) FROM shop_lines) AS lines,
                (SELECT COUNT(*) FROM shop_lines WHERE state = 'open') AS open,
                (SELECT COUNT(*) FROM shop_lines l WHERE l.state = 'open'
                   AND l.units - (SELECT COUNT(*) FROM codes c WHERE c.line = l.id)
                     - COALESCE((SELECT SUM(il.units) FROM intent_lines il JOIN purchase_intents pi ON pi.id = il.intent_id
                                 WHERE il.line = l.id AND pi.state IN ('created', 'sending', 'ordered', 'parked')), 0) > 0) AS unbought,
                (SELECT COUNT(*) FROM purchase_intents WHERE state IN ('created', 'sending', 'ordered')) AS intents,
                (SELECT COUNT(*) FROM codes WHERE line IS NOT NULL AND delivered_at IS NULL) AS undelivered,
                (SELECT COUNT(*) FROM deliveries WHERE state = 'pending') AS deliveries`,
      )
      .get() as InFlight;
  });
}

/** When each supplier order's codes were stored (ms), for webhook-vs-poll latency. */
export function codesStoredAt(file: string): Map<string, number> {
  return withDb(file, (db) => {
    const rows = db
      .prepare('SELECT supplier_order_id AS id, MIN(stored_at) AS at FROM codes GROUP BY supplier_order_id')
      .all() as { id: string; at: number }[];
    return new Map(rows.map((r) => [r.id, r.at]));
  });
}

/** Codes bought and held by no line (bought for orders refunded or cancelled after purchase). */
export function pooledCodes(file: string): number {
  return withDb(
    file,
    (db) => (db.prepare('SELECT COUNT(*) AS n FROM codes WHERE line IS NULL').get() as { n: number }).n,
  );
}

/** Each delivered code as `<shop order id> <masked code>`, sorted: what the codes table says went where. */
export function deliveredMasks(file: string): string[] {
  return withDb(file, (db) =>
    (
      db
        .prepare(
          `SELECT l.order_id AS orderId, c.masked FROM codes c JOIN shop_lines l ON l.id = c.line
           WHERE c.delivered_at IS NOT NULL`,
        )
        .all() as { orderId: string; masked: string }[]
    )
      .map((r) => `${r.orderId} ${r.masked}`)
      .sort(),
  );
}
