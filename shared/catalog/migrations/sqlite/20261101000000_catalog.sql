-- The catalog in SQLite. Times are integer microseconds since the Unix epoch (UTC); money
-- is integer minor units beside a three-letter currency code; lists and free-form
-- parameters are JSON text. Tables are STRICT so a wrongly typed value is refused rather
-- than silently stored.
--
-- No foreign keys between users, interactions, releases, listings and sellers: messages
-- arrive at least once and in any order, so an interaction may be stored before its
-- release's metadata, and a listing before its seller.

CREATE TABLE users (
    username          TEXT NOT NULL PRIMARY KEY,
    discogs_id        INTEGER,
    wantlist_count    INTEGER NOT NULL,
    collection_count  INTEGER NOT NULL,
    newest_want_added INTEGER,
    newest_have_added INTEGER,
    last_synced_at    INTEGER
) STRICT;

CREATE TABLE releases (
    release_id            INTEGER NOT NULL PRIMARY KEY,
    master_id             INTEGER,
    title                 TEXT NOT NULL,
    artists               TEXT NOT NULL,
    year                  INTEGER,
    formats               TEXT NOT NULL,
    genres                TEXT NOT NULL,
    styles                TEXT NOT NULL,
    thumb                 TEXT,
    lowest_price_minor    INTEGER,
    lowest_price_currency TEXT,
    median_price_minor    INTEGER,
    median_price_currency TEXT,
    num_for_sale          INTEGER,
    CHECK ((lowest_price_minor IS NULL) = (lowest_price_currency IS NULL)),
    CHECK ((median_price_minor IS NULL) = (median_price_currency IS NULL))
) STRICT;

CREATE INDEX releases_by_master ON releases (master_id) WHERE master_id IS NOT NULL;

-- The primary key's order (username first) serves per-user reads, pruning, and the
-- username-ordered scan that training streams.
CREATE TABLE interactions (
    username   TEXT NOT NULL,
    release_id INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('want', 'have')),
    added_at   INTEGER,
    weight     REAL NOT NULL,
    sync_id    TEXT NOT NULL,
    PRIMARY KEY (username, release_id, kind)
) STRICT;

CREATE TABLE sellers (
    name                         TEXT NOT NULL PRIMARY KEY,
    rating                       REAL,
    ratings_count                INTEGER,
    ships_from                   TEXT,
    shipping_first_minor         INTEGER,
    shipping_first_currency      TEXT,
    shipping_additional_minor    INTEGER,
    shipping_additional_currency TEXT,
    min_order_minor              INTEGER,
    min_order_currency           TEXT,
    CHECK ((shipping_first_minor IS NULL) = (shipping_first_currency IS NULL)),
    CHECK ((shipping_additional_minor IS NULL) = (shipping_additional_currency IS NULL)),
    CHECK ((min_order_minor IS NULL) = (min_order_currency IS NULL))
) STRICT;

CREATE TABLE listings (
    listing_id        INTEGER NOT NULL PRIMARY KEY,
    release_id        INTEGER NOT NULL,
    seller            TEXT NOT NULL,
    price_minor       INTEGER NOT NULL,
    price_currency    TEXT NOT NULL,
    shipping_minor    INTEGER,
    shipping_currency TEXT,
    media             TEXT,
    sleeve            TEXT,
    comments          TEXT,
    available         INTEGER NOT NULL CHECK (available IN (0, 1)),
    first_seen        INTEGER NOT NULL,
    last_seen         INTEGER NOT NULL,
    gone_at           INTEGER,
    CHECK ((shipping_minor IS NULL) = (shipping_currency IS NULL))
) STRICT;

CREATE INDEX listings_by_release ON listings (release_id);
CREATE INDEX listings_by_seller ON listings (seller);

CREATE TABLE price_history (
    listing_id     INTEGER NOT NULL REFERENCES listings (listing_id) ON DELETE CASCADE,
    seen_at        INTEGER NOT NULL,
    price_minor    INTEGER NOT NULL,
    price_currency TEXT NOT NULL,
    PRIMARY KEY (listing_id, seen_at)
) STRICT;

CREATE TABLE fx_rates (
    currency TEXT NOT NULL,
    date     TEXT NOT NULL,
    per_base REAL NOT NULL,
    PRIMARY KEY (currency, date)
) STRICT;

CREATE TABLE model_versions (
    version    TEXT NOT NULL PRIMARY KEY,
    trained_at INTEGER NOT NULL,
    users      INTEGER NOT NULL,
    items      INTEGER NOT NULL,
    params     TEXT NOT NULL,
    metrics    TEXT NOT NULL,
    location   TEXT NOT NULL
) STRICT;

CREATE INDEX model_versions_by_time ON model_versions (trained_at);
