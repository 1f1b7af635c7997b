import { describe, expect, it } from 'vitest';
import { renderDashboard } from '../../src/dashboard/dashboard-page.js';
import type { DashboardView } from '../../src/dashboard/dashboard-view.js';
import { emptyStatus } from '../../src/status.js';

/** What shops and the supplier send is shown as text: every field of theirs is escaped. */

const evil = '<script>alert(1)</script>"\'&';
const escaped = '&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;';

function hostileView(): DashboardView {
  const status = emptyStatus([{ name: evil, type: 'woocommerce' }]);
  status.alerts = [{ kind: 'duplicate-sku', since: new Date(0).toISOString(), detail: evil, subject: evil }];
  return {
    now: 1_000,
    status,
    storeNames: [evil],
    catalogue: [
      {
        sku: evil,
        entryKey: 'US:50',
        currency: 'USD',
        priceCents: 4500,
        supplierQty: 3,
        listed: true,
        stores: [{ ackedQty: 3, state: 'matched' }],
      },
    ],
    cataloguePage: { page: 1, pages: 1, total: 1, filter: evil },
    skuProblems: [{ store: evil, sku: evil, state: 'duplicate' }],
    runs: [],
    orders: {
      parked: [],
      inFlight: [],
      resends: [],
      deliveries: [
        {
          id: 'd-1',
          store: evil,
          orderId: evil,
          state: 'failed',
          step: null,
          attempts: 8,
          codes: 2,
          mayHaveWritten: false,
          lastError: evil,
        },
      ],
      held: [
        {
          id: 1,
          store: evil,
          orderId: evil,
          lineId: evil,
          orderNumber: evil,
          sku: evil,
          entryKey: 'US:50',
          units: 1,
          state: 'held',
          holdReason: 'duplicate-sku',
          receivedAt: 0,
          saleAt: null,
        },
      ],
      waiting: [],
      review: [
        {
          store: evil,
          orderId: evil,
          orderNumber: evil,
          buyer: evil,
          valueUsd: 1,
          limit: 'maxOrderUsd',
          detail: evil,
          since: new Date(0).toISOString(),
        },
      ],
    },
    balance: [
      { at: 0, cents: 100 },
      { at: 500, cents: 50 },
    ],
    claims: [],
  };
}

describe('the dashboard page', () => {
  it('escapes every shop and supplier value, in text and in attributes', () => {
    const page = renderDashboard(hostileView(), { csrf: 'csrf-token', nonce: 'n0nce' });
    expect(page).not.toContain('<script>alert(1)');
    expect(page).toContain(escaped);
    // The only scripts are the page's own, with the nonce.
    expect(page.match(/<script/g)).toHaveLength(1);
    expect(page).toContain('<script nonce="n0nce">');
    // A decision's JSON body is an attribute value: escaped there too.
    expect(page).toContain('data-body="{&quot;store&quot;:&quot;&lt;script&gt;');
    expect(page).toContain('<meta name="csrf-token" content="csrf-token">');
    expect(page).toContain('<svg class="chart"');
    // A failed delivery offers the two decisions `orders retry-delivery|abandon-delivery` make.
    expect(page).toContain('data-path="/admin/orders/retry-delivery"');
    expect(page).toContain('data-path="/admin/orders/abandon-delivery"');
  });
});
