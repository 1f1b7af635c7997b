import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { CODES_KEY_HINT, codesKeyProblem, decodeCodesKey } from '../../config/codes-key.js';
import { type Db, getKv, immediate, setKv } from '../db/open.js';
import { ConfigError } from '../errors.js';
import { maskCode, registerSecret } from '../redact.js';

/**
 * Codes are bearer value: whoever reads one can spend it. They are stored AES-256-GCM
 * encrypted under `codesKey`, which never enters the database; an HMAC of each code (same key)
 * gives uniqueness and lookup without decrypting. A key check value in the database turns a
 * wrong key into a clear start-up error instead of undecryptable codes later.
 *
 * Each code row names its key by a fingerprint (`key_id`), and so does the check value
 * (`codes-key-id`): `keys rotate` (key-rotation.ts) moves rows to a new key batch by batch, and
 * while one is unfinished no key may serve the database.
 */

const KEY_CHECK = 'codes-key-check';
const KEY_ID = 'codes-key-id';
const CHECK_PLAINTEXT = 'psnb2b-sync codes key check v1';

/** A rotation of `keys rotate`: from one key id to another, the new key kept in `file`. */
export interface RotationRecord {
  from: string;
  to: string;
  file: string;
}

/** kv keys of the rotation under way, and of the last one finished. */
const ROTATION = { unfinished: 'codes-key-rotation', finished: 'codes-key-rotated' } as const;

export function rotationRecord(db: Db, which: keyof typeof ROTATION): RotationRecord | null {
  const raw = getKv(db, ROTATION[which]);
  return raw ? (JSON.parse(raw) as RotationRecord) : null;
}

/** Call inside a transaction. Null clears it. */
export function setRotationRecord(db: Db, which: keyof typeof ROTATION, record: RotationRecord | null): void {
  if (record) setKv(db, ROTATION[which], JSON.stringify(record));
  else db.prepare('DELETE FROM kv WHERE key = ?').run(ROTATION[which]);
}

/** A key's name in the database and in messages: 8 hex digits of a domain-separated SHA-256, never the key. */
export function codesKeyId(key: Buffer): string {
  return createHash('sha256').update('psnb2b-sync codes key id v1\0').update(key).digest('hex').slice(0, 8);
}

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
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    this.keyId = codesKeyId(key);
  }

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

  /** Whether this key opens the stored check value (true when there is none yet). */
  opensCheckValue(db: Db): boolean {
    const stored = getKv(db, KEY_CHECK);
    if (!stored) return true;
    try {
      const plain = Buffer.from(this.decrypt(Buffer.from(stored, 'base64')));
      const want = Buffer.from(CHECK_PLAINTEXT);
      return plain.length === want.length && timingSafeEqual(plain, want);
    } catch {
      return false;
    }
  }

  /** Makes this key the one the check value is under. Call inside a transaction. */
  writeCheckValue(db: Db): void {
    setKv(db, KEY_CHECK, this.encrypt(CHECK_PLAINTEXT).toString('base64'));
    setKv(db, KEY_ID, this.keyId);
  }

  /**
   * First use stores a check value; later uses must decrypt it, or the key is wrong. Rows stored
   * before key ids are named for this key once it has proved to be theirs.
   */
  verifyAgainst(db: Db): void {
    const unfinished = rotationRecord(db, 'unfinished');
    if (unfinished) {
      throw new ConfigError(
        'codesKey',
        `a key rotation (key id ${unfinished.from} → ${unfinished.to}) is unfinished: run \`psnb2b-sync keys rotate\` again to finish it, with codesKey still the key with id ${unfinished.from}`,
      );
    }
    if (!this.opensCheckValue(db)) throw this.wrongKey(db);
    if (getKv(db, KEY_CHECK) && getKv(db, KEY_ID) === this.keyId) return;
    immediate(db, () => {
      if (!getKv(db, KEY_CHECK)) this.writeCheckValue(db);
      else setKv(db, KEY_ID, this.keyId);
      db.prepare('UPDATE codes SET key_id = ? WHERE key_id IS NULL').run(this.keyId);
    });
  }

  private wrongKey(db: Db): ConfigError {
    const stored = getKv(db, KEY_ID);
    const rotated = rotationRecord(db, 'finished');
    if (rotated && rotated.to === stored) {
      return new ConfigError(
        'codesKey',
        `(key id ${this.keyId}) no longer opens the stored codes: \`keys rotate\` re-encrypted the stored codes under key id ${rotated.to}, kept in ${rotated.file}: set codesKey to its contents, then start again`,
      );
    }
    return new ConfigError(
      'codesKey',
      `does not match the key the stored codes were encrypted with (codesKey has key id ${this.keyId}${stored ? `, the codes are under key id ${stored}` : ''}): restore the original codesKey (codes cannot be read without it)`,
    );
  }
}
