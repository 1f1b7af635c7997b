import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FaultKind, SandboxEndpoint } from '../../fakes/psnb2b/supplier-server.js';
import type { FakeOrderJson } from '../../fakes/woocommerce/fake-woocommerce-orders.js';
import { maskCode } from '../../src/redact.js';
import { signWebhookBody } from '../../src/supplier/webhook-signature.js';
import {
  auditDeliveries,
  duplicateReferences,
  issuedCodes,
  supplierUnits,
} from '../helpers/delivery-audit.js';
import {
  FulfillmentDaemonWorld,
  type OrdersJson,
  seededRandom,
  WOO_STORE,
} from '../helpers/fulfillment-daemon-world.js';
import {
  codesStoredAt,
  deliveredMasks,
  intentsIn,
  intentUnitsByLine,
  pooledCodes,
  shopLines,
  webhookEvents,
  workInFlight,
} from '../helpers/fulfillment-peek.js';
import { findSecrets, sqliteFiles } from '../helpers/secret-leak-scan.js';
import { openAlertKeys, syncRuns } from '../helpers/sqlite-peek.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * The money path's crash and fault proof, with the daemon as a real child process
 * (`node dist/src/cli.js run`), `kill -9`ed at random instants and restarted at once, against
 * the sandbox supplier and a strict fake WooCommerce on loopback. What is checked is only what
 * the outside world shows — the buyers' notes in the published format, the supplier's ledger,
 * `status --json`, `orders --json` — plus read-only looks into the daemon's database at the
 * instant of each death (which intents were between sending and recording the answer).
 *
 * The invariants: never buy twice for one sale, never lose a code, never leak a code or a key.
 */

vi.setConfig({ testTimeout: 150_000, hookTimeout: 60_000 });

const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
const DELIVERED_WITHIN_MS = 60_000;

let world: FulfillmentDaemonWorld | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts the world and its first daemon, and waits for the first inventory run (the snapshot). */
async function startWorld(opts: Parameters<typeof FulfillmentDaemonWorld.start>[0]) {
  const w = await FulfillmentDaemonWorld.start(opts);
  world = w;
  await w.startDaemon();
  await waitUntil(() => syncRuns(w.dbFile).some((r) => r.kind === 'inventory' && r.finishedAt !== null), {
    timeoutMs: 15_000,
    what: 'the first inventory run (the catalogue snapshot purchases are checked against)',
  });
  return w;
}

/** A random order of 1–3 lines with distinct SKUs, 1–3 units each. */
function randomLines(w: FulfillmentDaemonWorld, rnd: ReturnType<typeof seededRandom>) {
  const skus = [...w.skus];
  const n = rnd.int(1, 3);
  const lines: { sku: string; quantity: number }[] = [];
  for (let i = 0; i < n; i++) {
    const [sku] = skus.splice(rnd.int(0, skus.length - 1), 1);
    lines.push({ sku: sku as string, quantity: rnd.int(1, 3) });
  }
  return lines;
}

/** Waits until every order is delivered as published; the failure lists what is still wrong. */
async function untilAllDelivered(w: FulfillmentDaemonWorld, orders: readonly FakeOrderJson[], what: string) {
  let problems: string[] = [];
  try {
    await waitUntil(
      () => {
        problems = auditDeliveries(w.shop, orders, w.supplier.ledger()).problems;
        return problems.length === 0 && workInFlight(w.dbFile).deliveries === 0;
      },
      { timeoutMs: DELIVERED_WITHIN_MS, intervalMs: 200, what },
    );
  } catch (e) {
    throw new Error(
      `${(e as Error).message}\nseed ${SEED}; still wrong (${problems.length}):\n  ${problems.slice(0, 15).join('\n  ')}\n` +
        `parked: ${intentsIn(w.dbFile, 'parked').length}, in flight: ${JSON.stringify(workInFlight(w.dbFile))}`,
    );
  }
}

/** The closing books: supplier units, codes issued = delivered + pooled, no code twice, no 429 caused. */
async function closeTheBooks(w: FulfillmentDaemonWorld, opts: { forcedRateLimits?: number } = {}) {
  const ledger = w.supplier.ledger();
  const audit = auditDeliveries(w.shop, w.placed, ledger);
  expect(audit.problems, `seed ${SEED}`).toEqual([]);
  const status = await w.statusJson();
  const lines = w.placed.reduce((s, o) => s + o.line_items.length, 0);
  expect(status.orders, 'status --json orders once everything is delivered').toMatchObject({
    received: lines,
    delivered: lines,
    inFlight: 0,
    parked: 0,
    onHold: 0,
  });
  const pooled = status.orders.pooledCodes;
  expect(supplierUnits(ledger), 'supplier units sold (non-failed orders) = shop units sold + pooled').toBe(
    audit.shopUnits + pooled,
  );
  const issued = issuedCodes(ledger);
  expect(new Set(issued).size, 'the supplier never issued one code twice').toBe(issued.length);
  expect(issued.length, 'codes issued = codes delivered + codes pooled').toBe(audit.delivered.size + pooled);
  const undelivered = issued.filter((c) => !audit.delivered.has(c)).length;
  expect(undelivered, 'issued codes not in any order are exactly the pooled ones').toBe(pooled);
  expect(duplicateReferences(ledger), 'supplier orders sharing one intent reference').toEqual([]);
  const keys = new Set(intentsIn(w.dbFile).map((i) => i.idempotencyKey));
  const foreign = ledger.orders.filter((o) => !o.reference || !keys.has(o.reference)).map((o) => o.id);
  expect(foreign, 'supplier orders whose reference is no intent of ours').toEqual([]);
  expect(ledger.rateLimitExceeded, 'the client caused no real 429').toBe(0);
  expect(ledger.rateLimited, '429s answered (only the injected ones)').toBe(opts.forcedRateLimits ?? 0);
  expect(ledger.unauthorized).toBe(0);
  return { ledger, audit, status, pooled };
}

/**
 * Resolves every parked intent the way an operator would: the supplier has an order carrying the
 * intent's reference → follow it; it has none → buy again. Returns how each was resolved.
 */
async function resolveParked(w: FulfillmentDaemonWorld, listing: OrdersJson) {
  const ledger = w.supplier.ledger();
  const out = { followed: [] as string[], rebought: [] as string[] };
  const runs = listing.parked.map((p) => {
    expect(p.sentAt, `parked intent ${p.id} shows when it was sent`).not.toBeNull();
    const found = ledger.orders.filter((o) => o.reference === p.idempotencyKey);
    expect(found.length, `supplier orders with reference ${p.idempotencyKey}`).toBeLessThanOrEqual(1);
    const args = found[0] ? ['--supplier-order', found[0].id] : ['--rebuy'];
    (found[0] ? out.followed : out.rebought).push(p.id);
    return w.cli('orders', 'resolve', p.id, ...args).then((r) => ({ r, what: `${p.id} ${args.join(' ')}` }));
  });
  // An operator's commands, side by side: each goes through the daemon's admin API.
  for (const { r, what } of await Promise.all(runs)) {
    expect(r.code, `orders resolve ${what}: ${r.stderr}`).toBe(0);
  }
  return out;
}

/**
 * Waits until nothing moves but the parked intents: every placed line taken in, every line bought
 * or held by an intent, every code delivered, and the parked set exactly `expected`.
 */
async function untilSettledExceptParked(
  w: FulfillmentDaemonWorld,
  expected: readonly string[],
  what: string,
) {
  const lines = w.placed.reduce((s, o) => s + o.line_items.length, 0);
  const want = [...expected].sort();
  let last: unknown;
  await waitUntil(
    () => {
      const f = workInFlight(w.dbFile);
      const parked = intentsIn(w.dbFile, 'parked')
        .map((i) => i.id)
        .sort();
      last = { ...f, parked: parked.length };
      return (
        f.lines === lines &&
        f.unbought === 0 &&
        f.intents === 0 &&
        f.undelivered === 0 &&
        f.deliveries === 0 &&
        JSON.stringify(parked) === JSON.stringify(want)
      );
    },
    {
      timeoutMs: DELIVERED_WITHIN_MS,
      intervalMs: 200,
      what: `${what} (expected ${lines} lines, ${want.length} parked)`,
    },
  ).catch((e: Error) => {
    throw new Error(`${e.message}; last seen ${JSON.stringify(last)}`);
  });
}

/** Kills while a POST /orders is inside the supplier (committed there, the answer not yet back). */
async function killDuringOrderPost(w: FulfillmentDaemonWorld, what: string) {
  const before = w.supplier.ledger().requests['POST /orders'];
  await waitUntil(() => w.supplier.ledger().requests['POST /orders'] > before, {
    timeoutMs: 15_000,
    intervalMs: 5,
    what: `a POST /orders in flight (${what})`,
  });
  return w.kill9();
}

// ────────────────────────────────────────────────────────────────────────────────────────────

interface CrashRunReport {
  kills: number;
  /** Kills that left work mid-way: at open lines, unsettled intents, pending deliveries. */
  hit: string;
  killedWhileSending: string[];
  orders: number;
  units: number;
}

/**
 * 50 orders, some placed while the daemon is down, and at least 10 `kill -9` at random instants
 * (plus one aimed at a POST /orders in flight), each followed by an immediate restart.
 */
async function crashRun(
  w: FulfillmentDaemonWorld,
  rnd: ReturnType<typeof seededRandom>,
): Promise<CrashRunReport> {
  const ORDERS = 50;
  const RANDOM_KILLS = 10;
  const AIMED_AT = new Set([4]);
  // Every answer to POST /orders is held back a little after the order is committed: the window
  // between "sent" and "answer recorded" is where a kill hurts, so random kills land in it often.
  w.supplier.injectFault('slow', { endpoint: 'POST /orders', delayMs: 250, count: 100_000 });
  const place = () => {
    if (w.placed.length < ORDERS) w.placeOrder(randomLines(w, rnd));
  };
  for (let cycle = 0; cycle < RANDOM_KILLS + AIMED_AT.size; cycle++) {
    if (AIMED_AT.has(cycle)) {
      place();
      place();
      const rec = await killDuringOrderPost(w, `aimed kill ${cycle}`);
      place();
      await w.restartAfterKill(rec);
      continue;
    }
    const lifetime = rnd.int(50, 1_500);
    const started = Date.now();
    for (const at of [rnd.int(0, lifetime), rnd.int(0, lifetime), rnd.int(0, lifetime)].sort(
      (a, b) => a - b,
    )) {
      const wait = started + at - Date.now();
      if (wait > 0) await delay(wait);
      place();
    }
    const rest = started + lifetime - Date.now();
    if (rest > 0) await delay(rest);
    const rec = await w.kill9();
    // Sales go on while the daemon is down.
    for (let i = rnd.int(1, 2); i > 0; i--) place();
    await w.restartAfterKill(rec);
  }
  while (w.placed.length < ORDERS) place();
  return {
    kills: w.kills.length,
    hit: `${w.kills.filter((k) => k.leftInFlight.intents > 0).length} with intents unsettled, ${w.kills.filter((k) => k.leftInFlight.deliveries > 0).length} mid-delivery, ${w.kills.filter((k) => k.leftInFlight.open > 0).length} with lines open`,
    killedWhileSending: [...new Set(w.kills.flatMap((k) => k.sendingIntents))],
    orders: w.placed.length,
    units: w.placed.reduce((s, o) => s + o.line_items.reduce((t, l) => t + l.quantity, 0), 0),
  };
}

describe('kill -9 at random instants, 50 orders', () => {
  it('keys honoured: every order delivered once, bought once, every code accounted for', async () => {
    const w = await startWorld({ honoursIdempotencyKeys: true });
    const run = await crashRun(w, seededRandom(SEED));
    expect(run.kills).toBeGreaterThanOrEqual(10);
    expect(run.orders).toBe(50);
    await untilAllDelivered(w, w.placed, 'all 50 orders delivered after the kills');
    const { ledger, audit, pooled } = await closeTheBooks(w);
    // Nothing was parked: with keys honoured, a kill between send and answer is resent under its key.
    expect(intentsIn(w.dbFile, 'parked')).toEqual([]);
    expect(pooled, 'no pooled codes: nothing was bought that was not sold').toBe(0);
    expect(supplierUnits(ledger)).toBe(run.units);
    console.info(
      `[crash, keys honoured] seed ${SEED}: ${run.kills} kills (${run.hit}; ${run.killedWhileSending.length} intents caught between send and answer), ` +
        `${run.orders} orders / ${run.units} units, ${ledger.orders.length} supplier orders, ${ledger.idempotentReplays} idempotent replays, ` +
        `${audit.notes} delivery notes, ${audit.delivered.size} codes delivered`,
    );
  });

  it('keys not honoured: exactly the intents killed mid-send are parked; resolved, everything is delivered once', async () => {
    const w = await startWorld({ honoursIdempotencyKeys: false });
    const run = await crashRun(w, seededRandom(SEED + 1));
    expect(run.kills).toBeGreaterThanOrEqual(10);
    // The aimed kill guarantees at least one intent died between sending and recording the answer.
    expect(run.killedWhileSending.length).toBeGreaterThanOrEqual(1);
    const expected = [...run.killedWhileSending].sort();
    // Settle: everything not parked is delivered, and the parked set is exactly the killed-mid-send set.
    await untilSettledExceptParked(
      w,
      expected,
      `parked intents = those killed between sending and recording (seed ${SEED + 1})`,
    );
    const listing = await w.ordersJson();
    expect(listing.parked.map((p) => p.id).sort(), 'orders --json parked').toEqual(expected);
    expect(listing.inFlight).toEqual([]);
    // Not one unit bought twice while they sat parked: supplier units ≤ shop units (nothing pooled yet).
    await w.passes(2, 'parked intents stay parked');
    const shopUnits = run.units;
    expect(supplierUnits(w.supplier.ledger()), 'no double buy while parked').toBeLessThanOrEqual(shopUnits);
    expect(
      intentsIn(w.dbFile, 'parked')
        .map((i) => i.id)
        .sort(),
    ).toEqual(expected);

    const resolved = await resolveParked(w, listing);
    await untilAllDelivered(w, w.placed, 'all 50 orders delivered once every parked intent was resolved');
    const { ledger, pooled } = await closeTheBooks(w);
    expect(pooled).toBe(0);
    expect(supplierUnits(ledger), 'supplier units = shop units exactly').toBe(shopUnits);
    console.info(
      `[crash, keys not honoured] seed ${SEED + 1}: ${run.kills} kills (${run.hit}), ${expected.length} parked (` +
        `${resolved.followed.length} followed to their supplier order, ${resolved.rebought.length} re-bought), ` +
        `${run.orders} orders / ${run.units} units, ${ledger.orders.length} supplier orders`,
    );
  });
});

describe('kill -9 with several deliveries in flight', () => {
  it('notes held mid-write in three lanes while the daemon buys on; killed, the writes land, restarted: each order gets its codes once', async () => {
    // The client waits for the shop far longer than the test runs: the held notes stay in flight.
    const w = await startWorld({ honoursIdempotencyKeys: true, shopTimeoutMs: 120_000 });
    const rnd = seededRandom(SEED + 2);
    for (let i = 0; i < 6; i++) w.placeOrder(randomLines(w, rnd));
    // Three of the store's four lanes (storefronts[].concurrency) each hold a note the shop has not
    // answered; the fourth is the store's only free request slot (one queue per store), so the
    // daemon still reads and writes the shop through it.
    const held = w.placed
      .slice(0, 3)
      .map((o) => w.shop.stall({ method: 'POST', route: 'orders/:id/notes', orderId: o.id }));
    const hanging = () => held.filter((s) => s.waiting === 1).length;
    await waitUntil(() => hanging() === 3, { timeoutMs: 30_000, what: 'three delivery notes mid-write' });
    // The passes go on meanwhile: a sale made now is bought while those writes hang.
    const later = w.placeOrder(randomLines(w, rnd));
    await waitUntil(
      () =>
        intentUnitsByLine(w.dbFile).some(
          (r) => r.orderId === String(later.id) && ['ordered', 'stored'].includes(r.state),
        ),
      { timeoutMs: 30_000, what: 'a bulk order for a sale made while three notes hang' },
    );
    expect(hanging()).toBe(3);
    const rec = await w.kill9();
    expect(rec.leftInFlight.deliveries).toBeGreaterThanOrEqual(3);
    // The held writes reach the shop after their sender died: nobody reads those answers.
    for (const s of held) s.release();
    await w.restartAfterKill(rec);
    await untilAllDelivered(w, w.placed, 'every order delivered after the kill');
    const { audit, pooled } = await closeTheBooks(w);
    expect(pooled).toBe(0);
    expect(audit.notes, 'one note per order: no second set after the restart').toBe(w.placed.length);
    // The codes table and the buyers' notes agree, code by code (compared masked).
    const inNotes = [...audit.delivered].map(([code, orderId]) => `${orderId} ${maskCode(code)}`).sort();
    expect(deliveredMasks(w.dbFile)).toEqual(inNotes);
  });
});

// ────────────────────────────────────────────────────────────────────────────────────────────

interface FaultPhase {
  kind: FaultKind;
  endpoint: SandboxEndpoint;
  count: number;
}

/** Faults on POST /orders, one phase at a time so each lands on its own intent. */
const POST_PHASES: FaultPhase[] = [
  { kind: 'rateLimit', endpoint: 'POST /orders', count: 2 },
  { kind: 'error500', endpoint: 'POST /orders', count: 1 },
  { kind: 'commitThenReset', endpoint: 'POST /orders', count: 1 },
  { kind: 'garbage', endpoint: 'POST /orders', count: 1 },
  { kind: 'violation', endpoint: 'POST /orders', count: 1 },
];
/** Faults on the GETs that follow an order, present throughout. */
const GET_FAULTS: FaultPhase[] = [
  { kind: 'rateLimit', endpoint: 'GET /orders/{id}', count: 3 },
  { kind: 'error500', endpoint: 'GET /orders/{id}/codes', count: 2 },
  { kind: 'garbage', endpoint: 'GET /orders/{id}', count: 2 },
  { kind: 'violation', endpoint: 'GET /orders/{id}/codes', count: 1 },
  { kind: 'violation', endpoint: 'GET /orders/{id}', count: 1 },
];

async function faultRun(w: FulfillmentDaemonWorld, keys: boolean) {
  const rnd = seededRandom(SEED + (keys ? 2 : 3));
  for (const f of GET_FAULTS) w.supplier.injectFault(f.kind, { endpoint: f.endpoint, count: f.count });
  const parkedBy = new Map<FaultKind, string>();
  for (const [i, phase] of POST_PHASES.entries()) {
    const served = w.supplier.ledger().faultsServed[phase.kind];
    const parkedBefore = new Set(intentsIn(w.dbFile, 'parked').map((p) => p.id));
    w.supplier.injectFault(phase.kind, { endpoint: phase.endpoint, count: phase.count });
    w.placeOrder(randomLines(w, rnd));
    w.placeOrder(randomLines(w, rnd));
    await waitUntil(() => w.supplier.ledger().faultsServed[phase.kind] >= served + phase.count, {
      timeoutMs: 20_000,
      what: `${phase.count}× ${phase.kind} served on ${phase.endpoint}`,
    });
    if (!keys && phase.kind !== 'rateLimit') {
      // An unknown outcome with keys not honoured: parked, never guessed at.
      const id = await waitUntil(
        () => intentsIn(w.dbFile, 'parked').find((p) => !parkedBefore.has(p.id))?.id,
        { timeoutMs: 10_000, what: `the intent that met ${phase.kind} on POST /orders to be parked` },
      );
      parkedBy.set(phase.kind, id);
    }
    // A kill at a random instant after the commit-then-reset, and one after the garbage answer.
    if (i === 2 || i === 3) {
      await delay(rnd.int(0, 600));
      const rec = await w.kill9();
      await w.restartAfterKill(rec);
      if (!keys && rec.sendingIntents.length) {
        // Parked by the new process at its first pass: settle that before the next phase looks for its own.
        await waitUntil(
          () => rec.sendingIntents.every((id) => intentsIn(w.dbFile, 'parked').some((p) => p.id === id)),
          { timeoutMs: 10_000, what: 'the intents killed mid-send parked after the restart' },
        );
      }
    }
  }
  // Two more orders with nothing injected: the pipeline is healthy again.
  w.placeOrder(randomLines(w, rnd));
  w.placeOrder(randomLines(w, rnd));
  return parkedBy;
}

const forcedRateLimits = [...POST_PHASES, ...GET_FAULTS]
  .filter((f) => f.kind === 'rateLimit')
  .reduce((s, f) => s + f.count, 0);

describe('supplier faults (429, 500, garbage, contract violations, commit-then-reset) with kills', () => {
  it('keys honoured: one supplier order per intent, everything delivered', async () => {
    const w = await startWorld({ honoursIdempotencyKeys: true });
    await faultRun(w, true);
    await untilAllDelivered(w, w.placed, `all ${w.placed.length} orders delivered despite the faults`);
    const { ledger } = await closeTheBooks(w, { forcedRateLimits });
    for (const f of [...POST_PHASES, ...GET_FAULTS]) {
      expect(ledger.faultsServed[f.kind], `${f.kind} faults served`).toBeGreaterThanOrEqual(f.count);
    }
    // The unknown outcomes were retried under the same key and answered from the supplier's replay.
    expect(ledger.idempotentReplays).toBeGreaterThanOrEqual(1);
    expect(ledger.postsWithoutIdempotencyKey).toBe(0);
    const settled = intentsIn(w.dbFile).filter((i) => i.state === 'stored');
    expect(ledger.orders.length, 'one supplier order per stored intent').toBe(settled.length);
    console.info(
      `[faults, keys honoured] seed ${SEED + 2}: ${w.kills.length} kills, ${w.placed.length} orders, ` +
        `${ledger.orders.length} supplier orders, ${ledger.idempotentReplays} replays, faults ${JSON.stringify(ledger.faultsServed)}`,
    );
  });

  it('keys not honoured: unknown outcomes parked and not re-bought until resolved', async () => {
    const w = await startWorld({ honoursIdempotencyKeys: false });
    const parkedBy = await faultRun(w, false);
    const killedSending = w.kills.flatMap((k) => k.sendingIntents);
    const expected = [...new Set([...parkedBy.values(), ...killedSending])].sort();
    await untilSettledExceptParked(w, expected, 'everything settled but the parked intents');
    const listing = await w.ordersJson();
    expect(listing.parked.map((p) => p.id).sort()).toEqual(expected);
    const ledger = w.supplier.ledger();
    const keyOf = new Map(listing.parked.map((p) => [p.id, p.idempotencyKey]));
    const ordersFor = (intent: string | undefined) =>
      ledger.orders.filter((o) => o.reference === keyOf.get(intent ?? '')).length;
    // A 500 is answered before processing: nothing at the supplier. The others committed the order.
    expect(ordersFor(parkedBy.get('error500')), 'supplier orders for the 500 intent').toBe(0);
    expect(
      ordersFor(parkedBy.get('commitThenReset')),
      'supplier orders for the commit-then-reset intent',
    ).toBe(1);
    expect(ordersFor(parkedBy.get('garbage')), 'supplier orders for the garbage-answer intent').toBe(1);
    expect(ordersFor(parkedBy.get('violation')), 'supplier orders for the violating-answer intent').toBe(1);
    // Parked means parked: more passes buy nothing for them.
    const before = w.supplier.ledger().orders.length;
    await w.passes(2, 'parked intents are left alone');
    expect(w.supplier.ledger().orders.length, 'no supplier order placed while the intents were parked').toBe(
      before,
    );
    const shopUnits = w.placed.reduce((s, o) => s + o.line_items.reduce((t, l) => t + l.quantity, 0), 0);
    expect(supplierUnits(w.supplier.ledger()), 'no double buy').toBeLessThanOrEqual(shopUnits);

    const resolved = await resolveParked(w, listing);
    expect(resolved.rebought).toContain(parkedBy.get('error500'));
    expect(resolved.followed).toContain(parkedBy.get('commitThenReset'));
    await untilAllDelivered(w, w.placed, 'all orders delivered once the parked intents were resolved');
    const books = await closeTheBooks(w, { forcedRateLimits });
    expect(books.pooled).toBe(0);
    expect(supplierUnits(books.ledger)).toBe(shopUnits);
    console.info(
      `[faults, keys not honoured] seed ${SEED + 3}: ${w.kills.length} kills, ${expected.length} parked ` +
        `(${resolved.followed.length} followed, ${resolved.rebought.length} re-bought), ${books.ledger.orders.length} supplier orders`,
    );
  });
});

// ────────────────────────────────────────────────────────────────────────────────────────────

describe('duplicate, overlapping and forged events', () => {
  it('a shop webhook delivered 3 times and racing the poll buys each line once; forged webhooks are 401', async () => {
    const w = await startWorld({ honoursIdempotencyKeys: true, webhooks: true });
    await waitUntil(
      () => w.shop.orders.webhookList().filter((h) => h.delivery_url.startsWith(w.url)).length === 2,
      {
        what: 'the daemon registered its order.created and order.updated webhooks',
      },
    );
    const a = w.placeOrder([
      { sku: w.skus[0] as string, quantity: 2 },
      { sku: w.skus[1] as string, quantity: 3 },
    ]);
    const first = (await w.shop.deliverWebhooks()).filter((d) => d.orderId === a.id);
    expect(first.map((d) => d.response)).toEqual([200]);
    const again = await Promise.all(
      [1, 2, 3].map(() => w.shop.orders.redeliver(first[0]?.deliveryId as string)),
    );
    expect(again.map((d) => d.response)).toEqual([200, 200, 200]);
    // Another order: its webhook, two redeliveries and the 1 s poll all at once.
    const b = w.placeOrder([{ sku: w.skus[2] as string, quantity: 1 }]);
    const bHooks = (await w.shop.deliverWebhooks()).filter((d) => d.orderId === b.id);
    await Promise.all([
      w.shop.orders.redeliver(bHooks[0]?.deliveryId as string),
      w.shop.orders.redeliver(bHooks[0]?.deliveryId as string),
    ]);

    // Forged: a good-looking delivery signed with the wrong secret, and one with no signature.
    const body = JSON.stringify({ id: 987_654, status: 'processing', line_items: [] });
    const headers = (sig?: string) => ({
      'Content-Type': 'application/json',
      'X-WC-Webhook-Topic': 'order.created',
      'X-WC-Webhook-Resource': 'order',
      'X-WC-Webhook-Event': 'created',
      'X-WC-Webhook-ID': '1',
      'X-WC-Webhook-Delivery-ID': 'f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0',
      ...(sig !== undefined && { 'X-WC-Webhook-Signature': sig }),
    });
    const shopHook = `${w.url}/webhooks/woocommerce/${WOO_STORE}`;
    const forged = createHmac('sha256', 'not-the-webhook-secret').update(body).digest('base64');
    for (const h of [headers(forged), headers()]) {
      const res = await fetch(shopHook, { method: 'POST', headers: h, body });
      expect(res.status, 'a forged or unsigned shop webhook').toBe(401);
    }
    // Supplier webhooks: signed ones are accepted (the sandbox sends them), forged/unsigned are 401.
    const event = JSON.stringify({
      event: 'order.status_changed',
      orderId: 'ord_forged',
      status: 'delivered',
      previousStatus: 'paid',
      occurredAt: new Date().toISOString(),
    });
    for (const sig of [signWebhookBody(event, 'not-the-supplier-secret'), undefined]) {
      const res = await fetch(`${w.url}/webhooks/psnb2b`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(sig && { 'X-PSNB2B-Signature': sig }) },
        body: event,
      });
      expect(res.status, 'a forged or unsigned supplier webhook').toBe(401);
    }

    await untilAllDelivered(w, w.placed, 'both orders delivered');
    await w.supplier.webhooksSettled();
    const { ledger } = await closeTheBooks(w);
    // Each line was bought once: the units of its live intents are exactly its quantity.
    for (const o of w.placed) {
      for (const l of o.line_items) {
        const bought = intentUnitsByLine(w.dbFile)
          .filter((x) => x.orderId === String(o.id) && x.lineId === String(l.id) && x.state === 'stored')
          .reduce((s, x) => s + x.units, 0);
        expect(bought, `units bought for order ${o.id} line ${l.id}`).toBe(l.quantity);
      }
    }
    expect(supplierUnits(ledger)).toBe(6);
    // The redeliveries were recognised as such: one event per delivery id, and nothing for the forgeries.
    const shopEvents = webhookEvents(w.dbFile, `woocommerce/${WOO_STORE}`);
    expect(shopEvents.filter((e) => e.subject === String(a.id)).length).toBeLessThanOrEqual(
      new Set(w.shop.orders.deliveries.filter((d) => d.orderId === a.id).map((d) => d.deliveryId)).size,
    );
    expect(shopEvents.filter((e) => e.subject === '987654')).toEqual([]);
    expect(shopLines(w.dbFile, '987654')).toEqual([]);
    const supplierEvents = webhookEvents(w.dbFile, 'psnb2b');
    expect(supplierEvents.some((e) => e.subject === 'ord_forged')).toBe(false);
    // The sandbox's signed status webhooks were all accepted and recorded.
    const hooks = ledger.webhooks;
    expect(hooks.length).toBeGreaterThan(0);
    expect(
      hooks.filter((h) => h.httpStatus !== 200),
      'supplier webhooks not answered 200',
    ).toEqual([]);
    expect(supplierEvents.length).toBeGreaterThan(0);
    const stored = codesStoredAt(w.dbFile);
    const lag = ledger.orders
      .filter((o) => o.deliveredAt !== null && stored.has(o.id))
      .map((o) => (stored.get(o.id) as number) - (o.deliveredAt as number));
    console.info(
      `[events] ${w.shop.orders.deliveries.length} shop webhook deliveries (${shopEvents.length} recorded), ` +
        `${hooks.length} supplier webhooks, codes stored ${lag.join('/')} ms after the supplier delivered`,
    );
  });
});

// ────────────────────────────────────────────────────────────────────────────────────────────

describe('a refund at each stage', () => {
  it('before purchase: dropped; after purchase: pooled, then sold from the pool; after delivery: alerted', async () => {
    // Slow delivery, so a refund can land between the purchase and the delivery; a 3 s batch window
    // (counted from the sale, which the 1 s poll may see a second late), so one can land before it.
    const w = await startWorld({
      honoursIdempotencyKeys: true,
      supplier: { deliveredAfterMs: 1_500 },
      extraConfig: { fulfillment: { batchWindowSeconds: 3 } },
    });
    const [sA, sB, sC] = w.skus as [string, string, string];
    const entry = (sku: string) => w.catalog.find((e) => `PSN-${e.region}-${e.denomination}` === sku);
    const supplierOrdersOf = (sku: string) =>
      w.supplier
        .ledger()
        .orders.filter((o) =>
          o.items.some((i) => i.region === entry(sku)?.region && i.denomination === entry(sku)?.denomination),
        );

    // 1. Refunded before purchase (inside the batch window): dropped, nothing bought.
    const r1 = w.placeOrder([{ sku: sA, quantity: 2 }]);
    await waitUntil(() => shopLines(w.dbFile, String(r1.id)).length === 1, {
      intervalMs: 10,
      what: `order ${r1.id} taken in`,
    });
    w.shop.refund(r1.id, [{ sku: sA, quantity: 2 }]);
    await waitUntil(() => shopLines(w.dbFile, String(r1.id))[0]?.state === 'dropped', {
      what: `order ${r1.id}'s line dropped after its refund`,
    });
    await w.passes(2, 'a dropped line stays unbought');
    expect(supplierOrdersOf(sA), `supplier orders for ${sA}`).toEqual([]);
    expect(intentUnitsByLine(w.dbFile).filter((x) => x.orderId === String(r1.id))).toEqual([]);

    // 2. Refunded after purchase, before delivery: its codes go to the pool …
    const r2 = w.placeOrder([{ sku: sB, quantity: 2 }]);
    await waitUntil(() => supplierOrdersOf(sB).length === 1, { what: `the supplier order for ${sB}` });
    expect(supplierOrdersOf(sB)[0]?.status).not.toBe('delivered');
    w.shop.refund(r2.id, [{ sku: sB, quantity: 2 }]);
    await waitUntil(() => pooledCodes(w.dbFile) >= 2, {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: `order ${r2.id}'s 2 codes in the pool`,
    });
    expect((await w.statusJson()).orders.pooledCodes, 'status --json orders.pooledCodes').toBe(2);
    expect(shopLines(w.dbFile, String(r2.id))[0]?.state).toBe('dropped');
    expect(deliveryCount(w, r2.id), `delivery notes in refunded order ${r2.id}`).toBe(0);
    // … and the next sale of that SKU is served from the pool, with no new supplier order.
    const r3 = w.placeOrder([{ sku: sB, quantity: 2 }]);
    await untilAllDelivered(w, [r3], `order ${r3.id} served from the pool`);
    expect(supplierOrdersOf(sB).length, `supplier orders for ${sB}`).toBe(1);
    const poolCodes = new Set(
      w.supplier.codesIssued(supplierOrdersOf(sB)[0]?.id as string).map((c) => c.code),
    );
    const r3Codes = [...auditDeliveries(w.shop, [r3], w.supplier.ledger()).delivered.keys()];
    expect(
      r3Codes.every((c) => poolCodes.has(c)),
      `order ${r3.id} got the pooled codes`,
    ).toBe(true);
    expect((await w.statusJson()).orders.pooledCodes).toBe(0);

    // 3. Refunded after delivery: the codes cannot be taken back; an alert says so.
    const r4 = w.placeOrder([{ sku: sC, quantity: 1 }]);
    await untilAllDelivered(w, [r4], `order ${r4.id} delivered`);
    w.shop.refund(r4.id, [{ sku: sC, quantity: 1 }]);
    await waitUntil(() => openAlertKeys(w.dbFile).some((k) => k.startsWith('refund-after-delivery:')), {
      timeoutMs: 15_000,
      what: 'a refund-after-delivery alert',
    });
    const status = await w.statusJson();
    const alert = status.alerts.find((x) => x.kind === 'refund-after-delivery');
    expect(alert?.detail).toContain(`#${r4.id}`);
    expect(supplierUnits(w.supplier.ledger()), 'units bought: r2 (pooled, then r3) and r4').toBe(3);
    expect(w.supplier.ledger().rateLimited).toBe(0);
  });
});

function deliveryCount(w: FulfillmentDaemonWorld, orderId: number): number {
  return w.shop.notesOf(orderId, { customer: true }).filter((n) => n.note.includes('[psnb2b:')).length;
}

// ────────────────────────────────────────────────────────────────────────────────────────────

describe('secrets', () => {
  it('500s, garbage and timeouts on /codes: recovered, and no code or key in any output, the database or status', async () => {
    const w = await startWorld({ honoursIdempotencyKeys: true, supplierTimeoutMs: 1_000 });
    const codesEndpoint: SandboxEndpoint = 'GET /orders/{id}/codes';
    w.supplier.injectFault('error500', { endpoint: codesEndpoint, count: 2 });
    w.supplier.injectFault('garbage', { endpoint: codesEndpoint, count: 2 });
    w.supplier.injectFault('slow', { endpoint: codesEndpoint, count: 2, delayMs: 1_600 });
    w.supplier.injectFault('violation', { endpoint: codesEndpoint, count: 1 });
    const rnd = seededRandom(SEED + 5);
    for (let i = 0; i < 4; i++) w.placeOrder(randomLines(w, rnd));
    await untilAllDelivered(w, w.placed, 'every order delivered once /codes recovered');
    const { ledger } = await closeTheBooks(w);
    expect(ledger.faultsServed).toMatchObject({ error500: 2, garbage: 2, slow: 2, violation: 1 });
    // A kill and a restart in the middle of nothing, so the scan covers a WAL after recovery too.
    await w.restartAfterKill(await w.kill9());
    const statusRun = await w.cli('status', '--json');
    const ordersRun = await w.cli('orders');
    expect(statusRun.code, `status --json: ${statusRun.stderr}`).toBe(0);
    expect(ordersRun.code, `orders: ${ordersRun.stderr}`).toBe(0);

    const codes = issuedCodes(ledger);
    expect(codes.length).toBeGreaterThan(0);
    const secrets: Record<string, string> = {
      supplierApiKey: w.secrets.supplierApiKey,
      wooConsumerSecret: w.shop.consumerSecret,
      wooConsumerKey: w.shop.consumerKey,
      adminToken: w.secrets.adminToken,
      codesKey: w.secrets.codesKey,
    };
    codes.forEach((c, i) => {
      secrets[`code #${i + 1} (${c.slice(0, 4)}-…)`] = c;
    });
    const found = findSecrets(secrets, [
      { label: 'daemon and CLI output', text: w.output.text },
      { label: 'status --json', text: statusRun.stdout },
      ...sqliteFiles(w.dbFile),
    ]);
    expect(found).toEqual([]);
    // The scan is real: the outputs carry the daemon's logs, the faults it met, and masked codes at most.
    expect(w.output.text).toMatch(/listening on/);
    expect(w.output.text).toMatch(/codes/);
    expect(JSON.parse(statusRun.stdout).orders.delivered).toBeGreaterThan(0);
  });
});
