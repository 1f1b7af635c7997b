import type { CycleOptions, CycleReport } from './sync-inventory.js';

/**
 * Serialises inventory cycles: the schedule never overlaps a run with itself (a tick that
 * finds one running is skipped), while a manual `sync`/`resync` waits its turn.
 */
export class InventoryJob {
  private running: Promise<CycleReport> | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly cycle: (opts: CycleOptions) => Promise<CycleReport>) {}

  get busy(): boolean {
    return this.running !== null;
  }

  /** Scheduled tick: skipped (null) while a run is in flight. */
  tick(): Promise<CycleReport> | null {
    if (this.running) return null;
    return this.run({});
  }

  /** Manual run: queued behind whatever is in flight. */
  run(opts: CycleOptions): Promise<CycleReport> {
    const next = this.queue.then(() => {
      this.running = this.cycle(opts);
      return this.running.finally(() => {
        this.running = null;
      });
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Resolves when nothing is in flight (for a graceful stop). */
  async idle(): Promise<void> {
    await this.queue;
  }
}
