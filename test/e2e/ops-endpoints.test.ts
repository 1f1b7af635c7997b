import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_ENDPOINTS } from '../../fakes/psnb2b/supplier-server.js';
import { FulfillmentDaemonWorld, WOO_STORE } from '../helpers/fulfillment-daemon-world.js';
import { workInFlight } from '../helpers/fulfillment-peek.js';
import { withDb } from '../helpers/sqlite-peek.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * `/healthz`, `/readyz` and `/metrics` of the daemon as a child process. The schedules run once
 * at start only (yearly after that), so the daemon falls quiet and its figures can be compared
 * with the sandbox supplier's and the fake shop's own request counters at one instant.
 */

const YEARLY = { inventory: '0 0 1 1 *', orders: '0 0 1 1 *' };

let w: FulfillmentDaemonWorld;

beforeAll(async () => {
  w = await FulfillmentDaemonWorld.start({ honoursIdempotencyKeys: true, schedule: YEARLY });
  await w.startDaemon();
}, 30_000);

afterAll(async () => {
  await w?.stop();
});

const get = (path: string, token?: string) =>
  fetch(`${w.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

/** Waits until neither server has seen a request for a while and nothing is in flight. */
async function quiet(): Promise<void> {
  const seen = () => `${JSON.stringify(w.supplier.ledger().requests)}/${w.shop.requests.length}`;
  let last = '';
  let since = Date.now();
  await waitUntil(
    () => {
      const now = seen();
      if (now !== last) {
        last = now;
        since = Date.now();
      }
      const f = workInFlight(w.dbFile);
      return Date.now() - since > 1_500 && f.open + f.intents + f.deliveries === 0;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: 'the daemon to fall quiet' },
  );
}

async function scrape(): Promise<Map<string, ParsedFamily>> {
  const res = await get('/metrics', w.secrets.adminToken);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  // Never a secret or a code in a label or value.
  for (const secret of [w.secrets.adminToken, w.secrets.supplierApiKey, w.shop.consumerSecret]) {
    expect(text).not.toContain(secret);
  }
  expect(text).not.toMatch(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/);
  return new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
}

function sum(families: Map<string, ParsedFamily>, name: string, where: Record<string, string> = {}): number {
  const f = families.get(name);
  if (!f) throw new Error(`${name} is not exposed`);
  return f.metrics
    .filter((m) => Object.entries(where).every(([k, v]) => m.labels?.[k] === v))
    .reduce((a, m) => a + Number(m.value), 0);
}

/** The figures /metrics must agree with: the servers' own counters and the daemon's database. */
async function expectAgreement(m: Map<string, ParsedFamily>): Promise<void> {
  const requests = w.supplier.ledger().requests;
  for (const endpoint of SANDBOX_ENDPOINTS) {
    expect(sum(m, 'psnb2b_supplier_requests_total', { endpoint }), endpoint).toBe(requests[endpoint]);
  }
  expect(sum(m, 'psnb2b_shop_requests_total', { store: WOO_STORE, kind: 'read' })).toBe(
    w.shop.count({ method: 'GET' }),
  );
  expect(sum(m, 'psnb2b_shop_requests_total', { store: WOO_STORE, kind: 'write' })).toBe(
    w.shop.requests.length - w.shop.count({ method: 'GET' }),
  );
  const runs = withDb(w.dbFile, (db) =>
    db
      .prepare(
        "SELECT COUNT(*) AS n FROM sync_runs WHERE kind IN ('inventory', 'resync') AND finished_at IS NOT NULL",
      )
      .get(),
  ) as { n: number };
  expect(sum(m, 'psnb2b_inventory_runs_total')).toBe(runs.n);
  const status = await w.statusJson();
  expect(sum(m, 'psnb2b_order_lines', { state: 'delivered' })).toBe(status.orders.delivered);
  expect(sum(m, 'psnb2b_balance_usd')).toBe(status.balance.usd);
  expect(sum(m, 'psnb2b_oldest_waiting_seconds')).toBe(0);
  expect(sum(m, 'psnb2b_alerts_open')).toBe(status.alerts.length);
}

describe('operations endpoints', () => {
  it('/healthz and /readyz answer without auth; /metrics needs the admin token', async () => {
    expect((await get('/healthz')).status).toBe(200);
    await waitUntil(async () => (await get('/readyz')).status === 200, { timeoutMs: 15_000, what: 'ready' });
    expect(await (await get('/readyz')).json()).toEqual({ ready: true, reasons: [] });
    const anonymous = await get('/metrics');
    expect(anonymous.status).toBe(401);
    expect((await get('/metrics', 'wrong-token')).status).toBe(401);
  });

  it('/metrics agrees with the supplier’s and the shop’s own request counts, and with the database', async () => {
    const order = w.placeOrder([
      { sku: w.skus[0] as string, quantity: 2 },
      { sku: w.skus[3] as string, quantity: 1 },
    ]);
    expect((await w.cli('sync')).code).toBe(0);
    await waitUntil(() => w.shop.orderStatus(order.id) === 'completed', {
      timeoutMs: 30_000,
      what: 'delivered',
    });
    await quiet();
    const m = await scrape();
    await expectAgreement(m);
    expect(sum(m, 'psnb2b_codes_delivered_total', { store: WOO_STORE })).toBe(3);
    expect(
      sum(m, 'psnb2b_supplier_requests_total', { endpoint: 'POST /orders', status: '201' }),
    ).toBeGreaterThan(0);
    expect(sum(m, 'psnb2b_inventory_runs_total')).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('counters survive a restart: still the servers’ totals over both processes', async () => {
    w.daemon?.signal('SIGTERM');
    expect((await w.daemon?.exit())?.code).toBe(0);
    await w.startDaemon();
    await quiet();
    const m = await scrape();
    await expectAgreement(m);
    expect(sum(m, 'psnb2b_codes_delivered_total', { store: WOO_STORE })).toBe(3);
  }, 60_000);

  it('/readyz turns 503 while the only store is down, and says why; ready again once it is back', async () => {
    await w.shop.setDown('503');
    expect((await w.cli('resync')).code).toBe(1);
    const res = await get('/readyz');
    expect(res.status).toBe(503);
    const body = (await res.json()) as { ready: boolean; reasons: string[] };
    expect(body.ready).toBe(false);
    expect(body.reasons).toEqual([
      expect.stringMatching(new RegExp(`^store ${WOO_STORE} failed its last push: .*503`)),
    ]);
    await w.shop.setDown(false);
    expect((await w.cli('resync')).code).toBe(0);
    expect((await get('/readyz')).status).toBe(200);
  }, 60_000);
});
