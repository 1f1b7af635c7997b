import http from 'node:http';
import https from 'node:https';
import type { Db } from './db/open.js';
import type { Logger } from './log.js';

/**
 * Delivers the `alert_outbox` (filled by raiseAlert/resolveAlert) to `alerts.webhookUrl` as
 * Slack-compatible `{"text": …}` JSON. A guarded timer (`tick()`) drains it in order, one
 * message at a time, off the pipeline: a slow or dead receiver never holds a purchase back. A failed message waits
 * with jittered exponential backoff (capped), and is given up after `maxAgeMs` with an error
 * in the log; delivered and given-up rows are reaped after a week. Rows are marked sent only
 * after a 2xx, so a crash in between sends that one message again (at least once, never lost).
 */

export interface AlertWebhookOptions {
  db: Db;
  /** Null: no webhook configured, so nothing waits to be sent (pending messages are dropped). */
  url: string | null;
  log: Logger;
  now?: () => number;
  random?: () => number;
  /** First retry delay (doubles per attempt, jittered 50–100 %). Default 5 s. */
  baseDelayMs?: number;
  /** Retry delay ceiling. Default 5 min. */
  maxDelayMs?: number;
  /** A message not delivered within this long is given up. Default 24 h. */
  maxAgeMs?: number;
  timeoutMs?: number;
}

const REAP_AFTER_MS = 7 * 24 * 3_600_000;

interface OutboxRow {
  id: number;
  text: string;
  attempts: number;
  created_at: number;
  next_try_at: number;
}

export type PostOutcome = { ok: true } | { ok: false; error: string };

/** One POST; the URL (a credential) never appears in the error. */
function postJson(url: string, body: string, timeoutMs: number): Promise<PostOutcome> {
  const target = new URL(url);
  const lib = target.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const req = lib.request(
      target,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          resolve(status >= 200 && status < 300 ? { ok: true } : { ok: false, error: `HTTP ${status}` });
        });
        res.on('error', (e) =>
          resolve({ ok: false, error: (e as NodeJS.ErrnoException).code ?? 'read error' }),
        );
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) =>
      resolve({ ok: false, error: (e as NodeJS.ErrnoException).code ?? 'network error' }),
    );
    req.end(body);
  });
}

export class AlertWebhook {
  private running: Promise<void> | null = null;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxAgeMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: AlertWebhookOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.baseDelayMs = opts.baseDelayMs ?? 5_000;
    this.maxDelayMs = opts.maxDelayMs ?? 300_000;
    this.maxAgeMs = opts.maxAgeMs ?? 24 * 3_600_000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** One timer tick: a drain, unless one is still running (then that one). */
  tick(): Promise<void> {
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Waits for the message in flight (bounded by its timeout); the caller has stopped the timer. */
  async stop(): Promise<void> {
    await this.running?.catch(() => {});
  }

  /** Sends what is due, oldest first; stops at the first failure so messages keep their order. */
  async drain(): Promise<void> {
    const { db, url } = this.opts;
    this.reap();
    if (url === null) {
      db.prepare('DELETE FROM alert_outbox WHERE sent_at IS NULL AND gave_up_at IS NULL').run();
      return;
    }
    const oldest = db.prepare(
      `SELECT id, text, attempts, created_at, next_try_at FROM alert_outbox
       WHERE sent_at IS NULL AND gave_up_at IS NULL ORDER BY id LIMIT 1`,
    );
    for (;;) {
      const row = oldest.get() as OutboxRow | undefined;
      if (!row || row.next_try_at > this.now()) return;
      const outcome = await postJson(url, JSON.stringify({ text: row.text }), this.timeoutMs);
      if (outcome.ok) {
        db.prepare('UPDATE alert_outbox SET sent_at = ?, attempts = attempts + 1 WHERE id = ?').run(
          this.now(),
          row.id,
        );
        continue;
      }
      this.failed(row, outcome.error);
      return;
    }
  }

  private failed(row: OutboxRow, error: string): void {
    const at = this.now();
    const attempts = row.attempts + 1;
    if (at - row.created_at >= this.maxAgeMs) {
      this.opts.db
        .prepare('UPDATE alert_outbox SET attempts = ?, last_error = ?, gave_up_at = ? WHERE id = ?')
        .run(attempts, error, at, row.id);
      this.opts.log.error(`alert webhook: gave up on a message after ${attempts} attempts (${error})`, {
        component: 'alerts',
      });
      return;
    }
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempts - 1));
    const delay = Math.round(ceiling * (0.5 + 0.5 * this.random()));
    this.opts.db
      .prepare('UPDATE alert_outbox SET attempts = ?, last_error = ?, next_try_at = ? WHERE id = ?')
      .run(attempts, error, at + delay, row.id);
    this.opts.log.warn(`alert webhook: not delivered (${error}); next try in ${Math.round(delay / 1000)} s`, {
      component: 'alerts',
    });
  }

  private reap(): void {
    this.opts.db
      .prepare('DELETE FROM alert_outbox WHERE COALESCE(sent_at, gave_up_at) < ?')
      .run(this.now() - REAP_AFTER_MS);
  }
}
