import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { codesKeyProblem, decodeCodesKey } from '../../config/codes-key.js';
import { type Db, immediate } from '../db/open.js';
import { ConfigError, DatabaseError } from '../errors.js';
import { ownerOnlyDir } from '../owner-only.js';
import { registerSecret } from '../redact.js';
import { CodeVault, type RotationRecord, rotationRecord, setRotationRecord } from './code-vault.js';

/**
 * `keys rotate`: every stored code re-encrypted under a new codesKey. Crash-safe by order:
 * 1. the new key is written to its own file (0600, fsynced) beside the database;
 * 2. the rotation is recorded (from → to, the file), so no key may serve the database meanwhile;
 * 3. batches of rows, one IMMEDIATE transaction each: decrypt under the key the row names,
 *    encrypt under the new key, its lookup hash (keyed) recomputed, the row renamed to the new key;
 * 4. one last transaction moves the check value to the new key and ends the rotation.
 * A `kill -9` anywhere leaves every row readable under the key it names; running again resumes
 * with the key in the file. A code whose ciphertext the reaper erased has nothing to re-encrypt:
 * it keeps the old key's hash and id (its hash cannot be recomputed without the code).
 */

export type RotationPlan =
  | { kind: 'start' }
  | ({ kind: 'resume' } & RotationRecord)
  | { kind: 'refuse'; reason: string };

/** What to do, given the key the config names and the rotation under way (if any). */
export function planRotation(input: {
  configKeyId: string;
  inProgress: RotationRecord | null;
}): RotationPlan {
  const { configKeyId: key, inProgress: r } = input;
  if (!r) return { kind: 'start' };
  if (key === r.from) return { kind: 'resume', ...r };
  const finish = `set codesKey back to the key with id ${r.from} until \`psnb2b-sync keys rotate\` has finished`;
  return {
    kind: 'refuse',
    reason:
      key === r.to
        ? `codesKey is already the new key (id ${r.to}), but the rotation from key id ${r.from} is unfinished: ${finish}`
        : `codesKey (id ${key}) is neither the key the rotation started from (id ${r.from}) nor the new one (id ${r.to}): ${finish}`,
  };
}

export interface StoredCipher {
  id: number;
  keyId: string | null;
  codeEnc: Buffer;
}

export interface RekeyedRow {
  id: number;
  codeEnc: Buffer;
  codeHash: string;
  keyId: string;
}

export type BatchResult =
  | { kind: 'ok'; updates: RekeyedRow[] }
  | { kind: 'unreadable'; id: number; keyId: string | null };

/**
 * One batch: rows under another key of `ring` move to `target`; rows already there and erased
 * ones (no ciphertext) are left alone. A row no key of the ring opens stops the batch.
 */
export function rekeyBatch(
  rows: readonly StoredCipher[],
  ring: ReadonlyMap<string, CodeVault>,
  target: CodeVault,
): BatchResult {
  const updates: RekeyedRow[] = [];
  for (const r of rows) {
    if (r.keyId === target.keyId || r.codeEnc.length === 0) continue;
    let code: string;
    try {
      const vault = r.keyId === null ? undefined : ring.get(r.keyId);
      if (!vault) return { kind: 'unreadable', id: r.id, keyId: r.keyId };
      code = vault.decrypt(r.codeEnc);
    } catch {
      return { kind: 'unreadable', id: r.id, keyId: r.keyId };
    }
    updates.push({
      id: r.id,
      codeEnc: target.encrypt(code),
      codeHash: target.hash(code),
      keyId: target.keyId,
    });
  }
  return { kind: 'ok', updates };
}

export function rotationKeyFile(keyDir: string, keyId: string): string {
  return path.join(keyDir, `codes-key-${keyId}`);
}

/** The new key, on disk before any row depends on it: created 0600, never overwritten, fsynced with its folder. */
function writeKeyFile(file: string, key: Buffer): void {
  ownerOnlyDir(path.dirname(file));
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, `${key.toString('base64')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

function readKeyFile(r: RotationRecord): CodeVault {
  const again = 'then run `psnb2b-sync keys rotate` again (codes already moved are under that key)';
  if (!existsSync(r.file)) {
    throw new DatabaseError(
      `${r.file} (the new codesKey, id ${r.to}) is missing: restore it from your backup, ${again}`,
    );
  }
  const text = readFileSync(r.file, 'utf8').trim();
  registerSecret(text);
  const vault = codesKeyProblem(text) ? null : new CodeVault(decodeCodesKey(text));
  if (vault?.keyId !== r.to) {
    throw new DatabaseError(
      `${r.file} does not hold the new codesKey (id ${r.to}): restore that file, ${again}`,
    );
  }
  return vault;
}

export interface RotateOptions {
  db: Db;
  /** The config's codesKey: the key the codes are under when the rotation starts. */
  configKey: Buffer;
  /** Where the new key's file goes (the database's folder). */
  keyDir: string;
  batchSize: number;
  /** After each committed batch: codes moved so far in this run, of how many. */
  onProgress?: (done: number, total: number) => void;
}

export interface RotationOutcome extends RotationRecord {
  kind: 'rotated';
  /** Codes re-encrypted by this run. */
  rekeyed: number;
  /** Erased codes (no ciphertext) left under the old key's id and hash. */
  erased: number;
  /** Whether this run finished a rotation an earlier run started. */
  resumed: boolean;
}

/** Runs (or resumes) a rotation to the end. Call holding the run lock, with no daemon on the database. */
export function rotateCodesKey(o: RotateOptions): RotationOutcome {
  const { db } = o;
  const current = new CodeVault(o.configKey);
  const plan = planRotation({ configKeyId: current.keyId, inProgress: rotationRecord(db, 'unfinished') });
  if (plan.kind === 'refuse') throw new ConfigError('codesKey', plan.reason);
  let record: RotationRecord;
  let target: CodeVault;
  if (plan.kind === 'start') {
    current.verifyAgainst(db);
    const key = randomBytes(32);
    registerSecret(key.toString('base64'));
    target = new CodeVault(key);
    record = { from: current.keyId, to: target.keyId, file: rotationKeyFile(o.keyDir, target.keyId) };
    writeKeyFile(record.file, key);
    immediate(db, () => setRotationRecord(db, 'unfinished', record));
  } else {
    const { kind: _, ...r } = plan;
    record = r;
    target = readKeyFile(record);
    if (!current.opensCheckValue(db)) {
      throw new ConfigError('codesKey', `(key id ${current.keyId}) does not open the stored check value`);
    }
  }

  const ring = new Map([
    [current.keyId, current],
    [target.keyId, target],
  ]);
  const pending = 'FROM codes WHERE length(code_enc) > 0 AND key_id IS NOT ?';
  const total = (db.prepare(`SELECT COUNT(*) AS n ${pending}`).get(target.keyId) as { n: number }).n;
  const next = db.prepare(
    `SELECT id, key_id AS keyId, code_enc AS codeEnc ${pending} AND id > ? ORDER BY id LIMIT ?`,
  );
  const update = db.prepare('UPDATE codes SET code_enc = ?, code_hash = ?, key_id = ? WHERE id = ?');
  let after = 0;
  let done = 0;
  for (;;) {
    const n = immediate(db, () => {
      const rows = next.all(target.keyId, after, o.batchSize) as StoredCipher[];
      const out = rekeyBatch(rows, ring, target);
      if (out.kind === 'unreadable') {
        throw new DatabaseError(
          `code row ${out.id} (key id ${out.keyId ?? 'none'}) does not open under key id ${current.keyId} or ${target.keyId}: rotation stopped; every row still names the key it is under`,
        );
      }
      for (const u of out.updates) update.run(u.codeEnc, u.codeHash, u.keyId, u.id);
      after = rows.at(-1)?.id ?? after;
      return rows.length;
    });
    if (n === 0) break;
    done += n;
    o.onProgress?.(done, total);
  }

  immediate(db, () => {
    const left = (db.prepare(`SELECT COUNT(*) AS n ${pending}`).get(target.keyId) as { n: number }).n;
    if (left > 0)
      throw new DatabaseError(`${left} code(s) are still under the old key: run keys rotate again`);
    target.writeCheckValue(db);
    setRotationRecord(db, 'unfinished', null);
    setRotationRecord(db, 'finished', record);
  });
  const erased = (
    db
      .prepare('SELECT COUNT(*) AS n FROM codes WHERE length(code_enc) = 0 AND key_id IS NOT ?')
      .get(target.keyId) as {
      n: number;
    }
  ).n;
  return { kind: 'rotated', ...record, rekeyed: done, erased, resumed: plan.kind === 'resume' };
}
