import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Db, migrate, openDb } from '../../src/db/open.js';
import { Pacer, pacedLimit } from '../../src/supplier/pacer.js';
import { tempDir } from '../helpers/temp-dir.js';

const dbs: Db[] = [];

function tempDbFile(): string {
  return path.join(tempDir('pacer').dir, 'sync.db');
}

function open(file: string): Db {
  const db = openDb(file);
  migrate(db);
  dbs.push(db);
  return db;
}

/** A fake clock whose sleep advances time and records each sleep. */
function fakeClock(start = 1_000_000) {
  const c = {
    t: start,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.sleeps.push(ms);
      c.t += ms;
    },
  };
  return c;
}

afterEach(() => {
  for (const db of dbs.splice(0)) if (db.open) db.close();
});

describe('pacedLimit', () => {
  it('keeps a margin of 5 %, at least one, never below one', () => {
    expect(pacedLimit(60)).toBe(57);
    expect(pacedLimit(10)).toBe(9);
    expect(pacedLimit(5)).toBe(4);
    expect(pacedLimit(100)).toBe(95);
    expect(pacedLimit(2)).toBe(1);
    expect(pacedLimit(1)).toBe(1);
    expect(() => pacedLimit(0)).toThrow(RangeError);
  });
});

describe('Pacer rolling window', () => {
  it('lets the paced limit through at once, then waits for the oldest send to leave the window', async () => {
    const clock = fakeClock();
    const start = clock.t;
    const pacer = new Pacer({ db: open(tempDbFile()), limits: { general: 5, bulk: 10 }, ...clock });
    const sentAt: number[] = [];
    for (let i = 0; i < 4; i++) {
      await pacer.take('general');
      sentAt.push(clock.t - start);
      clock.t += 10;
    }
    expect(sentAt).toEqual([0, 10, 20, 30]);
    await pacer.take('general');
    // The first send (t=0) leaves the 60 s window at exactly t=60 000.
    expect(clock.t - start).toBe(60_000);
    await pacer.take('general');
    expect(clock.t - start).toBe(60_010);
    // The other bucket is independent.
    const before = clock.t;
    for (let i = 0; i < 9; i++) await pacer.take('bulk');
    expect(clock.t).toBe(before);
    expect(pacer.recentSends('bulk')).toBe(9);
    expect(pacer.delayFor('bulk')).toBe(60_000);
  });

  it('honours a configurable window length', async () => {
    const clock = fakeClock();
    const pacer = new Pacer({
      db: open(tempDbFile()),
      limits: { general: 3, bulk: 3 },
      windowMs: 1000,
      ...clock,
    });
    expect(pacer.limit('general')).toBe(2);
    await pacer.take('general');
    await pacer.take('general');
    await pacer.take('general');
    expect(clock.sleeps).toEqual([1000]);
  });

  it('blocks a bucket until a Retry-After time, and never shortens a block', async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ db: open(tempDbFile()), limits: { general: 60, bulk: 10 }, ...clock });
    const start = clock.t;
    pacer.blockUntil('general', start + 5000);
    pacer.blockUntil('general', start + 2000);
    expect(pacer.delayFor('general')).toBe(5000);
    expect(pacer.delayFor('bulk')).toBe(0);
    await pacer.take('general');
    expect(clock.t - start).toBe(5000);
    await pacer.take('general');
    expect(clock.t - start).toBe(5000);
  });

  it('caps a block at 300 s, as stored and as read back (one bad Retry-After never stops the supplier)', () => {
    const clock = fakeClock();
    const file = tempDbFile();
    const db = open(file);
    const pacer = new Pacer({ db, limits: { general: 60, bulk: 10 }, ...clock });
    pacer.blockUntil('general', clock.t + 999_999_000);
    const stored = db.prepare('SELECT until_ms AS u FROM pacer_blocks WHERE bucket = ?').get('general') as {
      u: number;
    };
    expect(stored.u).toBeLessThanOrEqual(clock.t + 300_000);
    expect(pacer.delayFor('general')).toBeLessThanOrEqual(300_000);
    // A block an earlier version persisted without a cap is read back capped too.
    db.prepare('UPDATE pacer_blocks SET until_ms = ? WHERE bucket = ?').run(clock.t + 10 ** 12, 'general');
    const reopened = new Pacer({ db: open(file), limits: { general: 60, bulk: 10 }, ...clock });
    expect(reopened.delayFor('general')).toBeLessThanOrEqual(300_000);
  });

  it('queues concurrent callers fairly: in order, and only the head sleeps', async () => {
    const clock = fakeClock();
    const pacer = new Pacer({
      db: open(tempDbFile()),
      limits: { general: 5, bulk: 10 },
      windowMs: 1000,
      ...clock,
    });
    const start = clock.t;
    const order: { i: number; at: number }[] = [];
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        pacer.take('general').then(() => order.push({ i, at: clock.t - start })),
      ),
    );
    expect(order.map((o) => o.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(order.map((o) => o.at)).toEqual([0, 0, 0, 0, 1000, 1000, 1000, 1000, 2000, 2000]);
    // A thundering herd would have six waiters sleeping (and re-polling) each round.
    expect(clock.sleeps).toEqual([1000, 1000]);
    expect(pacer.stats).toMatchObject({ taken: 10, waits: 2 });
  });
});

describe('Pacer settle', () => {
  it('moves a send to when its answer came back, so a slow request holds its slot longer', async () => {
    const clock = fakeClock();
    const start = clock.t;
    const pacer = new Pacer({
      db: open(tempDbFile()),
      limits: { general: 2, bulk: 2 },
      windowMs: 1000,
      ...clock,
    });
    const ticket = await pacer.take('general');
    expect(ticket.sentAt).toBe(start);
    clock.t += 300; // the answer takes 300 ms
    ticket.settle();
    clock.t += 500;
    ticket.settle(); // a second settle changes nothing
    await pacer.take('general');
    // Free at 300 + 1000, not at 0 + 1000: the supplier may have counted it as late as 300.
    expect(clock.t - start).toBe(1300);
  });
});

describe('Pacer persistence', () => {
  it('a reopened database remembers the sends and the block of the previous process', async () => {
    const file = tempDbFile();
    const clock = fakeClock();
    const start = clock.t;
    const first = open(file);
    const p1 = new Pacer({ db: first, limits: { general: 5, bulk: 2 }, ...clock });
    for (let i = 0; i < 4; i++) await p1.take('general');
    p1.blockUntil('bulk', start + 30_000);
    first.close();

    clock.t += 1000;
    const p2 = new Pacer({ db: open(file), limits: { general: 5, bulk: 2 }, ...clock });
    expect(p2.recentSends('general')).toBe(4);
    expect(p2.delayFor('general')).toBe(59_000);
    expect(p2.delayFor('bulk')).toBe(29_000);
    await p2.take('general');
    expect(clock.t - start).toBe(60_000);
  });

  it('two pacers on one database file share the budget', async () => {
    const file = tempDbFile();
    const clock = fakeClock();
    const a = new Pacer({ db: open(file), limits: { general: 5, bulk: 2 }, ...clock });
    const b = new Pacer({ db: open(file), limits: { general: 5, bulk: 2 }, ...clock });
    await a.take('general');
    await a.take('general');
    await b.take('general');
    await b.take('general');
    expect(clock.sleeps).toEqual([]);
    await b.take('general');
    expect(clock.sleeps).toEqual([60_000]);
  });

  it('prunes sends older than the window', async () => {
    const clock = fakeClock();
    const db = open(tempDbFile());
    const pacer = new Pacer({ db, limits: { general: 60, bulk: 10 }, windowMs: 1000, ...clock });
    for (let i = 0; i < 5; i++) {
      await pacer.take('general');
      clock.t += 600;
    }
    const n = (db.prepare('SELECT COUNT(*) AS n FROM pacer_sends').get() as { n: number }).n;
    expect(n).toBeLessThanOrEqual(2);
  });
});
