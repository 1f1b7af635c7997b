/**
 * Our order meta, pure. `_psnb2b_delivery` keeps the documented top-level fields for the
 * latest delivery (`deliveryId, supplierOrderIds, deliveredAt, lines`), with `lines` the
 * cumulative units per line item over every delivery, and `deliveries` listing every delivery
 * id already counted, so a repeated step is recognised and never counted twice. No codes.
 */

export const DELIVERY_META_KEY = '_psnb2b_delivery';
export const HOLD_META_KEY = '_psnb2b_hold';

export interface DeliveryMeta {
  deliveryId: string;
  supplierOrderIds: string[];
  deliveredAt: string;
  /** Cumulative units delivered by us, per line item id. */
  lines: Record<string, number>;
  /** Every delivery already recorded, oldest first. */
  deliveries: string[];
}

export interface HoldMeta {
  reason: string;
  at: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads the stored value leniently but never guesses: PHP hands an empty `lines` back as `[]`,
 * and numbers may come back as strings. An unreadable value is an error (a field path, no value).
 */
export function parseDeliveryMeta(value: unknown): { meta: DeliveryMeta } | { error: string } {
  if (!isObject(value)) return { error: 'is not an object' };
  const { deliveryId, supplierOrderIds, deliveredAt, lines, deliveries } = value;
  if (typeof deliveryId !== 'string' || deliveryId === '') return { error: 'deliveryId' };
  const out: Record<string, number> = {};
  if (isObject(lines)) {
    for (const [k, v] of Object.entries(lines)) {
      const n = typeof v === 'string' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return { error: `lines.${k}` };
      out[k] = n;
    }
  } else if (!(Array.isArray(lines) && lines.length === 0)) return { error: 'lines' };
  const ids = Array.isArray(deliveries) ? deliveries.filter((d): d is string => typeof d === 'string') : [];
  if (!ids.includes(deliveryId)) ids.push(deliveryId);
  return {
    meta: {
      deliveryId,
      supplierOrderIds: Array.isArray(supplierOrderIds) ? supplierOrderIds.map(String) : [],
      deliveredAt: typeof deliveredAt === 'string' ? deliveredAt : '',
      lines: out,
      deliveries: ids,
    },
  };
}

/** Adds one delivery's units; the caller has checked it is not already counted. */
export function mergeDelivery(
  previous: DeliveryMeta | undefined,
  delivery: {
    deliveryId: string;
    supplierOrderIds: string[];
    deliveredAt: string;
    units: Record<string, number>;
  },
): DeliveryMeta {
  const lines: Record<string, number> = { ...(previous?.lines ?? {}) };
  for (const [lineId, units] of Object.entries(delivery.units)) lines[lineId] = (lines[lineId] ?? 0) + units;
  return {
    deliveryId: delivery.deliveryId,
    supplierOrderIds: [...delivery.supplierOrderIds],
    deliveredAt: delivery.deliveredAt,
    lines,
    deliveries: [...(previous?.deliveries ?? []), delivery.deliveryId],
  };
}

export function isHoldMeta(value: unknown): boolean {
  // Any value under our key is our hold: the key is ours alone.
  return value !== undefined && value !== null && value !== '';
}
