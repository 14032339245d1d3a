//! `cratedigger fx import`: euro foreign exchange reference rates into the catalog.
//!
//! The carts stage converts listing prices with the catalog's newest rate per currency
//! (units per euro, with the rate's day), and falls back to built-in indicative rates for a
//! currency it has none for. This command stores rates in the layouts the European Central
//! Bank publishes them in:
//! - CSV: the daily file (`eurofxref.csv`: a `Date, USD, JPY, …` header and one row dated
//!   `21 November 2025`) and the history (`eurofxref-hist.csv`: ISO dates, one row a day,
//!   `N/A` where a currency had no rate);
//! - XML: `eurofxref-daily.xml`, `eurofxref-hist-90d.xml`, `eurofxref-hist.xml` (a `Cube`
//!   per day with a `time`, holding a `Cube` per currency with its `rate`), which the ECB
//!   serves uncompressed, so a scheduled job can import straight from its URL.
//!
//! Either comes from a file, standard input (`-`) or an http(s) URL.

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

/// Reads rates in either of the ECB's layouts (XML when the text starts with `<`, else
/// CSV). A rate of the base currency (EUR) is left out, as it is 1 by definition.
pub fn parse_rates(text: &str) -> Result<Vec<FxRate>, RatesError> {
    let rates = if text.trim_start().starts_with('<') {
        parse_xml(text)?
    } else {
        parse_csv(text)?
    };
    if rates.is_empty() {
        return Err(RatesError::NoRates);
    }
    Ok(rates)
}

/// The CSV layout: a header naming the currencies after `Date`, then one row per day.
/// `N/A` and empty cells are days without a rate.
fn parse_csv(text: &str) -> Result<Vec<FxRate>, RatesError> {
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
    if !header
        .get(0)
        .is_some_and(|first| first.eq_ignore_ascii_case("date"))
    {
        return Err(RatesError::Line {
            line,
            reason: "the header does not start with Date".to_owned(),
        });
    }
    // Column index and currency, for every named column (the ECB ends lines with a comma).
    let mut columns = Vec::new();
    for (index, name) in header
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, name)| !name.is_empty())
    {
        let currency = Currency::new(name).map_err(|_| RatesError::Line {
            line,
            reason: format!("{name:?} in the header is not a currency code"),
        })?;
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
        // As many cells as the header (with the ECB's trailing empty one): a row cut short,
        // even inside its last rate, has fewer.
        let needed = header.len();
        if record.len() < needed {
            let reason = format!(
                "{} cells where the header has {needed} (cut short?)",
                record.len()
            );
            return Err(RatesError::Line { line, reason });
        }
        for &(index, currency) in &columns {
            let cell = record.get(index).unwrap_or_default();
            if cell.is_empty() || cell.eq_ignore_ascii_case("n/a") {
                continue;
            }
            let per_base = cell
                .parse::<f64>()
                .ok()
                .filter(|rate| rate.is_finite() && *rate > 0.0)
                .ok_or_else(|| RatesError::Line {
                    line,
                    reason: format!("{currency} rate {cell:?} is not a positive number"),
                })?;
            rates.push(FxRate {
                currency,
                per_base,
                date,
            });
        }
    }
    Ok(rates)
}

/// The XML layout: `<Cube time="2025-11-21">` holding `<Cube currency="USD" rate="1.1512"/>`.
fn parse_xml(text: &str) -> Result<Vec<FxRate>, RatesError> {
    use quick_xml::events::Event;
    let line_at = |offset: u64| {
        text.as_bytes()
            .iter()
            .take(offset as usize)
            .filter(|&&b| b == b'\n')
            .count() as u64
            + 1
    };
    let mut reader = quick_xml::Reader::from_str(text);
    let mut rates = Vec::new();
    let mut day = None;
    // Elements open: a download cut short ends inside one, and is refused.
    let mut depth = 0_u32;
    loop {
        let event = reader.read_event().map_err(|e| RatesError::Line {
            line: line_at(reader.error_position()),
            reason: e.to_string(),
        })?;
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        let element = match event {
            Event::Eof if depth > 0 => {
                let reason = "the file ends inside an element (cut short?)".to_owned();
                return Err(RatesError::Line {
                    line: line_at(reader.buffer_position()),
                    reason,
                });
            }
            Event::Eof => break,
            Event::Start(element) | Event::Empty(element)
                if element.local_name().as_ref() == b"Cube" =>
            {
                element
            }
            _ => continue,
        };
        let line = line_at(reader.buffer_position());
        let mut attributes = std::collections::HashMap::new();
        for attribute in element.attributes() {
            let attribute = attribute.map_err(|e| RatesError::Line {
                line,
                reason: e.to_string(),
            })?;
            let value = std::str::from_utf8(&attribute.value)
                .unwrap_or_default()
                .trim()
                .to_owned();
            attributes.insert(attribute.key.local_name().as_ref().to_vec(), value);
        }
        let get = |name: &[u8]| attributes.get(name).map(String::as_str);
        if let Some(time) = get(b"time") {
            day = Some(parse_day(time).ok_or_else(|| RatesError::Line {
                line,
                reason: format!("{time:?} is not a date"),
            })?);
        }
        let (Some(code), Some(rate)) = (get(b"currency"), get(b"rate")) else {
            continue;
        };
        let currency = Currency::new(code).map_err(|_| RatesError::Line {
            line,
            reason: format!("{code:?} is not a currency code"),
        })?;
        let date = day.ok_or_else(|| RatesError::Line {
            line,
            reason: format!("the {currency} rate has no day"),
        })?;
        let per_base = rate
            .parse::<f64>()
            .ok()
            .filter(|rate| rate.is_finite() && *rate > 0.0)
            .ok_or_else(|| RatesError::Line {
                line,
                reason: format!("{currency} rate {rate:?} is not a positive number"),
            })?;
        if currency != Currency::EUR {
            rates.push(FxRate {
                currency,
                per_base,
                date,
            });
        }
    }
    Ok(rates)
}

fn parse_day(day: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(day, "%d %B %Y"))
        .ok()
}

/// The text of `source`: `-` for standard input, an http(s) URL, or a file path.
pub async fn read_source(source: &str) -> anyhow::Result<String> {
    if source == "-" {
        let read = tokio::task::spawn_blocking(|| {
            let mut text = String::new();
            std::io::stdin()
                .take(MAX_SIZE)
                .read_to_string(&mut text)
                .map(|_| text)
        });
        return read.await?.context("reading rates from standard input");
    }
    if source.starts_with("http://") || source.starts_with("https://") {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("cratedigger/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let response = client
            .get(source)
            .send()
            .await
            .with_context(|| format!("fetching {source}"))?;
        let mut response = response
            .error_for_status()
            .with_context(|| format!("fetching {source}"))?;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .with_context(|| format!("reading {source}"))?
        {
            body.extend_from_slice(&chunk);
            anyhow::ensure!(
                body.len() as u64 <= MAX_SIZE,
                "{source} is larger than {MAX_SIZE} bytes: not a rates file"
            );
        }
        return String::from_utf8(body).with_context(|| format!("{source} is not UTF-8 text"));
    }
    let size = std::fs::metadata(source)
        .with_context(|| format!("reading {source}"))?
        .len();
    anyhow::ensure!(
        size <= MAX_SIZE,
        "{source} is larger than {MAX_SIZE} bytes: not a rates file"
    );
    std::fs::read_to_string(source).with_context(|| format!("reading {source}"))
}

/// The largest rates file read (the ECB's whole history since 1999 is about 7 MB as XML).
const MAX_SIZE: u64 = 64 << 20;

/// Stores every rate (a rate already stored for the same currency and day is replaced, so
/// importing a file twice changes nothing).
pub async fn import(catalog: &dyn Catalog, rates: &[FxRate]) -> anyhow::Result<Imported> {
    catalog
        .upsert_fx_rates(rates)
        .await
        .context("storing the rates")?;
    let currencies: std::collections::BTreeSet<Currency> =
        rates.iter().map(|r| r.currency).collect();
    let (first, last) = rates
        .iter()
        .fold((NaiveDate::MAX, NaiveDate::MIN), |(first, last), r| {
            (first.min(r.date), last.max(r.date))
        });
    Ok(Imported {
        rates: rates.len(),
        currencies: currencies.len(),
        first,
        last,
    })
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
        assert_eq!(
            rates.iter().filter(|r| r.date == day(2025, 11, 20)).count(),
            3
        );
    }

    #[test]
    fn a_wrong_cell_names_its_line_and_nothing_is_read() {
        let text = "Date,USD,GBP\n2025-11-21,1.15,0.87\n2025-11-20,-1,0.88\n";
        let error = parse_rates(text).unwrap_err();
        assert_eq!(
            error,
            RatesError::Line {
                line: 3,
                reason: "USD rate \"-1\" is not a positive number".to_owned()
            }
        );
        let error = parse_rates("Date,USD\nyesterday,1.1\n").unwrap_err();
        assert!(matches!(error, RatesError::Line { line: 2, .. }), "{error}");
        let error = parse_rates("Date,USD,GBP\n2025-11-21,1.1\n").unwrap_err();
        assert_eq!(
            error,
            RatesError::Line {
                line: 2,
                reason: "2 cells where the header has 3 (cut short?)".to_owned()
            }
        );
        // The ECB ends every line with a comma: a last rate cut short lacks it.
        let error = parse_rates("Date, USD, GBP, \n21 November 2025, 1.1512, 0.87").unwrap_err();
        assert_eq!(
            error,
            RatesError::Line {
                line: 2,
                reason: "3 cells where the header has 4 (cut short?)".to_owned()
            }
        );
        let error = parse_rates("Day,USD\n2025-11-21,1.1\n").unwrap_err();
        assert!(error.to_string().contains("Date"), "{error}");
        assert_eq!(
            parse_rates("Date,U$D\n").unwrap_err().to_string(),
            "line 1: \"U$D\" in the header is not a currency code"
        );
        assert_eq!(parse_rates("").unwrap_err(), RatesError::Empty);
        assert_eq!(
            parse_rates("Date,USD\n2025-11-21,N/A\n").unwrap_err(),
            RatesError::NoRates
        );
    }

    const DAILY_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<gesmes:Sender>
		<gesmes:name>European Central Bank</gesmes:name>
	</gesmes:Sender>
	<Cube>
		<Cube time='2025-11-21'>
			<Cube currency='USD' rate='1.1512'/>
			<Cube currency='JPY' rate='181.25'/>
			<Cube currency='GBP' rate='0.8785'/>
		</Cube>
		<Cube time='2025-11-20'>
			<Cube currency='USD' rate='1.1530'/>
		</Cube>
	</Cube>
</gesmes:Envelope>
"#;

    #[test]
    fn the_xml_files_give_each_rate_on_its_day() {
        let rates = parse_rates(DAILY_XML).unwrap();
        assert_eq!(rates.len(), 4, "{rates:?}");
        let usd: Vec<_> = rates
            .iter()
            .filter(|r| r.currency == Currency::USD)
            .map(|r| (r.date, r.per_base))
            .collect();
        assert_eq!(
            usd,
            vec![(day(2025, 11, 21), 1.1512), (day(2025, 11, 20), 1.1530)]
        );
    }

    #[test]
    fn a_wrong_xml_rate_names_its_line() {
        let text = DAILY_XML.replace("rate='181.25'", "rate='lots'");
        assert_eq!(
            parse_rates(&text).unwrap_err(),
            RatesError::Line {
                line: 10,
                reason: "JPY rate \"lots\" is not a positive number".to_owned()
            }
        );
        let error = parse_rates("<Cube><Cube currency='USD' rate='1.1'/></Cube>").unwrap_err();
        assert!(error.to_string().contains("no day"), "{error}");
        let cut = &DAILY_XML[..DAILY_XML.find("<Cube time='2025-11-20'>").unwrap()];
        let error = parse_rates(cut).unwrap_err();
        assert!(error.to_string().contains("cut short"), "{error}");
        assert_eq!(
            parse_rates("<Cube time='2025-11-21'/>").unwrap_err(),
            RatesError::NoRates
        );
    }

    #[test]
    fn the_base_currency_is_left_out() {
        let rates = parse_rates("Date,EUR,USD\n2025-11-21,1,1.15\n").unwrap();
        assert_eq!(
            rates.iter().map(|r| r.currency).collect::<Vec<_>>(),
            vec![Currency::USD]
        );
    }
}
