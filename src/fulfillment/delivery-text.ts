import { formatDenomination } from '../../config/sku-template.js';
import type { DeliveredCode } from '../storefront.js';

/**
 * The published delivery format (design-notes): one code per line,
 * `PSN <REGION> <DENOMINATION> <CURRENCY>: <CODE>`, the marker line last. Other tools and the
 * buyers' eyes rely on it; change it only with a migration note.
 */

export const DELIVERY_HEADING = 'Your PlayStation Network codes:';

export function deliveryMarker(deliveryId: string): string {
  return `[psnb2b:${deliveryId}]`;
}

export function codeLine(c: DeliveredCode): string {
  return `PSN ${c.region} ${formatDenomination(c.denomination)} ${c.currency}: ${c.code}`;
}

/** The WooCommerce customer note for one delivery. */
export function deliveryNote(codes: readonly DeliveredCode[], deliveryId: string): string {
  return [DELIVERY_HEADING, ...codes.map(codeLine), deliveryMarker(deliveryId)].join('\n');
}

export const RESENT_LINE = 'Sent again at your request: the same codes as delivered before.';

/** `orders resend` on WooCommerce: the same note, a "resent" line first, the same marker last. */
export function resentNote(codes: readonly DeliveredCode[], deliveryId: string): string {
  return `${RESENT_LINE}\n${deliveryNote(codes, deliveryId)}`;
}

/** Delivery ids whose markers appear in a text (a note, a metafield). */
export function markersIn(text: string): string[] {
  return [...text.matchAll(/\[psnb2b:([0-9a-f-]{36})\]/g)].map((m) => m[1] as string);
}
