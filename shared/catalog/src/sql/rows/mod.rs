//! Rows as both databases hold them, and their conversion to and from the domain types.
//!
//! The column names and types are the same in both schemas (ids and counts as 64-bit
//! integers, money as minor units plus a currency code, conditions as short codes, lists
//! as JSON, times as [`Timestamp`](super::timestamp::Timestamp)), so one set of row structs
//! serves both adapters. Converting into a row fails with `Rejected` (a value the schema
//! cannot hold); converting out of a row fails with `Corrupt` (stored data the domain
//! does not accept).

mod market;
mod reference;
mod users;

use cratedigger_domain::{Currency, Money, Username};

use crate::CatalogError;

pub(crate) use market::{KnownListingRow, ListingRow, PricePointRow, SellerRow};
pub(crate) use reference::{FxRateRow, ModelVersionRow, ReleaseRow};
pub(crate) use users::{InteractionRow, StoredInteraction, UserRow};

/// One row per key, the last occurrence winning, in key order. Every batch upsert goes
/// through this: Postgres refuses to update one row twice in a statement, and writers that
/// lock keys in the same order cannot deadlock each other.
pub(crate) fn last_per_key<T, K: Ord>(rows: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut latest = std::collections::BTreeMap::new();
    for row in rows {
        latest.insert(key(&row), row);
    }
    latest.into_values().collect()
}

/// Ids and counts are unsigned in the domain and signed 64-bit in SQL.
pub(crate) fn to_i64(value: u64, what: &str) -> Result<i64, CatalogError> {
    i64::try_from(value)
        .map_err(|_| CatalogError::Rejected(format!("{what} {value} does not fit a 64-bit column")))
}

pub(crate) fn from_i64<T: TryFrom<i64>>(value: i64, what: &str) -> Result<T, CatalogError> {
    T::try_from(value)
        .map_err(|_| CatalogError::Corrupt(format!("stored {what} {value} is out of range")))
}

pub(crate) fn username(stored: &str) -> Result<Username, CatalogError> {
    Username::parse(stored)
        .map_err(|e| CatalogError::Corrupt(format!("stored username {stored:?}: {e}")))
}

pub(crate) fn currency(stored: &str) -> Result<Currency, CatalogError> {
    Currency::new(stored).map_err(|e| CatalogError::Corrupt(format!("stored currency: {e}")))
}

pub(crate) fn money_columns(money: Option<Money>) -> (Option<i64>, Option<String>) {
    match money {
        Some(m) => (Some(m.minor), Some(m.currency.as_str().to_owned())),
        None => (None, None),
    }
}

pub(crate) fn money(
    minor: Option<i64>,
    code: Option<String>,
    what: &str,
) -> Result<Option<Money>, CatalogError> {
    match (minor, code) {
        (Some(minor), Some(code)) => Ok(Some(Money::new(minor, currency(&code)?))),
        (None, None) => Ok(None),
        _ => Err(CatalogError::Corrupt(format!(
            "stored {what} has an amount or a currency but not both"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_needs_both_columns() {
        assert_eq!(money(None, None, "price").ok(), Some(None));
        assert!(matches!(
            money(Some(5), None, "price"),
            Err(CatalogError::Corrupt(_))
        ));
        assert!(matches!(
            money(Some(5), Some("EURO".into()), "price"),
            Err(CatalogError::Corrupt(_))
        ));
        assert_eq!(
            money(Some(5), Some("EUR".into()), "price").ok(),
            Some(Some(Money::new(5, Currency::EUR)))
        );
    }

    #[test]
    fn batches_keep_the_last_row_per_key_in_key_order() {
        let rows = vec![(9, "a"), (3, "b"), (9, "c"), (1, "d")];
        assert_eq!(
            last_per_key(rows, |r| r.0),
            vec![(1, "d"), (3, "b"), (9, "c")]
        );
    }

    #[test]
    fn ids_beyond_i64_are_rejected_not_wrapped() {
        assert!(matches!(
            to_i64(u64::MAX, "release id"),
            Err(CatalogError::Rejected(_))
        ));
        assert!(matches!(
            from_i64::<u64>(-1, "release id"),
            Err(CatalogError::Corrupt(_))
        ));
    }
}
