import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/db/migrations.js';
import { migrate, openDb } from '../../src/db/open.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('stored code masks', () => {
  it('rows stored under the older 8-of-12 mask show only the last 4 after the migration', () => {
    const db = openDb(path.join(tempDir('mask').dir, 'live.db'));
    try {
      const before = MIGRATIONS.findIndex((m) => m.includes("'…' || substr(masked, -4)"));
      expect(before).toBeGreaterThan(0);
      db.pragma('foreign_keys = OFF');
      for (let v = 0; v < before; v++) db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${before}`);
      db.exec(`INSERT INTO purchase_intents (id, idempotency_key, state, items, total_cents, created_at, updated_at)
               VALUES ('i1', 'k1', 'stored', '[]', 4650, 1, 1)`);
      const insert = db.prepare(
        `INSERT INTO codes (intent_id, supplier_order_id, entry_key, currency, code_enc, code_hash, masked, stored_at)
         VALUES ('i1', 'so1', 'US:50', 'USD', x'00', ?, ?, 1)`,
      );
      insert.run('h1', '7QXK-…-R9TD');
      insert.run('h2', 'ABCD…WXYZ');
      insert.run('h3', '***');
      migrate(db);
      expect(db.prepare('SELECT masked FROM codes ORDER BY code_hash').pluck().all()).toEqual([
        '…R9TD',
        '…WXYZ',
        '***',
      ]);
    } finally {
      db.close();
    }
  });
});
