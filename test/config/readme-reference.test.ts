import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { configSchema } from '../../config/schema.js';

/** Every leaf key of the config schema, as the README names it (`storefronts[].url`). */
function leafKeys(schema: z.ZodType, prefix = ''): string[] {
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
  switch (def.type) {
    case 'default':
    case 'optional':
    case 'nullable':
      return leafKeys(def.innerType as z.ZodType, prefix);
    case 'object':
      return Object.entries(def.shape as Record<string, z.ZodType>).flatMap(([k, v]) =>
        leafKeys(v, prefix ? `${prefix}.${k}` : k),
      );
    case 'union':
      return [...new Set((def.options as z.ZodType[]).flatMap((o) => leafKeys(o, prefix)))];
    case 'array':
      return (def.element as { _zod: { def: { type: string } } })._zod.def.type === 'string'
        ? [prefix]
        : leafKeys(def.element as z.ZodType, `${prefix}[]`);
    default:
      return [prefix];
  }
}

describe('README configuration reference', () => {
  it('documents every key of the schema, and no key the schema lacks', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Configuration reference'));
    const documented = [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    const keys = leafKeys(configSchema);
    expect(keys.length).toBeGreaterThan(40);
    expect(documented.filter((k) => !keys.includes(k as string))).toEqual([]);
    expect(keys.filter((k) => !documented.includes(k))).toEqual([]);
  });
});
