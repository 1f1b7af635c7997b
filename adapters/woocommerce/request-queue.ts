/**
 * A small FIFO queue that runs at most `concurrency` tasks at once. One per store, shared by
 * every job of the process (stock pushes, order polling, deliveries), so a store never sees
 * more concurrent requests than its config allows — and when the store says "slow down" (429,
 * 503), the whole lane waits, not just the request that was told.
 */
export class RequestQueue {
  readonly concurrency: number;
  private running = 0;
  /** No task starts before this instant (epoch ms). */
  private pausedUntil = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency: expected an integer ≥ 1, got ${String(concurrency)}`);
    }
    this.concurrency = concurrency;
  }

  get active(): number {
    return this.running;
  }

  get pending(): number {
    return this.waiting.length;
  }

  /** Holds every task not yet started for `ms` (a later, shorter pause never shortens it). */
  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      // A pause may begin, or grow, while we wait: look again after each wait.
      for (let wait = this.pausedUntil - Date.now(); wait > 0; wait = this.pausedUntil - Date.now()) {
        await new Promise((r) => setTimeout(r, wait));
      }
      return await task();
    } finally {
      // Hand the slot straight to the next waiter, so `running` never dips and lets a newcomer jump the line.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
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
