import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeCodesKey } from '../../config/codes-key.js';
import { openDb } from '../../src/db/open.js';
import { CodeVault, codesKeyId } from '../../src/fulfillment/code-vault.js';
import { isKnownCode } from '../../src/fulfillment/fulfillment-ledger.js';
import { planRotation, rekeyBatch, rotateCodesKey } from '../../src/fulfillment/key-rotation.js';
import { maskCode } from '../../src/redact.js';
import { keyFilesIn, newCode, seedCodes, storedCodes } from '../helpers/stored-codes.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * `keys rotate`: every stored code re-encrypted under a new codesKey, batch by batch, each batch
 * one transaction; every row names the key it is under, so an interrupted rotation leaves every
 * code readable and a second run finishes it.
 */

const dirs: { remove: () => void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});
function dir(): string {
  const t = tempDir('keys');
  dirs.push(t);
  return t.dir;
}

describe('the rotation plan', () => {
  it('starts when no rotation is unfinished, and resumes one only under the key it started from', () => {
    expect(planRotation({ configKeyId: 'aaaa0001', inProgress: null })).toEqual({ kind: 'start' });
    const inProgress = { from: 'aaaa0001', to: 'bbbb0002', file: '/db/codes-key-bbbb0002' };
    expect(planRotation({ configKeyId: 'aaaa0001', inProgress })).toEqual({ kind: 'resume', ...inProgress });
    const early = planRotation({ configKeyId: 'bbbb0002', inProgress });
    expect(early.kind).toBe('refuse');
    expect(early.kind === 'refuse' && early.reason).toMatch(
      /codesKey is already the new key \(id bbbb0002\).*set codesKey back to the key with id aaaa0001 until `psnb2b-sync keys rotate` has finished/,
    );
    const other = planRotation({ configKeyId: 'cccc0003', inProgress });
    expect(other.kind === 'refuse' && other.reason).toMatch(
      /codesKey \(id cccc0003\) is neither the key the rotation started from \(id aaaa0001\)/,
    );
  });
});

describe('one batch', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const oldVault = new CodeVault(oldKey);
  const newVault = new CodeVault(newKey);
  const ring = new Map([
    [oldVault.keyId, oldVault],
    [newVault.keyId, newVault],
  ]);

  it('re-encrypts rows under another key of the ring, with the new lookup hash and key id; skips done and erased rows', () => {
    const code = newCode();
    const rows = [
      { id: 1, keyId: oldVault.keyId, codeEnc: oldVault.encrypt(code) },
      { id: 2, keyId: newVault.keyId, codeEnc: newVault.encrypt(newCode()) },
      { id: 3, keyId: oldVault.keyId, codeEnc: Buffer.alloc(0) },
    ];
    const out = rekeyBatch(rows, ring, newVault);
    expect(out.kind).toBe('ok');
    if (out.kind !== 'ok') return;
    expect(out.updates.map((u) => u.id)).toEqual([1]);
    const [u] = out.updates;
    expect(u?.keyId).toBe(newVault.keyId);
    expect(newVault.decrypt(u?.codeEnc as Buffer)).toBe(code);
    expect(u?.codeHash).toBe(newVault.hash(code));
    expect(u?.codeHash).not.toBe(oldVault.hash(code));
  });

  it('stops at a row it cannot read, naming the row and its key id, never the code', () => {
    const code = newCode();
    const stranger = new CodeVault(randomBytes(32));
    const unknown = rekeyBatch(
      [{ id: 7, keyId: stranger.keyId, codeEnc: stranger.encrypt(code) }],
      ring,
      newVault,
    );
    expect(unknown).toEqual({ kind: 'unreadable', id: 7, keyId: stranger.keyId });
    const tampered = oldVault.encrypt(code);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    expect(rekeyBatch([{ id: 8, keyId: oldVault.keyId, codeEnc: tampered }], ring, newVault)).toEqual({
      kind: 'unreadable',
      id: 8,
      keyId: oldVault.keyId,
    });
  });

  it('names a key by a short fingerprint that is not the key', () => {
    const id = codesKeyId(oldKey);
    expect(id).toMatch(/^[0-9a-f]{8}$/);
    expect(oldKey.toString('hex')).not.toContain(id);
    expect(codesKeyId(newKey)).not.toBe(id);
  });
});

describe('rotating a real database', () => {
  it('puts every code under the new key in batches; lookups match; the old key is refused with the fix', () => {
    const oldKey = randomBytes(32);
    const seeded = seedCodes(dir(), oldKey, 7, { erase: 2 });
    const db = openDb(seeded.file);
    try {
      const progress: number[] = [];
      const outcome = rotateCodesKey({
        db,
        configKey: oldKey,
        keyDir: path.dirname(seeded.file),
        batchSize: 2,
        onProgress: (done) => progress.push(done),
      });
      expect(outcome).toMatchObject({
        kind: 'rotated',
        from: codesKeyId(oldKey),
        rekeyed: 5,
        erased: 2,
        resumed: false,
      });
      expect(progress).toEqual([2, 4, 5]);
      expect(path.dirname(outcome.file)).toBe(path.dirname(seeded.file));
      expect(statSync(outcome.file).mode & 0o777).toBe(0o600);
      const newKey = decodeCodesKey(readFileSync(outcome.file, 'utf8'));
      expect(codesKeyId(newKey)).toBe(outcome.to);
      expect(JSON.stringify(outcome)).not.toContain(newKey.toString('base64'));

      const newVault = new CodeVault(newKey);
      const oldVault = new CodeVault(oldKey);
      for (const row of storedCodes(db)) {
        const code = seeded.codes.get(row.id) as string;
        expect(row.masked).toBe(maskCode(code));
        if (seeded.erased.has(row.id)) {
          // Nothing to re-encrypt: its hash stays the old key's, and the row says so.
          expect(row.codeEnc.length).toBe(0);
          expect(row.keyId).toBe(oldVault.keyId);
          expect(row.codeHash).toBe(oldVault.hash(code));
          continue;
        }
        expect(row.keyId).toBe(newVault.keyId);
        expect(newVault.decrypt(row.codeEnc)).toBe(code);
        expect(row.codeHash).toBe(newVault.hash(code));
        expect(isKnownCode(db, newVault, code)).toBe(true);
      }

      expect(() => newVault.verifyAgainst(db)).not.toThrow();
      expect(() => oldVault.verifyAgainst(db)).toThrow(
        new RegExp(
          `^codesKey: .*key id ${outcome.from}.*\`keys rotate\` re-encrypted the stored codes under key id ${outcome.to}, kept in ${outcome.file}: set codesKey to its contents`,
        ),
      );
      // Run again with the config not yet updated: the same clear error, and no new key.
      expect(() =>
        rotateCodesKey({ db, configKey: oldKey, keyDir: path.dirname(seeded.file), batchSize: 2 }),
      ).toThrow(/set codesKey to its contents/);
      expect(keyFilesIn(path.dirname(seeded.file))).toHaveLength(1);
    } finally {
      db.close();
    }
  });

  /** A rotation of `n` codes stopped right after its first batch of `batchSize` committed. */
  function interrupted(n: number, batchSize: number) {
    const oldKey = randomBytes(32);
    const seeded = seedCodes(dir(), oldKey, n);
    const keyDir = path.dirname(seeded.file);
    const db = openDb(seeded.file);
    expect(() =>
      rotateCodesKey({
        db,
        configKey: oldKey,
        keyDir,
        batchSize,
        onProgress: () => {
          throw new Error('crash after the first batch');
        },
      }),
    ).toThrow('crash after the first batch');
    const [keyFile, ...more] = keyFilesIn(keyDir);
    expect(more).toEqual([]);
    return { oldKey, seeded, keyDir, db, keyFile: keyFile as string };
  }

  it('an interrupted rotation leaves every code readable under the key its row names, refuses to serve, and resumes', () => {
    const { oldKey, seeded, keyDir, db, keyFile } = interrupted(9, 3);
    try {
      const newKey = decodeCodesKey(readFileSync(keyFile, 'utf8'));
      const ring = new Map([oldKey, newKey].map((k) => [codesKeyId(k), new CodeVault(k)]));
      const rows = storedCodes(db);
      expect(rows.filter((r) => r.keyId === codesKeyId(newKey))).toHaveLength(3);
      for (const r of rows)
        expect(ring.get(r.keyId as string)?.decrypt(r.codeEnc)).toBe(seeded.codes.get(r.id));

      // Neither key may serve a half-rotated database.
      for (const k of [oldKey, newKey]) {
        expect(() => new CodeVault(k).verifyAgainst(db)).toThrow(
          /^codesKey: a key rotation .* is unfinished: run `psnb2b-sync keys rotate` again to finish it/,
        );
      }

      const outcome = rotateCodesKey({ db, configKey: oldKey, keyDir, batchSize: 3 });
      expect(outcome).toMatchObject({ kind: 'rotated', to: codesKeyId(newKey), rekeyed: 6, resumed: true });
      for (const r of storedCodes(db)) {
        expect(r.keyId).toBe(codesKeyId(newKey));
        expect(new CodeVault(newKey).decrypt(r.codeEnc)).toBe(seeded.codes.get(r.id));
      }
      expect(() => new CodeVault(newKey).verifyAgainst(db)).not.toThrow();
    } finally {
      db.close();
    }
  });

  it('refuses to resume when the new key file is gone, and changes nothing', () => {
    const { oldKey, keyDir, db, keyFile } = interrupted(4, 1);
    try {
      const saved = readFileSync(keyFile);
      rmSync(keyFile);
      const before = storedCodes(db);
      expect(() => rotateCodesKey({ db, configKey: oldKey, keyDir, batchSize: 1 })).toThrow(
        new RegExp(`${keyFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*is missing: restore it`),
      );
      expect(storedCodes(db)).toEqual(before);
      writeFileSync(keyFile, saved, { mode: 0o600 });
      expect(rotateCodesKey({ db, configKey: oldKey, keyDir, batchSize: 1 }).kind).toBe('rotated');
      expect(existsSync(keyFile)).toBe(true);
    } finally {
      db.close();
    }
  });

  it('names rows stored before key ids after the key opens the check value', () => {
    const key = randomBytes(32);
    const seeded = seedCodes(dir(), key, 2);
    const db = openDb(seeded.file);
    try {
      // As a database from before key ids is: rows without one, the check value without its id.
      db.prepare('UPDATE codes SET key_id = NULL').run();
      db.prepare("DELETE FROM kv WHERE key = 'codes-key-id'").run();
      new CodeVault(key).verifyAgainst(db);
      expect(storedCodes(db).map((r) => r.keyId)).toEqual([codesKeyId(key), codesKeyId(key)]);
    } finally {
      db.close();
    }
  });
});
