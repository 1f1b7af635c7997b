import { describeSafeError, toSafeError } from '../errors.js';
import type { Logger } from '../log.js';
import { asDeliveryWork } from '../request-class.js';

/**
 * Deliveries in the background, across passes: one lane per store with at most its width in flight
 * (`storefronts[].concurrency`), so one slow order holds one lane of one store, never a pass (the
 * next intake, the next bulk order) nor another store. A pass hands tasks over and goes on. A task's
 * shop requests are delivery work (request-class.ts): they leave the store's stock pushes and order
 * listings a request slot of their own, however many lanes hang.
 *
 * The key set is only this process's guard against doubling its own work (the same order tried by
 * two passes at once); what a delivery has done is in its row, at its recovery point
 * (recovery-points.ts), so a task dropped at `close()` or lost to a crash is resumed from there.
 */

export interface DeliveryTask {
  store: string;
  /** What this task works on (an order, a delivery): no two tasks sharing a key run at once. */
  keys: readonly string[];
  /** True when it delivered; each records its own shop failures, so a throw is a bug. */
  run: () => Promise<boolean>;
}

/** The key that keeps two tasks off one order at once (a delivery belongs to one order). */
export const orderWorkKey = (store: string, orderId: string) => `order\u0000${store}\u0000${orderId}`;

interface Queued extends DeliveryTask {
  settle: (delivered: boolean) => void;
}

export class DeliveryRunner {
  private readonly busyKeys = new Set<string>();
  private readonly waiting = new Map<string, Queued[]>();
  private readonly running = new Map<string, number>();
  private count = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private freedWaiters: (() => void)[] = [];

  constructor(
    private readonly deps: {
      /** Lane width per store; 1 for a store not listed. */
      lanes: ReadonlyMap<string, number>;
      log: Logger;
    },
  ) {}

  /** Tasks queued or running. */
  get inFlight(): number {
    return this.count;
  }

  /**
   * Queues every task none of whose keys is queued or running (the rest are skipped: that work is
   * under way). `accepted`: how many were queued; `done`: how many of those delivered, once they
   * all ended (never rejects; a pass does not wait for it).
   */
  offer(tasks: readonly DeliveryTask[]): { accepted: number; done: Promise<number> } {
    const accepted: Promise<boolean>[] = [];
    for (const task of tasks) {
      if (this.closed || task.keys.some((k) => this.busyKeys.has(k))) continue;
      for (const k of task.keys) this.busyKeys.add(k);
      this.count++;
      accepted.push(
        new Promise<boolean>((settle) => {
          const line = this.waiting.get(task.store) ?? [];
          line.push({ ...task, settle });
          this.waiting.set(task.store, line);
        }),
      );
      this.pump(task.store);
    }
    return {
      accepted: accepted.length,
      done: Promise.all(accepted).then((outcomes) => outcomes.filter(Boolean).length),
    };
  }

  /** Resolves once nothing is queued or running (tests, the bench, one-shot commands). */
  drain(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Resolves once no task holding `key` is queued or running: an operator's decision on an order
   * waits for a task still writing into it (one an intake failed mid-write, say) to end first.
   */
  async whenFree(key: string): Promise<void> {
    while (this.busyKeys.has(key)) await new Promise<void>((resolve) => this.freedWaiters.push(resolve));
  }

  /**
   * For a stop: nothing new starts (queued tasks are dropped, each a row at its recovery point)
   * and the deliveries in flight finish, each bounded by its requests' timeouts.
   */
  close(): Promise<void> {
    this.closed = true;
    for (const [store, line] of this.waiting) {
      this.waiting.delete(store);
      for (const t of line) this.end(t, false);
    }
    return this.drain();
  }

  private pump(store: string): void {
    const width = Math.max(1, this.deps.lanes.get(store) ?? 1);
    const line = this.waiting.get(store);
    while (line?.length && (this.running.get(store) ?? 0) < width) {
      const task = line.shift() as Queued;
      this.running.set(store, (this.running.get(store) ?? 0) + 1);
      void this.start(task);
    }
  }

  private async start(task: Queued): Promise<void> {
    let delivered = false;
    try {
      // Its shop requests are delivery work: they never hold the store's last request slot.
      delivered = await asDeliveryWork(() => task.run());
    } catch (e) {
      // A bug, not a shop failure: the lane goes on, and the row stays where it was for a later pass.
      this.deps.log.error(`delivery task for ${task.store} failed: ${describeSafeError(toSafeError(e))}`, {
        component: 'fulfillment',
        store: task.store,
      });
    } finally {
      // Whatever happened above, the slot and the keys are given back: nothing waits forever.
      this.running.set(task.store, (this.running.get(task.store) ?? 1) - 1);
      this.end(task, delivered);
      this.pump(task.store);
    }
  }

  private end(task: Queued, delivered: boolean): void {
    for (const k of task.keys) this.busyKeys.delete(k);
    this.count--;
    task.settle(delivered);
    for (const resolve of this.freedWaiters.splice(0)) resolve();
    if (this.count === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
