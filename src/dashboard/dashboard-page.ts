import type { IntentRow } from '../fulfillment/fulfillment-ledger.js';
import { formatUsd } from '../money.js';
import { balanceChartSvg } from './balance-chart.js';
import { DASHBOARD_SCRIPT } from './dashboard-script.js';
import type { CatalogueRow, DashboardView } from './dashboard-view.js';
import { type Html, html, trusted } from './html.js';

/**
 * The dashboard as one server-rendered page. Every value from a shop or the supplier goes
 * through `html` (escaped); the only script and style are inline with the response's CSP nonce.
 * Buttons name the admin route and JSON body they send: the CLI's own API, nothing else.
 */

/** What releases each hold (design-notes, "Holds, and what releases each one"). */
const RELEASE_RULES: Record<string, string> = {
  'out-of-stock':
    'the supplier feed shows the entry changed and covering the units, or a backoff retry (1, 2, 4 … 30 min)',
  rejected: 'an operator: orders resolve / orders approve',
  balance: 'a fresh balance read covers the next line (oldest first)',
  'min-balance': 'a fresh balance read covers the next line (oldest first)',
  review: 'orders approve or orders reject',
  'duplicate-sku': 'the SKU is on one product only in that shop',
  'unknown-entry': 'the entry is back in the supplier feed',
  'max-wait': 'the purchase goes through; the buyer has been told of the delay',
  abandoned: 'an operator (the purchase was abandoned with orders resolve)',
};

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:12px 20px;color:#1d2430;background:#f6f7f9}
h1{font-size:20px;margin:4px 0}h2{font-size:16px;margin:22px 0 6px;border-bottom:1px solid #d5d9e0;padding-bottom:3px}
header{display:flex;justify-content:space-between;align-items:center}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eceef2;vertical-align:top}
th{background:#eef0f4;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin:8px 0}
.figures div{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:6px 10px}.figures dt{color:#5b6472;font-size:12px}.figures dd{margin:0;font-size:20px;font-weight:600}
.alert{background:#fff4e5;border-left:4px solid #e8912d;padding:4px 10px;margin:4px 0}
.bad{color:#b42318}.ok{color:#067647}.muted{color:#5b6472}.warn{background:#fff4e5}
button{font:inherit;padding:2px 10px;margin:1px 2px;border:1px solid #9aa3b1;border-radius:4px;background:#fff;cursor:pointer}
button:disabled{opacity:.5}input{font:inherit;width:10em}
.chart{color:#2e6fd8;background:#fff;border:1px solid #dde1e7;max-width:100%;height:auto}
.scroll{max-height:480px;overflow:auto;border:1px solid #dde1e7}
.pager{margin:6px 0}.pager a{margin:0 6px}
#action-note{min-height:1.4em;font-weight:600}
`;

const t = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString().replace('.000Z', 'Z') : '—');
const usd = (cents: number | null) => (cents === null ? '?' : `${formatUsd(cents)} USD`);
const items = (i: IntentRow) => i.items.map((x) => `${x.qty}× ${x.entryKey}`).join(', ');

function action(
  label: string,
  path: string,
  body: unknown,
  extra: { confirm?: string; input?: string } = {},
) {
  return html`<button type="button" data-action="post" data-path="${path}" data-body="${JSON.stringify(body)}"
    data-confirm="${extra.confirm}" data-input="${extra.input}">${label}</button>`;
}

/** The figures of `status --json`, by their path in it (the browser test compares them one by one). */
const FIGURES: [path: string, label: string][] = [
  ['inventory.entries', 'supplier entries'],
  ['inventory.lastChanges', 'changes, last run'],
  ['orders.received', 'lines received'],
  ['orders.inFlight', 'in flight'],
  ['orders.delivered', 'delivered'],
  ['orders.onHold', 'on hold'],
  ['orders.parked', 'parked'],
  ['orders.pooledCodes', 'pooled codes'],
  ['orders.oldestWaitingSeconds', 'oldest waiting (s)'],
  ['balance.usd', 'balance (USD)'],
  ['claims.open', 'open claims'],
  ['claims.closingWithin24h', 'claim windows closing < 24 h'],
];

function figures(v: DashboardView): Html {
  const at = (path: string) =>
    path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], v.status) as number | null;
  return html`<dl class="figures">${FIGURES.map(
    ([path, label]) => html`<div><dt>${label}</dt><dd data-figure="${path}">${at(path) ?? '—'}</dd></div>`,
  )}</dl>`;
}

/** Alerts of one kind beyond this many are folded under their kind, so one flood does not hide the rest. */
const ALERTS_SHOWN_PER_KIND = 3;

function alerts(v: DashboardView): Html {
  if (v.status.alerts.length === 0) return html`<h2>Open alerts</h2><p class="ok" id="no-alerts">none</p>`;
  const byKind = new Map<string, DashboardView['status']['alerts']>();
  for (const a of v.status.alerts) byKind.set(a.kind, [...(byKind.get(a.kind) ?? []), a]);
  const one = (a: DashboardView['status']['alerts'][number]) =>
    html`<div class="alert" data-alert="${a.kind}"><b>${a.kind}</b>${a.subject ? html` ${a.subject}` : ''}
      <span class="muted">since ${a.since}</span><br>${a.detail}</div>`;
  return html`<h2>Open alerts (${v.status.alerts.length})</h2>
    ${[...byKind].map(([kind, list]) =>
      list.length <= ALERTS_SHOWN_PER_KIND
        ? list.map(one)
        : html`<details class="alert"><summary><b>${kind}</b>: ${list.length} open, the oldest since ${list[0]?.since}</summary>${list.map(one)}</details>`,
    )}`;
}

function pipeline(v: DashboardView): Html {
  const o = v.orders;
  if (!o) return html`<h2>Orders</h2><p class="muted">fulfillment is off (codesKey is not set)</p>`;
  return html`<h2>Orders in flight: ${o.waiting.length} line(s) waiting, ${o.inFlight.length} purchase(s) under way</h2>
    ${
      o.waiting.length === 0
        ? ''
        : html`<table id="waiting"><tr><th>store</th><th>order</th><th>line</th><th>SKU</th><th class="n">units</th><th>received</th></tr>
      ${o.waiting.map(
        (l) =>
          html`<tr><td>${l.store}</td><td>${l.orderNumber}</td><td>${l.lineId}</td><td>${l.sku}</td><td class="n">${l.units}</td><td>${t(l.receivedAt)}</td></tr>`,
      )}</table>`
    }
    ${
      o.inFlight.length === 0
        ? ''
        : html`<table id="in-flight"><tr><th>intent</th><th>state</th><th>supplier order</th><th>items</th><th class="n">total</th><th>created</th></tr>
      ${o.inFlight.map(
        (
          i,
        ) => html`<tr><td>${i.id}</td><td>${i.state}</td><td>${i.supplierOrderId ?? '—'} ${i.supplierStatus ? html`(${i.supplierStatus})` : ''}</td>
          <td>${items(i)}</td><td class="n">${usd(i.totalCents)}</td><td>${t(i.createdAt)}</td></tr>`,
      )}</table>`
    }
    <h2>Review queue (${o.review.length})</h2>
    ${
      o.review.length === 0
        ? html`<p class="muted">no order is waiting for a decision</p>`
        : html`<table id="review"><tr><th>store</th><th>order</th><th>buyer</th><th class="n">value</th><th>limit hit</th><th>since</th><th>decide</th></tr>
      ${o.review.map(
        (
          r,
        ) => html`<tr data-order="${r.orderId}"><td>${r.store}</td><td>${r.orderNumber} <span class="muted">(id ${r.orderId})</span></td><td>${r.buyer ?? '—'}</td>
          <td class="n">${r.valueUsd} USD</td><td>${r.limit ?? ''}${r.detail ? html`<br><span class="muted">${r.detail}</span>` : ''}</td><td>${r.since}</td>
          <td>${action('approve', '/admin/orders/approve', { store: r.store, orderId: r.orderId }, { confirm: 'Buy and deliver this order?' })}
            ${action('reject', '/admin/orders/reject', { store: r.store, orderId: r.orderId }, { confirm: 'Reject: nothing is bought, the buyer is told; you refund in the shop.' })}</td></tr>`,
      )}</table>`
    }
    <h2>Parked purchases (${o.parked.length})</h2>
    <p class="muted">The outcome of these purchases is unknown. Look the reference up at the supplier, then settle each one.</p>
    ${
      o.parked.length === 0
        ? html`<p class="muted">none</p>`
        : html`<table id="parked"><tr><th>intent</th><th>items</th><th>reference</th><th>sent</th><th>balance before → after</th><th>error</th><th>resolve</th></tr>
      ${o.parked.map(
        (
          i,
        ) => html`<tr data-intent="${i.id}"><td>${i.id}</td><td>${items(i)} (${i.lines} line(s))</td><td><code>${i.idempotencyKey}</code></td>
          <td>${t(i.sentAt)}</td><td>${usd(i.balanceBeforeCents)} → ${usd(i.balanceAfterCents)}</td><td>${i.lastError?.message ?? ''}</td>
          <td><input id="so-${i.id}" placeholder="supplier order id" aria-label="supplier order id">
            ${action('placed: follow it', '/admin/orders/resolve', { intentId: i.id, action: { kind: 'supplier-order' } }, { input: `so-${i.id}` })}
            ${action('not placed: buy again', '/admin/orders/resolve', { intentId: i.id, action: { kind: 'rebuy' } }, { confirm: 'Buy again under a new key? Only if the supplier has no order with this reference.' })}
            ${action('abandon', '/admin/orders/resolve', { intentId: i.id, action: { kind: 'abandon' } }, { confirm: 'Abandon this purchase? Its lines stay on hold.' })}</td></tr>`,
      )}</table>`
    }
    ${failedDeliveries(o.deliveries.filter((d) => d.state === 'failed'))}
    <h2>Held lines (${o.held.length})</h2>
    ${
      o.held.length === 0
        ? html`<p class="muted">none</p>`
        : html`<table id="held"><tr><th>store</th><th>order</th><th>line</th><th>SKU</th><th class="n">units</th><th>reason</th><th>released when</th><th>since</th></tr>
      ${o.held.map(
        (
          h,
        ) => html`<tr><td>${h.store}</td><td>${h.orderNumber}</td><td>${h.lineId}</td><td>${h.sku}</td><td class="n">${h.units}</td>
          <td>${h.holdReason ?? ''}</td><td class="muted">${RELEASE_RULES[h.holdReason ?? ''] ?? ''}</td><td>${t(h.receivedAt)}</td></tr>`,
      )}</table>`
    }`;
}

function failedDeliveries(failed: NonNullable<DashboardView['orders']>['deliveries']): Html {
  return html`<h2>Failed deliveries (${failed.length})</h2>
    ${
      failed.length === 0
        ? html`<p class="muted">none</p>`
        : html`<table id="failed-deliveries"><tr><th>store</th><th>order</th><th class="n">codes kept</th><th>last write done</th><th class="n">attempts</th><th>error</th><th>decide</th></tr>
      ${failed.map(
        (
          d,
        ) => html`<tr data-delivery="${d.id}"><td>${d.store}</td><td>${d.orderId}</td><td class="n">${d.codes}</td><td>${d.step ?? 'none'}</td>
          <td class="n">${d.attempts}</td><td>${d.lastError ?? ''}</td>
          <td>${action('retry', '/admin/orders/retry-delivery', { store: d.store, orderId: d.orderId })}
            ${action('abandon', '/admin/orders/abandon-delivery', { store: d.store, orderId: d.orderId }, { confirm: d.mayHaveWritten ? 'Abandon? A write may have reached the shop: its codes stay out of the pool.' : 'Abandon? Its codes go to the pool.' })}</td></tr>`,
      )}</table>`
    }`;
}

function balance(v: DashboardView): Html {
  const b = v.status.balance;
  return html`<h2>Supplier balance</h2>
    <p>${b.usd === null ? 'not read yet' : html`<b>${b.usd} USD</b> <span class="muted">at ${b.at}</span>`}</p>
    ${trusted(balanceChartSvg(v.balance, v.now))}
    ${v.balance.length > 0 ? html`<p class="muted">last 7 days, ${v.balance.length} reading(s)</p>` : ''}`;
}

function claims(v: DashboardView): Html {
  return html`<h2>Claims (${v.status.claims.open} open)</h2>
    <p>${v.status.claims.closingWithin24h} delivered code(s) whose claim window closes within 24 h.</p>
    ${
      v.claims.length === 0
        ? html`<p class="muted">no claims filed</p>`
        : html`<table id="claims"><tr><th>code</th><th>supplier order</th><th>error</th><th>state</th><th>supplier claim</th><th>filed</th><th>window closes</th></tr>
      ${v.claims.map(
        (
          c,
        ) => html`<tr><td><code>${c.masked}</code></td><td>${c.supplierOrderId}</td><td>${c.errorCode}</td><td>${c.state}</td>
          <td>${c.supplierClaimId ?? '—'}</td><td>${t(c.createdAt)}</td><td class="${c.windowClosesAt - v.now < 86_400_000 ? 'bad' : ''}">${t(c.windowClosesAt)}</td></tr>`,
      )}</table>`
    }`;
}

function inventory(v: DashboardView): Html {
  return html`<h2>Inventory runs</h2>
    <p><button type="button" data-action="resync" data-confirm="Push every SKU to every store now?">Resync every SKU now</button>
      <progress id="resync-progress" hidden value="0" max="1"></progress> <span id="resync-text"></span></p>
    <table id="runs"><tr><th>#</th><th>kind</th><th>started</th><th>finished</th><th>outcome</th><th class="n">entries</th>
      <th class="n">changed</th><th class="n">pushed</th><th class="n">shop writes</th><th class="n">supplier calls</th></tr>
    ${v.runs.map(
      (
        r,
      ) => html`<tr data-run-kind="${r.kind}"><td>${r.id}</td><td>${r.kind}${r.store ? html` (${r.store})` : ''}</td><td>${t(r.startedAt)}</td>
        <td>${t(r.finishedAt)}</td><td class="${r.outcome === 'pushed' ? '' : 'bad'}">${r.outcome ?? 'running'}</td><td class="n">${r.entries ?? ''}</td>
        <td class="n">${r.changes ?? ''}</td><td class="n">${r.pushed}</td><td class="n">${r.shopWrites}</td><td class="n">${r.supplierCalls}</td></tr>`,
    )}</table>`;
}

function storeCell(c: CatalogueRow['stores'][number]): Html {
  if (c.state === 'missing') return html`<td class="n bad">not in shop</td>`;
  if (c.state === 'duplicate') return html`<td class="n bad">unmatched</td>`;
  return html`<td class="n">${c.ackedQty ?? '—'}</td>`;
}

function pageLink(label: string, page: number, filter: string): Html {
  const q = new URLSearchParams({ ...(filter && { q: filter }), page: String(page) });
  return html`<a href="/?${q.toString()}">${label}</a>`;
}

function catalogue(v: DashboardView): Html {
  const s = v.status.storefronts;
  const p = v.cataloguePage;
  return html`<h2 id="catalogue-heading">Catalogue (${p.total} entries${p.filter ? html` matching “${p.filter}”` : ''})</h2>
    <table id="stores"><tr><th>store</th><th>type</th><th class="n">matched</th><th class="n">unmatched</th><th class="n">not in shop</th><th>last ack</th><th>last error</th></tr>
    ${s.map(
      (
        f,
      ) => html`<tr data-store="${f.name}"><td>${f.name}</td><td>${f.type}</td><td class="n" data-figure="storefronts.${f.name}.skus">${f.skus}</td>
        <td class="n" data-figure="storefronts.${f.name}.unmatched">${f.unmatched}</td><td class="n" data-figure="storefronts.${f.name}.missing">${f.missing}</td>
        <td>${f.lastAckAt ?? 'never'}</td><td class="bad">${f.lastError ?? ''}</td></tr>`,
    )}</table>
    ${
      v.skuProblems.length > 0
        ? html`<h3>Unmatched and missing SKUs (${v.skuProblems.length})</h3><table id="sku-problems"><tr><th>store</th><th>SKU</th><th>problem</th></tr>
      ${v.skuProblems.map(
        (p) =>
          html`<tr><td>${p.store}</td><td>${p.sku}</td><td>${p.state === 'duplicate' ? 'unmatched: on more than one product' : 'not in shop'}</td></tr>`,
      )}</table>`
        : ''
    }
    <form method="get" action="/" class="pager"><input name="q" value="${p.filter}" placeholder="entry, e.g. US:50" aria-label="filter entries">
      <button type="submit">filter</button>
      ${p.page > 1 ? pageLink('← previous', p.page - 1, p.filter) : ''} page ${p.page} of ${p.pages}
      ${p.page < p.pages ? pageLink('next →', p.page + 1, p.filter) : ''}</form>
    <div class="scroll"><table id="catalogue"><tr><th>SKU</th><th>entry</th><th class="n">supplier qty</th><th class="n">price</th>
      ${v.storeNames.map((n) => html`<th class="n">${n} (acknowledged)</th>`)}</tr>
    ${v.catalogue.map(
      (
        r,
      ) => html`<tr${r.listed ? '' : trusted(' class="warn"')}><td>${r.sku}</td><td>${r.entryKey}${r.listed ? '' : ' (delisted)'}</td>
        <td class="n">${r.supplierQty}</td><td class="n">${formatUsd(r.priceCents)}</td>${r.stores.map(storeCell)}</tr>`,
    )}</table></div>`;
}

export function renderDashboard(v: DashboardView, opts: { csrf: string; nonce: string }): string {
  const d = v.status.daemon;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="csrf-token" content="${opts.csrf}"><title>psnb2b-sync</title>
<style nonce="${opts.nonce}">${trusted(STYLE)}</style></head>
<body><header><div><h1>psnb2b-sync</h1><span class="muted">${d.running ? `daemon pid ${d.pid}` : 'daemon not running'} · page read at ${t(v.now)}</span></div>
<div>${html`<button type="button" data-action="logout">log out</button>`}</div></header>
<p id="action-note" role="status"></p>
${figures(v)}
${alerts(v)}
${pipeline(v)}
${balance(v)}
${claims(v)}
${inventory(v)}
${catalogue(v)}
<script nonce="${opts.nonce}">${trusted(DASHBOARD_SCRIPT)}</script>
</body></html>`.text;
}
