//! `cratedigger fx import`: euro foreign exchange reference rates into the catalog.
//!
//! The carts stage converts listing prices with the catalog's newest rate per currency
//! (units per euro, with the rate's day), and falls back to built-in indicative rates for a
//! currency it has none for. This command stores rates in the layout the European Central
//! Bank publishes them: the daily file (`eurofxref.csv`: a `Date, USD, JPY, …` header and
//! one row dated `21 November 2025`) and the history (`eurofxref-hist.csv`: ISO dates, one
//! row a day, `N/A` where a currency had no rate). Either comes from a file, standard input
//! (`-`) or an http(s) URL.

use std::io::Read;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use cratedigger_catalog::{Catalog, FxRate};
use cratedigger_domain::Currency;

/// Why a rates file could not be read. Nothing is stored when any row is wrong.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RatesError {
    #[error("the rates file is empty")]
    Empty,
    #[error("line {line}: {reason}")]
    Line { line: u64, reason: String },
    #[error("the rates file holds no rate")]
    NoRates,
}

/// What an import stored.
#[derive(Debug, PartialEq)]
pub struct Imported {
    pub rates: usize,
    pub currencies: usize,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// Reads rates in the ECB's CSV layout: a header naming the currencies after `Date`, then
/// one row per day. `N/A` and empty cells are days without a rate; a rate of the base
/// currency (EUR) is left out, as it is 1 by definition.
pub fn parse_rates(text: &str) -> Result<Vec<FxRate>, RatesError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let line_of = |record: &csv::StringRecord| record.position().map_or(0, csv::Position::line);
    let broken = |e: csv::Error| RatesError::Line {
        line: e.position().map_or(0, csv::Position::line),
        reason: e.to_string(),
    };

    let header = loop {
        match records.next() {
            None => return Err(RatesError::Empty),
            Some(record) => {
                let record = record.map_err(broken)?;
                if record.iter().any(|cell| !cell.is_empty()) {
                    break record;
                }
            }
        }
    };
    let line = line_of(&header);
    if !header.get(0).is_some_and(|first| first.eq_ignore_ascii_case("date")) {
        return Err(RatesError::Line { line, reason: "the header does not start with Date".to_owned() });
    }
    // Column index and currency, for every named column (the ECB ends lines with a comma).
    let mut columns = Vec::new();
    for (index, name) in header.iter().enumerate().skip(1).filter(|(_, name)| !name.is_empty()) {
        let currency = Currency::new(name)
            .map_err(|_| RatesError::Line { line, reason: format!("{name:?} in the header is not a currency code") })?;
        if currency != Currency::EUR {
            columns.push((index, currency));
        }
    }

    let mut rates = Vec::new();
    for record in records {
        let record = record.map_err(broken)?;
        let line = line_of(&record);
        let Some(day) = record.get(0).filter(|day| !day.is_empty()) else {
            continue;
        };
        let date = parse_day(day).ok_or_else(|| RatesError::Line {
            line,
            reason: format!("{day:?} is not a date (2025-11-21 or 21 November 2025)"),
        })?;
        for &(index, currency) in &columns {
            let cell = record.get(index).unwrap_or_default();
            if cell.is_empty() || cell.eq_ignore_ascii_case("n/a") {
                continue;
            }
            let per_base = cell
                .parse::<f64>()
                .ok()
                .filter(|rate| rate.is_finite() && *rate > 0.0)
                .ok_or_else(|| RatesError::Line { line, reason: format!("{currency} rate {cell:?} is not a positive number") })?;
            rates.push(FxRate { currency, per_base, date });
        }
    }
    if rates.is_empty() {
        return Err(RatesError::NoRates);
    }
    Ok(rates)
}

fn parse_day(day: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(day, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(day, "%d %B %Y")).ok()
}

/// The text of `source`: `-` for standard input, an http(s) URL, or a file path.
pub async fn read_source(source: &str) -> anyhow::Result<String> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("reading rates from standard input")?;
        return Ok(text);
    }
    if source.starts_with("http://") || source.starts_with("https://") {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("cratedigger/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let response = client.get(source).send().await.with_context(|| format!("fetching {source}"))?;
        let response = response.error_for_status().with_context(|| format!("fetching {source}"))?;
        return response.text().await.with_context(|| format!("reading {source}"));
    }
    std::fs::read_to_string(source).with_context(|| format!("reading {source}"))
}

/// Stores every rate (a rate already stored for the same currency and day is replaced, so
/// importing a file twice changes nothing).
pub async fn import(catalog: &dyn Catalog, rates: &[FxRate]) -> anyhow::Result<Imported> {
    catalog.upsert_fx_rates(rates).await.context("storing the rates")?;
    let currencies: std::collections::BTreeSet<Currency> = rates.iter().map(|r| r.currency).collect();
    let (first, last) = rates.iter().fold((NaiveDate::MAX, NaiveDate::MIN), |(first, last), r| (first.min(r.date), last.max(r.date)));
    Ok(Imported { rates: rates.len(), currencies: currencies.len(), first, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAILY: &str = "Date, USD, JPY, BGN, GBP, SEK, \n21 November 2025, 1.1512, 181.25, 1.9558, 0.8785, 10.9785, \n";
    const HISTORY: &str = "Date,USD,JPY,CYP,GBP,\n2025-11-21,1.1512,181.25,N/A,0.8785,\n2025-11-20,1.1530,182.10,N/A,0.8801,\n";

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_daily_file_gives_one_rate_per_currency_on_its_day() {
        let rates = parse_rates(DAILY).unwrap();
        assert_eq!(rates.len(), 5);
        assert!(rates.iter().all(|r| r.date == day(2025, 11, 21)));
        let usd = rates.iter().find(|r| r.currency == Currency::USD).unwrap();
        assert!((usd.per_base - 1.1512).abs() < 1e-12);
    }

    #[test]
    fn the_history_skips_days_without_a_rate() {
        let rates = parse_rates(HISTORY).unwrap();
        assert_eq!(rates.len(), 6, "{rates:?}");
        assert!(!rates.iter().any(|r| r.currency.as_str() == "CYP"));
        assert_eq!(rates.iter().filter(|r| r.date == day(2025, 11, 20)).count(), 3);
    }

    #[test]
    fn a_wrong_cell_names_its_line_and_nothing_is_read() {
        let text = "Date,USD,GBP\n2025-11-21,1.15,0.87\n2025-11-20,-1,0.88\n";
        let error = parse_rates(text).unwrap_err();
        assert_eq!(error, RatesError::Line { line: 3, reason: "USD rate \"-1\" is not a positive number".to_owned() });
        let error = parse_rates("Date,USD\nyesterday,1.1\n").unwrap_err();
        assert!(matches!(error, RatesError::Line { line: 2, .. }), "{error}");
        let error = parse_rates("Day,USD\n2025-11-21,1.1\n").unwrap_err();
        assert!(error.to_string().contains("Date"), "{error}");
        assert_eq!(parse_rates("Date,U$D\n").unwrap_err().to_string(), "line 1: \"U$D\" in the header is not a currency code");
        assert_eq!(parse_rates("").unwrap_err(), RatesError::Empty);
        assert_eq!(parse_rates("Date,USD\n2025-11-21,N/A\n").unwrap_err(), RatesError::NoRates);
    }

    #[test]
    fn the_base_currency_is_left_out() {
        let rates = parse_rates("Date,EUR,USD\n2025-11-21,1,1.15\n").unwrap();
        assert_eq!(rates.iter().map(|r| r.currency).collect::<Vec<_>>(), vec![Currency::USD]);
    }
}
