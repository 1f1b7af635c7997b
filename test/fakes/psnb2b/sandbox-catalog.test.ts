import { describe, expect, it } from 'vitest';
import { generateSandboxCatalog } from '../../../fakes/psnb2b/sandbox-catalog.js';

describe('generateSandboxCatalog', () => {
  it('is deterministic per seed and different across seeds', () => {
    expect(generateSandboxCatalog({ entries: 24, seed: 7 })).toEqual(
      generateSandboxCatalog({ entries: 24, seed: 7 }),
    );
    expect(generateSandboxCatalog({ entries: 24, seed: 7 })).not.toEqual(
      generateSandboxCatalog({ entries: 24, seed: 8 }),
    );
  });

  it('spreads unique entries across regions with their face currencies and sane prices', () => {
    const cat = generateSandboxCatalog({ entries: 80, seed: 1 });
    expect(cat).toHaveLength(80);
    const keys = new Set(cat.map((e) => `${e.region}:${e.denomination}`));
    expect(keys.size).toBe(80);
    const regions = new Set(cat.map((e) => e.region));
    for (const r of ['US', 'GB', 'DE', 'TR', 'IN']) expect(regions.has(r)).toBe(true);
    for (const e of cat) {
      expect(e.region).toMatch(/^[A-Z]{2}$/);
      expect(e.currency).toMatch(/^[A-Z]{3}$/);
      expect(Number.isInteger(e.priceCents) && e.priceCents > 0).toBe(true);
      expect(Number.isInteger(e.qty) && e.qty >= 0).toBe(true);
      if (e.region === 'TR') expect(e.currency).toBe('TRY');
      if (e.region === 'US') {
        // Wholesale is below face value.
        expect(e.priceCents).toBeLessThan(e.denomination * 100);
        expect(e.priceCents).toBeGreaterThan(e.denomination * 80);
      }
    }
  });

  it('scales beyond the real denominations with unique entries', () => {
    const cat = generateSandboxCatalog({ entries: 2000, seed: 3 });
    expect(new Set(cat.map((e) => `${e.region}:${e.denomination}`)).size).toBe(2000);
  });
});
