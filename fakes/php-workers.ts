/**
 * How a real shop serves requests: each takes `latencyMs`, and at most `workers` are served at
 * once (PHP-FPM's `pm.max_children`); the rest wait in line, first come first served. 0 workers =
 * no cap, 0 ms = no latency (the defaults, so tests keep their speed). Both are plain fields, so
 * a test or the bench can change them while the shop runs. `maxInFlight` is what a client
 * actually managed to have served at once.
 */
export class PhpWorkers {
  latencyMs: number;
  workers: number;
  private busy = 0;
  private peak = 0;
  private readonly line: (() => void)[] = [];

  constructor(opts: { latencyMs?: number; workers?: number } = {}) {
    this.latencyMs = opts.latencyMs ?? 0;
    this.workers = opts.workers ?? 0;
  }

  /** Requests being served now (not counting those in line). */
  get inFlight(): number {
    return this.busy;
  }

  /** The most requests served at once since start (or the last `resetPeak`). */
  get maxInFlight(): number {
    return this.peak;
  }

  resetPeak(): void {
    this.peak = this.busy;
  }

  /** Runs `work` on a worker, after the line and the latency. */
  async serve<T>(work: () => Promise<T>): Promise<T> {
    if (this.workers > 0 && this.busy >= this.workers) {
      await new Promise<void>((resolve) => this.line.push(resolve));
    } else {
      this.busy++;
    }
    this.peak = Math.max(this.peak, this.busy);
    try {
      if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
      return await work();
    } finally {
      // The worker goes straight to the next in line, so a newcomer never jumps it.
      const next = this.line.shift();
      if (next) next();
      else this.busy--;
    }
  }
}
