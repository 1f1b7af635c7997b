import { describe, expect, it } from 'vitest';
import { readinessReasons } from '../src/readiness.js';

const ready = {
  now: 1_000_000,
  databaseError: null,
  lastRunAt: 1_000_000 - 25_000,
  periodMs: 10_000,
  lastSupplier: { endpoint: 'GET /inventory', status: '200', at: 990_000 },
  failingStores: [],
};

describe('readiness', () => {
  it('is ready with a writable database, a run within 3 periods, an answering supplier and no failing store', () => {
    expect(readinessReasons(ready)).toEqual([]);
    // A 429 is an answer: the supplier is there.
    expect(readinessReasons({ ...ready, lastSupplier: { ...ready.lastSupplier, status: '429' } })).toEqual(
      [],
    );
  });

  it('names every failed condition', () => {
    expect(
      readinessReasons({
        ...ready,
        databaseError: 'SQLITE_FULL',
        lastRunAt: 1_000_000 - 31_000,
        lastSupplier: { endpoint: 'GET /balance', status: 'network', at: 999_000 },
        failingStores: [{ store: 'shop-a', error: 'HTTP 503' }],
      }),
    ).toEqual([
      'database is not writable: SQLITE_FULL',
      'last inventory run finished 31 s ago (more than 3 schedule periods, 30 s)',
      'the supplier did not answer its last call (GET /balance: network)',
      'store shop-a failed its last push: HTTP 503',
    ]);
    expect(readinessReasons({ ...ready, lastRunAt: null, lastSupplier: undefined })).toEqual([
      'no inventory run has finished yet',
      'the supplier has not been called yet',
    ]);
    expect(readinessReasons({ ...ready, lastSupplier: { ...ready.lastSupplier, status: '502' } })).toEqual([
      'the supplier did not answer its last call (GET /inventory: 502)',
    ]);
  });
});
