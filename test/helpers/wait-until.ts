/**
 * Polls a condition until it holds or a deadline passes: tests wait for what they can observe,
 * never for a fixed time. The failure names what was awaited and the last value seen.
 */

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Time between polls (default 25 ms). */
  intervalMs?: number;
  /** What is awaited, for the error message. */
  what?: string;
}

/** Resolves with the first truthy value `probe` returns (sync or async); rejects at the deadline. */
export async function waitUntil<T>(
  probe: () => T | Promise<T>,
  opts: WaitOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      last = await probe();
      lastError = undefined;
      if (last) return last as NonNullable<T>;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const seen = lastError
        ? `last error: ${(lastError as Error).message}`
        : `last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'} (${seen})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Milliseconds `fn` takes to resolve, with its value. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}
