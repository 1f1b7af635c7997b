import { StoppingError } from './errors.js';

/**
 * Serialises the runs of one job (inventory sync, fulfillment): a scheduled tick that finds
 * a run in flight is skipped, so the job never overlaps itself, while a manual run waits its turn.
 * Once stopped, nothing new starts: a stop finishes the run in flight, not one asked for since.
 */
export class SerialJob<Options, Result> {
  private running: Promise<unknown> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly body: (opts: Options) => Promise<Result>) {}

  get busy(): boolean {
    return this.running !== null;
  }

  get stopping(): boolean {
    return this.stopped;
  }

  /** Scheduled tick: skipped (null) while a run is in flight or once stopping. */
  tick(opts: Options): Promise<Result> | null {
    if (this.running || this.stopped) return null;
    return this.run(opts);
  }

  /** Manual run: queued behind whatever is in flight; refused once stopping. */
  run(opts: Options): Promise<Result> {
    return this.inTurn(() => this.body(opts));
  }

  /**
   * A manual run and then `then` (an operator's decision) in the same turn: no tick starts
   * between or during them, and a stop waits for both.
   */
  runThen<T>(opts: Options, then: () => Promise<T>): Promise<T> {
    return this.inTurn(async () => {
      await this.body(opts);
      return then();
    });
  }

  private inTurn<T>(work: () => Promise<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new StoppingError());
    const next = this.queue.then(() => {
      const running = work();
      this.running = running;
      return running.finally(() => {
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

  /** Refuses every run from now on; resolves when the one in flight (and those queued before) finished. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.idle();
  }
}
