import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli-process.js';
import { FulfillmentDaemonWorld, WOO_STORE } from '../helpers/fulfillment-daemon-world.js';
import { waitUntil } from '../helpers/wait-until.js';

/** `psnb2b-sync claim` as a buyer's complaint reaches the reseller: the code on stdin, the daemon running. */

let w: FulfillmentDaemonWorld;
let orderId: string;
let lineId: string;
let code: string;

beforeAll(async () => {
  w = await FulfillmentDaemonWorld.start({ honoursIdempotencyKeys: true });
  await w.startDaemon();
  const order = w.placeOrder([{ sku: w.skus[0] as string, quantity: 1 }]);
  orderId = String(order.id);
  lineId = String(order.line_items[0]?.id);
  await waitUntil(() => w.shop.orderStatus(order.id) === 'completed', {
    timeoutMs: 30_000,
    what: 'order completed',
  });
  const note = w.shop.notesOf(order.id, { customer: true })[0]?.note ?? '';
  code = note
    .split('\n')
    .find((l) => l.startsWith('PSN '))
    ?.split(': ')[1] as string;
  expect(code).toMatch(/^[A-Z0-9]{4}-/);
}, 60_000);

afterAll(async () => {
  await w?.stop();
});

const claim = (input: string) =>
  runCli(
    [
      'claim',
      '--config',
      w.configPath,
      '--store',
      WOO_STORE,
      '--order',
      orderId,
      '--line',
      lineId,
      '--error-code',
      'WC-40371-7',
    ],
    { input, log: w.output },
  );

describe('claim through the running daemon, the code on stdin', () => {
  it('files the claim once, and never prints the code', async () => {
    const first = await claim(code);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/claim clm_\S+ filed for …[A-Z0-9]{4} /);
    const again = await claim(code);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/filed already/);
    expect(w.supplier.ledger().claims).toHaveLength(1);
    const status = await w.statusJson();
    expect(status.claims.open).toBe(1);
    expect(w.output.text).not.toContain(code);
  });

  it('a code that was not delivered to that line is not filed (exit 1, the answer of a supplier failure), without calling the supplier', async () => {
    const wrong = await claim('ZZZZ-YYYY-XXXX');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/no claim was filed/);
    expect(w.supplier.ledger().claims).toHaveLength(1);
  });
});
