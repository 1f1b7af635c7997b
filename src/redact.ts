/**
 * Masking for the two kinds of bearer value this process holds: secrets (API keys, tokens,
 * consumer secrets, the codes key) and gift-card codes. Every string that leaves the process
 * through a log line, a stored error or `status` passes `scrub()` first.
 */

const secrets = new Set<string>();

/** Secrets shorter than this are not scrubbed by substring (too many false hits); none of ours are. */
const MIN_SECRET_LENGTH = 6;

export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= MIN_SECRET_LENGTH) secrets.add(value);
}

/** `ck_1234567890abcdef` → `ck_1…cdef`; short values become `***`. */
export function maskSecret(value: string): string {
  if (value.length <= 10) return '***';
  return `${value.slice(0, 4)}…${value.slice(-4)}`;
}

/** `7QXK-M2PA-R9TD` → `…R9TD`: its last 4 characters, enough to match a complaint, never to spend or guess. */
export function maskCode(code: string): string {
  const c = code.trim();
  return c.length <= 8 ? '***' : `…${c.slice(-4)}`;
}

/** Something that looks like a gift-card code (`7QXK-M2PA-R9TD`). */
const CODE_LIKE = /\b[A-Z0-9]{4,5}(?:-[A-Z0-9]{4,5}){2,4}\b/g;

/** Masks everything code-like inside free text (a supplier's problem text, an alert). */
export function maskCodesIn(text: string): string {
  return text.replace(CODE_LIKE, (m) => maskCode(m));
}

/** Replaces every registered secret (and bearer/basic credentials) inside free text. */
export function scrub(text: string): string {
  let out = text;
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join(maskSecret(s));
  }
  return out
    .replace(/(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/g, '$1 ***')
    .replace(/(consumer_(?:key|secret)|oauth_signature|access_token|api_key)=[^&\s"']+/gi, '$1=***');
}
