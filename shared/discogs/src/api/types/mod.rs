//! Typed Discogs API responses: only the fields cratedigger uses, unknown fields
//! ignored, and the API's loose spots (`master_id: 0`, `year: 0`, `shipping_price: {}`,
//! ratings as strings, notes as text or as a list) read leniently.

mod catalog;
mod marketplace;

use cratedigger_domain::{Currency, Money};
use serde::{Deserialize, Deserializer};

pub use catalog::{Identity, MasterVersion, Release, ReleaseEntry, UserProfile};
pub use marketplace::{ApiListing, ApiListingRelease, ApiSeller, ListingStatus, MarketplaceStats};

/// Discogs caps `per_page` at 100 (and defaults to 50).
pub const MAX_PER_PAGE: u32 = 100;

/// Which page of a list to ask for: `page` from 1, `per_page` clamped to 1..=100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    per_page: u32,
}

impl PageRequest {
    pub fn new(page: u32, per_page: u32) -> Self {
        Self {
            page: page.max(1),
            per_page: per_page.clamp(1, MAX_PER_PAGE),
        }
    }

    /// The first page at the largest size: fewest requests for a whole list.
    pub fn first() -> Self {
        Self::new(1, MAX_PER_PAGE)
    }

    pub fn page(&self) -> u32 {
        self.page
    }

    pub fn per_page(&self) -> u32 {
        self.per_page
    }
}

/// The `pagination` object of every list response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct Pagination {
    pub page: u32,
    pub pages: u32,
    pub per_page: u32,
    /// Items in the whole list, all pages together.
    pub items: u64,
}

impl Pagination {
    pub fn is_last(&self) -> bool {
        self.page >= self.pages
    }
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub pagination: Pagination,
    pub items: Vec<T>,
}

/// An artist as credited on a release.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ArtistCredit {
    #[serde(default)]
    pub id: Option<u64>,
    pub name: String,
    /// The joining word to the next artist (`,`, `&`, `Feat.`).
    #[serde(default)]
    pub join: String,
}

/// A format line: `Vinyl` ×1 with `LP, Album`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Format {
    pub name: String,
    #[serde(default, deserialize_with = "quantity")]
    pub qty: Option<u32>,
    #[serde(default)]
    pub descriptions: Vec<String>,
    #[serde(default)]
    pub text: Option<String>,
}

/// `{value, currency}`, or `{}` where Discogs has no price: money or nothing.
fn optional_price<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Money>, D::Error> {
    #[derive(Deserialize)]
    struct RawPrice {
        value: Option<f64>,
        #[serde(alias = "curr_abbr")]
        currency: Option<String>,
    }
    let Some(raw) = Option::<RawPrice>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let (Some(value), Some(code)) = (raw.value, raw.currency) else {
        return Ok(None);
    };
    let currency = Currency::new(&code).map_err(serde::de::Error::custom)?;
    Money::from_major_f64(value, currency)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// Discogs' "none" ids and years are 0.
fn nonzero<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(Option::<u64>::deserialize(deserializer)?.filter(|v| *v != 0))
}

/// `"qty": "1"` (a string in every sample) or a number.
fn quantity<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Quantity {
        Number(u32),
        Text(String),
    }
    Ok(match Option::<Quantity>::deserialize(deserializer)? {
        Some(Quantity::Number(n)) => Some(n),
        Some(Quantity::Text(text)) => text.trim().parse().ok(),
        None => None,
    })
}

/// A number the API sometimes sends as a string (`"rating": "100.0"`).
fn number_or_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Number(f64),
        Text(String),
    }
    Ok(match Option::<Loose>::deserialize(deserializer)? {
        Some(Loose::Number(n)) => Some(n),
        Some(Loose::Text(text)) => text.trim().parse().ok(),
        None => None,
    }
    .filter(|n: &f64| n.is_finite()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_requests_are_clamped() {
        assert_eq!(PageRequest::new(0, 500), PageRequest::new(1, 100));
        assert_eq!(PageRequest::new(3, 0).per_page(), 1);
        assert_eq!(PageRequest::first(), PageRequest::new(1, 100));
    }

    #[test]
    fn prices_may_be_empty_objects() {
        #[derive(Deserialize)]
        struct Holder {
            #[serde(default, deserialize_with = "optional_price")]
            price: Option<Money>,
        }
        let read = |json: &str| serde_json::from_str::<Holder>(json).unwrap().price;
        assert_eq!(
            read(r#"{"price": {"value": 18.07, "currency": "USD"}}"#),
            Some(Money::new(1807, Currency::USD))
        );
        assert_eq!(read(r#"{"price": {}}"#), None);
        assert_eq!(read(r#"{"price": null}"#), None);
        assert_eq!(read(r#"{}"#), None);
        assert!(
            serde_json::from_str::<Holder>(r#"{"price": {"value": 1, "currency": "EURO"}}"#)
                .is_err()
        );
    }
}
