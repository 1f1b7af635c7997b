/**
 * The SKU template grammar (`sku.template`, e.g. `PSN-{region}-{denomination}`): formats an
 * entry's SKU and parses a shop SKU back. The config checks a template with it before anything
 * runs; the planner and the adapters format and parse with the same functions.
 */

export interface EntryId {
  region: string;
  denomination: number;
}

/** Shortest exact form: `50`, `7.5`, never `50.00`. */
export function formatDenomination(n: number): string {
  return String(n);
}

const PLACEHOLDER = /\{(region|denomination)\}/g;
const REGION_RE = '([A-Za-z]{2})';
const DENOMINATION_RE = '([0-9]+(?:\\.[0-9]+)?)';

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export type TemplateCheck = { ok: true } | { ok: false; reason: string };

/** Samples that any usable template must format and parse back exactly. */
const ROUND_TRIP_SAMPLES: EntryId[] = [
  { region: 'US', denomination: 50 },
  { region: 'TR', denomination: 250 },
  { region: 'GB', denomination: 7.5 },
  { region: 'DE', denomination: 100 },
  { region: 'IN', denomination: 1000 },
];

export function checkSkuTemplate(template: string): TemplateCheck {
  const found = [...template.matchAll(PLACEHOLDER)].map((m) => m[1]);
  const unknown = template.replace(PLACEHOLDER, '').match(/\{[^}]*\}/);
  if (unknown)
    return { ok: false, reason: `unknown placeholder ${unknown[0]} (use {region} and {denomination})` };
  for (const name of ['region', 'denomination']) {
    const n = found.filter((f) => f === name).length;
    if (n !== 1) return { ok: false, reason: `must contain {${name}} exactly once (found ${n})` };
  }
  // Adjacent placeholders, or a separator that could be part of either value, do not parse back
  // reliably once SKUs are compared without case (as WooCommerce does).
  const between = template.split(/\{region\}|\{denomination\}/)[1] ?? '';
  if (!/[^A-Za-z0-9.]/.test(between)) {
    return {
      ok: false,
      reason: `"${template}" cannot be parsed back: {region} and {denomination} need a separator such as "-" between them`,
    };
  }
  for (const s of ROUND_TRIP_SAMPLES) {
    const back = parseSku(template, formatSku(template, s));
    if (!back || back.region !== s.region || back.denomination !== s.denomination) {
      return { ok: false, reason: `"${template}" cannot be parsed back (tried ${formatSku(template, s)})` };
    }
  }
  return { ok: true };
}

export function formatSku(template: string, e: EntryId): string {
  return skuFormatter(template)(e);
}

const formatters = new Map<string, (e: EntryId) => string>();

/** `formatSku` for one template, split once: the planner formats a SKU per entry on every run. */
export function skuFormatter(template: string): (e: EntryId) => string {
  let format = formatters.get(template);
  if (!format) {
    // Even indexes are literal text, odd ones a placeholder's name.
    const parts = template.split(PLACEHOLDER);
    format = (e) => {
      let s = parts[0] as string;
      for (let i = 1; i < parts.length; i += 2) {
        s +=
          (parts[i] === 'region' ? e.region : formatDenomination(e.denomination)) + (parts[i + 1] as string);
      }
      return s;
    };
    formatters.set(template, format);
  }
  return format;
}

const compiled = new Map<string, { re: RegExp; order: string[] }>();

export function parseSku(template: string, sku: string): EntryId | null {
  let c = compiled.get(template);
  if (!c) {
    const order: string[] = [];
    const source = template
      .split(PLACEHOLDER)
      .map((part, i) => {
        if (i % 2 === 0) return escapeRegExp(part);
        order.push(part);
        return part === 'region' ? REGION_RE : DENOMINATION_RE;
      })
      .join('');
    c = { re: new RegExp(`^${source}$`, 'i'), order };
    compiled.set(template, c);
  }
  const m = c.re.exec(sku.trim());
  if (!m) return null;
  const region = m[c.order.indexOf('region') + 1]?.toUpperCase() ?? '';
  const denomination = Number(m[c.order.indexOf('denomination') + 1]);
  if (!Number.isFinite(denomination) || denomination <= 0) return null;
  return { region, denomination };
}
