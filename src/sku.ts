/**
 * Shop SKU ⇄ supplier entry: entry keys, SKU comparison and the overrides that map a shop's own
 * SKUs onto entries. The template grammar is config's (`config/sku-template.ts`).
 */

import { type EntryId, formatDenomination, parseSku } from '../config/sku-template.js';

/** Stable key of a catalogue entry: `US:50`, `GB:7.5`. */
export function entryKey(e: EntryId): string {
  return `${e.region}:${formatDenomination(e.denomination)}`;
}

export function parseEntryKey(key: string): EntryId {
  const [region = '', denomination = ''] = key.split(':');
  return { region, denomination: Number(denomination) };
}

/** Normalised form for comparing SKUs as WooCommerce does (case and trailing spaces ignored). */
export function skuKey(sku: string): string {
  return sku.trim().toLowerCase();
}

export interface SkuMapping {
  template: string;
  overrides: Record<string, EntryId>;
}

/** The override SKUs naming each entry (entryKey → SKUs), to look up per entry without a scan. */
export function overridesByEntry(overrides: SkuMapping['overrides']): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [sku, target] of Object.entries(overrides)) {
    const key = entryKey(target);
    const list = out.get(key);
    if (list) list.push(sku);
    else out.set(key, [sku]);
  }
  return out;
}

/** Which entry a shop SKU belongs to, or null when it is not ours. Overrides win. */
export function entryForSku(mapping: SkuMapping, sku: string): EntryId | null {
  const k = skuKey(sku);
  for (const [o, target] of Object.entries(mapping.overrides)) {
    if (skuKey(o) === k) return target;
  }
  return parseSku(mapping.template, sku);
}
