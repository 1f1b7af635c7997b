import { describe, expect, it } from 'vitest';
import { bulkPacingMs, nextBulkOrderAt } from '../../src/fulfillment/batch-pacing.js';

/** Batching that stretches with load (design-notes "Throughput under load"), decided without I/O. */

describe('bulk pacing interval', () => {
  it('spreads the paced bulk quota evenly over the minute: 10/min paced at 9 → one every 6.67 s', () => {
    expect(bulkPacingMs(10)).toBe(6_667);
    expect(bulkPacingMs(120)).toBe(527);
  });
});

describe('when the next bulk order goes', () => {
  const base = { batchWindowMs: 5_000, intervalMs: 6_667 };

  it('nothing waiting: never', () => {
    expect(nextBulkOrderAt({ ...base, oldestWaitingAt: null, lastBulkAt: 0 })).toBeNull();
  });

  it('light load: the batch window after the oldest waiting sale', () => {
    expect(nextBulkOrderAt({ ...base, oldestWaitingAt: 100_000, lastBulkAt: 10_000 })).toBe(105_000);
    expect(nextBulkOrderAt({ ...base, oldestWaitingAt: 100_000, lastBulkAt: null })).toBe(105_000);
  });

  it('heavy load: one pacing interval after the last bulk order (the window stretches)', () => {
    expect(nextBulkOrderAt({ ...base, oldestWaitingAt: 100_000, lastBulkAt: 99_000 })).toBe(105_667);
  });

  it('300 sales a minute for 3 minutes: within the quota, and no sale waits more than one interval', () => {
    const intervalMs = bulkPacingMs(10);
    const tickMs = 1_000; // the daemon's worker tick
    const arrivals = Array.from({ length: 900 }, (_, i) => i * 200);
    const sends: number[] = [];
    let waiting: number[] = [];
    let maxWait = 0;
    let next = 0;
    for (let now = 0; now <= 200_000; now += tickMs) {
      while (next < arrivals.length && (arrivals[next] as number) <= now)
        waiting.push(arrivals[next++] as number);
      const at = nextBulkOrderAt({
        batchWindowMs: 5_000,
        intervalMs,
        oldestWaitingAt: waiting[0] ?? null,
        lastBulkAt: sends.at(-1) ?? null,
      });
      if (at !== null && now >= at) {
        sends.push(now);
        for (const a of waiting) maxWait = Math.max(maxWait, now - a);
        waiting = [];
      }
    }
    expect(waiting).toEqual([]);
    // Every rolling minute holds at most the paced 9 bulk orders.
    for (const s of sends)
      expect(sends.filter((t) => t >= s && t < s + 60_000).length).toBeLessThanOrEqual(9);
    // One pacing interval, rounded up to the tick that notices it.
    expect(maxWait).toBeLessThanOrEqual(intervalMs + tickMs);
  });
});
