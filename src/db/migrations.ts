/**
 * Versioned schema. A migration is appended, never edited once released; `user_version`
 * records how far a database has come. Only the holder of the run lock migrates.
 */
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
];

export const SCHEMA_VERSION = MIGRATIONS.length;
