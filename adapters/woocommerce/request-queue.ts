/**
 * A small FIFO queue that runs at most `concurrency` tasks at once. One per store, shared by
 * every job of the process (stock pushes, order polling, deliveries), so a store never sees
 * more concurrent requests than its config allows.
 */
export class RequestQueue {
  readonly concurrency: number;
  private running = 0;
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

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
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
