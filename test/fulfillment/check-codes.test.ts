import { describe, expect, it } from 'vitest';
import { checkCodes } from '../../src/fulfillment/check-codes.js';

const bought = [
  { region: 'US', denomination: 50, qty: 2 },
  { region: 'TR', denomination: 250, qty: 1 },
];
const code = (region: string, denomination: number, c: string) => ({ region, denomination, code: c });
const good = [
  code('US', 50, 'AAAA-BBBB-0001'),
  code('US', 50, 'AAAA-BBBB-0002'),
  code('TR', 250, 'CCCC-DDDD-0003'),
];

describe('checkCodes', () => {
  it('accepts exactly what was bought', () => {
    expect(checkCodes(bought, good, () => false)).toEqual({ ok: true });
  });

  it.each([
    ['one code short', good.slice(1), 'count'],
    ['one code too many', [...good, code('US', 50, 'AAAA-BBBB-0009')], 'count'],
    ['an item not bought', [...good.slice(0, 2), code('GB', 10, 'EEEE-FFFF-0001')], 'items'],
    ['the same code twice', [good[0], { ...good[0] }, good[2]], 'duplicate'],
  ] as const)('refuses %s', (_name, codes, problem) => {
    const r = checkCodes(bought, codes as never, () => false);
    expect(r).toMatchObject({ ok: false, problem });
  });

  it('refuses a code we already hold, and says so without the code', () => {
    const r = checkCodes(bought, good, (c) => c === 'CCCC-DDDD-0003');
    expect(r).toMatchObject({ ok: false, problem: 'known' });
    expect(JSON.stringify(r)).not.toContain('CCCC-DDDD-0003');
  });
});
