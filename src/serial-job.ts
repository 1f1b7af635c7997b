/**
 * Serialises the runs of one job (inventory sync, fulfillment): a scheduled tick that finds
 * a run in flight is skipped, so the job never overlaps itself, while a manual run waits its turn.
 */
export class SerialJob<Options, Result> {
  private running: Promise<Result> | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly body: (opts: Options) => Promise<Result>) {}

  get busy(): boolean {
    return this.running !== null;
  }

  /** Scheduled tick: skipped (null) while a run is in flight. */
  tick(opts: Options): Promise<Result> | null {
    if (this.running) return null;
    return this.run(opts);
  }

  /** Manual run: queued behind whatever is in flight. */
  run(opts: Options): Promise<Result> {
    const next = this.queue.then(() => {
      this.running = this.body(opts);
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
