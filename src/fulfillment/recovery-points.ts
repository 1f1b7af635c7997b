import type { Db } from '../db/open.js';
import { AppError } from '../errors.js';

/**
 * The money path as data. Every row of the four tables below sits at one named point, and moves
 * only along the edges listed here, through `advance()` (in the transaction that did the work
 * that reached the new point). After a crash the pipeline re-enters each row exactly where its
 * point says. The database backs this table with a CHECK on every state column (migrations.ts;
 * test/fulfillment/state-machine.test.ts keeps the two equal), and the tests seed a row at each
 * point and check the resume (test/fulfillment/recovery-points.test.ts).
 *
 * To add a point: add it here with its moves, then append a migration that rebuilds the table
 * with the new CHECK list (`rebuildWithStateChecks` in migrations.ts).
 */

interface PointSpec {
  /** The points this one may move to. */
  readonly to: readonly string[];
  /** Nothing more happens to a row here. */
  readonly terminal: boolean;
  /** A row may be created at this point. */
  readonly initial?: boolean;
  /** What the pipeline does with a row found here. */
  readonly resume: string;
}

const LINE = {
  open: {
    to: ['held', 'delivered', 'dropped'],
    terminal: false,
    initial: true,
    resume: 'buy what it still needs, assign codes, deliver',
  },
  held: {
    // held → held: another reason replaces ours (e.g. an operator's abandon of a balance hold).
    to: ['open', 'held', 'delivered', 'dropped'],
    terminal: false,
    initial: true,
    resume: 'counted as sold, not bought; waits for its hold reason’s release rule',
  },
  delivered: { to: [], terminal: true, resume: 'none: every owed unit is in the shop order' },
  dropped: { to: [], terminal: true, resume: 'none: cancelled or refunded before any code was delivered' },
} as const satisfies Record<string, PointSpec>;

const INTENT = {
  created: {
    to: ['sending', 'superseded'],
    terminal: false,
    initial: true,
    resume: 'items frozen, key chosen, supplier not called: send',
  },
  sending: {
    // sending → sending: the same key goes again (keys honoured); → created: provably never sent.
    to: ['sending', 'created', 'ordered', 'parked', 'rejected', 'superseded'],
    terminal: false,
    resume: 'the request may have left: retry under the same key if keys are honoured, else park',
  },
  ordered: {
    to: ['stored', 'parked', 'superseded'],
    terminal: false,
    resume: 'poll the supplier order; fetch and store the codes when delivered',
  },
  parked: {
    to: ['ordered', 'superseded', 'abandoned'],
    terminal: false,
    resume: 'wait for an operator (`orders resolve`)',
  },
  stored: { to: [], terminal: true, resume: 'none: codes stored encrypted and assigned' },
  rejected: { to: [], terminal: true, resume: 'none: the supplier refused; its lines are free' },
  superseded: { to: [], terminal: true, resume: 'none: a newer intent took its lines' },
  abandoned: { to: [], terminal: true, resume: 'none: an operator gave up on it; its lines are held' },
} as const satisfies Record<string, PointSpec>;

const DELIVERY = {
  pending: {
    // → cancelled: the order was refunded or cancelled before any write could have reached it.
    to: ['done', 'failed', 'cancelled'],
    terminal: false,
    initial: true,
    resume: 'read the order again, then run the adapter’s steps after the one named in `step`',
  },
  failed: {
    to: ['pending', 'abandoned', 'cancelled'],
    terminal: false,
    resume: 'wait for an operator (`orders retry-delivery` / `orders abandon-delivery`); codes kept',
  },
  done: { to: [], terminal: true, resume: 'none: every write is in the shop order' },
  cancelled: { to: [], terminal: true, resume: 'none: nothing was written; its codes were freed' },
  abandoned: {
    to: [],
    terminal: true,
    resume: 'none: an operator gave up on it; codes that cannot have reached the buyer went to the pool',
  },
} as const satisfies Record<string, PointSpec>;

const CLAIM = {
  sending: {
    to: ['open', 'failed', 'unknown'],
    terminal: false,
    initial: true,
    resume: 'the claim may have left: its outcome is unknown',
  },
  open: { to: [], terminal: true, resume: 'none: the supplier holds it' },
  failed: { to: ['sending'], terminal: false, resume: 'the operator may file it again' },
  unknown: {
    to: ['sending'],
    terminal: false,
    resume: 'filed again under its key only where keys are honoured',
  },
} as const satisfies Record<string, PointSpec>;

export const RECOVERY_POINTS = {
  line: LINE,
  intent: INTENT,
  delivery: DELIVERY,
  claim: CLAIM,
} as const;

export type RowKind = keyof typeof RECOVERY_POINTS;
export type PointOf<K extends RowKind> = keyof (typeof RECOVERY_POINTS)[K] & string;
export type LinePoint = PointOf<'line'>;
export type IntentPoint = PointOf<'intent'>;
export type DeliveryPoint = PointOf<'delivery'>;
export type ClaimPoint = PointOf<'claim'>;

/** The table and key column each kind lives in. */
export const ROW_TABLES: Record<RowKind, { table: string; id: string; updatedAt: boolean }> = {
  line: { table: 'shop_lines', id: 'id', updatedAt: true },
  intent: { table: 'purchase_intents', id: 'id', updatedAt: true },
  delivery: { table: 'deliveries', id: 'id', updatedAt: false },
  claim: { table: 'claims', id: 'id', updatedAt: false },
};

export function pointsOf(kind: RowKind): string[] {
  return Object.keys(RECOVERY_POINTS[kind]);
}

function specOf(kind: RowKind, point: string): PointSpec | undefined {
  return (RECOVERY_POINTS[kind] as Record<string, PointSpec>)[point];
}

export function terminalPoints<K extends RowKind>(kind: K): PointOf<K>[] {
  return pointsOf(kind).filter((p) => specOf(kind, p)?.terminal) as PointOf<K>[];
}

export function canMove(kind: RowKind, from: string, to: string): boolean {
  return specOf(kind, from)?.to.includes(to) === true;
}

/** A state write the tables above do not allow, or one that lost a race: a bug, never retried. */
export class StateMoveError extends AppError {
  constructor(
    readonly rowKind: RowKind,
    readonly row: string | number,
    readonly from: string,
    readonly to: string,
    readonly reason: 'illegal' | 'lost-race' | 'not-initial',
  ) {
    super(
      'internal',
      reason === 'illegal'
        ? `${rowKind} ${row}: ${from} → ${to} is not an allowed move`
        : reason === 'not-initial'
          ? `${rowKind} ${row}: a row cannot be created at ${to}`
          : `${rowKind} ${row}: expected at ${from} to move to ${to}, but it was no longer there`,
    );
  }
}

/** A row at a point this program does not know (a newer program's, or a bug). */
export class UnknownPointError extends AppError {
  constructor(
    readonly rowKind: RowKind,
    readonly row: string | number,
    readonly point: string,
  ) {
    super('internal', `${rowKind} ${row} is at unknown point "${point}"`);
  }
}

/** Raises for a point the table does not name; the completers' `default:` branch. */
export function unknownPoint(kind: RowKind, row: string | number, point: never | string): never {
  throw new UnknownPointError(kind, row, String(point));
}

/** Refuses to create a row at a point that is not initial. Call before the INSERT. */
export function assertInitial(kind: RowKind, row: string | number, point: string): void {
  if (!specOf(kind, point)?.initial) throw new StateMoveError(kind, row, '(new)', point, 'not-initial');
}

/**
 * The one state write of the money path: refuses a move the table does not list, and updates
 * only while the row is still at `from`, so a lost race raises instead of overwriting.
 * Call inside the transaction that did the work reaching `to`.
 */
export function advance<K extends RowKind>(
  db: Db,
  kind: K,
  row: string | number,
  from: PointOf<K>,
  to: PointOf<K>,
  now = Date.now(),
): void {
  if (!canMove(kind, from, to)) throw new StateMoveError(kind, row, from, to, 'illegal');
  const t = ROW_TABLES[kind];
  const stamp = t.updatedAt ? ', updated_at = ?' : '';
  const args: unknown[] = t.updatedAt ? [to, now, row, from] : [to, row, from];
  const changed = db
    .prepare(`UPDATE ${t.table} SET state = ?${stamp} WHERE ${t.id} = ? AND state = ?`)
    .run(...args).changes;
  if (changed !== 1) throw new StateMoveError(kind, row, from, to, 'lost-race');
}

/** Intents whose units count as ordered at the supplier (they leave "sold but not ordered"). */
export const ACCEPTED_INTENT_POINTS: readonly IntentPoint[] = ['ordered', 'stored'];
/** Intents that still hold their lines' units (those units are not free to buy again). */
export const ACTIVE_INTENT_POINTS: readonly IntentPoint[] = ['created', 'sending', 'ordered', 'parked'];
/** Lines still owed something. */
export const OWED_LINE_POINTS: readonly LinePoint[] = ['open', 'held'];

/**
 * Our hold reasons (the `hold_reason` column), each with the note the buyer reads with it (null:
 * none). Each has its own release rule (design-notes "Holds, and what releases each one"), applied
 * by `releaseHolds` (fulfillment-job.ts) or by an operator:
 * - `balance`, `min-balance`: a 402 or the balance guard; released one line at a time, oldest
 *   first, as a fresh balance covers it.
 * - `out-of-stock`: the supplier has too few; released when the feed moves and covers it, or a
 *   backoff retry comes due (src/inventory/supplier-shortfalls.ts).
 * - `rejected`: any other 4xx, or a 409 we cannot read; never re-bought by itself (`orders approve`).
 * - `review`: over a spending limit; `orders approve` or `orders reject`.
 * - `unknown-entry`, `duplicate-sku`: released when the feed lists the entry, or one product carries the SKU.
 * - `max-wait`: a note to the buyer; the line is still delivered. `abandoned`: an operator gave up its purchase.
 */
export const HOLD_NOTES = {
  balance: 'Your order is confirmed; your codes are being prepared and will arrive shortly.',
  'min-balance': 'Your order is confirmed; your codes are being prepared and will arrive shortly.',
  'out-of-stock':
    'Your order is confirmed; this card is being restocked and your codes will follow as soon as it is.',
  rejected: null,
  review: 'Your order is being checked; your codes will follow as soon as it is confirmed.',
  'unknown-entry': null,
  'duplicate-sku': null,
  'max-wait':
    'Sorry for the wait: your codes are delayed. We are on it and will deliver them as soon as possible.',
  abandoned: null,
} as const satisfies Record<string, string | null>;

export type HoldReason = keyof typeof HOLD_NOTES;

/** Balance-type holds: released by the same rule, each with its own alert. */
export const BALANCE_HOLDS: readonly HoldReason[] = ['balance', 'min-balance'];

/** The note that goes with an order an operator rejected (`orders reject`): the merchant refunds. */
export const REJECTED_ORDER_NOTE =
  'Sorry, we cannot fulfil this order. No codes will be sent, and your payment will be refunded.';
