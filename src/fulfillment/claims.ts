import { randomUUID } from 'node:crypto';
import { immediate } from '../db/open.js';
import { describeSafeError, toSafeError, UsageError } from '../errors.js';
import { maskCode } from '../redact.js';
import { claimRequestSchema, MAX_CLAIM_DESCRIPTION } from '../supplier/wire.js';
import type { FulfillmentContext } from './fulfillment-context.js';
import { getLine } from './fulfillment-ledger.js';
import { advance, assertInitial, type ClaimPoint } from './recovery-points.js';

/**
 * Code-support claims: within 7 days (168 h) of the supplier's own delivery time, less a
 * safety margin, a code delivered to a shop line can be claimed. Outside the window the claim
 * is refused here, clearly, before anything is sent.
 */

export const CLAIM_WINDOW_MS = 168 * 3_600_000;
/** Claims are refused this long before the supplier's window closes (clock skew, slow answers). */
export const CLAIM_MARGIN_MS = 30 * 60_000;

export interface ClaimRequest {
  store: string;
  orderId: string;
  lineId: string;
  code: string;
  errorCode: string;
  description?: string | undefined;
}

export type ClaimOutcome =
  | { kind: 'filed'; claimId: string; supplierClaimId: string; windowClosesAt: string; masked: string }
  | { kind: 'already-filed'; claimId: string; supplierClaimId: string | null; masked: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'failed'; reason: string };

/** The operator's input, checked before anything is looked up or recorded. */
function checkClaimInput(code: string, req: ClaimRequest): void {
  if (!code) throw new UsageError('no code on stdin');
  if (!/^[A-Za-z0-9-]{3,64}$/.test(req.errorCode))
    throw new UsageError('--error-code: letters, digits and - only');
  if (req.description !== undefined && req.description.length > MAX_CLAIM_DESCRIPTION) {
    throw new UsageError(
      `--description: at most ${MAX_CLAIM_DESCRIPTION} characters (got ${req.description.length})`,
    );
  }
}

/**
 * A wrong code and a claim the supplier did not take get one answer, word for word: a claim's
 * answer must never confirm a guessed code. Which of them it was goes to the log only.
 */
export const NOT_FILED =
  'no claim was filed, or its outcome is unknown: the code is not one delivered to that line, or the supplier did not take the claim (the log says which; check with the supplier before filing again)';

function notFiled(ctx: FulfillmentContext, detail: string): ClaimOutcome {
  ctx.log.warn(`claim not filed: ${detail}`, { component: 'claims' });
  return { kind: 'failed', reason: NOT_FILED };
}

export async function fileClaim(ctx: FulfillmentContext, req: ClaimRequest): Promise<ClaimOutcome> {
  const { db } = ctx;
  const code = req.code.trim();
  checkClaimInput(code, req);
  const line = getLine(db, req.store, req.orderId, req.lineId);
  if (!line)
    return {
      kind: 'refused',
      reason: `no line ${req.lineId} of order ${req.orderId} in ${req.store} was ours`,
    };
  const row = db
    .prepare(
      `SELECT c.id, c.supplier_order_id AS supplierOrderId, c.delivered_at AS deliveredAt, pi.supplier_delivered_at AS supplierDeliveredAt
       FROM codes c JOIN purchase_intents pi ON pi.id = c.intent_id WHERE c.code_hash = ? AND c.line = ?`,
    )
    .get(ctx.vault.hash(code), line.id) as
    | { id: number; supplierOrderId: string; deliveredAt: number | null; supplierDeliveredAt: number | null }
    | undefined;
  const masked = maskCode(code);
  if (!row?.deliveredAt) return notFiled(ctx, `code ${masked} was not delivered to that line`);
  const from = row.supplierDeliveredAt ?? row.deliveredAt;
  const closesAt = from + CLAIM_WINDOW_MS - CLAIM_MARGIN_MS;
  const existing = db
    .prepare(
      'SELECT id, idempotency_key AS key, state, supplier_claim_id AS supplierClaimId FROM claims WHERE code_id = ?',
    )
    .get(row.id) as
    | { id: string; key: string; state: ClaimPoint; supplierClaimId: string | null }
    | undefined;
  // A claim whose outcome was unknown may go again under its own key where the supplier honours keys.
  const retryable =
    existing?.state === 'failed' || (ctx.settings.honoursIdempotencyKeys && existing?.state === 'unknown');
  if (existing && !retryable) {
    return { kind: 'already-filed', claimId: existing.id, supplierClaimId: existing.supplierClaimId, masked };
  }
  if (ctx.now() > closesAt) {
    return {
      kind: 'refused',
      reason: `the 7-day claim window for ${masked} closed at ${new Date(closesAt).toISOString()} (delivered by the supplier ${new Date(from).toISOString()})`,
    };
  }
  const request = {
    orderId: row.supplierOrderId,
    code,
    errorCode: req.errorCode,
    ...(req.description && { description: req.description }),
  };
  // What the supplier would refuse to read is refused here, before a row is committed `sending`.
  const wire = claimRequestSchema.safeParse(request);
  if (!wire.success)
    throw new UsageError(
      `invalid claim: ${wire.error.issues[0]?.path.join('.')} ${wire.error.issues[0]?.message}`,
    );
  const claim = existing ?? { id: randomUUID(), key: randomUUID() };
  immediate(db, () => {
    if (existing) {
      advance(db, 'claim', existing.id, existing.state, 'sending');
      db.prepare('UPDATE claims SET error_code = ?, description = ? WHERE id = ?').run(
        req.errorCode,
        req.description ?? null,
        existing.id,
      );
      return;
    }
    assertInitial('claim', claim.id, 'sending');
    db.prepare(
      `INSERT INTO claims (id, idempotency_key, code_id, supplier_order_id, error_code, description, state, window_closes_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, 'sending', ?, ?)`,
    ).run(
      claim.id,
      claim.key,
      row.id,
      row.supplierOrderId,
      req.errorCode,
      req.description ?? null,
      closesAt,
      ctx.now(),
    );
  });
  const result = await ctx.supplier.createClaim(request, { idempotencyKey: claim.key });
  const set = (state: ClaimPoint, supplierClaimId: string | null, error: unknown) =>
    immediate(db, () => {
      advance(db, 'claim', claim.id, 'sending', state);
      db.prepare('UPDATE claims SET supplier_claim_id = ?, last_error = ? WHERE id = ?').run(
        supplierClaimId,
        error ? JSON.stringify(toSafeError(error)) : null,
        claim.id,
      );
    });
  switch (result.kind) {
    case 'created':
      set('open', result.claim.id, null);
      return {
        kind: 'filed',
        claimId: claim.id,
        supplierClaimId: result.claim.id,
        windowClosesAt: new Date(closesAt).toISOString(),
        masked,
      };
    case 'rejected':
      set('failed', null, result.error);
      return notFiled(ctx, `the supplier refused the claim: ${describeSafeError(toSafeError(result.error))}`);
    case 'not-sent':
      set('failed', null, result.error);
      return notFiled(
        ctx,
        `the supplier could not be reached (nothing was filed): ${describeSafeError(toSafeError(result.error))}`,
      );
    case 'unknown':
      // The same key goes again on the next try where keys are honoured, so it is never filed twice.
      set('unknown', null, result.error);
      return notFiled(
        ctx,
        `the outcome is unknown (${describeSafeError(toSafeError(result.error))}); check with the supplier before filing again`,
      );
  }
}
