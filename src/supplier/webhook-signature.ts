import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * `X-PSNB2B-Signature: sha256=<hex HMAC-SHA256 of the raw body>` (assumed by the wire
 * contract). The sandbox signs with it; the webhook route verifies with it, over the raw bytes
 * exactly as received (a re-serialised body would not match).
 */

export const SIGNATURE_HEADER = 'x-psnb2b-signature';

export function signWebhookBody(rawBody: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'mismatch' };

/** Constant-time comparison; a missing or malformed header is a failure, never a pass. */
export function verifyWebhookSignature(
  rawBody: string | Buffer,
  header: string | string[] | undefined,
  secret: string,
): SignatureCheck {
  if (header === undefined || header === '') return { ok: false, reason: 'missing' };
  if (Array.isArray(header)) return { ok: false, reason: 'malformed' };
  const m = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (!m?.[1]) return { ok: false, reason: 'malformed' };
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const given = Buffer.from(m[1], 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected)
    ? { ok: true }
    : { ok: false, reason: 'mismatch' };
}
