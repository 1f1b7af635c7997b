import { afterEach, describe, expect, it, vi } from 'vitest';
import { RequestQueue } from '../../adapters/request-queue.js';
import { deliverySlots, nextToStart } from '../../adapters/request-slots.js';
import type { RequestClass } from '../../src/request-class.js';

/** How a store's request slots are shared: deliveries never in the last one, general requests first. */

const none = { delivery: 0, general: 0 };

describe('nextToStart', () => {
  it('deliveries hold at most N − 1 of N slots; the last is for general requests', () => {
    expect(deliverySlots(4)).toBe(3);
    expect(
      nextToStart({
        concurrency: 4,
        running: { delivery: 2, general: 0 },
        waiting: { ...none, delivery: 5 },
      }),
    ).toBe('delivery');
    expect(
      nextToStart({
        concurrency: 4,
        running: { delivery: 3, general: 0 },
        waiting: { ...none, delivery: 5 },
      }),
    ).toBe(null);
    expect(
      nextToStart({
        concurrency: 4,
        running: { delivery: 3, general: 0 },
        waiting: { delivery: 5, general: 1 },
      }),
    ).toBe('general');
  });

  it('a waiting general request goes before waiting deliveries; nothing starts beyond N in flight', () => {
    expect(nextToStart({ concurrency: 4, running: none, waiting: { delivery: 1, general: 1 } })).toBe(
      'general',
    );
    expect(
      nextToStart({
        concurrency: 4,
        running: { delivery: 1, general: 3 },
        waiting: { delivery: 1, general: 1 },
      }),
    ).toBe(null);
    expect(nextToStart({ concurrency: 4, running: none, waiting: none })).toBe(null);
  });

  it('with one slot, a delivery may take it (or none could run), but general requests still go first', () => {
    expect(deliverySlots(1)).toBe(1);
    expect(nextToStart({ concurrency: 1, running: none, waiting: { ...none, delivery: 1 } })).toBe(
      'delivery',
    );
    expect(nextToStart({ concurrency: 1, running: none, waiting: { delivery: 3, general: 1 } })).toBe(
      'general',
    );
    expect(
      nextToStart({ concurrency: 1, running: { ...none, delivery: 1 }, waiting: { ...none, general: 1 } }),
    ).toBe(null);
  });
});

/** A task that runs until its `finish()`; `started` once the queue let it go. */
function held(q: RequestQueue, cls: RequestClass, log: string[], name: string) {
  let finish = () => {};
  const done = q.run(
    () =>
      new Promise<void>((resolve) => {
        log.push(name);
        finish = resolve;
      }),
    cls,
  );
  return { done, finish: () => finish() };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('the request queue shares its slots', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('every delivery hangs: a general request still starts; never more than N in flight', async () => {
    const q = new RequestQueue(3);
    const log: string[] = [];
    const deliveries = ['d1', 'd2', 'd3', 'd4'].map((n) => held(q, 'delivery', log, n));
    await turn();
    expect(log).toEqual(['d1', 'd2']);
    const push = held(q, 'general', log, 'push');
    await turn();
    expect(log).toEqual(['d1', 'd2', 'push']);
    expect(q.active).toBe(3);
    const listing = held(q, 'general', log, 'listing');
    await turn();
    // All three slots taken: the listing waits for one, and goes before d3 and d4.
    expect(q.active).toBe(3);
    (deliveries[0] as { finish: () => void }).finish();
    await turn();
    expect(log).toEqual(['d1', 'd2', 'push', 'listing']);
    push.finish();
    listing.finish();
    await turn();
    expect(log).toEqual(['d1', 'd2', 'push', 'listing', 'd3']);
    expect(q.active).toBe(2);
    for (const d of deliveries.slice(1)) {
      d.finish();
      await turn();
    }
    await Promise.all([...deliveries.map((d) => d.done), push.done, listing.done]);
    expect(log).toEqual(['d1', 'd2', 'push', 'listing', 'd3', 'd4']);
    expect(q.active).toBe(0);
    expect(q.pending).toBe(0);
  });

  it('with one slot, a general request waiting goes before the deliveries queued ahead of it', async () => {
    const q = new RequestQueue(1);
    const log: string[] = [];
    const first = held(q, 'delivery', log, 'd1');
    const second = held(q, 'delivery', log, 'd2');
    const push = held(q, 'general', log, 'push');
    await turn();
    expect(log).toEqual(['d1']);
    first.finish();
    await turn();
    expect(log).toEqual(['d1', 'push']);
    push.finish();
    await turn();
    second.finish();
    await Promise.all([first.done, second.done, push.done]);
    expect(log).toEqual(['d1', 'push', 'd2']);
  });

  it('a pause (429/503) holds every class, the reserved slot too', async () => {
    vi.useFakeTimers();
    const q = new RequestQueue(2);
    q.pauseFor(1_000);
    const log: string[] = [];
    const delivery = held(q, 'delivery', log, 'delivery');
    const push = held(q, 'general', log, 'push');
    await vi.advanceTimersByTimeAsync(999);
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(log.sort()).toEqual(['delivery', 'push']);
    delivery.finish();
    push.finish();
    await Promise.all([delivery.done, push.done]);
  });
});
