import { z } from 'zod';
import { parseUsdCents } from '../../config/usd.js';

/**
 * The PSN:B2B wire contract (/work/shared/psnb2b-wire-contract.md), and the only module that
 * knows its JSON shapes. Every supplier response is parsed here; money becomes integer cents
 * at parse time (`price` → `priceCents` …). Unknown extra fields are dropped, never an error.
 * A correction to the contract touches this file alone.
 */

// ---------------------------------------------------------------------------------------------
// Field types

/** A USD JSON number with at most two decimals → integer cents. */
export const usdCents = z.number().transform((n, ctx) => {
  const r = parseUsdCents(n);
  if (!r.ok) {
    ctx.issues.push({ code: 'custom', message: `USD amount ${r.reason}`, input: n });
    return z.NEVER;
  }
  return r.cents;
});

/** ISO 3166-1 alpha-2, upper case. */
export const region = z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code in upper case');
/** A positive face value in the region's currency (`250` TRY). */
export const denomination = z.number().positive('must be positive');
/** ISO 4217, upper case. */
export const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code in upper case');
export const timestamp = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' });
const id = z.string().min(1, 'must not be empty');

export const ORDER_STATUSES = ['pending', 'paid', 'delivered', 'failed'] as const;
export const orderStatus = z.enum(ORDER_STATUSES);
export type OrderStatus = z.infer<typeof orderStatus>;

/** The order state machine, as data: what each status may become next. */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending: ['paid', 'failed'],
  paid: ['delivered', 'failed'],
  delivered: [],
  failed: [],
};

// ---------------------------------------------------------------------------------------------
// GET /inventory

export const inventoryItemSchema = z
  .object({
    region,
    denomination,
    currency,
    price: usdCents,
    qty: z.number().int('must be an integer').nonnegative('must not be negative'),
  })
  .transform(({ price, ...rest }) => ({ ...rest, priceCents: price }));

export const inventorySchema = z
  .object({
    updatedAt: timestamp,
    items: z.array(inventoryItemSchema),
  })
  .superRefine((inv, ctx) => {
    // An entry is identified by region + denomination; two rows for one entry are ambiguous.
    const seen = new Set<string>();
    inv.items.forEach((it, i) => {
      const key = `${it.region}:${it.denomination}`;
      if (seen.has(key)) {
        ctx.addIssue({ code: 'custom', path: ['items', i], message: 'duplicate region + denomination' });
      }
      seen.add(key);
    });
  });

export type InventoryItem = z.infer<typeof inventoryItemSchema>;
export type Inventory = z.infer<typeof inventorySchema>;

// ---------------------------------------------------------------------------------------------
// GET /balance

export const balanceSchema = z
  .object({
    currency: z.literal('USD'),
    available: usdCents,
  })
  .transform(({ available, ...rest }) => ({ ...rest, availableCents: available }));

export type Balance = z.infer<typeof balanceSchema>;

// ---------------------------------------------------------------------------------------------
// POST /orders, GET /orders/{id}

export const orderLineSchema = z
  .object({
    region,
    denomination,
    qty: z.number().int('must be an integer').positive('must be positive'),
    unitPrice: usdCents,
  })
  .transform(({ unitPrice, ...rest }) => ({ ...rest, unitPriceCents: unitPrice }));

export const orderFailureSchema = z.object({
  code: z.string().min(1, 'must not be empty'),
  detail: z.string().optional(),
});

const orderFields = {
  id,
  status: orderStatus,
  createdAt: timestamp,
  reference: z.string().nullish(),
  total: usdCents,
  items: z.array(orderLineSchema).min(1, 'must list at least one item'),
  failure: orderFailureSchema.nullish(),
};

/** The `201` of `POST /orders`: `updatedAt` is not promised there. */
export const createdOrderSchema = z
  .object({ ...orderFields, updatedAt: timestamp.optional() })
  .transform(({ total, ...rest }) => ({ ...rest, totalCents: total }));

/** `GET /orders/{id}`: `updatedAt` is required, because the claim window runs from it. */
export const orderSchema = z
  .object({ ...orderFields, updatedAt: timestamp })
  .transform(({ total, ...rest }) => ({ ...rest, totalCents: total }));

export type OrderLine = z.infer<typeof orderLineSchema>;
export type OrderFailure = z.infer<typeof orderFailureSchema>;
export type CreatedOrder = z.infer<typeof createdOrderSchema>;
export type Order = z.infer<typeof orderSchema>;

// ---------------------------------------------------------------------------------------------
// GET /orders/{id}/codes

export const deliveredCodeSchema = z.object({
  region,
  denomination,
  code: z.string().min(1, 'must not be empty'),
  serial: z.string().min(1, 'must not be empty'),
});

export const orderCodesSchema = z.object({
  orderId: id,
  codes: z.array(deliveredCodeSchema),
});

export type DeliveredCode = z.infer<typeof deliveredCodeSchema>;
export type OrderCodes = z.infer<typeof orderCodesSchema>;

// ---------------------------------------------------------------------------------------------
// POST /claims

export const claimSchema = z.object({
  id,
  status: z.string().min(1, 'must not be empty'),
  createdAt: timestamp,
});

export type Claim = z.infer<typeof claimSchema>;

// ---------------------------------------------------------------------------------------------
// Errors: RFC 7807 problem+json, with the extension members the contract names

/** One entry of a 400/422 `errors` array. Its members are not fixed by the contract. */
export const problemFieldErrorSchema = z.looseObject({
  field: z.string().optional(),
  detail: z.string().optional(),
});

/** One shortage of a 409 on `POST /orders`. */
export const problemShortageSchema = z.looseObject({
  region: z.string().optional(),
  denomination: z.number().optional(),
  requested: z.number().optional(),
  available: z.number().optional(),
});

/**
 * Loose on purpose: a problem body is read to explain an error, and an odd member must not
 * hide the status it came with. Members of the wrong type are dropped by `readProblem`.
 */
export const problemSchema = z.looseObject({
  type: z.string().optional(),
  title: z.string().optional(),
  status: z.number().int().optional(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  errors: z.array(problemFieldErrorSchema).optional(),
  items: z.array(problemShortageSchema).optional(),
});

export type Problem = z.infer<typeof problemSchema>;

/**
 * A problem body, tolerantly: members of the wrong type are dropped one by one (never the
 * whole body), extension members are kept as they are. Undefined when the body is not an object.
 */
export function readProblem(json: unknown): Problem | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const raw = json as Record<string, unknown>;
  const out: Record<string, unknown> = { ...raw };
  for (const [key, member] of Object.entries(problemSchema.shape)) {
    const r = (member as z.ZodType).safeParse(raw[key]);
    if (r.success && r.data !== undefined) out[key] = r.data;
    else delete out[key];
  }
  return out as Problem;
}

// ---------------------------------------------------------------------------------------------
// Webhook: POST to our URL on each status transition

export const webhookEventSchema = z.object({
  event: z.literal('order.status_changed'),
  orderId: id,
  status: orderStatus,
  previousStatus: orderStatus,
  occurredAt: timestamp,
});

export type WebhookEvent = z.infer<typeof webhookEventSchema>;

// ---------------------------------------------------------------------------------------------
// Requests (what we send). Checked before sending, so a bug never reaches the supplier.

export const orderItemRequestSchema = z.strictObject({
  region,
  denomination,
  qty: z.number().int('must be an integer').positive('must be positive'),
});

export const createOrderRequestSchema = z.strictObject({
  items: z.array(orderItemRequestSchema).min(1, 'must list at least one item'),
  reference: z.string().min(1).max(200).optional(),
});

/** The longest claim description the supplier reads. */
export const MAX_CLAIM_DESCRIPTION = 2000;

export const claimRequestSchema = z.strictObject({
  orderId: id,
  code: z.string().min(1, 'must not be empty'),
  errorCode: z.string().min(1, 'must not be empty'),
  description: z.string().max(MAX_CLAIM_DESCRIPTION).optional(),
});

export type OrderItemRequest = z.infer<typeof orderItemRequestSchema>;
export type CreateOrderRequest = z.infer<typeof createOrderRequestSchema>;
export type ClaimRequest = z.infer<typeof claimRequestSchema>;

// ---------------------------------------------------------------------------------------------
// Validation results

/** The first issue of a failed parse: a field path (`items[3].price`) and what was expected. */
export interface WireIssue {
  field: string;
  message: string;
}

export type WireParse<T> = { ok: true; value: T } | { ok: false; issue: WireIssue; issues: number };

/** `['items', 3, 'price']` → `items[3].price`; the body itself is `(body)`. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(body)';
}

/**
 * Parses `input` with `schema`. The result names the field and the expectation only: zod's
 * messages describe types and expectations, never the value received, so it is safe to log.
 */
export function parseWire<S extends z.ZodType>(schema: S, input: unknown): WireParse<z.output<S>> {
  const r = schema.safeParse(input);
  if (r.success) return { ok: true, value: r.data };
  const first = r.error.issues[0];
  return {
    ok: false,
    issue: { field: formatFieldPath(first?.path ?? []), message: first?.message ?? 'invalid' },
    issues: r.error.issues.length,
  };
}
