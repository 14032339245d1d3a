//! Reference data: releases, exchange rates, model versions.

use chrono::NaiveDate;
use cratedigger_domain::{MasterId, ReleaseId};
use sqlx::types::Json;

use super::{currency, from_i64, last_per_key, money, money_columns, to_i64};
use crate::sql::timestamp::Timestamp;
use crate::{CatalogError, FxRate, ModelVersion, Release};

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ReleaseRow {
    pub release_id: i64,
    pub master_id: Option<i64>,
    pub title: String,
    pub artists: Json<Vec<String>>,
    pub year: Option<i32>,
    pub formats: Json<Vec<String>>,
    pub genres: Json<Vec<String>>,
    pub styles: Json<Vec<String>>,
    pub thumb: Option<String>,
    pub lowest_price_minor: Option<i64>,
    pub lowest_price_currency: Option<String>,
    pub median_price_minor: Option<i64>,
    pub median_price_currency: Option<String>,
    pub num_for_sale: Option<i64>,
}

impl ReleaseRow {
    /// Rows for one upsert, one per release id, see [`last_per_key`].
    pub fn batch(releases: &[Release]) -> Result<Vec<Self>, CatalogError> {
        let rows = releases
            .iter()
            .map(Self::from_domain)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(last_per_key(rows, |row| row.release_id))
    }

    pub fn from_domain(release: &Release) -> Result<Self, CatalogError> {
        let (lowest_price_minor, lowest_price_currency) = money_columns(release.lowest_price);
        let (median_price_minor, median_price_currency) = money_columns(release.median_price);
        Ok(Self {
            release_id: to_i64(release.id.0, "release id")?,
            master_id: release
                .master_id
                .map(|m| to_i64(m.0, "master id"))
                .transpose()?,
            title: release.title.clone(),
            artists: Json(release.artists.clone()),
            year: release.year.map(i32::from),
            formats: Json(release.formats.clone()),
            genres: Json(release.genres.clone()),
            styles: Json(release.styles.clone()),
            thumb: release.thumb.clone(),
            lowest_price_minor,
            lowest_price_currency,
            median_price_minor,
            median_price_currency,
            num_for_sale: release.num_for_sale.map(i64::from),
        })
    }

    pub fn into_domain(self) -> Result<Release, CatalogError> {
        Ok(Release {
            id: ReleaseId(from_i64(self.release_id, "release id")?),
            master_id: self
                .master_id
                .map(|m| from_i64(m, "master id").map(MasterId))
                .transpose()?,
            title: self.title,
            artists: self.artists.0,
            year: self
                .year
                .map(|y| from_i64(i64::from(y), "year"))
                .transpose()?,
            formats: self.formats.0,
            genres: self.genres.0,
            styles: self.styles.0,
            thumb: self.thumb,
            lowest_price: money(
                self.lowest_price_minor,
                self.lowest_price_currency,
                "lowest price",
            )?,
            median_price: money(
                self.median_price_minor,
                self.median_price_currency,
                "median price",
            )?,
            num_for_sale: self
                .num_for_sale
                .map(|n| from_i64(n, "number for sale"))
                .transpose()?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FxRateRow {
    pub currency: String,
    pub per_base: f64,
    pub date: NaiveDate,
}

impl FxRateRow {
    /// Rows for one upsert, one per (currency, date), see [`last_per_key`].
    pub fn batch(rates: &[FxRate]) -> Vec<Self> {
        let rows = rates.iter().map(Self::from_domain).collect();
        last_per_key(rows, |row: &Self| (row.currency.clone(), row.date))
    }

    pub fn from_domain(rate: &FxRate) -> Self {
        Self {
            currency: rate.currency.as_str().to_owned(),
            per_base: rate.per_base,
            date: rate.date,
        }
    }

    pub fn into_domain(self) -> Result<FxRate, CatalogError> {
        Ok(FxRate {
            currency: currency(&self.currency)?,
            per_base: self.per_base,
            date: self.date,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ModelVersionRow {
    pub version: String,
    pub trained_at: Timestamp,
    pub users: i64,
    pub items: i64,
    pub params: Json<serde_json::Value>,
    pub metrics: Json<serde_json::Value>,
    pub location: String,
}

impl ModelVersionRow {
    pub fn from_domain(model: &ModelVersion) -> Result<Self, CatalogError> {
        Ok(Self {
            version: model.version.clone(),
            trained_at: Timestamp::new(model.trained_at),
            users: to_i64(model.users, "user count")?,
            items: to_i64(model.items, "item count")?,
            params: Json(model.params.clone()),
            metrics: Json(model.metrics.clone()),
            location: model.location.clone(),
        })
    }

    pub fn into_domain(self) -> Result<ModelVersion, CatalogError> {
        Ok(ModelVersion {
            version: self.version,
            trained_at: self.trained_at.get(),
            users: from_i64(self.users, "user count")?,
            items: from_i64(self.items, "item count")?,
            params: self.params.0,
            metrics: self.metrics.0,
            location: self.location,
        })
    }
}
