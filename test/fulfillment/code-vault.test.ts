import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate, openDb } from '../../src/db/open.js';
import { ConfigError } from '../../src/errors.js';
import { CodeVault, parseCodesKey } from '../../src/fulfillment/code-vault.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('code vault', () => {
  it('round-trips a code and never stores it in the clear', () => {
    const vault = new CodeVault(randomBytes(32));
    const blob = vault.encrypt('7QXK-M2PA-R9TD');
    expect(blob.toString('latin1')).not.toContain('7QXK');
    expect(vault.decrypt(blob)).toBe('7QXK-M2PA-R9TD');
    expect(vault.hash('7qxk-m2pa-r9td ')).toBe(vault.hash('7QXK-M2PA-R9TD'));
  });

  it('cannot read a code with another key', () => {
    const blob = new CodeVault(randomBytes(32)).encrypt('7QXK-M2PA-R9TD');
    expect(() => new CodeVault(randomBytes(32)).decrypt(blob)).toThrow();
  });

  it('accepts 32-byte keys in base64 or hex and names the key otherwise', () => {
    expect(parseCodesKey(randomBytes(32).toString('base64'))).toHaveLength(32);
    expect(parseCodesKey(randomBytes(32).toString('hex'))).toHaveLength(32);
    expect(() => parseCodesKey(randomBytes(16).toString('base64'))).toThrow(/codesKey: must be 32 bytes/);
    expect(() => parseCodesKey(undefined)).toThrow(ConfigError);
  });

  it('refuses to start with a key other than the one the stored codes were encrypted with', () => {
    const db = openDb(path.join(tempDir('vault').dir, 'sync.db'));
    migrate(db);
    new CodeVault(randomBytes(32)).verifyAgainst(db);
    expect(() => new CodeVault(randomBytes(32)).verifyAgainst(db)).toThrow(/does not match the key/);
    db.close();
  });
});
