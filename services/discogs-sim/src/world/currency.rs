//! Fixed exchange rates and the way Discogs writes amounts. The rates are frozen so a
//! world looks the same on every run; they only need to be plausible.

use cratedigger_domain::{Currency, Money};

/// US dollars for one major unit of `currency`.
pub fn usd_per_unit(currency: Currency) -> f64 {
    match currency.as_str() {
        "EUR" => 1.08,
        "GBP" => 1.27,
        "JPY" => 0.0067,
        "CAD" => 0.73,
        "AUD" => 0.66,
        "CHF" => 1.12,
        "SEK" => 0.095,
        "BRL" => 0.18,
        "MXN" => 0.055,
        "NZD" => 0.60,
        "ZAR" => 0.054,
        _ => 1.0,
    }
}

/// Converts through US dollars, rounding to the target's minor unit.
pub fn convert(amount: Money, to: Currency) -> Money {
    if amount.currency == to {
        return amount;
    }
    let usd = amount.to_major_f64() * usd_per_unit(amount.currency);
    let major = usd / usd_per_unit(to);
    Money::new((major * to.minor_per_major() as f64).round() as i64, to)
}

/// The amount in US cents, for sorting listings priced in different currencies.
pub fn usd_cents(amount: Money) -> i64 {
    convert(amount, Currency::USD).minor
}

/// A plain decimal as `data-pricevalue` and the API's floats carry it: `9000.00`, `1200`.
pub fn plain_decimal(amount: Money) -> String {
    let digits = amount.currency.minor_digits();
    let per = amount.currency.minor_per_major();
    let sign = if amount.minor < 0 { "-" } else { "" };
    let abs = amount.minor.unsigned_abs() as i64;
    if digits == 0 {
        format!("{sign}{abs}")
    } else {
        format!(
            "{sign}{}.{:0width$}",
            abs / per,
            abs % per,
            width = digits as usize
        )
    }
}

/// The amount as a JSON float (`18.07`): the API sends prices as numbers.
pub fn major_float(amount: Money) -> f64 {
    amount.to_major_f64()
}

/// English marketplace text: `$9,000.00`, `€14.00`, `¥1,200`, `CA$25.00`, `SEK 100.00`.
pub fn display_price(amount: Money) -> String {
    let digits = amount.currency.minor_digits();
    let per = amount.currency.minor_per_major();
    let abs = amount.minor.unsigned_abs() as i64;
    let whole = group_thousands(abs / per);
    let number = if digits == 0 {
        whole
    } else {
        format!("{whole}.{:0width$}", abs % per, width = digits as usize)
    };
    let sign = if amount.minor < 0 { "-" } else { "" };
    match amount.currency.as_str() {
        "USD" => format!("{sign}${number}"),
        "EUR" => format!("{sign}€{number}"),
        "GBP" => format!("{sign}£{number}"),
        "JPY" => format!("{sign}¥{number}"),
        "CAD" => format!("{sign}CA${number}"),
        "AUD" => format!("{sign}A${number}"),
        "NZD" => format!("{sign}NZ${number}"),
        "MXN" => format!("{sign}MX${number}"),
        "BRL" => format!("{sign}R${number}"),
        code => format!("{sign}{code} {number}"),
    }
}

/// `1234567` -> `1,234,567`.
pub fn group_thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Discogs' `curr_id` for the currencies it lists (seen in `original_price`).
pub fn discogs_currency_id(currency: Currency) -> u32 {
    match currency.as_str() {
        "USD" => 1,
        "GBP" => 2,
        "EUR" => 3,
        "CAD" => 4,
        "AUD" => 5,
        "JPY" => 6,
        "CHF" => 7,
        "MXN" => 8,
        "BRL" => 9,
        "NZD" => 10,
        "SEK" => 11,
        "ZAR" => 12,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_english_marketplace() {
        assert_eq!(
            display_price(Money::new(900_000, Currency::USD)),
            "$9,000.00"
        );
        assert_eq!(
            display_price(Money::new(1_100_000, Currency::EUR)),
            "€11,000.00"
        );
        assert_eq!(display_price(Money::new(1_200, Currency::JPY)), "¥1,200");
        assert_eq!(
            display_price(Money::new(10_000, Currency::SEK)),
            "SEK 100.00"
        );
        assert_eq!(display_price(Money::new(16_000, Currency::BRL)), "R$160.00");
        assert_eq!(plain_decimal(Money::new(900_000, Currency::USD)), "9000.00");
        assert_eq!(plain_decimal(Money::new(1_200, Currency::JPY)), "1200");
        assert_eq!(plain_decimal(Money::new(5, Currency::EUR)), "0.05");
        assert_eq!(group_thousands(1_234), "1,234");
        assert_eq!(group_thousands(999), "999");
    }

    #[test]
    fn converts_through_dollars() {
        let eur = convert(Money::new(10_000, Currency::USD), Currency::EUR);
        assert_eq!(eur.currency, Currency::EUR);
        assert!((9_200..9_300).contains(&eur.minor), "{eur}");
        let same = Money::new(123, Currency::GBP);
        assert_eq!(convert(same, Currency::GBP), same);
    }
}
