import { formatSku } from '../../config/sku-template.js';
import type { SandboxLedger } from '../../fakes/psnb2b/supplier-server.js';
import type { FakeWooCommerce } from '../../fakes/woocommerce/fake-woocommerce.js';
import type { FakeOrderJson } from '../../fakes/woocommerce/fake-woocommerce-orders.js';
import { DELIVERY_HEADING } from '../../src/fulfillment/delivery-text.js';

/**
 * Reads back what the buyers received, by the published delivery format only
 * (`Your PlayStation Network codes:`, one `PSN <REGION> <DENOMINATION> <CURRENCY>: <CODE>` per
 * line, the `[psnb2b:<deliveryId>]` marker last), and audits it against the supplier's ledger:
 * every problem found is one line that names what was expected and what was seen.
 */

export interface NoteCode {
  region: string;
  denomination: string;
  currency: string;
  code: string;
}

export interface DeliveryNote {
  marker: string;
  codes: NoteCode[];
}

const CODE_LINE = /^PSN ([A-Z]{2}) (\d+(?:\.\d+)?) ([A-Z]{3}): (\S+)$/;
const MARKER_LINE = /^\[psnb2b:([0-9a-f-]{36})\]$/;

/** One note in the published format, or the reason it is not. */
export function parseDeliveryNote(text: string): DeliveryNote | { error: string } {
  const lines = text.split('\n');
  if (lines[0] !== DELIVERY_HEADING) return { error: `first line is not "${DELIVERY_HEADING}"` };
  const last = lines.at(-1) ?? '';
  const marker = MARKER_LINE.exec(last);
  if (!marker) return { error: 'the last line is not a [psnb2b:<deliveryId>] marker' };
  const body = lines.slice(1, -1);
  if (body.length === 0) return { error: 'no code lines' };
  const codes: NoteCode[] = [];
  for (const [i, l] of body.entries()) {
    const m = CODE_LINE.exec(l);
    // The line's shape is named, never its content (it may hold a code).
    if (!m) return { error: `line ${i + 2} is not "PSN <REGION> <DENOMINATION> <CURRENCY>: <CODE>"` };
    codes.push({
      region: m[1] as string,
      denomination: m[2] as string,
      currency: m[3] as string,
      code: m[4] as string,
    });
  }
  return { marker: marker[1] as string, codes };
}

/** Customer notes of an order that carry a delivery marker, parsed. */
export function deliveryNotesOf(
  shop: FakeWooCommerce,
  orderId: number,
): (DeliveryNote | { error: string })[] {
  return shop
    .notesOf(orderId, { customer: true })
    .filter((n) => n.note.includes('[psnb2b:'))
    .map((n) => parseDeliveryNote(n.note));
}

/** Units sold per shop line: quantity less refunded quantity (as the shop's refunds say). */
export function soldUnits(
  shop: FakeWooCommerce,
  order: FakeOrderJson,
): Map<number, { sku: string; units: number }> {
  const refunded = new Map<number, number>();
  for (const r of shop.orders.refundsOf(order.id) as {
    line_items: { quantity: number; meta_data: { key: string; value: string }[] }[];
  }[]) {
    for (const li of r.line_items) {
      const ref = Number(li.meta_data.find((m) => m.key === '_refunded_item_id')?.value);
      refunded.set(ref, (refunded.get(ref) ?? 0) + Math.abs(li.quantity));
    }
  }
  return new Map(
    order.line_items.map((l) => [l.id, { sku: l.sku ?? '', units: l.quantity - (refunded.get(l.id) ?? 0) }]),
  );
}

export interface AuditResult {
  problems: string[];
  /** Every code delivered, with the order it went into. */
  delivered: Map<string, number>;
  /** Units the shops sold (after refunds), over the audited orders. */
  shopUnits: number;
  notes: number;
}

/**
 * For each order: every delivery note in the published format, one note per marker, each line
 * holding exactly its sold units of distinct codes of its entry, the meta counting the same
 * units, the order completed; across orders: no code twice, every code issued by the supplier.
 */
export function auditDeliveries(
  shop: FakeWooCommerce,
  orders: readonly FakeOrderJson[],
  ledger: SandboxLedger,
  opts: { expectCompleted?: boolean } = {},
): AuditResult {
  const problems: string[] = [];
  const delivered = new Map<string, number>();
  const issued = new Set(ledger.orders.flatMap((o) => o.codes.map((c) => c.code)));
  const markers = new Set<string>();
  let shopUnits = 0;
  let noteCount = 0;
  for (const placed of orders) {
    const order = shop.order(placed.id) as FakeOrderJson;
    const sold = soldUnits(shop, order);
    const bySku = new Map<string, string[]>();
    for (const note of deliveryNotesOf(shop, order.id)) {
      noteCount++;
      if ('error' in note) {
        problems.push(`order ${order.id}: a delivery note breaks the published format: ${note.error}`);
        continue;
      }
      if (markers.has(note.marker)) problems.push(`order ${order.id}: two notes carry marker ${note.marker}`);
      markers.add(note.marker);
      for (const c of note.codes) {
        const sku = formatSku('PSN-{region}-{denomination}', {
          region: c.region,
          denomination: Number(c.denomination),
        });
        bySku.set(sku, [...(bySku.get(sku) ?? []), c.code]);
        const other = delivered.get(c.code);
        if (other !== undefined)
          problems.push(`a code was delivered twice: into order ${other} and order ${order.id}`);
        delivered.set(c.code, order.id);
        if (!issued.has(c.code))
          problems.push(`order ${order.id}: a delivered ${sku} code was never issued by the supplier`);
      }
    }
    const meta = shop.orderMeta(order.id, '_psnb2b_delivery') as
      | { lines?: Record<string, number | string> }
      | undefined;
    for (const [lineId, { sku, units }] of sold) {
      shopUnits += units;
      const codes = bySku.get(sku) ?? [];
      if (codes.length !== units) {
        problems.push(
          `order ${order.id} line ${lineId} (${sku}): expected ${units} code(s) in its notes, found ${codes.length}`,
        );
      }
      if (new Set(codes).size !== codes.length)
        problems.push(`order ${order.id} line ${lineId}: its codes are not distinct`);
      const metaUnits = Number(meta?.lines?.[String(lineId)] ?? 0);
      if (units > 0 && metaUnits !== units) {
        problems.push(
          `order ${order.id} line ${lineId}: _psnb2b_delivery counts ${metaUnits} unit(s), expected ${units}`,
        );
      }
    }
    const skus = new Set([...sold.values()].map((s) => s.sku));
    for (const sku of bySku.keys()) {
      if (!skus.has(sku)) problems.push(`order ${order.id}: codes for ${sku}, which it did not sell`);
    }
    if ((opts.expectCompleted ?? true) && order.status !== 'completed') {
      problems.push(`order ${order.id}: status ${order.status}, expected completed`);
    }
  }
  return { problems, delivered, shopUnits, notes: noteCount };
}

/** Units the supplier sold: every order that did not fail. */
export function supplierUnits(ledger: SandboxLedger): number {
  return ledger.orders
    .filter((o) => o.status !== 'failed')
    .reduce((s, o) => s + o.items.reduce((t, i) => t + i.qty, 0), 0);
}

/** Every code the supplier issued. */
export function issuedCodes(ledger: SandboxLedger): string[] {
  return ledger.orders.flatMap((o) => o.codes.map((c) => c.code));
}

/** References carried by more than one supplier order (each intent must be one order). */
export function duplicateReferences(ledger: SandboxLedger): string[] {
  const seen = new Map<string, number>();
  for (const o of ledger.orders) if (o.reference) seen.set(o.reference, (seen.get(o.reference) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([r, n]) => `${r} ×${n}`);
}
