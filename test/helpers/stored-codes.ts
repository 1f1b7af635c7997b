import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { type Db, immediate, migrate, openDb } from '../../src/db/open.js';
import { CodeVault, codesKeyId } from '../../src/fulfillment/code-vault.js';
import { maskCode } from '../../src/redact.js';

/**
 * A real database file holding `n` codes encrypted under `key`, stored as the daemon stores them
 * (ciphertext, keyed lookup hash, mask, the key's id), and the check value of that key. Some may
 * be erased as the reaper leaves them (ciphertext gone, hash and mask kept).
 */

export function newCode(): string {
  const part = () => Array.from(randomBytes(4), (b) => 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'[b % 32]).join('');
  return `${part()}-${part()}-${part()}`;
}

export interface SeededCodes {
  file: string;
  /** Plaintext by row id (erased rows included: their hash still names them). */
  codes: Map<number, string>;
  erased: Set<number>;
}

export function seedCodes(dir: string, key: Buffer, n: number, opts: { erase?: number } = {}): SeededCodes {
  const file = path.join(dir, 'data', 'sync.db');
  const db = openDb(file);
  try {
    migrate(db);
    const vault = new CodeVault(key);
    vault.verifyAgainst(db);
    const codes = new Map<number, string>();
    const erased = new Set<number>();
    immediate(db, () => {
      db.prepare(
        `INSERT INTO purchase_intents (id, idempotency_key, state, items, total_cents, created_at, updated_at)
         VALUES ('seed-intent', 'seed-key', 'stored', '[]', 0, 1, 1)`,
      ).run();
      const ins = db.prepare(
        `INSERT INTO codes (intent_id, supplier_order_id, entry_key, currency, code_enc, code_hash, masked, stored_at, key_id)
         VALUES ('seed-intent', 'seed-order', 'US:50', 'USD', ?, ?, ?, 1, ?)`,
      );
      for (let i = 0; i < n; i++) {
        const code = newCode();
        const erase = i < (opts.erase ?? 0);
        const id = Number(
          ins.run(
            erase ? Buffer.alloc(0) : vault.encrypt(code),
            vault.hash(code),
            maskCode(code),
            codesKeyId(key),
          ).lastInsertRowid,
        );
        codes.set(id, code);
        if (erase) erased.add(id);
      }
    });
    return { file, codes, erased };
  } finally {
    db.close();
  }
}

export interface StoredCodeRow {
  id: number;
  codeEnc: Buffer;
  codeHash: string;
  masked: string;
  keyId: string | null;
}

export function storedCodes(db: Db): StoredCodeRow[] {
  return db
    .prepare(
      'SELECT id, code_enc AS codeEnc, code_hash AS codeHash, masked, key_id AS keyId FROM codes ORDER BY id',
    )
    .all() as StoredCodeRow[];
}

/** The key files `keys rotate` wrote into `dir` (the database's folder). */
export function keyFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('codes-key-'))
    .map((f) => path.join(dir, f));
}
