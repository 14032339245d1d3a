//! The Catalog port on this adapter: reads here, writes in `upserts` and `listings`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cratedigger_domain::{ListingId, MasterId, ReleaseId, SellerName, Username};
use futures::stream::{BoxStream, StreamExt};
use sqlx::types::Json;

use super::{MIGRATIONS, SqliteCatalog, id_list, listings, upserts};
use crate::sql::errors::classify;
use crate::sql::rows::{
    FxRateRow, InteractionRow, ListingRow, ModelVersionRow, PricePointRow, ReleaseRow, SellerRow,
    StoredInteraction, UserRow, to_i64,
};
use crate::{
    Catalog, CatalogError, FxRate, Interaction, InteractionKind, Listing, ListingChanges,
    ListingScope, ModelVersion, PricePoint, Release, Seller, UserProfile,
};

#[async_trait]
impl Catalog for SqliteCatalog {
    async fn migrate(&self) -> Result<(), CatalogError> {
        MIGRATIONS
            .run(&self.pool)
            .await
            .map_err(|e| CatalogError::Migration(format!("sqlite catalog: {e}")))
    }

    async fn user(&self, username: &Username) -> Result<Option<UserProfile>, CatalogError> {
        sqlx::query_as::<_, UserRow>("SELECT * FROM users WHERE username = ?")
            .bind(username.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| classify("reading a user", e))?
            .map(UserRow::into_domain)
            .transpose()
    }

    async fn upsert_user(&self, user: &UserProfile) -> Result<(), CatalogError> {
        upserts::upsert_user(&self.pool, &UserRow::from_domain(user)?).await
    }

    async fn upsert_interactions(
        &self,
        username: &Username,
        interactions: &[Interaction],
        sync_id: &str,
    ) -> Result<(), CatalogError> {
        let rows = InteractionRow::batch(username, interactions, sync_id)?;
        upserts::upsert_interactions(&self.pool, &rows).await
    }

    async fn prune_interactions(
        &self,
        username: &Username,
        kind: InteractionKind,
        sync_id: &str,
    ) -> Result<u64, CatalogError> {
        let done = sqlx::query(
            "DELETE FROM interactions WHERE username = ? AND kind = ? AND sync_id <> ?",
        )
        .bind(username.as_str())
        .bind(kind.as_str())
        .bind(sync_id)
        .execute(&self.pool)
        .await
        .map_err(|e| classify("pruning interactions", e))?;
        Ok(done.rows_affected())
    }

    async fn interactions(&self, username: &Username) -> Result<Vec<Interaction>, CatalogError> {
        let rows = sqlx::query_as::<_, StoredInteraction>(
            "SELECT username, release_id, kind, added_at, weight FROM interactions
             WHERE username = ? ORDER BY release_id, kind",
        )
        .bind(username.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| classify("reading interactions", e))?;
        rows.into_iter()
            .map(|row| row.into_domain().map(|(_, i)| i))
            .collect()
    }

    fn all_interactions(&self) -> BoxStream<'_, Result<(Username, Interaction), CatalogError>> {
        sqlx::query_as::<_, StoredInteraction>(
            "SELECT username, release_id, kind, added_at, weight FROM interactions
             ORDER BY username, release_id, kind",
        )
        .fetch(&self.pool)
        .map(|row| {
            row.map_err(|e| classify("streaming interactions", e))?
                .into_domain()
        })
        .boxed()
    }

    async fn upsert_releases(&self, releases: &[Release]) -> Result<(), CatalogError> {
        let rows = ReleaseRow::batch(releases)?;
        upserts::upsert_releases(&self.pool, &rows).await
    }

    async fn releases(&self, ids: &[ReleaseId]) -> Result<Vec<Release>, CatalogError> {
        let rows = sqlx::query_as::<_, ReleaseRow>(
            "SELECT * FROM releases WHERE release_id IN (SELECT value FROM json_each(?))",
        )
        .bind(id_list(ids.iter().map(|id| id.0), "release id")?)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| classify("reading releases", e))?;
        rows.into_iter().map(ReleaseRow::into_domain).collect()
    }

    async fn releases_of_master(&self, master: MasterId) -> Result<Vec<ReleaseId>, CatalogError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT release_id FROM releases WHERE master_id = ? ORDER BY release_id",
        )
        .bind(to_i64(master.0, "master id")?)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| classify("reading a master's releases", e))?;
        ids.into_iter()
            .map(|id| {
                u64::try_from(id)
                    .map(ReleaseId)
                    .map_err(|_| CatalogError::Corrupt(format!("release id {id}")))
            })
            .collect()
    }

    async fn upsert_sellers(&self, sellers: &[Seller]) -> Result<(), CatalogError> {
        let rows = SellerRow::batch(sellers);
        upserts::upsert_sellers(&self.pool, &rows).await
    }

    async fn sellers(&self, names: &[SellerName]) -> Result<Vec<Seller>, CatalogError> {
        let names: Vec<&str> = names.iter().map(SellerName::as_str).collect();
        let rows = sqlx::query_as::<_, SellerRow>(
            "SELECT * FROM sellers WHERE name IN (SELECT value FROM json_each(?))",
        )
        .bind(Json(names))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| classify("reading sellers", e))?;
        rows.into_iter().map(SellerRow::into_domain).collect()
    }

    async fn record_seen_listings(
        &self,
        release: ReleaseId,
        listings: &[Listing],
        scope: &ListingScope,
        seen_at: DateTime<Utc>,
    ) -> Result<ListingChanges, CatalogError> {
        listings::record_listings(&self.pool, release, listings, scope, seen_at).await
    }

    async fn listings(
        &self,
        releases: &[ReleaseId],
        include_gone: bool,
    ) -> Result<Vec<Listing>, CatalogError> {
        let rows = sqlx::query_as::<_, ListingRow>(
            "SELECT * FROM listings WHERE release_id IN (SELECT value FROM json_each(?))
             AND (? OR gone_at IS NULL) ORDER BY release_id, listing_id",
        )
        .bind(id_list(releases.iter().map(|id| id.0), "release id")?)
        .bind(include_gone)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| classify("reading listings", e))?;
        rows.into_iter().map(ListingRow::into_domain).collect()
    }

    async fn price_history(&self, listing: ListingId) -> Result<Vec<PricePoint>, CatalogError> {
        let rows = sqlx::query_as::<_, PricePointRow>(
            "SELECT price_minor, price_currency, seen_at FROM price_history WHERE listing_id = ? ORDER BY seen_at",
        )
        .bind(to_i64(listing.0, "listing id")?)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| classify("reading price history", e))?;
        rows.into_iter().map(PricePointRow::into_domain).collect()
    }

    async fn upsert_fx_rates(&self, rates: &[FxRate]) -> Result<(), CatalogError> {
        let rows = FxRateRow::batch(rates);
        upserts::upsert_fx_rates(&self.pool, &rows).await
    }

    async fn latest_fx_rates(&self) -> Result<Vec<FxRate>, CatalogError> {
        let rows = sqlx::query_as::<_, FxRateRow>(
            "SELECT currency, per_base, date FROM fx_rates AS rate
             WHERE date = (SELECT MAX(date) FROM fx_rates WHERE currency = rate.currency)
             ORDER BY currency",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| classify("reading fx rates", e))?;
        rows.into_iter().map(FxRateRow::into_domain).collect()
    }

    async fn record_model_version(&self, version: &ModelVersion) -> Result<(), CatalogError> {
        upserts::record_model_version(&self.pool, &ModelVersionRow::from_domain(version)?).await
    }

    async fn latest_model_version(&self) -> Result<Option<ModelVersion>, CatalogError> {
        sqlx::query_as::<_, ModelVersionRow>(
            "SELECT * FROM model_versions ORDER BY trained_at DESC, version DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| classify("reading the latest model version", e))?
        .map(ModelVersionRow::into_domain)
        .transpose()
    }
}
