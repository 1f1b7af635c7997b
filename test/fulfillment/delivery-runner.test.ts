import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DeliveryRunner, type DeliveryTask } from '../../src/fulfillment/delivery-runner.js';
import { createLogger } from '../../src/log.js';

/**
 * The delivery runner's lanes: per store at most its width in flight, one key never twice at once,
 * a task that throws (a bug) logged while its lane goes on, `close()` starting nothing new.
 */

function runner(lanes: Record<string, number>) {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => lines.push(c.toString('utf8')));
  const log = createLogger({ level: 'debug', format: 'json', stream });
  return { r: new DeliveryRunner({ lanes: new Map(Object.entries(lanes)), log }), lines };
}

/** A task that runs until its test lets it end. */
function gated(store: string, key: string, started: string[]) {
  let end: (delivered: boolean) => void = () => {};
  const task: DeliveryTask = {
    store,
    keys: [key],
    run: () => {
      started.push(key);
      return new Promise<boolean>((resolve) => {
        end = resolve;
      });
    },
  };
  return { task, end: (delivered = true) => end(delivered) };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('lanes', () => {
  it('runs at most a store’s width at once, in order; another store never waits for it', async () => {
    const { r } = runner({ slow: 2, other: 1 });
    const started: string[] = [];
    const slow = ['a', 'b', 'c'].map((k) => gated('slow', k, started));
    const other = gated('other', 'x', started);
    const offered = r.offer([...slow.map((s) => s.task), other.task]);
    expect(offered.accepted).toBe(4);
    expect(started).toEqual(['a', 'b', 'x']);
    other.end();
    await settled();
    expect(r.inFlight).toBe(3);
    slow[0]?.end();
    await settled();
    expect(started).toEqual(['a', 'b', 'x', 'c']);
    slow[1]?.end(false);
    slow[2]?.end();
    expect(await offered.done).toBe(3);
    expect(r.inFlight).toBe(0);
  });

  it('skips a task whose key is queued or running, and takes it again once it ended', async () => {
    const { r } = runner({ s: 4 });
    const started: string[] = [];
    const first = gated('s', 'order-1', started);
    r.offer([first.task]);
    expect(r.offer([gated('s', 'order-1', started).task]).accepted).toBe(0);
    expect(started).toEqual(['order-1']);
    first.end();
    await r.drain();
    const again = gated('s', 'order-1', started);
    expect(r.offer([again.task]).accepted).toBe(1);
    again.end();
    await r.drain();
    expect(started).toEqual(['order-1', 'order-1']);
  });

  it('a task that throws is logged, its lane goes on, and nothing rejects', async () => {
    const { r, lines } = runner({ s: 1 });
    const ran: string[] = [];
    const offered = r.offer([
      { store: 's', keys: ['bug'], run: () => Promise.reject(new Error('a bug')) },
      {
        store: 's',
        keys: ['next'],
        run: async () => {
          ran.push('next');
          return true;
        },
      },
    ]);
    expect(await offered.done).toBe(1);
    expect(ran).toEqual(['next']);
    expect(lines.join('')).toMatch(/delivery task for s failed: .*a bug/);
  });
});

describe('close', () => {
  it('starts nothing new: queued tasks are dropped, the running one finishes first', async () => {
    const { r } = runner({ s: 1 });
    const started: string[] = [];
    const running = gated('s', 'a', started);
    const queued = gated('s', 'b', started);
    const offered = r.offer([running.task, queued.task]);
    let closed = false;
    const closing = r.close().then(() => {
      closed = true;
    });
    await settled();
    expect(closed).toBe(false);
    running.end();
    await closing;
    expect(started).toEqual(['a']);
    expect(await offered.done).toBe(1);
    expect(r.offer([gated('s', 'c', started).task]).accepted).toBe(0);
  });
});
