//! Recording one marketplace scrape of a release.

use chrono::{DateTime, Utc};
use cratedigger_domain::ReleaseId;
use sqlx::sqlite::SqlitePool;
use sqlx::types::Json;

use super::upserts::{begin, commit, insert_batches};
use crate::listing_plan::plan_listings;
use crate::sql::errors::classify;
use crate::sql::rows::{KnownListingRow, ListingRow, to_i64};
use crate::sql::timestamp::Timestamp;
use crate::{CatalogError, Listing, ListingChanges, ListingScope};

pub(super) async fn record_listings(
    pool: &SqlitePool,
    release: ReleaseId,
    listings: &[Listing],
    scope: &ListingScope,
    seen_at: DateTime<Utc>,
) -> Result<ListingChanges, CatalogError> {
    const DOING: &str = "recording listings";
    let seen_at = Timestamp::new(seen_at);
    let release_id = to_i64(release.0, "release id")?;
    let ids = super::id_list(listings.iter().map(|l| l.id.0), "listing id")?;
    // The write lock is taken before reading, so the plan is made on what no one else
    // can change before it is written.
    let mut tx = begin(pool, DOING).await?;
    let known = sqlx::query_as::<_, KnownListingRow>(
        "SELECT listing_id, release_id, seller, price_minor, price_currency, last_seen, gone_at FROM listings
         WHERE release_id = ? OR listing_id IN (SELECT value FROM json_each(?))",
    )
    .bind(release_id)
    .bind(ids)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| classify(DOING, e))?;
    let plan = plan_listings(release, listings, scope, seen_at, known)?;

    let seen: Vec<&ListingRow> = plan.insert.iter().chain(&plan.update).collect();
    insert_batches(
        &mut tx,
        DOING,
        "INSERT INTO listings (listing_id, release_id, seller, price_minor, price_currency, shipping_minor,
            shipping_currency, media, sleeve, comments, available, first_seen, last_seen, gone_at) ",
        " ON CONFLICT (listing_id) DO UPDATE SET
            release_id = excluded.release_id, seller = excluded.seller, price_minor = excluded.price_minor,
            price_currency = excluded.price_currency, shipping_minor = excluded.shipping_minor,
            shipping_currency = excluded.shipping_currency, media = excluded.media, sleeve = excluded.sleeve,
            comments = excluded.comments, available = excluded.available, last_seen = excluded.last_seen,
            gone_at = NULL",
        &seen,
        |mut row, r| {
            row.push_bind(r.listing_id)
                .push_bind(r.release_id)
                .push_bind(&r.seller)
                .push_bind(r.price_minor)
                .push_bind(&r.price_currency)
                .push_bind(r.shipping_minor)
                .push_bind(&r.shipping_currency)
                .push_bind(&r.media)
                .push_bind(&r.sleeve)
                .push_bind(&r.comments)
                .push_bind(r.available)
                .push_bind(r.first_seen)
                .push_bind(r.last_seen)
                .push_bind(r.gone_at);
        },
    )
    .await?;
    insert_batches(
        &mut tx,
        DOING,
        "INSERT INTO price_history (listing_id, seen_at, price_minor, price_currency) ",
        " ON CONFLICT (listing_id, seen_at) DO UPDATE SET
            price_minor = excluded.price_minor, price_currency = excluded.price_currency",
        &plan.price_points,
        |mut row, p| {
            row.push_bind(p.listing_id)
                .push_bind(seen_at)
                .push_bind(p.price_minor)
                .push_bind(&p.price_currency);
        },
    )
    .await?;
    if !plan.gone.is_empty() {
        sqlx::query(
            "UPDATE listings SET gone_at = ? WHERE listing_id IN (SELECT value FROM json_each(?))",
        )
        .bind(seen_at)
        .bind(Json(&plan.gone))
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(DOING, e))?;
    }
    commit(tx, DOING).await?;
    Ok(plan.changes)
}
