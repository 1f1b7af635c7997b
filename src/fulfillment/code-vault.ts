import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CODES_KEY_HINT, codesKeyProblem, decodeCodesKey } from '../../config/codes-key.js';
import { type Db, getKv, setKv } from '../db/open.js';
import { ConfigError } from '../errors.js';
import { maskCode, registerSecret } from '../redact.js';

/**
 * Codes are bearer value: whoever reads one can spend it. They are stored AES-256-GCM
 * encrypted under `codesKey`, which never enters the database; an HMAC of each code (same key)
 * gives uniqueness and lookup without decrypting. A key check value in the database turns a
 * wrong key into a clear start-up error instead of undecryptable codes later.
 */

const KEY_CHECK = 'codes-key-check';
const CHECK_PLAINTEXT = 'psnb2b-sync codes key check v1';

export function parseCodesKey(value: string | undefined): Buffer {
  if (!value) {
    throw new ConfigError(
      'codesKey',
      `is required for fulfillment: 32 random bytes, base64 or hex (${CODES_KEY_HINT})`,
    );
  }
  const problem = codesKeyProblem(value);
  if (problem) throw new ConfigError('codesKey', problem);
  registerSecret(value);
  return decodeCodesKey(value);
}

export class CodeVault {
  constructor(private readonly key: Buffer) {}

  encrypt(code: string): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(code, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }

  decrypt(blob: Buffer): string {
    const decipher = createDecipheriv('aes-256-gcm', this.key, blob.subarray(0, 12));
    decipher.setAuthTag(blob.subarray(12, 28));
    return Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]).toString('utf8');
  }

  /** Keyed hash: equal codes collide (UNIQUE), and nobody without the key can test guesses. */
  hash(code: string): string {
    return createHmac('sha256', this.key).update(code.trim().toUpperCase()).digest('hex');
  }

  mask(code: string): string {
    return maskCode(code);
  }

  /** First use stores a check value; later uses must decrypt it, or the key is wrong. */
  verifyAgainst(db: Db): void {
    const stored = getKv(db, KEY_CHECK);
    if (!stored) {
      setKv(db, KEY_CHECK, this.encrypt(CHECK_PLAINTEXT).toString('base64'));
      return;
    }
    let ok = false;
    try {
      const plain = Buffer.from(this.decrypt(Buffer.from(stored, 'base64')));
      const want = Buffer.from(CHECK_PLAINTEXT);
      ok = plain.length === want.length && timingSafeEqual(plain, want);
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new ConfigError(
        'codesKey',
        'does not match the key the stored codes were encrypted with: restore the original codesKey (codes cannot be read without it)',
      );
    }
  }
}
