import type { Db } from './db/open.js';
import { scrub } from './redact.js';

/**
 * Conditions an operator must see in `status` until they clear. One open alert per
 * (kind, subject); raising it again updates the detail but keeps `since`.
 */

export interface Alert {
  kind: string;
  subject: string;
  since: number;
  detail: string;
}

export function raiseAlert(db: Db, kind: string, subject: string, detail: string, now = Date.now()): void {
  db.prepare(
    `INSERT INTO alerts (kind, subject, since, detail) VALUES (?, ?, ?, ?)
     ON CONFLICT (kind, subject) WHERE resolved_at IS NULL DO UPDATE SET detail = excluded.detail`,
  ).run(kind, subject, now, scrub(detail));
}

export function resolveAlert(db: Db, kind: string, subject = '', now = Date.now()): boolean {
  return (
    db
      .prepare('UPDATE alerts SET resolved_at = ? WHERE kind = ? AND subject = ? AND resolved_at IS NULL')
      .run(now, kind, subject).changes > 0
  );
}

export function openAlerts(db: Db): Alert[] {
  return db
    .prepare('SELECT kind, subject, since, detail FROM alerts WHERE resolved_at IS NULL ORDER BY since, id')
    .all() as Alert[];
}
