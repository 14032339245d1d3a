-- The catalog in PostgreSQL. Money is BIGINT minor units beside a three-letter currency
-- code; lists and free-form parameters are JSONB. Unqualified names: the adapter sets the
-- connection's search_path, so one database can hold several catalogs in their schemas.
--
-- No foreign keys between users, interactions, releases, listings and sellers: messages
-- arrive at least once and in any order, so an interaction may be stored before its
-- release's metadata, and a listing before its seller.

CREATE TABLE users (
    username          TEXT PRIMARY KEY,
    discogs_id        BIGINT,
    wantlist_count    BIGINT NOT NULL,
    collection_count  BIGINT NOT NULL,
    newest_want_added TIMESTAMPTZ,
    newest_have_added TIMESTAMPTZ,
    last_synced_at    TIMESTAMPTZ
);

CREATE TABLE releases (
    release_id            BIGINT PRIMARY KEY,
    master_id             BIGINT,
    title                 TEXT NOT NULL,
    artists               JSONB NOT NULL,
    year                  INTEGER,
    formats               JSONB NOT NULL,
    genres                JSONB NOT NULL,
    styles                JSONB NOT NULL,
    thumb                 TEXT,
    lowest_price_minor    BIGINT,
    lowest_price_currency TEXT,
    median_price_minor    BIGINT,
    median_price_currency TEXT,
    num_for_sale          BIGINT,
    CHECK ((lowest_price_minor IS NULL) = (lowest_price_currency IS NULL)),
    CHECK ((median_price_minor IS NULL) = (median_price_currency IS NULL))
);

CREATE INDEX releases_by_master ON releases (master_id) WHERE master_id IS NOT NULL;

-- The primary key's order (username first) serves per-user reads, pruning, and the
-- username-ordered scan that training streams.
CREATE TABLE interactions (
    username   TEXT NOT NULL,
    release_id BIGINT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('want', 'have')),
    added_at   TIMESTAMPTZ,
    weight     REAL NOT NULL,
    sync_id    TEXT NOT NULL,
    PRIMARY KEY (username, release_id, kind)
);

CREATE TABLE sellers (
    name                         TEXT PRIMARY KEY,
    rating                       REAL,
    ratings_count                BIGINT,
    ships_from                   TEXT,
    shipping_first_minor         BIGINT,
    shipping_first_currency      TEXT,
    shipping_additional_minor    BIGINT,
    shipping_additional_currency TEXT,
    min_order_minor              BIGINT,
    min_order_currency           TEXT,
    CHECK ((shipping_first_minor IS NULL) = (shipping_first_currency IS NULL)),
    CHECK ((shipping_additional_minor IS NULL) = (shipping_additional_currency IS NULL)),
    CHECK ((min_order_minor IS NULL) = (min_order_currency IS NULL))
);

CREATE TABLE listings (
    listing_id        BIGINT PRIMARY KEY,
    release_id        BIGINT NOT NULL,
    seller            TEXT NOT NULL,
    price_minor       BIGINT NOT NULL,
    price_currency    TEXT NOT NULL,
    shipping_minor    BIGINT,
    shipping_currency TEXT,
    media             TEXT,
    sleeve            TEXT,
    comments          TEXT,
    available         BOOLEAN NOT NULL,
    first_seen        TIMESTAMPTZ NOT NULL,
    last_seen         TIMESTAMPTZ NOT NULL,
    gone_at           TIMESTAMPTZ,
    CHECK ((shipping_minor IS NULL) = (shipping_currency IS NULL))
);

CREATE INDEX listings_by_release ON listings (release_id);
CREATE INDEX listings_by_seller ON listings (seller);

CREATE TABLE price_history (
    listing_id     BIGINT NOT NULL REFERENCES listings (listing_id) ON DELETE CASCADE,
    seen_at        TIMESTAMPTZ NOT NULL,
    price_minor    BIGINT NOT NULL,
    price_currency TEXT NOT NULL,
    PRIMARY KEY (listing_id, seen_at)
);

CREATE TABLE fx_rates (
    currency TEXT NOT NULL,
    date     DATE NOT NULL,
    per_base DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (currency, date)
);

CREATE TABLE model_versions (
    version    TEXT PRIMARY KEY,
    trained_at TIMESTAMPTZ NOT NULL,
    users      BIGINT NOT NULL,
    items      BIGINT NOT NULL,
    params     JSONB NOT NULL,
    metrics    JSONB NOT NULL,
    location   TEXT NOT NULL
);

CREATE INDEX model_versions_by_time ON model_versions (trained_at);
