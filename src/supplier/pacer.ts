import { type Db, immediate } from '../db/open.js';

/**
 * The one pacer in front of every supplier call. Two rolling windows: `general` (every
 * endpoint but `POST /orders`) and `bulk` (`POST /orders`). Send times live in SQLite
 * (`pacer_sends`), so a process restarted after a crash does not spend the minute its
 * predecessor already spent, and a CLI running beside no daemon shares the same budget.
 * A `429 Retry-After` blocks a bucket until a time (`pacer_blocks`), also persisted.
 *
 * Within one process callers queue per bucket in arrival order: only the head of the queue
 * polls the database and sleeps, so a burst never turns into a thundering herd.
 *
 * The supplier counts a request when it arrives, which is somewhere between our departure and
 * our receiving the answer. A send is recorded at departure (so it counts at once) and moved
 * to the moment it settled by `ticket.settle()`: the window then never ends on our side before
 * it ended on the supplier's, however the latency of two bursts differs.
 */

export type PacerBucket = 'general' | 'bulk';

export interface PacerOptions {
  db: Db;
  /** Requests the supplier allows per window, per bucket (`requestsPerMinute`, `ordersPerMinute`). */
  limits: Record<PacerBucket, number>;
  /** Length of the rolling window; 60 000 ms against the live API, shorter in tests. */
  windowMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface PacerStats {
  /** Slots handed out. */
  taken: number;
  /** Times a caller had to wait for a slot or a block. */
  waits: number;
  waitedMs: number;
}

export const DEFAULT_WINDOW_MS = 60_000;

/**
 * The longest block a 429 can set: a `Retry-After` of days (a bad header, a misconfigured proxy)
 * would otherwise stop every supplier call, across restarts since blocks are persisted.
 */
export const MAX_BLOCK_MS = 300_000;

export function capBlockMs(ms: number): number {
  return Math.min(MAX_BLOCK_MS, Math.max(0, ms));
}

/** One recorded send. Call `settle()` once the answer (or the error) is in; calling it again is harmless. */
export interface PacerTicket {
  readonly bucket: PacerBucket;
  readonly sentAt: number;
  settle(): void;
}

/**
 * How many sends per window we allow ourselves: the limit less a margin of 5 % (at least one),
 * because the supplier counts arrivals and we count departures; never below one.
 */
export function pacedLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('a pacer limit must be a positive integer');
  return Math.max(1, limit - Math.max(1, Math.ceil(limit * 0.05)));
}

/** The last send recorded in `bucket` (this process or another on the same database), or null. */
export function lastSendAt(db: Db, bucket: PacerBucket): number | null {
  const row = db.prepare('SELECT MAX(at_ms) AS t FROM pacer_sends WHERE bucket = ?').get(bucket) as {
    t: number | null;
  };
  return row.t;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Pacer {
  readonly windowMs: number;
  readonly stats: PacerStats = { taken: 0, waits: 0, waitedMs: 0 };
  private readonly db: Db;
  private readonly paced: Record<PacerBucket, number>;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Per bucket, the promise the next caller in this process waits behind. */
  private readonly tails = new Map<PacerBucket, Promise<unknown>>();

  constructor(opts: PacerOptions) {
    this.db = opts.db;
    this.windowMs = opts.windowMs ?? DEFAULT_WINDOW_MS;
    if (!Number.isInteger(this.windowMs) || this.windowMs < 1) {
      throw new RangeError('pacer windowMs must be a positive integer');
    }
    this.paced = { general: pacedLimit(opts.limits.general), bulk: pacedLimit(opts.limits.bulk) };
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
  }

  /** Sends per window this pacer allows itself in `bucket`. */
  limit(bucket: PacerBucket): number {
    return this.paced[bucket];
  }

  /**
   * Waits for a free slot in `bucket`, then records the send. Call right before the request
   * goes out, and `settle()` the ticket when it has come back; every attempt (retries
   * included) takes its own slot.
   */
  take(bucket: PacerBucket): Promise<PacerTicket> {
    const prev: Promise<unknown> = this.tails.get(bucket) ?? Promise.resolve();
    const mine = prev.then(() => this.acquire(bucket));
    // A failed acquire (a database error) fails its caller only; the queue moves on.
    this.tails.set(
      bucket,
      mine.catch(() => undefined),
    );
    return mine;
  }

  /** After a 429: no sends in `bucket` before `untilMs` (epoch ms, at most MAX_BLOCK_MS ahead). Never shortens a block. */
  blockUntil(bucket: PacerBucket, untilMs: number): void {
    if (!Number.isFinite(untilMs)) return;
    const now = this.now();
    const until = now + capBlockMs(untilMs - now);
    immediate(this.db, () => {
      this.db
        .prepare(
          `INSERT INTO pacer_blocks (bucket, until_ms) VALUES (?, ?)
           ON CONFLICT (bucket) DO UPDATE SET until_ms = MIN(MAX(until_ms, excluded.until_ms), ?)`,
        )
        .run(bucket, Math.ceil(until), Math.ceil(now + MAX_BLOCK_MS));
    });
  }

  /** How long a send in `bucket` would wait now (0 = a slot is free). Reads only. */
  delayFor(bucket: PacerBucket): number {
    return this.computeDelay(bucket, this.now());
  }

  /** Sends recorded in the current window of `bucket`. */
  recentSends(bucket: PacerBucket): number {
    const row = this.db
      .prepare('SELECT COUNT(*) AS n FROM pacer_sends WHERE bucket = ? AND at_ms > ?')
      .get(bucket, this.now() - this.windowMs) as { n: number };
    return row.n;
  }

  private async acquire(bucket: PacerBucket): Promise<PacerTicket> {
    let waited = false;
    for (;;) {
      const r = this.tryTake(bucket);
      if (r.kind === 'taken') {
        this.stats.taken++;
        return this.ticket(bucket, r.rowid, r.at);
      }
      const wait = r.waitMs;
      if (!waited) this.stats.waits++;
      waited = true;
      this.stats.waitedMs += wait;
      await this.sleep(wait);
    }
  }

  private ticket(bucket: PacerBucket, rowid: number, sentAt: number): PacerTicket {
    let settled = false;
    return {
      bucket,
      sentAt,
      settle: () => {
        if (settled) return;
        settled = true;
        const at = Math.floor(this.now());
        // A single-row UPDATE is atomic on its own; no transaction needed.
        this.db.prepare('UPDATE pacer_sends SET at_ms = MAX(at_ms, ?) WHERE rowid = ?').run(at, rowid);
      },
    };
  }

  /** One IMMEDIATE transaction: prune, and either record a send or say how long to wait. */
  private tryTake(
    bucket: PacerBucket,
  ): { kind: 'taken'; rowid: number; at: number } | { kind: 'wait'; waitMs: number } {
    return immediate(this.db, () => {
      const now = Math.floor(this.now());
      this.db
        .prepare('DELETE FROM pacer_sends WHERE bucket = ? AND at_ms <= ?')
        .run(bucket, now - this.windowMs);
      this.db.prepare('DELETE FROM pacer_blocks WHERE bucket = ? AND until_ms <= ?').run(bucket, now);
      this.db
        .prepare('UPDATE pacer_blocks SET until_ms = ? WHERE bucket = ? AND until_ms > ?')
        .run(now + MAX_BLOCK_MS, bucket, now + MAX_BLOCK_MS);
      const delay = this.computeDelay(bucket, now);
      if (delay > 0) return { kind: 'wait' as const, waitMs: delay };
      const r = this.db.prepare('INSERT INTO pacer_sends (bucket, at_ms) VALUES (?, ?)').run(bucket, now);
      return { kind: 'taken' as const, rowid: Number(r.lastInsertRowid), at: now };
    });
  }

  private computeDelay(bucket: PacerBucket, now: number): number {
    const block = this.db.prepare('SELECT until_ms FROM pacer_blocks WHERE bucket = ?').get(bucket) as
      | { until_ms: number }
      | undefined;
    // Capped as read too: a block an earlier version stored uncapped.
    if (block && block.until_ms > now) return Math.ceil(capBlockMs(block.until_ms - now));
    const limit = this.paced[bucket];
    // The send that must leave the window before another fits: the limit-th most recent one.
    const row = this.db
      .prepare(
        `SELECT at_ms FROM pacer_sends WHERE bucket = ? AND at_ms > ?
         ORDER BY at_ms DESC LIMIT 1 OFFSET ?`,
      )
      .get(bucket, now - this.windowMs, limit - 1) as { at_ms: number } | undefined;
    if (!row) return 0;
    return Math.max(1, Math.ceil(row.at_ms + this.windowMs - now));
  }
}
