/**
 * Request validation of the sandbox supplier, written independently of the client's zod
 * schemas (wire.ts) so that a mistake in one is caught by the other. A body of the wrong shape
 * is a 400; a well-formed body the supplier cannot accept is a 422. Either way the problem's
 * `errors` array names every offending field (`items[2].qty`) and, for items, the entry.
 * Details never echo submitted values: a claim body carries a bearer code.
 */

export interface FieldError {
  field: string;
  detail: string;
  /** For an item: which entry it names, when that much could be read. */
  region?: string;
  denomination?: number;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; status: 400 | 422; errors: FieldError[] };

export interface OrderRequestItem {
  region: string;
  denomination: number;
  qty: number;
}

export interface OrderRequest {
  items: OrderRequestItem[];
  reference: string | null;
}

export interface ClaimRequestBody {
  orderId: string;
  code: string;
  errorCode: string;
  description: string | null;
}

export interface OrderLimits {
  maxItems: number;
  maxQtyPerItem: number;
  /** Whether region + denomination is a listed catalogue entry. */
  isListed(region: string, denomination: number): boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function verdict<T>(value: T, shape: FieldError[], semantic: FieldError[]): Validated<T> {
  if (shape.length) return { ok: false, status: 400, errors: [...shape, ...semantic] };
  if (semantic.length) return { ok: false, status: 422, errors: semantic };
  return { ok: true, value };
}

export function validateOrderRequest(body: unknown, limits: OrderLimits): Validated<OrderRequest> {
  const shape: FieldError[] = [];
  const semantic: FieldError[] = [];
  if (!isRecord(body))
    return { ok: false, status: 400, errors: [{ field: '(body)', detail: 'must be an object' }] };
  const rawItems = body.items;
  if (!Array.isArray(rawItems)) {
    return { ok: false, status: 400, errors: [{ field: 'items', detail: 'must be an array' }] };
  }
  let reference: string | null = null;
  if (body.reference !== undefined && body.reference !== null) {
    if (typeof body.reference !== 'string') shape.push({ field: 'reference', detail: 'must be a string' });
    else if (body.reference.length === 0 || body.reference.length > 200) {
      semantic.push({ field: 'reference', detail: 'must be 1 to 200 characters' });
    } else reference = body.reference;
  }
  if (rawItems.length === 0) semantic.push({ field: 'items', detail: 'must list at least one item' });
  if (rawItems.length > limits.maxItems) {
    semantic.push({ field: 'items', detail: `must list at most ${limits.maxItems} items` });
  }
  const items: OrderRequestItem[] = [];
  const seen = new Set<string>();
  rawItems.forEach((raw, i) => {
    const at = `items[${i}]`;
    if (!isRecord(raw)) {
      shape.push({ field: at, detail: 'must be an object' });
      return;
    }
    const { region, denomination, qty } = raw;
    const named = {
      ...(typeof region === 'string' && { region }),
      ...(typeof denomination === 'number' && { denomination }),
    };
    let ok = true;
    if (typeof region !== 'string') {
      shape.push({ field: `${at}.region`, detail: 'must be a string', ...named });
      ok = false;
    } else if (!/^[A-Z]{2}$/.test(region)) {
      semantic.push({
        field: `${at}.region`,
        detail: 'must be an ISO 3166-1 alpha-2 code in upper case',
        ...named,
      });
      ok = false;
    }
    if (typeof denomination !== 'number') {
      shape.push({ field: `${at}.denomination`, detail: 'must be a number', ...named });
      ok = false;
    } else if (!Number.isFinite(denomination) || denomination <= 0) {
      semantic.push({ field: `${at}.denomination`, detail: 'must be a positive number', ...named });
      ok = false;
    }
    if (typeof qty !== 'number') {
      shape.push({ field: `${at}.qty`, detail: 'must be a number', ...named });
      ok = false;
    } else if (!Number.isInteger(qty) || qty < 1 || qty > limits.maxQtyPerItem) {
      semantic.push({
        field: `${at}.qty`,
        detail: `must be an integer from 1 to ${limits.maxQtyPerItem}`,
        ...named,
      });
      ok = false;
    }
    if (!ok || typeof region !== 'string' || typeof denomination !== 'number' || typeof qty !== 'number')
      return;
    const key = `${region}:${denomination}`;
    if (seen.has(key)) {
      semantic.push({ field: at, detail: 'names the same entry as an earlier item', ...named });
      return;
    }
    seen.add(key);
    if (!limits.isListed(region, denomination)) {
      semantic.push({ field: at, detail: 'is not in the catalogue', ...named });
      return;
    }
    items.push({ region, denomination, qty });
  });
  return verdict({ items, reference }, shape, semantic);
}

export function validateClaimRequest(body: unknown): Validated<ClaimRequestBody> {
  if (!isRecord(body))
    return { ok: false, status: 400, errors: [{ field: '(body)', detail: 'must be an object' }] };
  const shape: FieldError[] = [];
  const semantic: FieldError[] = [];
  const required = (name: 'orderId' | 'code' | 'errorCode'): string => {
    const v = body[name];
    if (typeof v !== 'string') {
      shape.push({ field: name, detail: v === undefined ? 'is required' : 'must be a string' });
      return '';
    }
    if (v.trim() === '') semantic.push({ field: name, detail: 'must not be empty' });
    return v;
  };
  const orderId = required('orderId');
  const code = required('code');
  const errorCode = required('errorCode');
  let description: string | null = null;
  if (body.description !== undefined && body.description !== null) {
    if (typeof body.description !== 'string')
      shape.push({ field: 'description', detail: 'must be a string' });
    else if (body.description.length > 2000) {
      semantic.push({ field: 'description', detail: 'must be at most 2000 characters' });
    } else description = body.description;
  }
  return verdict({ orderId, code, errorCode, description }, shape, semantic);
}
