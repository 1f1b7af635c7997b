/**
 * Versioned schema. A migration is appended, never edited once released; `user_version`
 * records how far a database has come. Only the holder of the run lock migrates, with foreign
 * keys off (so a table can be rebuilt) and checked before each migration commits.
 */

/**
 * SQLite cannot add a CHECK to a table in place: a new table is created, the rows copied, the old
 * one dropped and the new one renamed. Indexes go with the old table and are made again.
 */
export function rebuildTable(
  table: string,
  columns: string,
  copy: { into: string; select: string },
  indexes = '',
): string {
  return `
  CREATE TABLE ${table}__new (${columns}) STRICT;
  INSERT INTO ${table}__new (${copy.into}) SELECT ${copy.select} FROM ${table};
  DROP TABLE ${table};
  ALTER TABLE ${table}__new RENAME TO ${table};
  ${indexes}`;
}

// The columns as the rebuilds below (migrations 3 and 4) found them: a later rebuild lists its own
// (shop_lines gained sale_at in 16).
const SHOP_LINES_COLUMNS =
  'id, store, order_id, line_id, order_number, sku, entry_key, units, state, hold_reason, received_at, updated_at, delivered_at';
const INTENTS_COLUMNS =
  'id, idempotency_key, state, items, total_cents, supplier_order_id, supplier_status, supplier_delivered_at, superseded_by, attempts, sent_at, balance_before_cents, balance_after_cents, last_error, next_check_at, created_at, updated_at';
const CLAIMS_COLUMNS =
  'id, idempotency_key, code_id, supplier_order_id, error_code, description, state, supplier_claim_id, window_closes_at, last_error, created_at';

export const MIGRATIONS: readonly string[] = [
  // 1: inventory sync
  `
  CREATE TABLE supplier_entries (
    entry_key    TEXT PRIMARY KEY,
    region       TEXT NOT NULL,
    denomination REAL NOT NULL,
    currency     TEXT NOT NULL,
    price_cents  INTEGER NOT NULL,
    qty          INTEGER NOT NULL CHECK (qty >= 0),
    listed       INTEGER NOT NULL DEFAULT 1,
    updated_at   INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE store_checkpoints (
    store     TEXT NOT NULL,
    sku_key   TEXT NOT NULL,
    sku       TEXT NOT NULL,
    qty       INTEGER NOT NULL,
    acked_at  INTEGER NOT NULL,
    PRIMARY KEY (store, sku_key)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE sku_cache (
    store      TEXT NOT NULL,
    sku_key    TEXT NOT NULL,
    sku        TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('matched', 'missing', 'duplicate')),
    ref        TEXT,
    checked_at INTEGER NOT NULL,
    PRIMARY KEY (store, sku_key)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE sync_runs (
    id             INTEGER PRIMARY KEY,
    kind           TEXT NOT NULL,
    store          TEXT,
    started_at     INTEGER NOT NULL,
    finished_at    INTEGER,
    outcome        TEXT,
    entries        INTEGER,
    changes        INTEGER,
    supplier_calls INTEGER NOT NULL DEFAULT 0,
    shop_reads     INTEGER NOT NULL DEFAULT 0,
    shop_writes    INTEGER NOT NULL DEFAULT 0,
    pushed         INTEGER NOT NULL DEFAULT 0,
    errors         TEXT
  ) STRICT;

  CREATE TABLE store_state (
    store       TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    last_ack_at INTEGER,
    last_error  TEXT
  ) STRICT;

  CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;

  CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL DEFAULT '',
    since       INTEGER NOT NULL,
    detail      TEXT NOT NULL,
    resolved_at INTEGER
  ) STRICT;
  CREATE UNIQUE INDEX alerts_open ON alerts (kind, subject) WHERE resolved_at IS NULL;

  CREATE TABLE pacer_sends (
    bucket TEXT NOT NULL,
    at_ms  INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX pacer_sends_bucket ON pacer_sends (bucket, at_ms);

  CREATE TABLE pacer_blocks (
    bucket   TEXT PRIMARY KEY,
    until_ms INTEGER NOT NULL
  ) STRICT;
  `,
  // 2: fulfillment — the money path. Every row is a recovery point; see src/fulfillment/recovery-points.ts.
  `
  CREATE TABLE shop_lines (
    id           INTEGER PRIMARY KEY,
    store        TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    line_id      TEXT NOT NULL,
    order_number TEXT NOT NULL,
    sku          TEXT NOT NULL,
    entry_key    TEXT NOT NULL,
    units        INTEGER NOT NULL CHECK (units >= 0),
    state        TEXT NOT NULL,
    hold_reason  TEXT,
    received_at  INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (store, order_id, line_id)
  ) STRICT;
  CREATE INDEX shop_lines_state ON shop_lines (state);

  CREATE TABLE purchase_intents (
    id                TEXT PRIMARY KEY,
    idempotency_key   TEXT NOT NULL UNIQUE,
    state             TEXT NOT NULL,
    items             TEXT NOT NULL,
    total_cents       INTEGER NOT NULL,
    supplier_order_id TEXT UNIQUE,
    supplier_status   TEXT,
    supplier_delivered_at INTEGER,
    superseded_by     TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    sent_at           INTEGER,
    balance_before_cents INTEGER,
    balance_after_cents  INTEGER,
    last_error        TEXT,
    next_check_at     INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX purchase_intents_state ON purchase_intents (state);

  CREATE TABLE intent_lines (
    intent_id TEXT NOT NULL REFERENCES purchase_intents (id),
    line      INTEGER NOT NULL REFERENCES shop_lines (id),
    entry_key TEXT NOT NULL,
    units     INTEGER NOT NULL CHECK (units > 0),
    PRIMARY KEY (intent_id, line)
  ) STRICT;

  CREATE TABLE codes (
    id                INTEGER PRIMARY KEY,
    intent_id         TEXT NOT NULL REFERENCES purchase_intents (id),
    supplier_order_id TEXT NOT NULL,
    entry_key         TEXT NOT NULL,
    currency          TEXT NOT NULL,
    serial            TEXT,
    code_enc          BLOB NOT NULL,
    code_hash         TEXT NOT NULL UNIQUE,
    masked            TEXT NOT NULL,
    line              INTEGER REFERENCES shop_lines (id),
    unit_index        INTEGER,
    delivery_id       TEXT,
    delivered_at      INTEGER,
    stored_at         INTEGER NOT NULL,
    UNIQUE (line, unit_index)
  ) STRICT;
  CREATE INDEX codes_pool ON codes (entry_key) WHERE line IS NULL;

  CREATE TABLE deliveries (
    id          TEXT PRIMARY KEY,
    store       TEXT NOT NULL,
    order_id    TEXT NOT NULL,
    step        INTEGER NOT NULL DEFAULT 0,
    completes   INTEGER NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try_at INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    done_at     INTEGER
  ) STRICT;

  CREATE TABLE webhook_events (
    source      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (source, event_id)
  ) STRICT;

  CREATE TABLE intake_cursors (
    store  TEXT PRIMARY KEY,
    cursor TEXT NOT NULL
  ) STRICT;

  CREATE TABLE claims (
    id                TEXT PRIMARY KEY,
    idempotency_key   TEXT NOT NULL UNIQUE,
    code_id           INTEGER NOT NULL UNIQUE REFERENCES codes (id),
    supplier_order_id TEXT NOT NULL,
    error_code        TEXT NOT NULL,
    description       TEXT,
    state             TEXT NOT NULL,
    supplier_claim_id TEXT,
    window_closes_at  INTEGER NOT NULL,
    last_error        TEXT,
    created_at        INTEGER NOT NULL
  ) STRICT;
  `,
  // 3: recovery points as data — a CHECK on every state column, lists as in
  // src/fulfillment/recovery-points.ts (test/fulfillment/state-machine.test.ts keeps them equal).
  // A delivery's step is the name of the last shop write done (NULL: none yet), not an index into
  // the adapter's list: a pending delivery restarts from its first step, which is safe because
  // every step reads the order back before writing.
  `
  ${rebuildTable(
    'shop_lines',
    `
    id           INTEGER PRIMARY KEY,
    store        TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    line_id      TEXT NOT NULL,
    order_number TEXT NOT NULL,
    sku          TEXT NOT NULL,
    entry_key    TEXT NOT NULL,
    units        INTEGER NOT NULL CHECK (units >= 0),
    state        TEXT NOT NULL CHECK (state IN ('open', 'held', 'delivered', 'dropped')),
    hold_reason  TEXT CHECK (hold_reason IN ('balance', 'min-balance', 'out-of-stock', 'unknown-entry', 'duplicate-sku', 'max-wait', 'abandoned')),
    received_at  INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (store, order_id, line_id)`,
    { into: SHOP_LINES_COLUMNS, select: SHOP_LINES_COLUMNS },
    'CREATE INDEX shop_lines_state ON shop_lines (state);',
  )}
  ${rebuildTable(
    'purchase_intents',
    `
    id                TEXT PRIMARY KEY,
    idempotency_key   TEXT NOT NULL UNIQUE,
    state             TEXT NOT NULL CHECK (state IN ('created', 'sending', 'ordered', 'parked', 'stored', 'rejected', 'superseded', 'abandoned')),
    items             TEXT NOT NULL,
    total_cents       INTEGER NOT NULL,
    supplier_order_id TEXT UNIQUE,
    supplier_status   TEXT,
    supplier_delivered_at INTEGER,
    superseded_by     TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    sent_at           INTEGER,
    balance_before_cents INTEGER,
    balance_after_cents  INTEGER,
    last_error        TEXT,
    next_check_at     INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL`,
    { into: INTENTS_COLUMNS, select: INTENTS_COLUMNS },
    'CREATE INDEX purchase_intents_state ON purchase_intents (state);',
  )}
  ${rebuildTable(
    'deliveries',
    `
    id          TEXT PRIMARY KEY,
    store       TEXT NOT NULL,
    order_id    TEXT NOT NULL,
    step        TEXT,
    completes   INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try_at INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    done_at     INTEGER`,
    {
      into: 'id, store, order_id, step, completes, state, attempts, next_try_at, last_error, created_at, done_at',
      select:
        'id, store, order_id, NULL, completes, state, attempts, next_try_at, last_error, created_at, done_at',
    },
    "CREATE INDEX deliveries_state ON deliveries (state) WHERE state != 'done';",
  )}
  ${rebuildTable(
    'claims',
    `
    id                TEXT PRIMARY KEY,
    idempotency_key   TEXT NOT NULL UNIQUE,
    code_id           INTEGER NOT NULL UNIQUE REFERENCES codes (id),
    supplier_order_id TEXT NOT NULL,
    error_code        TEXT NOT NULL,
    description       TEXT,
    state             TEXT NOT NULL CHECK (state IN ('sending', 'open', 'failed', 'unknown')),
    supplier_claim_id TEXT,
    window_closes_at  INTEGER NOT NULL,
    last_error        TEXT,
    created_at        INTEGER NOT NULL`,
    { into: CLAIMS_COLUMNS, select: CLAIMS_COLUMNS },
  )}
  `,
  // 4: refused purchases per supplier entry (the out-of-stock release rule) and orders checked
  // against the spending limits; hold reasons `rejected` and `review` join the CHECK list.
  // See src/inventory/supplier-shortfalls.ts and src/fulfillment/order-review.ts.
  `
  ${rebuildTable(
    'shop_lines',
    `
    id           INTEGER PRIMARY KEY,
    store        TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    line_id      TEXT NOT NULL,
    order_number TEXT NOT NULL,
    sku          TEXT NOT NULL,
    entry_key    TEXT NOT NULL,
    units        INTEGER NOT NULL CHECK (units >= 0),
    state        TEXT NOT NULL CHECK (state IN ('open', 'held', 'delivered', 'dropped')),
    hold_reason  TEXT CHECK (hold_reason IN ('balance', 'min-balance', 'out-of-stock', 'rejected', 'review', 'unknown-entry', 'duplicate-sku', 'max-wait', 'abandoned')),
    received_at  INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (store, order_id, line_id)`,
    { into: SHOP_LINES_COLUMNS, select: SHOP_LINES_COLUMNS },
    'CREATE INDEX shop_lines_state ON shop_lines (state);',
  )}
  CREATE TABLE entry_shortfalls (
    entry_key  TEXT PRIMARY KEY,
    feed_qty   INTEGER NOT NULL CHECK (feed_qty >= 0),
    available  INTEGER NOT NULL CHECK (available >= 0),
    refusals   INTEGER NOT NULL CHECK (refusals >= 1),
    retry_at   INTEGER NOT NULL,
    refused_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE purchase_refusals (
    entry_key TEXT NOT NULL,
    at        INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX purchase_refusals_entry ON purchase_refusals (entry_key, at);

  CREATE TABLE order_reviews (
    store        TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    order_number TEXT NOT NULL,
    buyer        TEXT,
    value_cents  INTEGER NOT NULL CHECK (value_cents >= 0),
    verdict      TEXT NOT NULL CHECK (verdict IN ('passed', 'held', 'approved', 'rejected')),
    limit_hit    TEXT,
    detail       TEXT,
    checked_at   INTEGER NOT NULL,
    decided_at   INTEGER,
    PRIMARY KEY (store, order_id)
  ) STRICT;
  `,
  // 5: one intake, in the shop's own order: the newest updatedAt applied per order (epoch ms), so an
  // older snapshot never overrides a newer one.
  `
  CREATE TABLE intake_orders (
    store           TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    shop_updated_at INTEGER NOT NULL,
    PRIMARY KEY (store, order_id)
  ) STRICT, WITHOUT ROWID;
  `,
  // 6: codes are masked to their last 4 characters; rows stored under the older 8-of-12 mask follow.
  `
  UPDATE codes SET masked = '…' || substr(masked, -4) WHERE masked LIKE '%…%' AND masked NOT LIKE '…%';
  `,
  // 7: counters of /metrics that must survive restarts and the reaper: requests (no other table
  // knows them) and finished inventory runs (sync_runs rows are reaped), counted by a trigger.
  `
  CREATE TABLE metric_counts (
    metric TEXT NOT NULL,
    labels TEXT NOT NULL,
    n      INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (metric, labels)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO metric_counts (metric, labels, n)
    SELECT 'psnb2b_inventory_runs_total', json_object('outcome', COALESCE(outcome, 'unknown')), COUNT(*)
    FROM sync_runs WHERE kind IN ('inventory', 'resync') AND finished_at IS NOT NULL
    GROUP BY COALESCE(outcome, 'unknown');
  CREATE TRIGGER count_inventory_runs AFTER UPDATE OF finished_at ON sync_runs
    WHEN OLD.finished_at IS NULL AND NEW.finished_at IS NOT NULL AND NEW.kind IN ('inventory', 'resync')
  BEGIN
    INSERT INTO metric_counts (metric, labels, n)
      VALUES ('psnb2b_inventory_runs_total', json_object('outcome', COALESCE(NEW.outcome, 'unknown')), 1)
      ON CONFLICT (metric, labels) DO UPDATE SET n = n + 1;
  END;
  `,
  // 8: alert messages to alerts.webhookUrl, one per raise and one per resolution of an alert.
  `
  CREATE TABLE alert_outbox (
    id          INTEGER PRIMARY KEY,
    -- No foreign key: the reaper deletes resolved alerts on its own schedule.
    alert_id    INTEGER NOT NULL,
    event       TEXT NOT NULL CHECK (event IN ('raised', 'resolved')),
    text        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try_at INTEGER NOT NULL DEFAULT 0,
    sent_at     INTEGER,
    gave_up_at  INTEGER,
    last_error  TEXT,
    UNIQUE (alert_id, event)
  ) STRICT;
  CREATE INDEX alert_outbox_due ON alert_outbox (next_try_at) WHERE sent_at IS NULL AND gave_up_at IS NULL;
  `,
  // 9: deliveries that end — `failed` (an operator decides), `cancelled` (refunded before any
  // write), `abandoned`; `may_have_written` says a write of it may have reached the shop, so its
  // codes may be in the buyer's hands and never go back to the pool.
  `
  ${rebuildTable(
    'deliveries',
    `
    id          TEXT PRIMARY KEY,
    store       TEXT NOT NULL,
    order_id    TEXT NOT NULL,
    step        TEXT,
    completes   INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'failed', 'done', 'cancelled', 'abandoned')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try_at INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    done_at     INTEGER,
    may_have_written INTEGER NOT NULL DEFAULT 0 CHECK (may_have_written IN (0, 1))`,
    {
      into: 'id, store, order_id, step, completes, state, attempts, next_try_at, last_error, created_at, done_at, may_have_written',
      // Rows from before this column cannot say whether a write landed: assume one may have.
      select:
        'id, store, order_id, step, completes, state, attempts, next_try_at, last_error, created_at, done_at, 1',
    },
    "CREATE INDEX deliveries_state ON deliveries (state) WHERE state != 'done';",
  )}
  `,
  // 10: the supplier balance over time, for the dashboard's chart (trimmed as it is written)
  `
  CREATE TABLE balance_history (
    at    INTEGER PRIMARY KEY,
    cents INTEGER NOT NULL
  ) STRICT;
  `,
  // 11: what the buyer paid for each of our lines (after discounts, before tax, in the order's
  // currency), for the margin check at purchase and the cost/margin report. A table of its own,
  // so shop_lines keeps its shape. See src/fulfillment/margin.ts.
  `
  CREATE TABLE line_prices (
    line            INTEGER PRIMARY KEY REFERENCES shop_lines (id),
    paid_unit_cents INTEGER NOT NULL CHECK (paid_unit_cents >= 0),
    currency        TEXT NOT NULL CHECK (length(currency) = 3)
  ) STRICT;
  `,
  // 12: each store's price checkpoint (catalog.pricing): the price it last acknowledged per SKU, so
  // only changed prices are written, and a store that was down catches up. See src/inventory/checkpoints.ts.
  `
  CREATE TABLE store_prices (
    store    TEXT NOT NULL,
    sku_key  TEXT NOT NULL,
    price    TEXT NOT NULL,
    acked_at INTEGER NOT NULL,
    PRIMARY KEY (store, sku_key)
  ) STRICT, WITHOUT ROWID;
  `,
  // 13: each code names the key it is encrypted under (a fingerprint, never the key), so
  // `keys rotate` can move codes batch by batch and an interrupted rotation leaves every row
  // readable. NULL: stored before key ids, under the key of the stored check value; the first
  // start that opens that check value fills it in (src/fulfillment/code-vault.ts).
  `
  ALTER TABLE codes ADD COLUMN key_id TEXT;
  `,
  // 14: `orders resend` requests, one row per delivery sent again (no codes). See src/fulfillment/resend.ts.
  `
  CREATE TABLE code_resends (
    id           INTEGER PRIMARY KEY,
    store        TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    delivery_id  TEXT NOT NULL REFERENCES deliveries (id),
    codes        INTEGER NOT NULL CHECK (codes >= 0),
    outcome      TEXT NOT NULL CHECK (outcome IN ('resent', 'merchant')),
    requested_by TEXT NOT NULL,
    requested_at INTEGER NOT NULL
  ) STRICT;
  `,
  // 15: what the supplier charged, per entry of each accepted order (its 201's unitPrice), for the
  // cost and margin report. See src/fulfillment/cost-report.ts.
  `
  CREATE TABLE supplier_charges (
    intent_id  TEXT NOT NULL REFERENCES purchase_intents (id),
    entry_key  TEXT NOT NULL,
    unit_cents INTEGER NOT NULL CHECK (unit_cents >= 0),
    charged_at INTEGER NOT NULL,
    PRIMARY KEY (intent_id, entry_key)
  ) STRICT, WITHOUT ROWID;
  `,
  // 16: when the shop made each sale, by its clock (the order's last change when we took it in):
  // the batch window counts from it (src/fulfillment/plan-purchase.ts). NULL: received_at.
  `
  ALTER TABLE shop_lines ADD COLUMN sale_at INTEGER;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
