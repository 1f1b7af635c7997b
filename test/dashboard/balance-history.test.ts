import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { balanceChartSvg } from '../../src/dashboard/balance-chart.js';
import { migrate, openDb } from '../../src/db/open.js';
import { BALANCE_HISTORY_MS, balanceHistory, recordBalance } from '../../src/fulfillment/balance-history.js';
import { tempDir } from '../helpers/temp-dir.js';

const tmp = tempDir('balance-history');
afterAll(() => tmp.remove());

describe('balance history', () => {
  it('keeps every read for 30 days and reaps older rows as new ones are written', () => {
    const db = openDb(path.join(tmp.dir, 'h.db'));
    migrate(db);
    const t0 = 1_700_000_000_000;
    recordBalance(db, 500_00, t0);
    recordBalance(db, 480_00, t0 + 60_000);
    expect(balanceHistory(db, 0)).toEqual([
      { at: t0, cents: 500_00 },
      { at: t0 + 60_000, cents: 480_00 },
    ]);
    recordBalance(db, 470_00, t0 + BALANCE_HISTORY_MS + 1);
    expect(balanceHistory(db, 0).map((r) => r.cents)).toEqual([480_00, 470_00]);
    expect(balanceHistory(db, t0 + 120_000).map((r) => r.cents)).toEqual([470_00]);
    db.close();
  });

  it('is drawn as a step line whose lowest and highest values are named', () => {
    const svg = balanceChartSvg(
      [
        { at: 0, cents: 500_00 },
        { at: 100, cents: 480_00 },
      ],
      200,
    );
    expect(svg).toContain('aria-label="balance from 480.00 to 500.00 USD"');
    expect(svg).toMatch(/<path d="M4\.0 4\.0H\d+\.\d V116\.0H596\.0"/);
    expect(balanceChartSvg([], 0)).toBe('');
  });
});
