/**
 * Which network errors prove a request never left. Only an error raised before the connection
 * could carry a byte of it: resolving the host, the TCP connect, the TLS handshake. A code alone
 * proves nothing — Linux reports EHOSTUNREACH or ETIMEDOUT for an *established* connection whose
 * retransmits died, after the request was written — so each code must come with the phase
 * (`syscall`) it was raised in. Anything else is an unknown outcome.
 */

/** Raised by `connect()` (or creating its socket): the connection never opened. */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EMFILE',
  'ENFILE',
  'ENOBUFS',
  'EADDRNOTAVAIL',
  'EADDRINUSE',
  'EACCES',
  'EPERM',
  'ETIMEDOUT',
]);

/** Name resolution (`getaddrinfo`, or c-ares `query*`): no address, so no connection. */
const DNS_SYSCALL = /^(getaddrinfo|query)/;

/** The TLS handshake refused the server's certificate: it precedes any request byte. */
const TLS_REFUSALS = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Codes a wrapper (axios) puts on top of the socket's own error; they add no evidence. */
const WRAPPER_CODES = new Set(['ERR_NETWORK', 'ERR_BAD_RESPONSE']);

interface Coded {
  code: string;
  syscall: string | undefined;
}

/** Every coded error in the chain: the error, its causes, and (Happy Eyeballs) each address tried. */
function codedErrors(e: unknown): Coded[] {
  const out: Coded[] = [];
  const visit = (x: unknown, depth: number) => {
    if (!x || typeof x !== 'object' || depth > 4) return;
    const { code, syscall } = x as { code?: unknown; syscall?: unknown };
    if (typeof code === 'string') {
      out.push({ code, syscall: typeof syscall === 'string' ? syscall : undefined });
    }
    visit((x as { cause?: unknown }).cause, depth + 1);
    const errors = (x as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const inner of errors) visit(inner, depth + 1);
  };
  visit(e, 0);
  return out;
}

function beforeSending(c: Coded): boolean {
  if (TLS_REFUSALS.has(c.code)) return true;
  if (c.syscall === undefined) return false;
  if (DNS_SYSCALL.test(c.syscall)) return true;
  return c.syscall === 'connect' && CONNECT_FAILURES.has(c.code);
}

/**
 * True only when the chain holds proof that the request never left (a phase before sending)
 * and nothing in it says otherwise; a code without its phase (a wrapper's copy) counts only
 * when a proven error carries the same code.
 */
export function provesNotSent(e: unknown): boolean {
  const coded = codedErrors(e);
  const proven = coded.filter(beforeSending);
  if (proven.length === 0) return false;
  const provenCodes = new Set(proven.map((c) => c.code));
  return coded.every(
    (c) =>
      beforeSending(c) || (c.syscall === undefined && (provenCodes.has(c.code) || WRAPPER_CODES.has(c.code))),
  );
}

/** The distinct codes of the chain, most precise first (for messages). */
export function networkErrorCodes(e: unknown): string[] {
  const codes = [...new Set(codedErrors(e).map((c) => c.code))];
  const precise = codes.filter((c) => !WRAPPER_CODES.has(c));
  return precise.length ? precise : codes;
}
