import { CLAIM_WINDOW_MS } from '../fulfillment/claims.js';
import { type IntentPoint, OWED_LINE_POINTS } from '../fulfillment/recovery-points.js';
import { INTERRUPTED } from '../inventory/interrupted-runs.js';
import { type Db, immediate } from './open.js';

/**
 * The reaper: nothing grows without bound. Rows that only record the past are deleted once they
 * are older than `retention.days`: webhook event ids, sync runs (the latest finished run of each
 * kind and store stays, not an interrupted one: `status` reads it), resolved alerts, and dead
 * intents (rejected, superseded, abandoned). A dead intent goes only when nothing still needs it:
 * no code came from it and none of its lines is still live.
 *
 * A delivered code is erased `retention.codesDays` after its claim window closed — its ciphertext
 * only: its hash stays (the same code offered again is still refused, never delivered twice) and
 * so does its masked form (what support sees). Codes not yet delivered (assigned or pooled) are
 * stock, never erased. An erased code's `code_enc` is empty.
 *
 * Deletes run in batches, each its own short transaction, so the daemon's other writers never
 * wait long behind the reaper.
 */

export interface RetentionConfig {
  days: number;
  codesDays: number;
}

export interface ReapReport {
  webhookEvents: number;
  syncRuns: number;
  alerts: number;
  intents: number;
  codesErased: number;
}

const DAY_MS = 86_400_000;
const BATCH = 1_000;

const inList = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(', ');

/** Intents that ended without codes; anything still pointing at one keeps it (see `runOnce`). */
export const DEAD_INTENT_POINTS: readonly IntentPoint[] = ['rejected', 'superseded', 'abandoned'];

export class Reaper {
  constructor(
    private readonly db: Db,
    private readonly retention: RetentionConfig,
    private readonly now: () => number = Date.now,
  ) {}

  runOnce(): ReapReport {
    const now = this.now();
    const cutoff = now - this.retention.days * DAY_MS;
    const codesCutoff = now - this.retention.codesDays * DAY_MS;
    return {
      webhookEvents: this.inBatches(
        `DELETE FROM webhook_events WHERE rowid IN
           (SELECT rowid FROM webhook_events WHERE received_at < ? LIMIT ${BATCH})`,
        cutoff,
      ),
      syncRuns: this.inBatches(
        `DELETE FROM sync_runs WHERE id IN
           (SELECT id FROM sync_runs WHERE started_at < ? AND id NOT IN
              (SELECT MAX(id) FROM sync_runs WHERE finished_at IS NOT NULL AND outcome IS NOT ?
               GROUP BY kind, store)
            LIMIT ${BATCH})`,
        cutoff,
        INTERRUPTED,
      ),
      alerts: this.inBatches(
        `DELETE FROM alerts WHERE id IN
           (SELECT id FROM alerts WHERE resolved_at IS NOT NULL AND resolved_at < ? LIMIT ${BATCH})`,
        cutoff,
      ),
      intents: this.deadIntents(cutoff),
      codesErased: this.inBatches(
        `UPDATE codes SET code_enc = x'' WHERE id IN
           (SELECT c.id FROM codes c JOIN purchase_intents pi ON pi.id = c.intent_id
            WHERE c.delivered_at IS NOT NULL AND length(c.code_enc) > 0
              AND COALESCE(pi.supplier_delivered_at, c.delivered_at) + ${CLAIM_WINDOW_MS} < ?
            LIMIT ${BATCH})`,
        codesCutoff,
      ),
    };
  }

  /** Runs a batched statement until a batch touches fewer rows than BATCH; returns the total. */
  private inBatches(sql: string, ...params: unknown[]): number {
    const stmt = this.db.prepare(sql);
    let total = 0;
    for (;;) {
      const n = immediate(this.db, () => stmt.run(...params).changes);
      total += n;
      if (n < BATCH) return total;
    }
  }

  /** Dead intents past the cutoff that no code and no live line refer to; their intent_lines go with them. */
  private deadIntents(cutoff: number): number {
    const pick = this.db.prepare(
      `SELECT pi.id FROM purchase_intents pi
       WHERE pi.state IN (${inList(DEAD_INTENT_POINTS)}) AND pi.updated_at < ?
         AND NOT EXISTS (SELECT 1 FROM codes c WHERE c.intent_id = pi.id)
         AND NOT EXISTS (SELECT 1 FROM intent_lines il JOIN shop_lines l ON l.id = il.line
                         WHERE il.intent_id = pi.id AND l.state IN (${inList(OWED_LINE_POINTS)}))
       LIMIT ${BATCH}`,
    );
    const dropLines = this.db.prepare('DELETE FROM intent_lines WHERE intent_id = ?');
    const dropIntent = this.db.prepare('DELETE FROM purchase_intents WHERE id = ?');
    let total = 0;
    for (;;) {
      const n = immediate(this.db, () => {
        const ids = pick.all(cutoff) as { id: string }[];
        for (const { id } of ids) {
          dropLines.run(id);
          dropIntent.run(id);
        }
        return ids.length;
      });
      total += n;
      if (n < BATCH) return total;
    }
  }
}
