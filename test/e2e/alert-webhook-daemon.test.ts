import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FulfillmentDaemonWorld } from '../helpers/fulfillment-daemon-world.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * An alert raised in the daemon reaches a local webhook receiver once, and its resolution once;
 * while the receiver hangs, purchases go on.
 */

/** Takes requests and answers none of them until released. */
class HangingReceiver {
  readonly texts: string[] = [];
  private held: http.ServerResponse[] = [];
  private released = false;
  readonly server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      this.texts.push((JSON.parse(body) as { text: string }).text);
      if (this.released) res.writeHead(200).end('ok');
      else this.held.push(res);
    });
  });

  /** Requests received and not answered, whose connection is still open. */
  get waiting(): number {
    return this.held.filter((r) => !r.writableEnded && !r.socket?.destroyed).length;
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  release(): void {
    this.released = true;
    for (const r of this.held.splice(0)) if (!r.socket?.destroyed) r.writeHead(200).end('ok');
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let w: FulfillmentDaemonWorld;
const receiver = new HangingReceiver();

beforeAll(async () => {
  const webhookUrl = await receiver.start();
  w = await FulfillmentDaemonWorld.start({
    honoursIdempotencyKeys: true,
    extraConfig: { alerts: { webhookUrl } },
  });
}, 30_000);

afterAll(async () => {
  await w?.stop();
  await receiver.stop();
});

describe('alert webhook from the running daemon', () => {
  it('a hanging receiver never holds a purchase back; raised once, resolved once', async () => {
    // The first inventory pull fails every attempt: the inventory-pull alert is raised.
    w.supplier.injectFault('error500', { endpoint: 'GET /inventory', count: 5 });
    await w.startDaemon();
    await waitUntil(() => receiver.waiting === 1, { timeoutMs: 30_000, what: 'the alert POST, held' });
    expect(receiver.texts[0]).toMatch(/ALERT inventory-pull\n/);

    const order = w.placeOrder([{ sku: w.skus[1] as string, quantity: 1 }]);
    await waitUntil(() => w.shop.orderStatus(order.id) === 'completed', {
      timeoutMs: 30_000,
      what: 'delivered',
    });
    // Delivered while the alert's POST was still unanswered.
    expect(receiver.waiting).toBe(1);
    expect(receiver.texts).toHaveLength(1);

    receiver.release();
    await waitUntil(() => receiver.texts.some((t) => /RESOLVED inventory-pull\n/.test(t)), {
      timeoutMs: 20_000,
      what: 'the resolution',
    });
    await new Promise((r) => setTimeout(r, 2_000));
    expect(receiver.texts.filter((t) => /ALERT inventory-pull\n/.test(t))).toHaveLength(1);
    expect(receiver.texts.filter((t) => /RESOLVED inventory-pull\n/.test(t))).toHaveLength(1);
    expect(receiver.texts.join('\n')).not.toContain(w.secrets.supplierApiKey);
  }, 90_000);
});
