import type { RequestClass } from '../src/request-class.js';
import { nextToStart } from './request-slots.js';

/**
 * The request slots of one store: at most `concurrency` tasks at once. One per store, shared by
 * every job of the process (stock pushes, order polling, deliveries), so a store never sees more
 * concurrent requests than its config allows — and when the store says "slow down" (WooCommerce's
 * 429, 503), the whole queue waits, not just the request that was told. Who starts next is
 * request-slots.ts: FIFO within a class, general before delivery, deliveries never in the last slot (when there are two or more).
 * WooCommerce's is `concurrency` wide; Shopify's one (its cost bucket paces the calls).
 */
export class RequestQueue {
  readonly concurrency: number;
  private readonly running: Record<RequestClass, number> = { delivery: 0, general: 0 };
  private readonly waiting: Record<RequestClass, (() => void)[]> = { delivery: [], general: [] };
  /** No task starts before this instant (epoch ms). */
  private pausedUntil = 0;

  constructor(concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency: expected an integer ≥ 1, got ${String(concurrency)}`);
    }
    this.concurrency = concurrency;
  }

  get active(): number {
    return this.running.delivery + this.running.general;
  }

  get pending(): number {
    return this.waiting.delivery.length + this.waiting.general.length;
  }

  /** Holds every task not yet started for `ms` (a later, shorter pause never shortens it). */
  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }

  async run<T>(task: () => Promise<T>, cls: RequestClass = 'general'): Promise<T> {
    await new Promise<void>((start) => {
      this.waiting[cls].push(start);
      this.fill();
    });
    try {
      // A pause may begin, or grow, while we wait: look again after each wait.
      for (let wait = this.pausedUntil - Date.now(); wait > 0; wait = this.pausedUntil - Date.now()) {
        await new Promise((r) => setTimeout(r, wait));
      }
      return await task();
    } finally {
      this.running[cls]--;
      this.fill();
    }
  }

  /** Starts waiters while a slot is theirs; a slot is counted taken here, so no newcomer jumps the line. */
  private fill(): void {
    for (let cls = this.next(); cls; cls = this.next()) {
      this.running[cls]++;
      this.waiting[cls].shift()?.();
    }
  }

  private next(): RequestClass | null {
    return nextToStart({
      concurrency: this.concurrency,
      running: this.running,
      waiting: { delivery: this.waiting.delivery.length, general: this.waiting.general.length },
    });
  }
}

const shared = new Map<string, { queue: RequestQueue; users: number }>();

/**
 * The queue of one store (by key), created on first use and dropped when its last user
 * releases it. A second acquirer gets the same queue; its `concurrency` is the first one's.
 */
export function acquireQueue(key: string, concurrency: number): { queue: RequestQueue; release: () => void } {
  let entry = shared.get(key);
  if (!entry) {
    entry = { queue: new RequestQueue(concurrency), users: 0 };
    shared.set(key, entry);
  }
  entry.users++;
  const held = entry;
  let released = false;
  return {
    queue: held.queue,
    release: () => {
      if (released) return;
      released = true;
      held.users--;
      if (held.users === 0 && shared.get(key) === held) shared.delete(key);
    },
  };
}
