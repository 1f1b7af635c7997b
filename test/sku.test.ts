import { describe, expect, it } from 'vitest';
import { checkSkuTemplate, formatSku, parseSku } from '../config/sku-template.js';
import { entryForSku, overridesByEntry } from '../src/sku.js';

describe('SKU template', () => {
  it('formats denominations in their shortest exact form', () => {
    expect(formatSku('PSN-{region}-{denomination}', { region: 'US', denomination: 50 })).toBe('PSN-US-50');
    expect(formatSku('PSN-{region}-{denomination}', { region: 'GB', denomination: 7.5 })).toBe('PSN-GB-7.5');
  });

  it('parses back what it formats, without case', () => {
    expect(parseSku('PSN-{region}-{denomination}', 'PSN-TR-250')).toEqual({
      region: 'TR',
      denomination: 250,
    });
    expect(parseSku('PSN-{region}-{denomination}', 'psn-gb-7.5 ')).toEqual({
      region: 'GB',
      denomination: 7.5,
    });
    expect(parseSku('{denomination}/{region}/card', '20/DE/card')).toEqual({
      region: 'DE',
      denomination: 20,
    });
  });

  it('does not claim SKUs that are not ours', () => {
    expect(parseSku('PSN-{region}-{denomination}', 'TSHIRT-XL')).toBeNull();
    expect(parseSku('PSN-{region}-{denomination}', 'PSN-USA-50')).toBeNull();
    expect(parseSku('PSN-{region}-{denomination}', 'PSN-US-0')).toBeNull();
  });

  it.each([
    ['{region}{denomination}', /separator/],
    ['PSN-{region}', /\{denomination\} exactly once/],
    ['PSN-{region}-{denomination}-{denomination}', /exactly once/],
    ['PSN-{region}-{amount}', /unknown placeholder \{amount\}/],
    ['PSN-{region}X{denomination}', /separator/],
  ])('rejects template %s', (template, reason) => {
    const r = checkSkuTemplate(template);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('accepts the default and other separable templates', () => {
    expect(checkSkuTemplate('PSN-{region}-{denomination}').ok).toBe(true);
    expect(checkSkuTemplate('{denomination}_{region}').ok).toBe(true);
  });

  it('publishes an entry under its template SKU and every override naming it; overrides win on lookup', () => {
    const mapping = {
      template: 'PSN-{region}-{denomination}',
      overrides: { 'MY-US-FIFTY': { region: 'US', denomination: 50 } },
    };
    expect(formatSku(mapping.template, { region: 'US', denomination: 50 })).toBe('PSN-US-50');
    expect(overridesByEntry(mapping.overrides).get('US:50')).toEqual(['MY-US-FIFTY']);
    expect(entryForSku(mapping, 'my-us-fifty')).toEqual({ region: 'US', denomination: 50 });
    expect(entryForSku(mapping, 'PSN-US-50')).toEqual({ region: 'US', denomination: 50 });
  });
});
