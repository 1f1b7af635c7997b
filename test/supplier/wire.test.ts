import { describe, expect, it } from 'vitest';
import {
  balanceSchema,
  createdOrderSchema,
  inventorySchema,
  orderCodesSchema,
  orderSchema,
  parseWire,
  readProblem,
  webhookEventSchema,
} from '../../src/supplier/wire.js';

const inventory = {
  updatedAt: '2026-11-27T10:00:00Z',
  items: [
    { region: 'US', denomination: 50, currency: 'USD', price: 46.25, qty: 120, promo: 'ignored' },
    { region: 'TR', denomination: 250, currency: 'TRY', price: 7.1, qty: 0 },
  ],
  extra: { anything: true },
};

const order = {
  id: 'ord_8f3a2c',
  status: 'paid',
  createdAt: '2026-11-27T10:00:00Z',
  updatedAt: '2026-11-27T10:00:05.123+01:00',
  reference: 'ref-1',
  total: 497.0,
  items: [
    { region: 'US', denomination: 50, qty: 10, unitPrice: 46.25 },
    { region: 'TR', denomination: 250, qty: 5, unitPrice: 7.1 },
  ],
};

describe('wire schemas', () => {
  it('parse the contract examples, money into cents, extra fields dropped', () => {
    const inv = parseWire(inventorySchema, inventory);
    expect(inv).toEqual({
      ok: true,
      value: {
        updatedAt: '2026-11-27T10:00:00Z',
        items: [
          { region: 'US', denomination: 50, currency: 'USD', priceCents: 4625, qty: 120 },
          { region: 'TR', denomination: 250, currency: 'TRY', priceCents: 710, qty: 0 },
        ],
      },
    });
    const bal = parseWire(balanceSchema, { currency: 'USD', available: 1234.56 });
    expect(bal).toEqual({ ok: true, value: { currency: 'USD', availableCents: 123456 } });
    const o = parseWire(orderSchema, order);
    expect(o.ok && o.value.totalCents).toBe(49700);
    expect(o.ok && o.value.items.map((i) => i.unitPriceCents)).toEqual([4625, 710]);
    const { updatedAt: _u, ...created } = order;
    expect(parseWire(createdOrderSchema, { ...created, status: 'pending' }).ok).toBe(true);
  });

  it('names the field path of the first problem, never the value', () => {
    const bad = structuredClone(inventory) as { items: Record<string, unknown>[] };
    (bad.items[1] as Record<string, unknown>).price = 7.105;
    const r = parseWire(inventorySchema, bad);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issue.field).toBe('items[1].price');
      expect(r.issue.message).toContain('more than two decimals');
      expect(r.issue.message).not.toContain('7.105');
    }
    const leaky = parseWire(orderCodesSchema, {
      orderId: 'ord_1',
      codes: [{ region: 'US', denomination: 50, code: 'AAAA-BBBB-CCCC', serial: 42 }],
    });
    expect(leaky.ok ? null : leaky.issue.field).toBe('codes[0].serial');
    expect(JSON.stringify(leaky)).not.toContain('AAAA-BBBB-CCCC');
  });

  it('rejects what does not fit', () => {
    const field = (r: ReturnType<typeof parseWire>) => (r.ok ? null : r.issue.field);
    expect(
      field(parseWire(inventorySchema, { ...inventory, items: [{ ...inventory.items[0], qty: -1 }] })),
    ).toBe('items[0].qty');
    expect(
      field(parseWire(inventorySchema, { ...inventory, items: [{ ...inventory.items[0], region: 'us' }] })),
    ).toBe('items[0].region');
    expect(
      field(parseWire(inventorySchema, { ...inventory, items: [inventory.items[0], inventory.items[0]] })),
    ).toBe('items[1]');
    expect(field(parseWire(inventorySchema, { items: [] }))).toBe('updatedAt');
    expect(field(parseWire(inventorySchema, 'hello'))).toBe('(body)');
    expect(field(parseWire(balanceSchema, { currency: 'EUR', available: 1 }))).toBe('currency');
    expect(field(parseWire(balanceSchema, { currency: 'USD', available: -0.01 }))).toBe('available');
    expect(field(parseWire(orderSchema, { ...order, status: 'shipped' }))).toBe('status');
    const { updatedAt: _u, ...noUpdated } = order;
    expect(field(parseWire(orderSchema, noUpdated))).toBe('updatedAt');
    expect(field(parseWire(orderSchema, { ...order, items: [] }))).toBe('items');
    expect(field(parseWire(orderSchema, { ...order, createdAt: 'yesterday' }))).toBe('createdAt');
  });

  it('reads a problem body tolerantly: a mistyped member is dropped, not the whole problem', () => {
    expect(
      readProblem({
        type: 'https://x/p',
        title: 'Conflict',
        status: 409,
        detail: 7,
        errors: 'oops',
        ext: [1],
      }),
    ).toEqual({ type: 'https://x/p', title: 'Conflict', status: 409, ext: [1] });
    expect(readProblem('<html>')).toBeUndefined();
    expect(readProblem([1])).toBeUndefined();
  });

  it('parses a webhook event', () => {
    const ev = {
      event: 'order.status_changed',
      orderId: 'ord_1',
      status: 'delivered',
      previousStatus: 'paid',
      occurredAt: '2026-11-27T10:00:00Z',
    };
    expect(parseWire(webhookEventSchema, ev).ok).toBe(true);
    const r = parseWire(webhookEventSchema, { ...ev, event: 'order.created' });
    expect(r.ok ? null : r.issue.field).toBe('event');
  });
});
