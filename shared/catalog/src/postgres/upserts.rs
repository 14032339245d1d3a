//! The Postgres catalog's writes: multi-row upserts in batches under the protocol's limit
//! on bound parameters, each call in one transaction. Rows arrive sorted by key, so
//! concurrent writers of overlapping rows lock them in the same order and cannot deadlock.

use sqlx::postgres::PgPool;
use sqlx::{PgConnection, Postgres, QueryBuilder, Transaction};

use crate::CatalogError;
use crate::sql::errors::classify;
use crate::sql::rows::{
    FxRateRow, InteractionRow, ModelVersionRow, ReleaseRow, SellerRow, UserRow,
};
use crate::sql::timestamp::Timestamp;

/// Rows per INSERT: 1,000 rows of the widest table (14 columns) bind 14,000 parameters,
/// well under the protocol's 65,535.
const ROWS_PER_STATEMENT: usize = 1000;
/// Rows per `UNNEST` statement: bounds the size of one message, not a parameter count.
const INTERACTIONS_PER_STATEMENT: usize = 10_000;

pub(super) async fn begin(
    pool: &PgPool,
    doing: &str,
) -> Result<Transaction<'static, Postgres>, CatalogError> {
    pool.begin().await.map_err(|e| classify(doing, e))
}

pub(super) async fn commit(
    tx: Transaction<'static, Postgres>,
    doing: &str,
) -> Result<(), CatalogError> {
    tx.commit().await.map_err(|e| classify(doing, e))
}

/// Runs `INSERT INTO <head> VALUES (..), (..) <tail>` over `rows` in batches.
pub(super) async fn insert_batches<T>(
    conn: &mut PgConnection,
    doing: &str,
    head: &str,
    tail: &str,
    rows: &[T],
    mut push_row: impl FnMut(sqlx::query_builder::Separated<'_, Postgres, &'static str>, &T),
) -> Result<(), CatalogError> {
    for batch in rows.chunks(ROWS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Postgres>::new(head);
        query.push_values(batch, &mut push_row);
        query.push(tail);
        query
            .build()
            .execute(&mut *conn)
            .await
            .map_err(|e| classify(doing, e))?;
    }
    Ok(())
}

pub(super) async fn upsert_user(pool: &PgPool, user: &UserRow) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO users (username, discogs_id, wantlist_count, collection_count,
                            newest_want_added, newest_have_added, last_synced_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (username) DO UPDATE SET
            discogs_id = excluded.discogs_id, wantlist_count = excluded.wantlist_count,
            collection_count = excluded.collection_count, newest_want_added = excluded.newest_want_added,
            newest_have_added = excluded.newest_have_added, last_synced_at = excluded.last_synced_at",
    )
    .bind(&user.username)
    .bind(user.discogs_id)
    .bind(user.wantlist_count)
    .bind(user.collection_count)
    .bind(user.newest_want_added)
    .bind(user.newest_have_added)
    .bind(user.last_synced_at)
    .execute(pool)
    .await
    .map_err(|e| classify("upserting a user", e))?;
    Ok(())
}

/// Interactions are the bulk of the catalog (a corpus for training is millions of rows),
/// so they travel as one array per column through `UNNEST`: one statement of fixed text,
/// prepared once, whatever the batch size.
pub(super) async fn upsert_interactions(
    pool: &PgPool,
    rows: &[InteractionRow],
) -> Result<(), CatalogError> {
    const DOING: &str = "upserting interactions";
    if rows.is_empty() {
        return Ok(());
    }
    let mut tx = begin(pool, DOING).await?;
    for batch in rows.chunks(INTERACTIONS_PER_STATEMENT) {
        let usernames: Vec<&str> = batch.iter().map(|r| r.username.as_str()).collect();
        let releases: Vec<i64> = batch.iter().map(|r| r.release_id).collect();
        let kinds: Vec<&str> = batch.iter().map(|r| r.kind).collect();
        let added: Vec<Option<Timestamp>> = batch.iter().map(|r| r.added_at).collect();
        let weights: Vec<f32> = batch.iter().map(|r| r.weight).collect();
        let syncs: Vec<&str> = batch.iter().map(|r| r.sync_id.as_str()).collect();
        sqlx::query(
            "INSERT INTO interactions (username, release_id, kind, added_at, weight, sync_id)
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::timestamptz[],
                                  $5::real[], $6::text[])
             ON CONFLICT (username, release_id, kind) DO UPDATE SET
                added_at = excluded.added_at, weight = excluded.weight, sync_id = excluded.sync_id",
        )
        .bind(usernames)
        .bind(releases)
        .bind(kinds)
        .bind(added)
        .bind(weights)
        .bind(syncs)
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(DOING, e))?;
    }
    commit(tx, DOING).await
}

/// Optional fields and empty lists mean "not known to this writer": they never erase what
/// another source stored (the wantlist knows a release's title, the marketplace its prices).
pub(super) async fn upsert_releases(
    pool: &PgPool,
    rows: &[ReleaseRow],
) -> Result<(), CatalogError> {
    const DOING: &str = "upserting releases";
    if rows.is_empty() {
        return Ok(());
    }
    let mut tx = begin(pool, DOING).await?;
    insert_batches(
        &mut tx,
        DOING,
        "INSERT INTO releases (release_id, master_id, title, artists, year, formats, genres, styles, thumb,
            lowest_price_minor, lowest_price_currency, median_price_minor, median_price_currency, num_for_sale) ",
        " ON CONFLICT (release_id) DO UPDATE SET
            master_id = coalesce(excluded.master_id, releases.master_id),
            title = excluded.title,
            artists = CASE WHEN excluded.artists = '[]'::jsonb THEN releases.artists ELSE excluded.artists END,
            year = coalesce(excluded.year, releases.year),
            formats = CASE WHEN excluded.formats = '[]'::jsonb THEN releases.formats ELSE excluded.formats END,
            genres = CASE WHEN excluded.genres = '[]'::jsonb THEN releases.genres ELSE excluded.genres END,
            styles = CASE WHEN excluded.styles = '[]'::jsonb THEN releases.styles ELSE excluded.styles END,
            thumb = coalesce(excluded.thumb, releases.thumb),
            lowest_price_minor = coalesce(excluded.lowest_price_minor, releases.lowest_price_minor),
            lowest_price_currency = coalesce(excluded.lowest_price_currency, releases.lowest_price_currency),
            median_price_minor = coalesce(excluded.median_price_minor, releases.median_price_minor),
            median_price_currency = coalesce(excluded.median_price_currency, releases.median_price_currency),
            num_for_sale = coalesce(excluded.num_for_sale, releases.num_for_sale)",
        rows,
        |mut row, r| {
            row.push_bind(r.release_id)
                .push_bind(r.master_id)
                .push_bind(&r.title)
                .push_bind(&r.artists)
                .push_bind(r.year)
                .push_bind(&r.formats)
                .push_bind(&r.genres)
                .push_bind(&r.styles)
                .push_bind(&r.thumb)
                .push_bind(r.lowest_price_minor)
                .push_bind(&r.lowest_price_currency)
                .push_bind(r.median_price_minor)
                .push_bind(&r.median_price_currency)
                .push_bind(r.num_for_sale);
        },
    )
    .await?;
    commit(tx, DOING).await
}

/// As with releases, what a source does not know (None) keeps the stored value.
pub(super) async fn upsert_sellers(pool: &PgPool, rows: &[SellerRow]) -> Result<(), CatalogError> {
    const DOING: &str = "upserting sellers";
    if rows.is_empty() {
        return Ok(());
    }
    let mut tx = begin(pool, DOING).await?;
    insert_batches(
        &mut tx,
        DOING,
        "INSERT INTO sellers (name, rating, ratings_count, ships_from, shipping_first_minor, shipping_first_currency,
            shipping_additional_minor, shipping_additional_currency, min_order_minor, min_order_currency) ",
        " ON CONFLICT (name) DO UPDATE SET
            rating = coalesce(excluded.rating, sellers.rating),
            ratings_count = coalesce(excluded.ratings_count, sellers.ratings_count),
            ships_from = coalesce(excluded.ships_from, sellers.ships_from),
            shipping_first_minor = coalesce(excluded.shipping_first_minor, sellers.shipping_first_minor),
            shipping_first_currency = coalesce(excluded.shipping_first_currency, sellers.shipping_first_currency),
            shipping_additional_minor = coalesce(excluded.shipping_additional_minor, sellers.shipping_additional_minor),
            shipping_additional_currency =
                coalesce(excluded.shipping_additional_currency, sellers.shipping_additional_currency),
            min_order_minor = coalesce(excluded.min_order_minor, sellers.min_order_minor),
            min_order_currency = coalesce(excluded.min_order_currency, sellers.min_order_currency)",
        rows,
        |mut row, r| {
            row.push_bind(&r.name)
                .push_bind(r.rating)
                .push_bind(r.ratings_count)
                .push_bind(&r.ships_from)
                .push_bind(r.shipping_first_minor)
                .push_bind(&r.shipping_first_currency)
                .push_bind(r.shipping_additional_minor)
                .push_bind(&r.shipping_additional_currency)
                .push_bind(r.min_order_minor)
                .push_bind(&r.min_order_currency);
        },
    )
    .await?;
    commit(tx, DOING).await
}

pub(super) async fn upsert_fx_rates(pool: &PgPool, rows: &[FxRateRow]) -> Result<(), CatalogError> {
    const DOING: &str = "upserting fx rates";
    if rows.is_empty() {
        return Ok(());
    }
    let mut tx = begin(pool, DOING).await?;
    insert_batches(
        &mut tx,
        DOING,
        "INSERT INTO fx_rates (currency, date, per_base) ",
        " ON CONFLICT (currency, date) DO UPDATE SET per_base = excluded.per_base",
        rows,
        |mut row, r| {
            row.push_bind(&r.currency)
                .push_bind(r.date)
                .push_bind(r.per_base);
        },
    )
    .await?;
    commit(tx, DOING).await
}

pub(super) async fn record_model_version(
    pool: &PgPool,
    model: &ModelVersionRow,
) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO model_versions (version, trained_at, users, items, params, metrics, location)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (version) DO UPDATE SET
            trained_at = excluded.trained_at, users = excluded.users, items = excluded.items,
            params = excluded.params, metrics = excluded.metrics, location = excluded.location",
    )
    .bind(&model.version)
    .bind(model.trained_at)
    .bind(model.users)
    .bind(model.items)
    .bind(&model.params)
    .bind(&model.metrics)
    .bind(&model.location)
    .execute(pool)
    .await
    .map_err(|e| classify("recording a model version", e))?;
    Ok(())
}
