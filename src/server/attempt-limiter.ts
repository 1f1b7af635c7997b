/**
 * At most `max` attempts per key within a sliding window. `/admin/claim` keys it by the shop line:
 * a claim answer could otherwise confirm a guessed code, and 5 guesses an hour make that
 * infeasible for a 12-character code.
 */
export class AttemptLimiter {
  private readonly attempts = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts an attempt; false (and not counted) when the key has used up its window. */
  take(key: string): boolean {
    const t = this.now();
    const recent = (this.attempts.get(key) ?? []).filter((at) => t - at < this.windowMs);
    const allowed = recent.length < this.max;
    if (allowed) recent.push(t);
    this.attempts.set(key, recent);
    this.forgetIdle(t);
    return allowed;
  }

  /** Keys with no attempt inside the window carry no information: dropped, so the map stays small. */
  private forgetIdle(t: number): void {
    if (this.attempts.size < 1_000) return;
    for (const [key, times] of this.attempts) {
      if (times.every((at) => t - at >= this.windowMs)) this.attempts.delete(key);
    }
  }
}
