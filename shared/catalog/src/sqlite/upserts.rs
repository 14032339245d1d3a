//! The SQLite catalog's writes: upserts in batches small enough for SQLite's limit on
//! bound parameters, each call in one transaction.

use sqlx::sqlite::SqlitePool;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, Transaction};

use crate::CatalogError;
use crate::sql::errors::classify;
use crate::sql::rows::{
    FxRateRow, InteractionRow, ModelVersionRow, ReleaseRow, SellerRow, UserRow,
};

/// Rows per INSERT: 500 rows of the widest table (14 columns) bind 7,000 parameters, well
/// under SQLite's 32,766.
const ROWS_PER_STATEMENT: usize = 500;

pub(super) async fn begin(
    pool: &SqlitePool,
    doing: &str,
) -> Result<Transaction<'static, Sqlite>, CatalogError> {
    pool.begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| classify(doing, e))
}

pub(super) async fn commit(
    tx: Transaction<'static, Sqlite>,
    doing: &str,
) -> Result<(), CatalogError> {
    tx.commit().await.map_err(|e| classify(doing, e))
}

/// Runs `INSERT INTO <head> VALUES (..), (..) <tail>` over `rows` in batches.
pub(super) async fn insert_batches<T>(
    conn: &mut SqliteConnection,
    doing: &str,
    head: &str,
    tail: &str,
    rows: &[T],
    mut push_row: impl FnMut(sqlx::query_builder::Separated<'_, Sqlite, &'static str>, &T),
) -> Result<(), CatalogError> {
    for batch in rows.chunks(ROWS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Sqlite>::new(head);
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

pub(super) async fn upsert_user(pool: &SqlitePool, user: &UserRow) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO users (username, discogs_id, wantlist_count, collection_count,
                            newest_want_added, newest_have_added, last_synced_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
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

pub(super) async fn upsert_interactions(
    pool: &SqlitePool,
    rows: &[InteractionRow],
) -> Result<(), CatalogError> {
    const DOING: &str = "upserting interactions";
    if rows.is_empty() {
        return Ok(());
    }
    let mut tx = begin(pool, DOING).await?;
    insert_batches(
        &mut tx,
        DOING,
        "INSERT INTO interactions (username, release_id, kind, added_at, weight, sync_id) ",
        " ON CONFLICT (username, release_id, kind) DO UPDATE SET
            added_at = excluded.added_at, weight = excluded.weight, sync_id = excluded.sync_id",
        rows,
        |mut row, r| {
            row.push_bind(&r.username)
                .push_bind(r.release_id)
                .push_bind(r.kind)
                .push_bind(r.added_at)
                .push_bind(r.weight)
                .push_bind(&r.sync_id);
        },
    )
    .await?;
    commit(tx, DOING).await
}

/// Optional fields and empty lists mean "not known to this writer": they never erase what
/// another source stored (the wantlist knows a release's title, the marketplace its prices).
pub(super) async fn upsert_releases(
    pool: &SqlitePool,
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
            artists = iif(excluded.artists = '[]', releases.artists, excluded.artists),
            year = coalesce(excluded.year, releases.year),
            formats = iif(excluded.formats = '[]', releases.formats, excluded.formats),
            genres = iif(excluded.genres = '[]', releases.genres, excluded.genres),
            styles = iif(excluded.styles = '[]', releases.styles, excluded.styles),
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
pub(super) async fn upsert_sellers(
    pool: &SqlitePool,
    rows: &[SellerRow],
) -> Result<(), CatalogError> {
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

pub(super) async fn upsert_fx_rates(
    pool: &SqlitePool,
    rows: &[FxRateRow],
) -> Result<(), CatalogError> {
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
    pool: &SqlitePool,
    model: &ModelVersionRow,
) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO model_versions (version, trained_at, users, items, params, metrics, location)
         VALUES (?, ?, ?, ?, ?, ?, ?)
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
