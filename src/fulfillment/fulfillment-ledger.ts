import { randomUUID } from 'node:crypto';
import type { Db } from '../db/open.js';
import type { SafeError } from '../errors.js';
import { parseEntryKey } from '../sku.js';
import type { CodeVault } from './code-vault.js';
import {
  ACCEPTED_INTENT_POINTS,
  ACTIVE_INTENT_POINTS,
  advance,
  assertInitial,
  type HoldReason,
  type IntentPoint,
  type LinePoint,
  OWED_LINE_POINTS,
  terminalPoints,
} from './recovery-points.js';

/**
 * Every read and write of the money path's tables. Functions here never await: callers wrap
 * them in `immediate()` transactions, one per phase, with outside calls in between.
 */

export interface LineRow {
  id: number;
  store: string;
  orderId: string;
  lineId: string;
  orderNumber: string;
  sku: string;
  entryKey: string;
  units: number;
  state: LinePoint;
  holdReason: HoldReason | null;
  receivedAt: number;
  /** When the shop made the sale, by its clock (null: not known; `receivedAt` stands in). */
  saleAt: number | null;
}

export interface IntentItem {
  region: string;
  denomination: number;
  qty: number;
  entryKey: string;
}

export interface IntentRow {
  id: string;
  idempotencyKey: string;
  state: IntentPoint;
  items: IntentItem[];
  totalCents: number;
  supplierOrderId: string | null;
  supplierStatus: string | null;
  supplierDeliveredAt: number | null;
  attempts: number;
  sentAt: number | null;
  balanceBeforeCents: number | null;
  balanceAfterCents: number | null;
  lastError: SafeError | null;
  nextCheckAt: number;
  createdAt: number;
}

const LINE_COLUMNS = `id, store, order_id AS orderId, line_id AS lineId, order_number AS orderNumber, sku,
  entry_key AS entryKey, units, state, hold_reason AS holdReason, received_at AS receivedAt, sale_at AS saleAt`;

/** A SQL list of our own constant names (never user input). */
export const inList = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(', ');

export function getLine(db: Db, store: string, orderId: string, lineId: string): LineRow | undefined {
  return db
    .prepare(`SELECT ${LINE_COLUMNS} FROM shop_lines WHERE store = ? AND order_id = ? AND line_id = ?`)
    .get(store, orderId, lineId) as LineRow | undefined;
}

export function linesOfOrder(db: Db, store: string, orderId: string): LineRow[] {
  return db
    .prepare(`SELECT ${LINE_COLUMNS} FROM shop_lines WHERE store = ? AND order_id = ? ORDER BY id`)
    .all(store, orderId) as LineRow[];
}

export function linesInState(db: Db, ...states: LineRow['state'][]): LineRow[] {
  return db
    .prepare(
      `SELECT ${LINE_COLUMNS} FROM shop_lines WHERE state IN (${inList(states)}) ORDER BY received_at, id`,
    )
    .all() as LineRow[];
}

export function insertLine(
  db: Db,
  l: Omit<LineRow, 'id' | 'state' | 'holdReason' | 'saleAt'> & {
    saleAt?: number;
    state?: LineRow['state'];
    holdReason?: HoldReason | null;
  },
  now: number,
): number {
  const state = l.state ?? 'open';
  assertInitial('line', `${l.store}/${l.orderId}/${l.lineId}`, state);
  return Number(
    db
      .prepare(
        `INSERT INTO shop_lines (store, order_id, line_id, order_number, sku, entry_key, units, state, hold_reason, received_at, sale_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (store, order_id, line_id) DO NOTHING`,
      )
      .run(
        l.store,
        l.orderId,
        l.lineId,
        l.orderNumber,
        l.sku,
        l.entryKey,
        l.units,
        state,
        l.holdReason ?? null,
        l.receivedAt,
        l.saleAt ?? null,
        now,
      ).lastInsertRowid,
  );
}

/** What a line owes and why it is held; its point moves only through `moveLine`. */
export function setLine(
  db: Db,
  id: number,
  patch: { units?: number; holdReason?: HoldReason | null },
  now: number,
): void {
  if (patch.units !== undefined)
    db.prepare('UPDATE shop_lines SET units = ?, updated_at = ? WHERE id = ?').run(patch.units, now, id);
  if (patch.holdReason !== undefined)
    db.prepare('UPDATE shop_lines SET hold_reason = ?, updated_at = ? WHERE id = ?').run(
      patch.holdReason,
      now,
      id,
    );
}

/** Moves a line from the point it was read at to `to` (refused if illegal or stale), with its patch. */
export function moveLine(
  db: Db,
  line: Pick<LineRow, 'id' | 'state'>,
  to: LinePoint,
  now: number,
  patch: { units?: number; holdReason?: HoldReason | null } = {},
): void {
  advance(db, 'line', line.id, line.state, to, now);
  if (to === 'delivered') db.prepare('UPDATE shop_lines SET delivered_at = ? WHERE id = ?').run(now, line.id);
  setLine(db, line.id, patch, now);
}

/** The line as it is now (inside a transaction: the point to move from). */
export function lineById(db: Db, id: number): LineRow | undefined {
  return db.prepare(`SELECT ${LINE_COLUMNS} FROM shop_lines WHERE id = ?`).get(id) as LineRow | undefined;
}

export const isOwed = (l: Pick<LineRow, 'state'>) => OWED_LINE_POINTS.includes(l.state);

/** Codes assigned to the line (delivered or not). */
export function assignedCount(db: Db, line: number): number {
  return (db.prepare('SELECT COUNT(*) AS n FROM codes WHERE line = ?').get(line) as { n: number }).n;
}

export function deliveredCount(db: Db, line: number): number {
  return (
    db.prepare('SELECT COUNT(*) AS n FROM codes WHERE line = ? AND delivered_at IS NOT NULL').get(line) as {
      n: number;
    }
  ).n;
}

/** Units of the line held by intents that may still bring codes. */
export function unitsInActiveIntents(db: Db, line: number): number {
  return (
    db
      .prepare(
        `SELECT COALESCE(SUM(il.units), 0) AS n FROM intent_lines il JOIN purchase_intents pi ON pi.id = il.intent_id
         WHERE il.line = ? AND pi.state IN (${inList(ACTIVE_INTENT_POINTS)})`,
      )
      .get(line) as { n: number }
  ).n;
}

/** Units the line still needs bought: owed, less assigned, less held by active intents. */
export function unitsNeeded(db: Db, line: LineRow): number {
  return Math.max(0, line.units - assignedCount(db, line.id) - unitsInActiveIntents(db, line.id));
}

/**
 * entryKey → units sold in a shop but not yet ordered (the planner publishes less by this):
 * owed units of open and held lines, less what codes cover, less what the supplier accepted.
 */
export function soldNotOrdered(db: Db): Map<string, number> {
  const rows = db
    .prepare(
      `SELECT l.entry_key AS k,
         l.units
         - (SELECT COUNT(*) FROM codes c WHERE c.line = l.id)
         - COALESCE((SELECT SUM(il.units) FROM intent_lines il JOIN purchase_intents pi ON pi.id = il.intent_id
                     WHERE il.line = l.id AND pi.state IN (${inList(ACCEPTED_INTENT_POINTS)})
                       AND NOT EXISTS (SELECT 1 FROM codes c2 WHERE c2.intent_id = pi.id)), 0) AS n
       FROM shop_lines l WHERE l.state IN (${inList(OWED_LINE_POINTS)})`,
    )
    .all() as { k: string; n: number }[];
  const out = new Map<string, number>();
  for (const r of rows) if (r.n > 0) out.set(r.k, (out.get(r.k) ?? 0) + r.n);
  return out;
}

export function poolCounts(db: Db): Map<string, number> {
  const rows = db
    .prepare('SELECT entry_key AS k, COUNT(*) AS n FROM codes WHERE line IS NULL GROUP BY entry_key')
    .all() as {
    k: string;
    n: number;
  }[];
  return new Map(rows.map((r) => [r.k, r.n]));
}

/** Assigns up to `units` pooled codes of the entry to the line; returns how many. */
export function assignFromPool(db: Db, line: number, entryKey: string, units: number): number {
  const ids = db
    .prepare('SELECT id FROM codes WHERE line IS NULL AND entry_key = ? ORDER BY id LIMIT ?')
    .all(entryKey, units) as { id: number }[];
  let next = nextUnitIndex(db, line);
  for (const { id } of ids)
    db.prepare('UPDATE codes SET line = ?, unit_index = ? WHERE id = ?').run(line, next++, id);
  return ids.length;
}

function nextUnitIndex(db: Db, line: number): number {
  return (
    db.prepare('SELECT COALESCE(MAX(unit_index), -1) + 1 AS n FROM codes WHERE line = ?').get(line) as {
      n: number;
    }
  ).n;
}

/** Returns assigned, undelivered codes of a line to the pool (the order was refunded or cancelled). */
export function poolUndelivered(db: Db, line: number, units: number): number {
  const ids = db
    .prepare(
      'SELECT id FROM codes WHERE line = ? AND delivered_at IS NULL AND delivery_id IS NULL ORDER BY unit_index DESC LIMIT ?',
    )
    .all(line, units) as { id: number }[];
  for (const { id } of ids)
    db.prepare('UPDATE codes SET line = NULL, unit_index = NULL WHERE id = ?').run(id);
  return ids.length;
}

// ─── intents ────────────────────────────────────────────────────────────────────────────────

const INTENT_COLUMNS = `id, idempotency_key AS idempotencyKey, state, items, total_cents AS totalCents,
  supplier_order_id AS supplierOrderId, supplier_status AS supplierStatus, supplier_delivered_at AS supplierDeliveredAt,
  attempts, sent_at AS sentAt, balance_before_cents AS balanceBeforeCents, balance_after_cents AS balanceAfterCents,
  last_error AS lastError, next_check_at AS nextCheckAt, created_at AS createdAt`;

function intentFromRow(r: Record<string, unknown>): IntentRow {
  return {
    ...(r as unknown as IntentRow),
    items: JSON.parse(r.items as string) as IntentItem[],
    lastError: r.lastError ? (JSON.parse(r.lastError as string) as SafeError) : null,
  };
}

export function getIntent(db: Db, id: string): IntentRow | undefined {
  const r = db.prepare(`SELECT ${INTENT_COLUMNS} FROM purchase_intents WHERE id = ?`).get(id) as
    | Record<string, unknown>
    | undefined;
  return r && intentFromRow(r);
}

export function intentsIn(db: Db, ...states: IntentPoint[]): IntentRow[] {
  return (
    db
      .prepare(
        `SELECT ${INTENT_COLUMNS} FROM purchase_intents WHERE state IN (${inList(states)}) ORDER BY created_at, id`,
      )
      .all() as Record<string, unknown>[]
  ).map(intentFromRow);
}

/** Every intent not at a terminal point, whatever its point says (the completer raises for one it does not know). */
export function unsettledIntents(db: Db): IntentRow[] {
  return (
    db
      .prepare(
        `SELECT ${INTENT_COLUMNS} FROM purchase_intents WHERE state NOT IN (${inList(terminalPoints('intent'))}) ORDER BY created_at, id`,
      )
      .all() as Record<string, unknown>[]
  ).map(intentFromRow);
}

export function intentAllocations(
  db: Db,
  intentId: string,
): { line: number; entryKey: string; units: number }[] {
  return db
    .prepare('SELECT line, entry_key AS entryKey, units FROM intent_lines WHERE intent_id = ? ORDER BY line')
    .all(intentId) as { line: number; entryKey: string; units: number }[];
}

/**
 * A purchase intent: items frozen and a random UUID as idempotency key and reference, committed
 * before the supplier is called. What each line still needs is measured here, inside the
 * transaction that creates the intent, so a buyer that planned before another committed (a
 * second pass, a second daemon) never buys a line twice: allocations are cut to that need, and
 * nothing is created (null) when no line needs anything. Call inside a transaction.
 */
export function createIntent(
  db: Db,
  args: {
    allocations: readonly { line: number; entryKey: string; units: number }[];
    priceCents: ReadonlyMap<string, number>;
  },
  now: number,
): IntentRow | null {
  const allocations = stillNeeded(db, args.allocations);
  if (allocations.length === 0) return null;
  const qty = new Map<string, number>();
  for (const a of allocations) qty.set(a.entryKey, (qty.get(a.entryKey) ?? 0) + a.units);
  const items: IntentItem[] = [...qty.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([entryKey, q]) => ({ ...parseEntryKey(entryKey), qty: q, entryKey }));
  const totalCents = items.reduce((s, i) => s + i.qty * (args.priceCents.get(i.entryKey) ?? 0), 0);
  const id = randomUUID();
  assertInitial('intent', id, 'created');
  db.prepare(
    `INSERT INTO purchase_intents (id, idempotency_key, state, items, total_cents, created_at, updated_at)
     VALUES (?, ?, 'created', ?, ?, ?, ?)`,
  ).run(id, randomUUID(), JSON.stringify(items), totalCents, now, now);
  const ins = db.prepare('INSERT INTO intent_lines (intent_id, line, entry_key, units) VALUES (?, ?, ?, ?)');
  for (const a of allocations) ins.run(id, a.line, a.entryKey, a.units);
  return getIntent(db, id) as IntentRow;
}

/** Each allocation cut to what its line still needs now (nothing for a line no longer owed). */
function stillNeeded(
  db: Db,
  allocations: readonly { line: number; entryKey: string; units: number }[],
): { line: number; entryKey: string; units: number }[] {
  const out: { line: number; entryKey: string; units: number }[] = [];
  const taken = new Map<number, number>();
  for (const a of allocations) {
    const line = lineById(db, a.line);
    const left = line && isOwed(line) ? unitsNeeded(db, line) - (taken.get(a.line) ?? 0) : 0;
    const units = Math.min(a.units, left);
    if (units <= 0) continue;
    taken.set(a.line, (taken.get(a.line) ?? 0) + units);
    out.push({ ...a, units });
  }
  return out;
}

/**
 * A changed purchase (a 409 split, a failed supplier order, an operator's re-buy): the old intent
 * is superseded and, in the same transaction, a new one buys what its lines still need — never
 * more than `allocations`, and nothing for units refunded or cancelled meanwhile. Null when
 * nothing is left to buy. Call inside a transaction.
 */
export function supersedeIntent(
  db: Db,
  old: Pick<IntentRow, 'id' | 'state'>,
  allocations: readonly { line: number; entryKey: string; units: number }[],
  priceCents: ReadonlyMap<string, number>,
  now: number,
): IntentRow | null {
  // Superseded first, so its units no longer count as in flight when the need is measured.
  advance(db, 'intent', old.id, old.state, 'superseded', now);
  const next = createIntent(db, { allocations, priceCents }, now);
  if (next) db.prepare('UPDATE purchase_intents SET superseded_by = ? WHERE id = ?').run(next.id, old.id);
  return next;
}

/** Moves an intent from the point it was read at to `to` (refused if illegal or stale), with its patch. */
export function moveIntent(
  db: Db,
  intent: Pick<IntentRow, 'id' | 'state'>,
  to: IntentPoint,
  patch: Parameters<typeof setIntent>[2],
  now: number,
): void {
  advance(db, 'intent', intent.id, intent.state, to, now);
  setIntent(db, intent.id, patch, now);
}

/** An intent's other columns; its point moves only through `moveIntent`. */
export function setIntent(
  db: Db,
  id: string,
  patch: Partial<{
    supplierOrderId: string;
    supplierStatus: string;
    supplierDeliveredAt: number;
    attempts: number;
    sentAt: number;
    balanceBeforeCents: number | null;
    balanceAfterCents: number | null;
    lastError: SafeError | null;
    nextCheckAt: number;
  }>,
  now: number,
): void {
  const cols: Record<string, string> = {
    supplierOrderId: 'supplier_order_id',
    supplierStatus: 'supplier_status',
    supplierDeliveredAt: 'supplier_delivered_at',
    attempts: 'attempts',
    sentAt: 'sent_at',
    balanceBeforeCents: 'balance_before_cents',
    balanceAfterCents: 'balance_after_cents',
    lastError: 'last_error',
    nextCheckAt: 'next_check_at',
  };
  const sets: string[] = ['updated_at = ?'];
  const vals: unknown[] = [now];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    sets.push(`${cols[k]} = ?`);
    vals.push(k === 'lastError' ? (v === null ? null : JSON.stringify(v)) : v);
  }
  db.prepare(`UPDATE purchase_intents SET ${sets.join(', ')} WHERE id = ?`).run(...vals, id);
}

// ─── codes ──────────────────────────────────────────────────────────────────────────────────

export function isKnownCode(db: Db, vault: CodeVault, code: string): boolean {
  return db.prepare('SELECT 1 FROM codes WHERE code_hash = ?').get(vault.hash(code)) !== undefined;
}

/**
 * Stores the codes of a delivered supplier order, encrypted, and assigns them to the intent's
 * lines — each line at most what it still needs; the rest goes to the pool. One transaction.
 */
export function storeCodes(
  db: Db,
  vault: CodeVault,
  intent: IntentRow,
  supplierOrderId: string,
  codes: readonly { region: string; denomination: number; code: string; serial?: string | undefined }[],
  currencyOf: (entryKey: string) => string,
  now: number,
): { assigned: number; pooled: number } {
  const ins = db.prepare(
    `INSERT INTO codes (intent_id, supplier_order_id, entry_key, currency, serial, code_enc, code_hash, masked, stored_at, key_id)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const byEntry = new Map<string, number[]>();
  for (const c of codes) {
    const k = `${c.region}:${c.denomination}`;
    const id = Number(
      ins.run(
        intent.id,
        supplierOrderId,
        k,
        currencyOf(k),
        c.serial ?? null,
        vault.encrypt(c.code.trim()),
        vault.hash(c.code),
        vault.mask(c.code.trim()),
        now,
        vault.keyId,
      ).lastInsertRowid,
    );
    byEntry.set(k, [...(byEntry.get(k) ?? []), id]);
  }
  let assigned = 0;
  for (const a of intentAllocations(db, intent.id)) {
    const line = lineById(db, a.line) as LineRow;
    const room = isOwed(line) ? Math.max(0, line.units - assignedCount(db, line.id)) : 0;
    const take = (byEntry.get(a.entryKey) ?? []).splice(0, Math.min(room, a.units));
    let next = nextUnitIndex(db, line.id);
    for (const id of take)
      db.prepare('UPDATE codes SET line = ?, unit_index = ? WHERE id = ?').run(line.id, next++, id);
    assigned += take.length;
  }
  const pooled = [...byEntry.values()].reduce((s, ids) => s + ids.length, 0);
  return { assigned, pooled };
}

export function undeliveredCodesOf(
  db: Db,
  line: number,
): { id: number; codeEnc: Buffer; entryKey: string; currency: string }[] {
  return db
    .prepare(
      `SELECT id, code_enc AS codeEnc, entry_key AS entryKey, currency FROM codes
       WHERE line = ? AND delivered_at IS NULL AND delivery_id IS NULL ORDER BY unit_index`,
    )
    .all(line) as { id: number; codeEnc: Buffer; entryKey: string; currency: string }[];
}

// ─── webhook events ─────────────────────────────────────────────────────────────────────────

/** Records a webhook event once; false when it was seen before (a redelivery). */
export function recordWebhookEvent(
  db: Db,
  source: string,
  eventId: string,
  subject: string,
  now: number,
): boolean {
  return (
    db
      .prepare(
        'INSERT INTO webhook_events (source, event_id, subject, received_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      )
      .run(source, eventId, subject, now).changes === 1
  );
}
