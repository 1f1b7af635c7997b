import { createHmac, timingSafeEqual } from 'node:crypto';
import { StorefrontError } from '../../src/errors.js';
import { codeLine, deliveryMarker, markersIn } from '../../src/fulfillment/delivery-text.js';
import type { Logger } from '../../src/log.js';
import { decimalTextToCents } from '../../src/money.js';
import type {
  Delivery,
  DeliveryAttempt,
  ResendOutcome,
  ShopOrder,
  ShopOrders,
  WebhookVerdict,
} from '../../src/storefront.js';
import {
  API_VERSION,
  type ShopifyDocument,
  type ShopifyGraphqlClient,
  type ShopifyRequest,
} from './shopify-client.js';
import {
  fulfilledSomething,
  fulfilledUnits,
  isObj,
  type Ledger,
  ledgerWith,
  parseLedger,
  unitsToFulfil,
} from './shopify-delivery-ledger.js';
import {
  closedQuery,
  holdState,
  intakeQuery,
  isClosed,
  isOurHold,
  isPaid,
  ORDER_TOPICS,
  OUR_HOLD_HANDLE,
  SUBSCRIBED_TOPICS,
  topicEnum,
  unitsToFulfill,
} from './shopify-paid-rules.js';

/**
 * Order intake and delivery for one Shopify store (the `ShopOrders` port).
 *
 * Delivery is two shop writes, each its own recovery point that reads back before writing:
 * 1. `metafield` — the codes go into the order metafield `psnb2b.codes` (multi_line_text_field,
 *    one `codeLine` per code, then the delivery's marker), appended to what is there and written
 *    with `compareDigest`, so a concurrent edit is never overwritten (stale → re-read, retry). In
 *    the same atomic `metafieldsSet`, `psnb2b.deliveries` (json, no codes) records the units each
 *    delivery put on each line — the ledger step 2 uses.
 * 2. `fulfill` — `fulfillmentCreate(notifyCustomer: true)` for the units delivered but not yet
 *    fulfilled: per line, Σ ledger units − units in the order's fulfillments. `fulfillmentCreate`
 *    has no idempotency key, so after a crash right after it committed the read-back finds
 *    nothing left to do instead of fulfilling (and emailing) twice; the client never re-sends it
 *    blindly (`once`).
 *
 * The fewest calls: on a first attempt (nothing of the delivery can be in the shop yet) the read
 * before delivering (`getOrder`, which carries the digests, the ledger, the fulfillment orders
 * and the fulfilled units) is both steps' read-back, so an order costs that read, one
 * `metafieldsSet` and one `fulfillmentCreate`. A resumed delivery, or a write that met a stale
 * digest, reads back as above.
 *
 * Codes never reach a log line or an error: messages carry ids and counts only, and the
 * metafield write drops Shopify's own error text (`sensitive`), which may quote a variable.
 */

const NS = 'psnb2b';
const CODES_KEY = 'codes';
const LEDGER_KEY = 'deliveries';
const GRAPHQL_PATH = `/admin/api/${API_VERSION}/graphql.json`;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Orders per intake page, lines per order in it: ~46 points an order, ~550 a page. */
const INTAKE_PAGE = 12;
const INTAKE_LINES = 10;
const INTAKE_MAX_PAGES = 40;
const ORDER_LINES_PAGE = 50;
/** Fulfillment orders per page × their first lines: ~320 points; more lines are paged. */
const FO_PAGE = 3;
const FO_LINES = 50;
/** One fulfillment order of DeliveryFulfillmentOrder with this many lines: itself, actions, holds, lines. */
const foCost = (lines: number) => 5 + lines * 2;
/** One fulfillment's FulfilledLineItems with this many lines. */
const fulfilledCost = (lines: number) => 3 + lines * 2;
/**
 * What the read before delivering carries for the delivery steps (a digital order has one
 * fulfillment order and few fulfillments): 210 points on top of the order's 166, 376 in all. An order with
 * more, or longer ones, is read back by the step instead, as on a resume.
 */
const READ_FULFILLMENT_ORDERS = 2;
const READ_FO_LINES = 20;
const READ_FULFILLMENTS = 5;
const READ_FULFILLED_LINES = 10;
const ORDER_READ_VARIABLES = {
  lines: ORDER_LINES_PAGE,
  fulfillmentOrders: READ_FULFILLMENT_ORDERS,
  foLines: READ_FO_LINES,
  fulfillments: READ_FULFILLMENTS,
  fulfilledLines: READ_FULFILLED_LINES,
};
/**
 * `Order.fulfillments` is a plain list (no cursor) costed like a connection of `first`: ids and
 * statuses only, at the most Shopify pages anything by (254 points). Their line items are read
 * by id, 10 fulfillments × 40 lines a call (830 points), longer ones paged.
 */
const FULFILLMENTS = 250;
const FULFILLMENT_BATCH = 10;
const FULFILLMENT_LINES = 40;
/** A line-item page after the first (fulfillment or fulfillment order): 503 points. */
const LINES_PAGE = 250;
/** Shopify's cap on an input array: line items per `fulfillmentCreate`. */
const FULFILL_ITEMS = 250;
const WEBHOOKS_PAGE = 100;
const MAX_STALE_RETRIES = 5;
const MUTATION_COST = 10;
/** Shopify keeps hold notes short; ours are a sentence. */
const HOLD_NOTE_MAX = 255;

/**
 * A line as the core needs it. The paid unit price is Shopify's, after every discount (line,
 * order-level and code discounts), in the shop currency (`Order.currencyCode`): 3 points a line.
 */
const LINE_FIELDS =
  'id sku quantity unfulfilledQuantity paid: discountedUnitPriceAfterAllDiscountsSet { shopMoney { amount } }';
/** Points one line of LINE_FIELDS costs (the line and its two money objects). */
const LINE_COST = 3;
/** OrderRead: the order with its first lines (16 + 3 a line), the ledger, fulfillment orders, fulfillments. */
const ORDER_READ_COST =
  16 +
  ORDER_LINES_PAGE * LINE_COST +
  1 +
  (2 + READ_FULFILLMENT_ORDERS * foCost(READ_FO_LINES)) +
  (2 + READ_FULFILLMENTS * fulfilledCost(READ_FULFILLED_LINES));

const ORDER_FIELDS = /* GraphQL */ `
  fragment ShopOrderFields on Order {
    id
    name
    email
    currencyCode
    updatedAt
    displayFinancialStatus
    cancelledAt
    lineItems(first: $lines) {
      nodes { ${LINE_FIELDS} }
      pageInfo { hasNextPage endCursor }
    }
    fulfillmentOrders(first: 5) {
      nodes { id status fulfillmentHolds { id handle heldByRequestingApp } }
    }
    codes: metafield(namespace: "${NS}", key: "${CODES_KEY}") { value compareDigest }
  }
`;

/** A fulfillment order as the fulfill step needs it (its first lines; longer ones are paged). */
const FULFILLMENT_ORDER_FIELDS = /* GraphQL */ `
  fragment DeliveryFulfillmentOrder on FulfillmentOrder {
    id
    status
    supportedActions { action }
    fulfillmentHolds { id handle heldByRequestingApp }
    lineItems(first: $foLines) {
      nodes { id remainingQuantity lineItem { id } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

/** A fulfillment's units per line (its first lines; longer ones are paged). */
const FULFILLED_LINE_FIELDS = /* GraphQL */ `
  fragment FulfilledLineItems on Fulfillment {
    fulfillmentLineItems(first: $fulfilledLines) {
      nodes { quantity lineItem { id } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

const INTAKE_QUERY = /* GraphQL */ `
  query OrderIntake($query: String!, $first: Int!, $after: String, $lines: Int!) {
    orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
      nodes { ...ShopOrderFields }
      pageInfo { hasNextPage endCursor }
    }
  }
  ${ORDER_FIELDS}
`;

/**
 * The read before delivering carries what the delivery steps read back (the ledger, the
 * fulfillment orders, the fulfilled units), so a first attempt writes without reading again.
 */
const ORDER_QUERY = /* GraphQL */ `
  query OrderRead(
    $id: ID!
    $lines: Int!
    $fulfillmentOrders: Int!
    $foLines: Int!
    $fulfillments: Int!
    $fulfilledLines: Int!
  ) {
    order(id: $id) {
      ...ShopOrderFields
      ledger: metafield(namespace: "${NS}", key: "${LEDGER_KEY}") { value compareDigest }
      deliveryFulfillmentOrders: fulfillmentOrders(first: $fulfillmentOrders) {
        nodes { ...DeliveryFulfillmentOrder }
        pageInfo { hasNextPage endCursor }
      }
      fulfillments(first: $fulfillments) { id status ...FulfilledLineItems }
    }
  }
  ${ORDER_FIELDS}
  ${FULFILLMENT_ORDER_FIELDS}
  ${FULFILLED_LINE_FIELDS}
`;

const ORDER_LINES_QUERY = /* GraphQL */ `
  query OrderLines($id: ID!, $first: Int!, $after: String) {
    order(id: $id) {
      lineItems(first: $first, after: $after) {
        nodes { ${LINE_FIELDS} }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`;

const METAFIELDS_QUERY = /* GraphQL */ `
  query DeliveryMetafields($id: ID!) {
    order(id: $id) {
      id
      codes: metafield(namespace: "${NS}", key: "${CODES_KEY}") { value compareDigest }
      ledger: metafield(namespace: "${NS}", key: "${LEDGER_KEY}") { value compareDigest }
    }
  }
`;

const METAFIELDS_SET = /* GraphQL */ `
  mutation DeliveryMetafieldsSet($metafields: [MetafieldsSetInput!]!) {
    metafieldsSet(metafields: $metafields) {
      metafields { key compareDigest }
      userErrors { field code elementIndex }
    }
  }
`;

const FULFILLED_QUERY = /* GraphQL */ `
  query DeliveryFulfilled($id: ID!, $fulfillments: Int!) {
    order(id: $id) {
      id
      cancelledAt
      displayFinancialStatus
      ledger: metafield(namespace: "${NS}", key: "${LEDGER_KEY}") { value }
      fulfillments(first: $fulfillments) { id status }
    }
  }
`;

const FULFILLMENT_LINES_QUERY = /* GraphQL */ `
  query FulfillmentLines($ids: [ID!]!, $fulfilledLines: Int!) {
    nodes(ids: $ids) {
      ... on Fulfillment { id ...FulfilledLineItems }
    }
  }
  ${FULFILLED_LINE_FIELDS}
`;

const FULFILLMENT_LINES_PAGE_QUERY = /* GraphQL */ `
  query FulfillmentLinesPage($id: ID!, $first: Int!, $after: String) {
    fulfillment(id: $id) {
      fulfillmentLineItems(first: $first, after: $after) {
        nodes { quantity lineItem { id } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`;

const FULFILLMENT_ORDERS_QUERY = /* GraphQL */ `
  query OrderFulfillmentOrders($id: ID!, $first: Int!, $after: String, $foLines: Int!) {
    order(id: $id) {
      fulfillmentOrders(first: $first, after: $after) {
        nodes { ...DeliveryFulfillmentOrder }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
  ${FULFILLMENT_ORDER_FIELDS}
`;

const FULFILLMENT_ORDER_LINES_QUERY = /* GraphQL */ `
  query FulfillmentOrderLines($id: ID!, $first: Int!, $after: String) {
    fulfillmentOrder(id: $id) {
      lineItems(first: $first, after: $after) {
        nodes { id remainingQuantity lineItem { id } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`;

const FULFILLMENT_CREATE = /* GraphQL */ `
  mutation DeliveryFulfill($fulfillment: FulfillmentInput!) {
    fulfillmentCreate(fulfillment: $fulfillment) {
      fulfillment { id status }
      userErrors { field message }
    }
  }
`;

const HOLD_MUTATION = /* GraphQL */ `
  mutation OrderHold($id: ID!, $hold: FulfillmentOrderHoldInput!) {
    fulfillmentOrderHold(id: $id, fulfillmentHold: $hold) {
      fulfillmentHold { id handle }
      userErrors { field message code }
    }
  }
`;

const RELEASE_MUTATION = /* GraphQL */ `
  mutation OrderReleaseHold($id: ID!, $holdIds: [ID!]!) {
    fulfillmentOrderReleaseHold(id: $id, holdIds: $holdIds) {
      fulfillmentOrder { id status }
      userErrors { field message code }
    }
  }
`;

const WEBHOOKS_QUERY = /* GraphQL */ `
  query OrderWebhooks($first: Int!, $after: String, $topics: [WebhookSubscriptionTopic!]) {
    webhookSubscriptions(first: $first, after: $after, topics: $topics) {
      nodes { id topic uri }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

const WEBHOOK_CREATE = /* GraphQL */ `
  mutation OrderWebhookCreate($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
    webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
      webhookSubscription { id topic uri }
      userErrors { field message }
    }
  }
`;

const SAMPLE_ORDER = 'gid://shopify/Order/1';
const SAMPLE_CURSOR = 'eyJsYXN0X2lkIjoxfQ';

/** Every document this module sends, at its largest variables (held to the cost cap by a test). */
export const ORDER_DOCUMENTS: readonly ShopifyDocument[] = [
  {
    query: INTAKE_QUERY,
    maxVariables: { query: 'status:open', first: INTAKE_PAGE, after: SAMPLE_CURSOR, lines: INTAKE_LINES },
  },
  { query: ORDER_QUERY, maxVariables: { id: SAMPLE_ORDER, ...ORDER_READ_VARIABLES }, cost: ORDER_READ_COST },
  {
    query: ORDER_LINES_QUERY,
    maxVariables: { id: SAMPLE_ORDER, first: ORDER_LINES_PAGE, after: SAMPLE_CURSOR },
  },
  { query: METAFIELDS_QUERY, maxVariables: { id: SAMPLE_ORDER } },
  {
    query: METAFIELDS_SET,
    maxVariables: {
      metafields: [CODES_KEY, LEDGER_KEY].map((key) => ({
        ownerId: SAMPLE_ORDER,
        namespace: NS,
        key,
        type: 'json',
        value: '{}',
        compareDigest: null,
      })),
    },
  },
  { query: FULFILLED_QUERY, maxVariables: { id: SAMPLE_ORDER, fulfillments: FULFILLMENTS } },
  {
    query: FULFILLMENT_LINES_QUERY,
    maxVariables: {
      ids: Array.from({ length: FULFILLMENT_BATCH }, (_v, i) => `gid://shopify/Fulfillment/${i + 1}`),
      fulfilledLines: FULFILLMENT_LINES,
    },
  },
  {
    query: FULFILLMENT_LINES_PAGE_QUERY,
    maxVariables: { id: 'gid://shopify/Fulfillment/1', first: LINES_PAGE, after: SAMPLE_CURSOR },
  },
  {
    query: FULFILLMENT_ORDERS_QUERY,
    maxVariables: { id: SAMPLE_ORDER, first: FO_PAGE, after: SAMPLE_CURSOR, foLines: FO_LINES },
  },
  {
    query: FULFILLMENT_ORDER_LINES_QUERY,
    maxVariables: { id: 'gid://shopify/FulfillmentOrder/1', first: LINES_PAGE, after: SAMPLE_CURSOR },
  },
  {
    query: FULFILLMENT_CREATE,
    maxVariables: {
      fulfillment: {
        notifyCustomer: true,
        lineItemsByFulfillmentOrder: [
          {
            fulfillmentOrderId: 'gid://shopify/FulfillmentOrder/1',
            fulfillmentOrderLineItems: Array.from({ length: FULFILL_ITEMS }, (_v, i) => ({
              id: `gid://shopify/FulfillmentOrderLineItem/${i + 1}`,
              quantity: 1,
            })),
          },
        ],
      },
    },
  },
  {
    query: HOLD_MUTATION,
    maxVariables: {
      id: 'gid://shopify/FulfillmentOrder/1',
      hold: {
        reason: 'OTHER',
        reasonNotes: 'x'.repeat(HOLD_NOTE_MAX),
        handle: OUR_HOLD_HANDLE,
        notifyMerchant: false,
      },
    },
  },
  {
    query: RELEASE_MUTATION,
    maxVariables: { id: 'gid://shopify/FulfillmentOrder/1', holdIds: ['gid://shopify/FulfillmentHold/1'] },
  },
  {
    query: WEBHOOKS_QUERY,
    maxVariables: { first: WEBHOOKS_PAGE, after: SAMPLE_CURSOR, topics: [...SUBSCRIBED_TOPICS] },
  },
  {
    query: WEBHOOK_CREATE,
    maxVariables: {
      topic: 'ORDERS_PAID',
      sub: { uri: 'https://example.com/webhooks/shopify/shop', format: 'JSON' },
    },
  },
];

// ---- wire shapes ------------------------------------------------------------------------------

interface WireLine {
  id: string;
  sku: string | null;
  quantity: number;
  unfulfilledQuantity: number;
  paid: { shopMoney: { amount: string } };
}

interface WireHold {
  id: string;
  handle: string | null;
  heldByRequestingApp: boolean;
}

interface WireOrder {
  id: string;
  name: string;
  email: string | null;
  currencyCode: string;
  updatedAt: string;
  displayFinancialStatus: string | null;
  cancelledAt: string | null;
  lineItems: { nodes: WireLine[]; pageInfo: PageInfo };
  fulfillmentOrders: { nodes: { id: string; status: string; fulfillmentHolds: WireHold[] }[] };
  codes: WireMetafield | null;
}

/** What OrderRead adds to the order for the delivery steps. */
interface WireDeliveryRead {
  ledger: WireMetafield | null;
  deliveryFulfillmentOrders: { nodes: WireFulfillmentOrder[]; pageInfo: PageInfo };
  fulfillments: {
    id: string;
    status: string;
    fulfillmentLineItems: { nodes: WireFulfilledLine[]; pageInfo: PageInfo };
  }[];
}

/**
 * What the read before delivering says the delivery steps would read back. Trusted only for a
 * first attempt (nothing of the delivery can be in the shop yet) and only from an order this
 * adapter returned itself.
 */
interface DeliveryReading {
  codes: WireMetafield | null;
  ledger: WireMetafield | null;
  cancelled: boolean;
  /** Every fulfillment order with every line; null when the read did not hold them all. */
  fulfillmentOrders: WireFulfillmentOrder[] | null;
  /** Units in the order's counted fulfillments per line; null when the read did not hold them all. */
  fulfilled: Map<string, number> | null;
}

interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}

interface WireFoLine {
  id: string;
  remainingQuantity: number;
  lineItem: { id: string };
}

interface WireFulfillmentOrder {
  id: string;
  status: string;
  supportedActions: { action: string }[];
  fulfillmentHolds: WireHold[];
  lineItems: { nodes: WireFoLine[]; pageInfo: PageInfo };
}

interface WireFulfilledLine {
  quantity: number;
  lineItem: { id: string };
}

interface WireConnection {
  nodes?: unknown;
  pageInfo?: unknown;
}

interface WireMetafield {
  value: string;
  compareDigest: string;
}

interface UserError {
  field?: string[] | null;
  message?: string;
  code?: string | null;
}

function isWireOrder(v: unknown): v is WireOrder {
  if (!isObj(v)) return false;
  const lines = v.lineItems as { nodes?: unknown; pageInfo?: unknown } | undefined;
  const fos = v.fulfillmentOrders as { nodes?: unknown } | undefined;
  return (
    typeof v.id === 'string' &&
    typeof v.name === 'string' &&
    (typeof v.email === 'string' || v.email === null) &&
    typeof v.currencyCode === 'string' &&
    typeof v.updatedAt === 'string' &&
    (typeof v.displayFinancialStatus === 'string' || v.displayFinancialStatus === null) &&
    (typeof v.cancelledAt === 'string' || v.cancelledAt === null) &&
    Array.isArray(lines?.nodes) &&
    lines.nodes.every(isWireLine) &&
    isObj(lines.pageInfo) &&
    Array.isArray(fos?.nodes) &&
    isMetafieldOrNull(v.codes)
  );
}

function isMetafieldOrNull(v: unknown): v is WireMetafield | null {
  return v === null || (isObj(v) && typeof v.value === 'string' && typeof v.compareDigest === 'string');
}

function isFulfillmentOrder(v: unknown): v is WireFulfillmentOrder {
  return (
    isObj(v) &&
    typeof v.id === 'string' &&
    typeof v.status === 'string' &&
    Array.isArray(v.supportedActions) &&
    Array.isArray(v.fulfillmentHolds) &&
    pageOf(v.lineItems, isFoLine) !== undefined
  );
}

function isFulfillmentRead(v: unknown): v is WireDeliveryRead['fulfillments'][number] {
  return (
    isObj(v) &&
    typeof v.id === 'string' &&
    typeof v.status === 'string' &&
    pageOf(v.fulfillmentLineItems, isFulfilledLine) !== undefined
  );
}

/**
 * The delivery steps' read-back as OrderRead carries it; the fulfillment orders or fulfillments
 * as null where a page was left unread (the step reads them itself). Undefined: not that shape.
 */
function deliveryReadingOf(o: WireOrder, v: Record<string, unknown>): DeliveryReading | undefined {
  const fos = pageOf(v.deliveryFulfillmentOrders, isFulfillmentOrder);
  const list = v.fulfillments;
  if (!isMetafieldOrNull(v.ledger) || !fos || !Array.isArray(list) || !list.every(isFulfillmentRead)) {
    return undefined;
  }
  const allFos = !fos.pageInfo.hasNextPage && fos.nodes.every((fo) => !fo.lineItems.pageInfo.hasNextPage);
  const counted = list.filter((f) => fulfilledSomething(f.status));
  // A list as long as asked for may go on: only a shorter one is all of them.
  const allFulfilled =
    list.length < READ_FULFILLMENTS && counted.every((f) => !f.fulfillmentLineItems.pageInfo.hasNextPage);
  return {
    codes: o.codes,
    ledger: v.ledger,
    cancelled: o.cancelledAt !== null,
    fulfillmentOrders: allFos ? fos.nodes : null,
    fulfilled: allFulfilled ? fulfilledUnits(counted.flatMap((f) => f.fulfillmentLineItems.nodes)) : null,
  };
}

function isWireLine(v: unknown): v is WireLine {
  return (
    isObj(v) &&
    typeof v.id === 'string' &&
    (typeof v.sku === 'string' || v.sku === null) &&
    typeof v.quantity === 'number' &&
    typeof v.unfulfilledQuantity === 'number' &&
    isObj(v.paid) &&
    isObj(v.paid.shopMoney) &&
    decimalTextToCents(v.paid.shopMoney.amount) !== null
  );
}

function isPageInfo(v: unknown): v is PageInfo {
  return (
    isObj(v) &&
    typeof v.hasNextPage === 'boolean' &&
    (typeof v.endCursor === 'string' || v.endCursor === null || v.endCursor === undefined)
  );
}

function isLineRef(v: unknown): v is { lineItem: { id: string } } {
  return isObj(v) && isObj(v.lineItem) && typeof v.lineItem.id === 'string';
}

function isFulfilledLine(v: unknown): v is WireFulfilledLine {
  return isLineRef(v) && typeof (v as { quantity?: unknown }).quantity === 'number';
}

function isFoLine(v: unknown): v is WireFoLine {
  return (
    isLineRef(v) &&
    typeof (v as { id?: unknown }).id === 'string' &&
    typeof (v as { remainingQuantity?: unknown }).remainingQuantity === 'number'
  );
}

/** A connection page whose nodes all pass `isNode`, or undefined. */
function pageOf<N>(
  conn: unknown,
  isNode: (v: unknown) => v is N,
): { nodes: N[]; pageInfo: PageInfo } | undefined {
  const c = conn as WireConnection | null | undefined;
  if (!c || !Array.isArray(c.nodes) || !c.nodes.every(isNode) || !isPageInfo(c.pageInfo)) return undefined;
  return { nodes: c.nodes, pageInfo: c.pageInfo };
}

function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== name) continue;
    const s = Array.isArray(v) ? v[0] : v;
    return s && s.trim() !== '' ? s.trim() : undefined;
  }
  return undefined;
}

export interface ShopifyOrdersOptions {
  store: string;
  client: ShopifyGraphqlClient;
  apiSecretKey: string;
  log: Logger;
  now: () => number;
}

export class ShopifyOrders implements ShopOrders {
  readonly deliverySteps = ['metafield', 'fulfill'] as const;
  private readonly store: string;
  private readonly client: ShopifyGraphqlClient;
  private readonly secret: string;
  private readonly log: Logger;
  private readonly now: () => number;
  /** What each order we handed out from OrderRead says the delivery steps would read back. */
  private readonly readings = new WeakMap<ShopOrder, DeliveryReading>();
  /**
   * The read before an attempt → the delivery whose metafield step wrote straight from it: the
   * fulfill step of that attempt may take the rest of that read as its read-back too.
   */
  private readonly wroteFrom = new WeakMap<ShopOrder, string>();

  constructor(opts: ShopifyOrdersOptions) {
    this.store = opts.store;
    this.client = opts.client;
    this.secret = opts.apiSecretKey;
    this.log = opts.log;
    this.now = opts.now;
  }

  // ---- intake ---------------------------------------------------------------------------------

  async listChangedOrders(since: string | null): Promise<{ orders: ShopOrder[]; latest: string | null }> {
    if (since !== null && Number.isNaN(Date.parse(since))) {
      throw this.error('OrderIntake', `invalid cursor "${since}"`, 'BAD_CURSOR', false);
    }
    const from = since ?? new Date(this.now() - DAY_MS).toISOString();
    // Paid orders to deliver, and orders that stopped being ours (cancelled, refunded, voided).
    const streams = [await this.search(intakeQuery(from)), await this.search(closedQuery(from))];
    // A stream cut short bounds the batch: past its last order the other stream may run ahead,
    // and a cursor taken from there would skip what the short one did not reach.
    const cuts = streams.flatMap((s) => (s.cutAt ? [s.cutAt] : []));
    const cap = cuts.sort()[0] ?? null;
    const byId = new Map<string, ShopOrder>();
    for (const s of streams) for (const o of s.orders) if (!cap || o.updatedAt <= cap) byId.set(o.id, o);
    const orders = [...byId.values()].sort(
      (a, b) => a.updatedAt.localeCompare(b.updatedAt) || a.id.localeCompare(b.id),
    );
    const latest = cap ?? orders[orders.length - 1]?.updatedAt ?? null;
    return { orders, latest };
  }

  private async search(query: string): Promise<{ orders: ShopOrder[]; cutAt: string | null }> {
    const orders: ShopOrder[] = [];
    let after: string | null = null;
    for (let page = 0; page < INTAKE_MAX_PAGES; page++) {
      const data: { orders?: { nodes?: unknown[]; pageInfo?: PageInfo } } = await this.read('OrderIntake', {
        query: INTAKE_QUERY,
        variables: { query, first: INTAKE_PAGE, after, lines: INTAKE_LINES },
        cost: 2 + INTAKE_PAGE * (16 + INTAKE_LINES * LINE_COST),
      });
      const nodes = data.orders?.nodes;
      const info = data.orders?.pageInfo;
      if (!Array.isArray(nodes) || !isObj(info)) throw this.badResponse('OrderIntake', 'orders');
      for (const n of nodes) {
        if (!isWireOrder(n)) throw this.badResponse('OrderIntake', 'orders.nodes');
        orders.push(this.toShopOrder(n, await this.remainingLines(n)));
      }
      if (!info.hasNextPage || !info.endCursor) return { orders, cutAt: null };
      after = info.endCursor;
    }
    return { orders, cutAt: orders[orders.length - 1]?.updatedAt ?? null };
  }

  async getOrder(orderId: string): Promise<ShopOrder | null> {
    const data: { order?: unknown } = await this.read('OrderRead', {
      query: ORDER_QUERY,
      variables: { id: orderId, ...ORDER_READ_VARIABLES },
      cost: ORDER_READ_COST,
    });
    if (data.order === null) return null;
    if (!isWireOrder(data.order)) throw this.badResponse('OrderRead', 'order');
    const reading = deliveryReadingOf(data.order, data.order as unknown as Record<string, unknown>);
    if (!reading) throw this.badResponse('OrderRead', 'order (delivery read-back)');
    const order = this.toShopOrder(data.order, await this.remainingLines(data.order));
    this.readings.set(order, reading);
    return order;
  }

  /** Lines past the first page (orders with many lines are rare; they are followed, never cut). */
  private async remainingLines(o: WireOrder): Promise<WireLine[]> {
    const rest = await this.restOf(o.id, o.lineItems.pageInfo, isWireLine, {
      operation: 'OrderLines',
      query: ORDER_LINES_QUERY,
      first: ORDER_LINES_PAGE,
      cost: 3 + ORDER_LINES_PAGE * LINE_COST,
      at: ['order', 'lineItems'],
    });
    return [...o.lineItems.nodes, ...rest];
  }

  /**
   * The pages of a connection after its first one, read by `query($id, $first, $after)` whose
   * answer holds the connection at path `at`: every page followed, none cut.
   */
  private async restOf<N>(
    id: string,
    first: PageInfo,
    isNode: (v: unknown) => v is N,
    page: { operation: string; query: string; first: number; cost: number; at: [string, string] },
  ): Promise<N[]> {
    const out: N[] = [];
    let info = first;
    while (info.hasNextPage && info.endCursor) {
      const data: Record<string, unknown> = await this.read(page.operation, {
        query: page.query,
        variables: { id, first: page.first, after: info.endCursor },
        cost: page.cost,
      });
      const [owner, field] = page.at;
      const owned = data[owner];
      const conn = pageOf(isObj(owned) ? owned[field] : undefined, isNode);
      if (!conn) throw this.badResponse(page.operation, page.at.join('.'));
      out.push(...conn.nodes);
      info = conn.pageInfo;
    }
    return out;
  }

  private toShopOrder(o: WireOrder, lines: WireLine[]): ShopOrder {
    const facts = {
      displayFinancialStatus: o.displayFinancialStatus,
      cancelledAt: o.cancelledAt,
      fulfillmentOrders: o.fulfillmentOrders.nodes,
    };
    return {
      id: o.id,
      number: o.name,
      updatedAt: new Date(o.updatedAt).toISOString(),
      paid: isPaid(facts),
      closed: isClosed(facts),
      ...holdState(facts),
      buyerEmail: o.email || null,
      currency: o.currencyCode,
      lines: lines.map((l) => ({
        id: l.id,
        sku: l.sku,
        quantity: l.quantity,
        unitsToFulfill: unitsToFulfill(l),
        paidUnitCents: decimalTextToCents(l.paid.shopMoney.amount) as number,
      })),
      deliveryIds: markersIn(o.codes?.value ?? ''),
    };
  }

  // ---- delivery -------------------------------------------------------------------------------

  /**
   * The Admin API cannot send a shipping confirmation again (`fulfillmentTrackingInfoUpdate`'s
   * `notifyCustomer` only mails a shipping *update*, and only when tracking changes; our code
   * fulfilments carry none). So: check the codes are in the order's metafield, and tell the
   * merchant how to resend the email from the admin, where the template prints them.
   */
  async resendDelivery(delivery: Delivery): Promise<ResendOutcome> {
    const order = await this.getOrder(delivery.orderId);
    if (!order?.deliveryIds.includes(delivery.deliveryId)) {
      throw this.error(
        'resendDelivery',
        `order ${delivery.orderId}: delivery ${delivery.deliveryId} is not in its ${NS}.${CODES_KEY} metafield`,
        'NOT_DELIVERED',
        false,
      );
    }
    return {
      kind: 'merchant',
      what: `Shopify's Admin API cannot send the shipping confirmation again. In the Shopify admin open order ${order.number}, find "Shipping confirmation email was sent" in its timeline and choose "Resend email": the email prints the ${NS}.${CODES_KEY} metafield, which holds these codes`,
    };
  }

  async runDeliveryStep(step: string, delivery: Delivery, attempt?: DeliveryAttempt): Promise<void> {
    this.checkDelivery(delivery);
    const before = this.firstAttemptReading(delivery, attempt);
    if (step === 'metafield') {
      if ((await this.writeCodes(delivery, before)) && attempt)
        this.wroteFrom.set(attempt.readBefore, delivery.deliveryId);
      return;
    }
    if (step === 'fulfill') {
      const wrote = attempt && this.wroteFrom.get(attempt.readBefore) === delivery.deliveryId;
      return this.fulfil(delivery, wrote ? before : undefined);
    }
    throw this.error('runDeliveryStep', `unknown delivery step "${step}"`, 'BAD_STEP', false);
  }

  /**
   * The read before this attempt as the steps' read-back: only for a first attempt (an earlier
   * one may have written after it was read, or its write may still land) and only from an order
   * this adapter read itself.
   */
  private firstAttemptReading(
    d: Delivery,
    attempt: DeliveryAttempt | undefined,
  ): DeliveryReading | undefined {
    if (!attempt?.nothingWrittenYet || attempt.readBefore.id !== d.orderId) return undefined;
    return this.readings.get(attempt.readBefore);
  }

  /** A code that would break the one-code-per-line format is refused before anything is written. */
  private checkDelivery(d: Delivery): void {
    const bad = d.lines.some(
      (l) => l.codes.length === 0 || l.codes.some((c) => c.code.trim() === '' || /[\r\n]/.test(c.code)),
    );
    if (d.lines.length === 0 || bad) {
      throw this.error(
        'runDeliveryStep',
        `delivery ${d.deliveryId} for ${d.orderId} has an empty line or a malformed code`,
        'BAD_DELIVERY',
        false,
      );
    }
  }

  /**
   * Step 1: the codes and the ledger, appended under compare-and-set; nothing if the marker is
   * there. `before` (a first attempt's read) stands in for the first read-back; a stale write
   * reads again. True when it wrote from `before` as it was.
   */
  private async writeCodes(d: Delivery, before: DeliveryReading | undefined): Promise<boolean> {
    const marker = deliveryMarker(d.deliveryId);
    const newLines = [...d.lines.flatMap((l) => l.codes.map(codeLine)), marker];
    for (let attempt = 1; attempt <= MAX_STALE_RETRIES; attempt++) {
      const order = attempt === 1 && before ? before : await this.deliveryMetafields(d.orderId);
      const current = order.codes?.value ?? '';
      if (markersIn(current).includes(d.deliveryId)) {
        this.log.debug('shopify: codes already in the order', {
          store: this.store,
          orderId: d.orderId,
          deliveryId: d.deliveryId,
        });
        return false;
      }
      // Merged, never overwritten: earlier deliveries (and any text the merchant added) stay.
      const value = [current.replace(/\s+$/, ''), ...newLines].filter((s) => s !== '').join('\n');
      const ledger = ledgerWith(parseLedger(order.ledger?.value), d);
      const data2: { metafieldsSet?: { userErrors?: UserError[] } } = await this.write(
        'DeliveryMetafieldsSet',
        {
          query: METAFIELDS_SET,
          variables: {
            metafields: [
              {
                ownerId: d.orderId,
                namespace: NS,
                key: CODES_KEY,
                type: 'multi_line_text_field',
                value,
                compareDigest: order.codes?.compareDigest ?? null,
              },
              {
                ownerId: d.orderId,
                namespace: NS,
                key: LEDGER_KEY,
                type: 'json',
                value: JSON.stringify(ledger),
                compareDigest: order.ledger?.compareDigest ?? null,
              },
            ],
          },
          cost: MUTATION_COST,
          sensitive: true,
          once: true,
        },
      );
      const errors = data2.metafieldsSet?.userErrors;
      if (!Array.isArray(errors)) throw this.badResponse('DeliveryMetafieldsSet', 'metafieldsSet.userErrors');
      if (errors.length === 0) {
        this.log.info('shopify: codes written to the order', {
          store: this.store,
          orderId: d.orderId,
          deliveryId: d.deliveryId,
          codes: newLines.length - 1,
        });
        return order === before;
      }
      // Someone wrote in between (or an earlier attempt of ours landed): read again and merge.
      if (errors.every((e) => e.code === 'STALE_OBJECT' || e.code === 'INVALID_COMPARE_DIGEST')) continue;
      // Codes and fields only: a message could quote the value.
      const what = errors.map((e) => `${e.code ?? 'ERROR'} at ${(e.field ?? []).join('.')}`).join(', ');
      throw this.error(
        'DeliveryMetafieldsSet',
        `refused for ${d.orderId}: ${what}`,
        'METAFIELD_REFUSED',
        false,
      );
    }
    throw this.error(
      'DeliveryMetafieldsSet',
      `${d.orderId}: the metafield kept changing (${MAX_STALE_RETRIES} stale compare-and-sets)`,
      'STALE',
      true,
    );
  }

  /** The codes and ledger metafields with their digests, as they are now. */
  private async deliveryMetafields(
    orderId: string,
  ): Promise<{ codes: WireMetafield | null; ledger: WireMetafield | null }> {
    const data: { order?: { codes: unknown; ledger: unknown } | null } = await this.read(
      'DeliveryMetafields',
      {
        query: METAFIELDS_QUERY,
        variables: { id: orderId },
        cost: 3,
      },
    );
    if (data.order === null) throw this.notFound('DeliveryMetafields', orderId);
    const { codes, ledger } = data.order ?? {};
    if (!isMetafieldOrNull(codes) || !isMetafieldOrNull(ledger)) {
      throw this.badResponse('DeliveryMetafields', 'order.codes');
    }
    return { codes, ledger };
  }

  /**
   * Step 2: fulfil, with a shipping confirmation, the delivered units not fulfilled yet. With
   * `before` (the read this attempt's metafield step wrote from), its fulfillments and fulfillment
   * orders are the read-back: the metafield write changes neither, and its ledger is known.
   */
  private async fulfil(d: Delivery, before: DeliveryReading | undefined): Promise<void> {
    const state = before?.fulfilled
      ? {
          cancelled: before.cancelled,
          ledger: parseLedger(before.ledger?.value),
          fulfilled: before.fulfilled,
        }
      : await this.fulfilledState(d.orderId);
    if (state.cancelled) {
      throw this.error('DeliveryFulfill', `${d.orderId} is cancelled; not fulfilled`, 'ORDER_CLOSED', false);
    }
    if (!state.ledger) {
      // Unreadable ledger (edited by hand): count only this delivery — fulfil too little, never twice.
      this.log.warn('shopify: delivery ledger unreadable; counting this delivery only', {
        store: this.store,
        orderId: d.orderId,
      });
    }
    const need = unitsToFulfil(state.ledger ?? {}, d, state.fulfilled);
    if (need.size === 0) {
      this.log.debug('shopify: delivered lines already fulfilled', {
        store: this.store,
        orderId: d.orderId,
        deliveryId: d.deliveryId,
      });
      return;
    }

    let fos = before?.fulfillmentOrders ?? (await this.fulfillmentOrders(d.orderId));
    const relevant = (list: WireFulfillmentOrder[]) =>
      list.filter((fo) => fo.lineItems.nodes.some((l) => need.has(l.lineItem.id) && l.remainingQuantity > 0));
    const held = relevant(fos).filter((fo) => fo.status === 'ON_HOLD');
    if (held.some((fo) => fo.fulfillmentHolds.some((h) => !isOurHold(h)))) {
      throw this.error('DeliveryFulfill', `${d.orderId} is on hold by the merchant`, 'MERCHANT_HOLD', true);
    }
    if (held.length > 0) {
      // Our own hold (placed while waiting) ends with the delivery.
      await this.releaseOurs(d.orderId, held);
      fos = await this.fulfillmentOrders(d.orderId);
    }

    for (const fo of relevant(fos)) {
      if (fo.status !== 'OPEN' && fo.status !== 'IN_PROGRESS') continue;
      const items: { id: string; quantity: number }[] = [];
      for (const l of fo.lineItems.nodes) {
        const n = Math.min(need.get(l.lineItem.id) ?? 0, l.remainingQuantity);
        if (n <= 0) continue;
        items.push({ id: l.id, quantity: n });
        need.set(l.lineItem.id, (need.get(l.lineItem.id) ?? 0) - n);
      }
      // Shopify takes at most 250 items an input array: a longer order is fulfilled in parts.
      for (let i = 0; i < items.length; i += FULFILL_ITEMS) {
        await this.createFulfillment(d, fo.id, items.slice(i, i + FULFILL_ITEMS));
      }
    }
    const short = [...need.values()].reduce((s, n) => s + Math.max(0, n), 0);
    if (short > 0) {
      // Refunded or fulfilled by hand meanwhile: the codes are in the order, the rest is the merchant's.
      this.log.warn('shopify: fewer units left to fulfil than delivered', {
        store: this.store,
        orderId: d.orderId,
        deliveryId: d.deliveryId,
        units: short,
      });
    }
  }

  /** One `fulfillmentCreate` (a shipping confirmation to the buyer) for these fulfillment-order items. */
  private async createFulfillment(
    d: Delivery,
    fulfillmentOrderId: string,
    items: { id: string; quantity: number }[],
  ): Promise<void> {
    const data: { fulfillmentCreate?: { fulfillment: { id: string } | null; userErrors?: UserError[] } } =
      await this.write('DeliveryFulfill', {
        query: FULFILLMENT_CREATE,
        variables: {
          fulfillment: {
            notifyCustomer: true,
            lineItemsByFulfillmentOrder: [{ fulfillmentOrderId, fulfillmentOrderLineItems: items }],
          },
        },
        cost: MUTATION_COST,
        once: true,
      });
    const errors = data.fulfillmentCreate?.userErrors;
    if (!Array.isArray(errors)) throw this.badResponse('DeliveryFulfill', 'fulfillmentCreate.userErrors');
    if (errors.length > 0) {
      throw this.error(
        'DeliveryFulfill',
        `refused for ${d.orderId}: ${this.userErrorText(errors)}`,
        'FULFILLMENT_REFUSED',
        true,
      );
    }
    this.log.info('shopify: order lines fulfilled, buyer notified', {
      store: this.store,
      orderId: d.orderId,
      deliveryId: d.deliveryId,
      fulfillmentId: data.fulfillmentCreate?.fulfillment?.id,
      units: items.reduce((s, i) => s + i.quantity, 0),
    });
  }

  /** The order's cancellation, our ledger, and the units its (non-cancelled) fulfillments hold per line. */
  private async fulfilledState(
    orderId: string,
  ): Promise<{ cancelled: boolean; ledger: Ledger | null; fulfilled: Map<string, number> }> {
    const data: {
      order?: {
        cancelledAt: string | null;
        ledger: { value: string } | null;
        fulfillments: unknown;
      } | null;
    } = await this.read('DeliveryFulfilled', {
      query: FULFILLED_QUERY,
      variables: { id: orderId, fulfillments: FULFILLMENTS },
      cost: 4 + FULFILLMENTS,
    });
    if (data.order === null) throw this.notFound('DeliveryFulfilled', orderId);
    const o = data.order;
    const list = o?.fulfillments;
    const isFulfillment = (f: unknown): f is { id: string; status: string } =>
      isObj(f) && typeof f.id === 'string' && typeof f.status === 'string';
    if (!o || !Array.isArray(list) || !list.every(isFulfillment)) {
      throw this.badResponse('DeliveryFulfilled', 'order.fulfillments');
    }
    if (list.length >= FULFILLMENTS) {
      // The list has no cursor: past 250 the units already fulfilled cannot be known, and guessing
      // low would fulfil (and email) lines whose codes were never delivered.
      throw this.error(
        'DeliveryFulfilled',
        `${orderId} has ${FULFILLMENTS} or more fulfillments, more than Shopify lists; fulfil it by hand`,
        'TOO_MANY_FULFILLMENTS',
        false,
      );
    }
    const counted = list.filter((f) => fulfilledSomething(f.status)).map((f) => f.id);
    const lines: WireFulfilledLine[] = [];
    for (let i = 0; i < counted.length; i += FULFILLMENT_BATCH) {
      lines.push(...(await this.fulfilledLines(counted.slice(i, i + FULFILLMENT_BATCH))));
    }
    return {
      cancelled: o.cancelledAt !== null,
      ledger: parseLedger(o.ledger?.value),
      fulfilled: fulfilledUnits(lines),
    };
  }

  /** Every line item of these fulfillments: their first lines in one call, longer ones paged. */
  private async fulfilledLines(ids: string[]): Promise<WireFulfilledLine[]> {
    const data: { nodes?: unknown } = await this.read('FulfillmentLines', {
      query: FULFILLMENT_LINES_QUERY,
      variables: { ids, fulfilledLines: FULFILLMENT_LINES },
      cost: ids.length * fulfilledCost(FULFILLMENT_LINES),
    });
    const nodes = data.nodes;
    if (!Array.isArray(nodes) || nodes.length !== ids.length)
      throw this.badResponse('FulfillmentLines', 'nodes');
    const out: WireFulfilledLine[] = [];
    for (const [i, n] of nodes.entries()) {
      // A fulfillment the order just listed must be there: a gap is an answer not to act on.
      const conn = isObj(n) && n.id === ids[i] ? pageOf(n.fulfillmentLineItems, isFulfilledLine) : undefined;
      if (!conn) throw this.badResponse('FulfillmentLines', 'nodes.fulfillmentLineItems');
      const rest = await this.restOf(ids[i] as string, conn.pageInfo, isFulfilledLine, {
        operation: 'FulfillmentLinesPage',
        query: FULFILLMENT_LINES_PAGE_QUERY,
        first: LINES_PAGE,
        cost: 3 + LINES_PAGE * 2,
        at: ['fulfillment', 'fulfillmentLineItems'],
      });
      out.push(...conn.nodes, ...rest);
    }
    return out;
  }

  /** Every fulfillment order of the order with every one of its line items (long ones paged). */
  private async fulfillmentOrders(orderId: string): Promise<WireFulfillmentOrder[]> {
    const out: WireFulfillmentOrder[] = [];
    let after: string | null = null;
    for (;;) {
      const data: {
        order?: { fulfillmentOrders?: { nodes?: WireFulfillmentOrder[]; pageInfo?: PageInfo } } | null;
      } = await this.read('OrderFulfillmentOrders', {
        query: FULFILLMENT_ORDERS_QUERY,
        variables: { id: orderId, first: FO_PAGE, after, foLines: FO_LINES },
        cost: 3 + FO_PAGE * foCost(FO_LINES),
      });
      if (data.order === null) throw this.notFound('OrderFulfillmentOrders', orderId);
      const conn = data.order?.fulfillmentOrders;
      if (!conn || !Array.isArray(conn.nodes) || !isPageInfo(conn.pageInfo)) {
        throw this.badResponse('OrderFulfillmentOrders', 'order.fulfillmentOrders');
      }
      for (const fo of conn.nodes) {
        const lines = pageOf(fo.lineItems, isFoLine);
        if (!lines)
          throw this.badResponse('OrderFulfillmentOrders', 'order.fulfillmentOrders.nodes.lineItems');
        const rest = await this.restOf(fo.id, lines.pageInfo, isFoLine, {
          operation: 'FulfillmentOrderLines',
          query: FULFILLMENT_ORDER_LINES_QUERY,
          first: LINES_PAGE,
          cost: 3 + LINES_PAGE * 2,
          at: ['fulfillmentOrder', 'lineItems'],
        });
        out.push({ ...fo, lineItems: { nodes: [...lines.nodes, ...rest], pageInfo: lines.pageInfo } });
      }
      if (!conn.pageInfo.hasNextPage || !conn.pageInfo.endCursor) return out;
      after = conn.pageInfo.endCursor;
    }
  }

  // ---- holds ----------------------------------------------------------------------------------

  async hold(orderId: string, noteToBuyer: string): Promise<void> {
    const fos = await this.fulfillmentOrders(orderId);
    const targets = fos.filter(
      (fo) => fo.supportedActions.some((a) => a.action === 'HOLD') && !fo.fulfillmentHolds.some(isOurHold),
    );
    for (const fo of targets) {
      const data: { fulfillmentOrderHold?: { userErrors?: UserError[] } } = await this.write('OrderHold', {
        query: HOLD_MUTATION,
        variables: {
          id: fo.id,
          hold: {
            reason: 'OTHER',
            // Shopify has no message-the-buyer call; the note reaches the merchant on the hold.
            reasonNotes: noteToBuyer.slice(0, HOLD_NOTE_MAX),
            handle: OUR_HOLD_HANDLE,
            notifyMerchant: false,
          },
        },
        cost: MUTATION_COST,
        once: true,
      });
      const errors = data.fulfillmentOrderHold?.userErrors;
      if (!Array.isArray(errors)) throw this.badResponse('OrderHold', 'fulfillmentOrderHold.userErrors');
      // Already ours (a retry after a lost answer) is what we wanted.
      const real = errors.filter((e) => e.code !== 'DUPLICATE_FULFILLMENT_HOLD_HANDLE');
      if (real.length > 0) {
        throw this.error(
          'OrderHold',
          `refused for ${orderId}: ${this.userErrorText(real)}`,
          'HOLD_REFUSED',
          true,
        );
      }
    }
    this.log.info('shopify: order held', { store: this.store, orderId, fulfillmentOrders: targets.length });
  }

  async releaseHold(orderId: string): Promise<void> {
    const fos = await this.fulfillmentOrders(orderId);
    await this.releaseOurs(orderId, fos);
  }

  /** Releases our holds by id only: without `holdIds` Shopify would release the merchant's too. */
  private async releaseOurs(orderId: string, fos: WireFulfillmentOrder[]): Promise<void> {
    let released = 0;
    for (const fo of fos) {
      const ours = fo.fulfillmentHolds.filter(isOurHold).map((h) => h.id);
      if (ours.length === 0) continue;
      const data: { fulfillmentOrderReleaseHold?: { userErrors?: UserError[] } } = await this.write(
        'OrderReleaseHold',
        { query: RELEASE_MUTATION, variables: { id: fo.id, holdIds: ours }, cost: MUTATION_COST, once: true },
      );
      const errors = data.fulfillmentOrderReleaseHold?.userErrors;
      if (!Array.isArray(errors))
        throw this.badResponse('OrderReleaseHold', 'fulfillmentOrderReleaseHold.userErrors');
      if (errors.length > 0) {
        throw this.error(
          'OrderReleaseHold',
          `refused for ${orderId}: ${this.userErrorText(errors)}`,
          'RELEASE_REFUSED',
          true,
        );
      }
      released += ours.length;
    }
    if (released > 0)
      this.log.info('shopify: our hold released', { store: this.store, orderId, holds: released });
  }

  // ---- webhooks -------------------------------------------------------------------------------

  /**
   * The check `shopify.webhooks.validate` makes (base64 HMAC-SHA256 of the raw body with the app
   * secret, compared in constant time; then Topic, Shop-Domain, API-Version and Webhook-Id
   * required), done here with node:crypto because the port is synchronous and the library's
   * validate is async and wants the framework's request/response objects.
   */
  verifyWebhook(req: {
    headers: Record<string, string | string[] | undefined>;
    rawBody: Buffer;
  }): WebhookVerdict {
    const hmac = headerOf(req.headers, 'x-shopify-hmac-sha256');
    if (!hmac) return { kind: 'rejected', reason: 'missing X-Shopify-Hmac-Sha256' };
    const expected = Buffer.from(createHmac('sha256', this.secret).update(req.rawBody).digest('base64'));
    const given = Buffer.from(hmac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { kind: 'rejected', reason: 'signature does not match the raw body' };
    }
    const names = [
      'x-shopify-topic',
      'x-shopify-shop-domain',
      'x-shopify-api-version',
      'x-shopify-webhook-id',
    ];
    const missing = names.filter((n) => !headerOf(req.headers, n));
    if (missing.length > 0) return { kind: 'rejected', reason: `missing headers: ${missing.join(', ')}` };
    const topic = topicEnum(headerOf(req.headers, 'x-shopify-topic') as string);
    const eventId = headerOf(req.headers, 'x-shopify-webhook-id') as string;
    if (!ORDER_TOPICS.has(topic))
      return { kind: 'ignored', eventId, reason: `topic ${topic} is not acted on` };
    let body: unknown;
    try {
      body = JSON.parse(req.rawBody.toString('utf8'));
    } catch {
      return { kind: 'rejected', reason: 'body is not JSON' };
    }
    const gid = isObj(body) ? body.admin_graphql_api_id : undefined;
    const num = isObj(body) ? body.id : undefined;
    const orderId =
      typeof gid === 'string' && /^gid:\/\/shopify\/Order\/\d+$/.test(gid)
        ? gid
        : typeof num === 'number' && Number.isSafeInteger(num)
          ? `gid://shopify/Order/${num}`
          : undefined;
    if (!orderId) return { kind: 'rejected', reason: 'order webhook without an order id' };
    return { kind: 'order', eventId, orderId };
  }

  async ensureWebhooks(publicUrl: string): Promise<void> {
    const uri = `${publicUrl.replace(/\/+$/, '')}/webhooks/shopify/${encodeURIComponent(this.store)}`;
    const existing: { topic: string; uri: string }[] = [];
    let after: string | null = null;
    for (;;) {
      const data: {
        webhookSubscriptions?: { nodes?: { topic: string; uri: string }[]; pageInfo?: PageInfo };
      } = await this.read('OrderWebhooks', {
        query: WEBHOOKS_QUERY,
        variables: { first: WEBHOOKS_PAGE, after, topics: [...SUBSCRIBED_TOPICS] },
        cost: 2 + WEBHOOKS_PAGE,
      });
      const conn = data.webhookSubscriptions;
      if (!conn || !Array.isArray(conn.nodes) || !isObj(conn.pageInfo)) {
        throw this.badResponse('OrderWebhooks', 'webhookSubscriptions');
      }
      existing.push(...conn.nodes);
      if (!conn.pageInfo.hasNextPage || !conn.pageInfo.endCursor) break;
      after = conn.pageInfo.endCursor;
    }
    const created: string[] = [];
    for (const topic of SUBSCRIBED_TOPICS) {
      if (existing.some((s) => s.topic === topic && s.uri === uri)) continue;
      const data: { webhookSubscriptionCreate?: { userErrors?: UserError[] } } = await this.write(
        'OrderWebhookCreate',
        {
          query: WEBHOOK_CREATE,
          variables: { topic, sub: { uri, format: 'JSON' } },
          cost: MUTATION_COST,
          once: true,
        },
      );
      const errors = data.webhookSubscriptionCreate?.userErrors;
      if (!Array.isArray(errors))
        throw this.badResponse('OrderWebhookCreate', 'webhookSubscriptionCreate.userErrors');
      // "already been taken": created by a concurrent run, or by a call whose answer was lost.
      const real = errors.filter((e) => !/already been taken/i.test(e.message ?? ''));
      if (real.length > 0) {
        throw this.error(
          'OrderWebhookCreate',
          `${topic} refused: ${this.userErrorText(real)}`,
          'WEBHOOK_REFUSED',
          false,
        );
      }
      if (errors.length === 0) created.push(topic);
    }
    if (created.length > 0)
      this.log.info('shopify: webhooks registered', { store: this.store, topics: created, uri });
  }

  // ---- plumbing -------------------------------------------------------------------------------

  private read<T>(operation: string, req: Omit<ShopifyRequest, 'operation' | 'kind'>): Promise<T> {
    return this.client.request<T>({ operation, kind: 'read', ...req });
  }

  private write<T>(operation: string, req: Omit<ShopifyRequest, 'operation' | 'kind'>): Promise<T> {
    return this.client.request<T>({ operation, kind: 'write', ...req });
  }

  private userErrorText(errors: UserError[]): string {
    return errors.map((e) => `${e.code ? `${e.code}: ` : ''}${e.message ?? 'error'}`).join('; ');
  }

  private error(operation: string, message: string, code: string, retryable: boolean): StorefrontError {
    return new StorefrontError({
      store: this.store,
      method: 'POST',
      path: GRAPHQL_PATH,
      message: `${operation}: ${message}`,
      code,
      retryable,
    });
  }

  private badResponse(operation: string, what: string): StorefrontError {
    return this.error(operation, `unexpected answer shape at ${what}`, 'BAD_RESPONSE', true);
  }

  private notFound(operation: string, orderId: string): StorefrontError {
    return this.error(operation, `no order ${orderId}`, 'NOT_FOUND', false);
  }
}
