//! Money as integer minor units with an ISO 4217 currency: never a float. Amounts read as
//! text or floats (Discogs sends both) are converted exactly once, here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency code, three uppercase ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMoney {
    #[error("currency code {0:?} is not three letters")]
    Currency(String),
    #[error("amount {0:?} is not a decimal number")]
    Amount(String),
    #[error("amount {0:?} is too large")]
    Overflow(String),
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
}

impl Currency {
    pub const USD: Self = Self(*b"USD");
    pub const EUR: Self = Self(*b"EUR");
    pub const GBP: Self = Self(*b"GBP");
    pub const JPY: Self = Self(*b"JPY");
    pub const CAD: Self = Self(*b"CAD");
    pub const AUD: Self = Self(*b"AUD");
    pub const CHF: Self = Self(*b"CHF");
    pub const MXN: Self = Self(*b"MXN");
    pub const BRL: Self = Self(*b"BRL");
    pub const NZD: Self = Self(*b"NZD");
    pub const SEK: Self = Self(*b"SEK");
    pub const ZAR: Self = Self(*b"ZAR");

    /// Parses a code case-insensitively (`eur` is `EUR`).
    pub fn new(code: &str) -> Result<Self, InvalidMoney> {
        let bytes = code.trim().as_bytes();
        match bytes {
            [a, b, c] if bytes.iter().all(u8::is_ascii_alphabetic) => Ok(Self([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ])),
            _ => Err(InvalidMoney::Currency(code.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Digits after the decimal point in this currency (ISO 4217 exponent). Only the
    /// zero-decimal currencies that appear in marketplaces are listed; the rest use 2.
    pub fn minor_digits(&self) -> u32 {
        match &self.0 {
            b"JPY" | b"KRW" | b"CLP" | b"ISK" | b"HUF" | b"TWD" | b"VND" => 0,
            _ => 2,
        }
    }

    /// 10^minor_digits: minor units in one major unit.
    pub fn minor_per_major(&self) -> i64 {
        10_i64.pow(self.minor_digits())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Currency {
    type Err = InvalidMoney;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidMoney;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.as_str().to_owned()
    }
}

/// An amount in a currency's minor units (cents for EUR, yen for JPY).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    /// Parses a plain decimal (`9000.00`, `-3.5`, `12`) exactly. Digits beyond the
    /// currency's precision are rounded half away from zero; no thousands separators
    /// (locale-formatted prices are the listing parser's job).
    pub fn from_decimal_str(text: &str, currency: Currency) -> Result<Self, InvalidMoney> {
        let bad = || InvalidMoney::Amount(text.to_owned());
        let t = text.trim();
        let (negative, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        if !int_part
            .bytes()
            .chain(frac_part.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let scale = currency.minor_digits() as usize;
        let overflow = || InvalidMoney::Overflow(text.to_owned());
        let mut minor: i64 = 0;
        for b in int_part.bytes() {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .ok_or_else(overflow)?;
        }
        let frac = frac_part.as_bytes();
        for i in 0..scale {
            let d = frac.get(i).map_or(0, |b| i64::from(b - b'0'));
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(d))
                .ok_or_else(overflow)?;
        }
        if frac.get(scale).is_some_and(|b| *b >= b'5') {
            minor = minor.checked_add(1).ok_or_else(overflow)?;
        }
        Ok(Self::new(if negative { -minor } else { minor }, currency))
    }

    /// Converts a float amount (the Discogs API sends `18.07`) to the nearest minor unit.
    pub fn from_major_f64(value: f64, currency: Currency) -> Result<Self, InvalidMoney> {
        let scaled = (value * currency.minor_per_major() as f64).round();
        if !scaled.is_finite() || scaled.abs() > 9.0e15 {
            return Err(InvalidMoney::Amount(value.to_string()));
        }
        Ok(Self::new(scaled as i64, currency))
    }

    /// The amount in major units, for display and for numeric comparisons only.
    pub fn to_major_f64(&self) -> f64 {
        self.minor as f64 / self.currency.minor_per_major() as f64
    }

    pub fn checked_add(self, other: Self) -> Result<Self, InvalidMoney> {
        if self.currency != other.currency {
            return Err(InvalidMoney::CurrencyMismatch(
                self.currency,
                other.currency,
            ));
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or_else(|| InvalidMoney::Overflow(format!("{self} + {other}")))?;
        Ok(Self::new(minor, self.currency))
    }

    pub fn is_positive(&self) -> bool {
        self.minor > 0
    }
}

impl fmt::Display for Money {
    /// `12.50 EUR`, `1200 JPY`, `-0.05 USD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.currency.minor_digits();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if digits == 0 {
            return write!(f, "{sign}{abs} {}", self.currency);
        }
        let per = 10_u64.pow(digits);
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            abs / per,
            abs % per,
            self.currency,
            width = digits as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_decimals_exactly() {
        let m = |s| Money::from_decimal_str(s, Currency::EUR).unwrap().minor;
        assert_eq!(m("9000.00"), 900_000);
        assert_eq!(m("10.99"), 1099);
        assert_eq!(m("0.5"), 50);
        assert_eq!(m("12"), 1200);
        assert_eq!(m(".5"), 50);
        assert_eq!(m("-3.25"), -325);
        assert_eq!(m("1.005"), 101);
        assert_eq!(m("1.004"), 100);
        assert_eq!(
            Money::from_decimal_str("1200", Currency::JPY)
                .unwrap()
                .minor,
            1200
        );
        assert_eq!(
            Money::from_decimal_str("1200.6", Currency::JPY)
                .unwrap()
                .minor,
            1201
        );
    }

    #[test]
    fn rejects_what_is_not_a_plain_decimal() {
        for bad in ["", ".", "1,000.00", "abc", "1.2.3", "€5", "1e5", "--1"] {
            assert!(
                Money::from_decimal_str(bad, Currency::EUR).is_err(),
                "{bad}"
            );
        }
        assert!(matches!(
            Money::from_decimal_str("99999999999999999999", Currency::EUR),
            Err(InvalidMoney::Overflow(_))
        ));
    }

    #[test]
    fn floats_round_to_the_nearest_minor_unit() {
        assert_eq!(
            Money::from_major_f64(18.07, Currency::USD).unwrap().minor,
            1807
        );
        assert_eq!(
            Money::from_major_f64(0.1 + 0.2, Currency::USD)
                .unwrap()
                .minor,
            30
        );
        assert!(Money::from_major_f64(f64::NAN, Currency::USD).is_err());
    }

    #[test]
    fn displays_with_the_currency_precision() {
        assert_eq!(Money::new(1250, Currency::EUR).to_string(), "12.50 EUR");
        assert_eq!(Money::new(-5, Currency::USD).to_string(), "-0.05 USD");
        assert_eq!(Money::new(1200, Currency::JPY).to_string(), "1200 JPY");
    }

    #[test]
    fn addition_refuses_mixed_currencies() {
        let eur = Money::new(100, Currency::EUR);
        assert_eq!(eur.checked_add(eur).unwrap().minor, 200);
        assert!(eur.checked_add(Money::new(1, Currency::USD)).is_err());
    }

    #[test]
    fn currency_codes_are_normalised() {
        assert_eq!(Currency::new("eur").unwrap(), Currency::EUR);
        assert!(Currency::new("EURO").is_err());
        assert!(Currency::new("E1R").is_err());
        assert_eq!(serde_json::to_string(&Currency::GBP).unwrap(), "\"GBP\"");
    }

    proptest! {
        #[test]
        fn display_and_parse_round_trip(minor in -1_000_000_000_i64..1_000_000_000) {
            let m = Money::new(minor, Currency::EUR);
            let text = m.to_string();
            let amount = text.trim_end_matches(" EUR");
            prop_assert_eq!(Money::from_decimal_str(amount, Currency::EUR).unwrap(), m);
        }
    }
}
