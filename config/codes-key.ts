/** `codesKey`: 32 bytes, written as 64 hex digits or as base64. */
export function decodeCodesKey(value: string): Buffer {
  const trimmed = value.trim();
  return /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
}

export const CODES_KEY_HINT = 'generate one with `openssl rand -base64 32`';

/** Null when the key decodes to 32 bytes; else what is wrong (never the value). */
export function codesKeyProblem(value: string): string | null {
  const n = decodeCodesKey(value).length;
  return n === 32
    ? null
    : `must be 32 bytes, base64 or hex (got ${n} byte${n === 1 ? '' : 's'}): ${CODES_KEY_HINT}`;
}
