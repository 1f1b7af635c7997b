import { describe, expect, it } from 'vitest';
import { decideAfterRecheck, judgePull } from '../../src/inventory/destructive-guard.js';

const settings = { maxZeroShare: 0.5, minEntries: 10 };
const catalog = (n: number, qty = 5) =>
  Array.from({ length: n }, (_, i) => ({ region: 'US', denomination: i + 1, currency: 'USD', qty }));

describe('destructive-update guard', () => {
  it('lets ordinary changes through', () => {
    const next = catalog(20).map((e, i) => (i < 10 ? { ...e, qty: 0 } : e));
    expect(judgePull(catalog(20), next, settings).suspicious).toBe(false);
  });

  it('flags more than maxZeroShare of the listed entries going to 0, counting vanished ones', () => {
    const next = catalog(20).slice(0, 9);
    const v = judgePull(catalog(20), next, settings);
    expect(v.suspicious).toBe(true);
    if (v.suspicious) expect(v.zeroed).toHaveLength(11);
  });

  it('ignores small catalogues below minEntries, but never an empty feed', () => {
    expect(judgePull(catalog(5), catalog(5, 0), settings).suspicious).toBe(false);
    expect(judgePull(catalog(5), [], settings)).toMatchObject({
      suspicious: true,
      reason: 'the supplier feed is empty',
    });
  });

  it('is not suspicious on the first pull of all', () => {
    expect(judgePull([], [], settings).suspicious).toBe(false);
  });

  it('pushes two agreeing suspicious pulls, holds two that disagree, takes a healthy second pull', () => {
    const prev = catalog(20);
    const a = judgePull(prev, prev.slice(0, 5), settings);
    const b = judgePull(prev, prev.slice(0, 5), settings);
    const c = judgePull(prev, prev.slice(0, 4), settings);
    const ok = judgePull(prev, prev, settings);
    expect(decideAfterRecheck(a, b)).toMatchObject({ action: 'push', use: 'second' });
    expect(decideAfterRecheck(a, c)).toMatchObject({ action: 'hold' });
    expect(decideAfterRecheck(a, ok)).toMatchObject({ action: 'push', use: 'second' });
  });
});
