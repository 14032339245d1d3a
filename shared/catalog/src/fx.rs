//! Currency conversion from the stored FX table.
//!
//! The catalog keeps rates as units of a currency per euro, each with the day it is from.
//! [`FxTable`] converts between any two known currencies through the euro and says which
//! rate and day it used, so a cart can show both the asking and the converted price.
//! Currencies the catalog holds no rate for fall back to built-in indicative rates, and the
//! table says when it used one.

use std::collections::HashMap;

use chrono::NaiveDate;
use cratedigger_domain::{Currency, Money};

use crate::{Catalog, CatalogError, FxRate};

/// Indicative euro rates for the currencies Discogs sellers price in, used for a currency
/// the catalog has no rate for. Units per euro.
const BUILT_IN: [(&str, f64); 11] = [
    ("USD", 1.08),
    ("GBP", 0.85),
    ("JPY", 161.2),
    ("CAD", 1.48),
    ("AUD", 1.64),
    ("CHF", 0.964),
    ("SEK", 11.37),
    ("BRL", 6.0),
    ("MXN", 19.64),
    ("NZD", 1.8),
    ("ZAR", 20.0),
];

/// The day the built-in rates stand for.
pub const BUILT_IN_DATE: (i32, u32, u32) = (2024, 6, 3);

/// A conversion: the amount in the target currency and the rate behind it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Converted {
    pub amount: Money,
    /// Target units per unit of the source currency.
    pub rate: f64,
    /// The older of the two rates' days.
    pub date: NaiveDate,
    /// A built-in indicative rate was used.
    pub built_in: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Rate {
    per_euro: f64,
    date: NaiveDate,
    built_in: bool,
}

/// Rates per euro by currency.
#[derive(Clone, Debug, PartialEq)]
pub struct FxTable {
    rates: HashMap<Currency, Rate>,
}

impl FxTable {
    /// The built-in rates overlaid with `rates` (the catalog's newest per currency).
    pub fn new(rates: &[FxRate]) -> Self {
        let built_in_date =
            NaiveDate::from_ymd_opt(BUILT_IN_DATE.0, BUILT_IN_DATE.1, BUILT_IN_DATE.2)
                .unwrap_or_default();
        let mut table: HashMap<Currency, Rate> = BUILT_IN
            .iter()
            .filter_map(|(code, per_euro)| {
                let currency = Currency::new(code).ok()?;
                Some((
                    currency,
                    Rate {
                        per_euro: *per_euro,
                        date: built_in_date,
                        built_in: true,
                    },
                ))
            })
            .collect();
        for rate in rates
            .iter()
            .filter(|r| r.per_base.is_finite() && r.per_base > 0.0)
        {
            table.insert(
                rate.currency,
                Rate {
                    per_euro: rate.per_base,
                    date: rate.date,
                    built_in: false,
                },
            );
        }
        Self { rates: table }
    }

    /// The catalog's newest rates over the built-in ones.
    pub async fn load(catalog: &dyn Catalog) -> Result<Self, CatalogError> {
        Ok(Self::new(&catalog.latest_fx_rates().await?))
    }

    fn rate_of(&self, currency: Currency) -> Option<Option<Rate>> {
        if currency == Currency::EUR {
            return Some(None);
        }
        self.rates.get(&currency).map(|r| Some(*r))
    }

    /// `amount` in `to`, rounded to `to`'s minor unit; None when either currency has no
    /// rate or the result does not fit.
    pub fn convert(&self, amount: Money, to: Currency) -> Option<Converted> {
        if amount.currency == to {
            let date = self
                .rate_of(to)
                .flatten()
                .map_or_else(|| chrono::Utc::now().date_naive(), |r| r.date);
            return Some(Converted {
                amount,
                rate: 1.0,
                date,
                built_in: false,
            });
        }
        let (from, target) = (self.rate_of(amount.currency)?, self.rate_of(to)?);
        let per_euro = |r: Option<Rate>| r.map_or(1.0, |r| r.per_euro);
        let rate = per_euro(target) / per_euro(from);
        let dates = [from, target].into_iter().flatten().map(|r| r.date);
        let date = dates
            .min()
            .unwrap_or_else(|| chrono::Utc::now().date_naive());
        let built_in = [from, target].into_iter().flatten().any(|r| r.built_in);
        let major = amount.minor as f64 / amount.currency.minor_per_major() as f64;
        let minor = (major * rate * to.minor_per_major() as f64).round();
        if !minor.is_finite() || minor.abs() >= i64::MAX as f64 / 2.0 {
            return None;
        }
        Some(Converted {
            amount: Money::new(minor as i64, to),
            rate,
            date,
            built_in,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn converts_through_the_euro_with_the_stored_rate_and_its_day() {
        let table = FxTable::new(&[
            FxRate {
                currency: Currency::USD,
                per_base: 1.25,
                date: day(2026, 11, 20),
            },
            FxRate {
                currency: Currency::GBP,
                per_base: 0.8,
                date: day(2026, 11, 19),
            },
        ]);
        let c = table
            .convert(Money::new(1000, Currency::EUR), Currency::USD)
            .unwrap_or_else(|| panic!("rate"));
        assert_eq!(c.amount, Money::new(1250, Currency::USD));
        assert_eq!(c.date, day(2026, 11, 20));
        assert!(!c.built_in);
        let c = table
            .convert(Money::new(1000, Currency::USD), Currency::GBP)
            .unwrap_or_else(|| panic!("rate"));
        assert_eq!(c.amount, Money::new(640, Currency::GBP));
        assert!((c.rate - 0.64).abs() < 1e-12);
        assert_eq!(c.date, day(2026, 11, 19), "the older of the two days");
    }

    #[test]
    fn minor_units_follow_each_currency() {
        let table = FxTable::new(&[FxRate {
            currency: Currency::JPY,
            per_base: 160.0,
            date: day(2026, 1, 1),
        }]);
        let c = table
            .convert(Money::new(250, Currency::EUR), Currency::JPY)
            .unwrap_or_else(|| panic!("rate"));
        assert_eq!(c.amount, Money::new(400, Currency::JPY));
        let back = table
            .convert(Money::new(400, Currency::JPY), Currency::EUR)
            .unwrap_or_else(|| panic!("rate"));
        assert_eq!(back.amount, Money::new(250, Currency::EUR));
    }

    #[test]
    fn the_same_currency_is_unchanged_and_unknown_ones_have_no_rate() {
        let table = FxTable::new(&[]);
        let same = table
            .convert(Money::new(1234, Currency::USD), Currency::USD)
            .unwrap_or_else(|| panic!("rate"));
        assert_eq!(same.amount, Money::new(1234, Currency::USD));
        assert_eq!(same.rate, 1.0);
        let unknown = Currency::new("XYZ").unwrap_or(Currency::EUR);
        assert!(
            table
                .convert(Money::new(100, unknown), Currency::EUR)
                .is_none()
        );
        assert!(
            table
                .convert(Money::new(100, Currency::USD), Currency::EUR)
                .is_some_and(|c| c.built_in)
        );
    }
}
