import { hostname } from 'node:os';
import type { Db } from './db/open.js';
import { maskCodesIn, scrub } from './redact.js';

/**
 * Conditions an operator must see in `status` until they clear. One open alert per
 * (kind, subject); raising it again updates the detail but keeps `since`. Opening and clearing
 * each put one message in the `alert_outbox` in the same transaction, which `alert-webhook.ts`
 * delivers to `alerts.webhookUrl`: a person hears of it once when raised, once when resolved.
 */

export interface Alert {
  kind: string;
  subject: string;
  since: number;
  detail: string;
}

/** Details pass the secret scrubber and lose anything code-like: they go to status, logs, chat. */
function clean(detail: string): string {
  return maskCodesIn(scrub(detail));
}

const title = (kind: string, subject: string) => `${kind}${subject ? ` ${subject}` : ''}`;

/** The webhook text (Slack-compatible: plain text, one line per fact). */
export function alertText(
  event: 'raised' | 'resolved',
  a: Alert & { resolvedAt?: number },
  host = hostname(),
): string {
  if (event === 'raised') {
    return `:rotating_light: psnb2b-sync on ${host}: ALERT ${title(a.kind, a.subject)}\n${a.detail}\nsince ${new Date(a.since).toISOString()}`;
  }
  const openMin = Math.max(0, Math.round(((a.resolvedAt ?? a.since) - a.since) / 60_000));
  return `:white_check_mark: psnb2b-sync on ${host}: RESOLVED ${title(a.kind, a.subject)}\nwas: ${a.detail}\nopen ${openMin} min since ${new Date(a.since).toISOString()}`;
}

// Each is IMMEDIATE on its own, a savepoint inside a caller's transaction.
function enqueue(db: Db, alertId: number, event: 'raised' | 'resolved', text: string, now: number): void {
  db.prepare(
    `INSERT INTO alert_outbox (alert_id, event, text, created_at, next_try_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (alert_id, event) DO NOTHING`,
  ).run(alertId, event, text, now, now);
}

export function raiseAlert(db: Db, kind: string, subject: string, detail: string, now = Date.now()): void {
  const text = clean(detail);
  db.transaction(() => {
    const open = db
      .prepare('SELECT id FROM alerts WHERE kind = ? AND subject = ? AND resolved_at IS NULL')
      .get(kind, subject) as { id: number } | undefined;
    if (open) {
      db.prepare('UPDATE alerts SET detail = ? WHERE id = ?').run(text, open.id);
      return;
    }
    const id = Number(
      db
        .prepare('INSERT INTO alerts (kind, subject, since, detail) VALUES (?, ?, ?, ?)')
        .run(kind, subject, now, text).lastInsertRowid,
    );
    enqueue(db, id, 'raised', alertText('raised', { kind, subject, since: now, detail: text }), now);
  }).immediate();
}

export function resolveAlert(db: Db, kind: string, subject = '', now = Date.now()): boolean {
  return db
    .transaction(() => {
      const open = db
        .prepare(
          'SELECT id, since, detail FROM alerts WHERE kind = ? AND subject = ? AND resolved_at IS NULL',
        )
        .get(kind, subject) as { id: number; since: number; detail: string } | undefined;
      if (!open) return false;
      db.prepare('UPDATE alerts SET resolved_at = ? WHERE id = ?').run(now, open.id);
      enqueue(
        db,
        open.id,
        'resolved',
        alertText('resolved', { kind, subject, ...open, resolvedAt: now }),
        now,
      );
      return true;
    })
    .immediate();
}

export function openAlerts(db: Db): Alert[] {
  return db
    .prepare('SELECT kind, subject, since, detail FROM alerts WHERE resolved_at IS NULL ORDER BY since, id')
    .all() as Alert[];
}
