//! Prices as the marketplace prints them when no `data-pricevalue` attribute is there:
//! `$9,000.00`, `€11,000.00`, `R$160.00`, `SEK 50.00`, `10,99 $US` (French locale: decimal
//! comma, no-break space, symbol after the number), `1 234,00 €`.

use cratedigger_domain::{Currency, Money};

/// Reads a localised price. `None` when the text holds no number or no currency we know.
pub(crate) fn parse_localised_money(text: &str) -> Option<Money> {
    let text = normalise_spaces(text);
    let (start, end) = number_span(&text)?;
    let symbol = format!("{} {}", &text[..start], &text[end..]);
    let currency = currency_from_symbol(symbol.trim())?;
    let decimal = plain_decimal(&text[start..end])?;
    Money::from_decimal_str(&decimal, currency).ok()
}

/// No-break and narrow no-break spaces (French thousands separators) become plain spaces.
pub(crate) fn normalise_spaces(text: &str) -> String {
    text.chars()
        .map(|c| {
            if matches!(c, '\u{a0}' | '\u{202f}' | '\u{2009}') {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Byte range of the amount: from the first digit to the last digit, allowing the
/// separators `,` `.` and single spaces between digits.
fn number_span(text: &str) -> Option<(usize, usize)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let mut end = start;
    let bytes = text.as_bytes();
    let mut i = start;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_digit() {
            end = i + 1;
        } else if matches!(b, b',' | b'.' | b' ') {
            // A separator only counts when a digit follows it directly.
            if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                break;
            }
        } else {
            break;
        }
        i += 1;
    }
    Some((start, end))
}

/// The currency a symbol stands for on the marketplace. A bare `$` is the US dollar: the
/// English pages write every other dollar with a prefix (`CA$`, `A$`, `MX$`, `NZ$`).
fn currency_from_symbol(symbol: &str) -> Option<Currency> {
    let compact: String = symbol.chars().filter(|c| !c.is_whitespace()).collect();
    let known = match compact.as_str() {
        "$" | "US$" | "$US" | "USD" => Currency::USD,
        "€" | "EUR" => Currency::EUR,
        "£" | "£GB" | "GBP" => Currency::GBP,
        "¥" | "￥" | "JP¥" | "JPY" => Currency::JPY,
        "A$" | "AU$" | "$AU" | "AUD" => Currency::AUD,
        "CA$" | "C$" | "$CA" | "CAD" => Currency::CAD,
        "MX$" | "$MX" | "MXN" => Currency::MXN,
        "NZ$" | "$NZ" | "NZD" => Currency::NZD,
        "R$" | "BRL" => Currency::BRL,
        "R" | "ZAR" => Currency::ZAR,
        "CHF" => Currency::CHF,
        "SEK" | "kr" => Currency::SEK,
        other if other.len() == 3 && other.bytes().all(|b| b.is_ascii_uppercase()) => {
            Currency::new(other).ok()?
        }
        _ => return None,
    };
    Some(known)
}

/// Turns `9,000.00`, `10,99`, `1 234,00` or `¥1,200` into a plain `1234.00`.
///
/// The last `,` or `.` is the decimal mark unless exactly three digits follow it and it is
/// the only kind of separator, which is a thousands group (`1,200` yen, `1.000` euros):
/// no currency on Discogs has three minor digits, and two-decimal prices always show both.
fn plain_decimal(number: &str) -> Option<String> {
    let digits_only = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let Some(mark) = number.rfind([',', '.']) else {
        return Some(digits_only(number));
    };
    let (whole, fraction) = (&number[..mark], &number[mark + 1..]);
    let separator = number.as_bytes()[mark];
    let other_separator_seen = whole
        .bytes()
        .any(|b| matches!(b, b',' | b'.') && b != separator);
    if fraction.len() == 3 && !other_separator_seen {
        return Some(digits_only(number));
    }
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("{}.{}", digits_only(whole), fraction))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(text: &str) -> Option<(i64, &'static str)> {
        parse_localised_money(text).map(|m| {
            let code = match m.currency.as_str() {
                "USD" => "USD",
                "EUR" => "EUR",
                "GBP" => "GBP",
                "JPY" => "JPY",
                "AUD" => "AUD",
                "CAD" => "CAD",
                "MXN" => "MXN",
                "NZD" => "NZD",
                "BRL" => "BRL",
                "CHF" => "CHF",
                "SEK" => "SEK",
                "ZAR" => "ZAR",
                _ => "other",
            };
            (m.minor, code)
        })
    }

    #[test]
    fn reads_every_form_seen_on_the_pages() {
        assert_eq!(money("$9,000.00"), Some((900_000, "USD")));
        assert_eq!(money("€11,000.00"), Some((1_100_000, "EUR")));
        assert_eq!(money("£15.99"), Some((1599, "GBP")));
        assert_eq!(money("R$160.00"), Some((16_000, "BRL")));
        assert_eq!(money("10,99\u{a0}$US"), Some((1099, "USD")));
        assert_eq!(money("SEK 50.00"), Some((5000, "SEK")));
        assert_eq!(money("CHF 80.00"), Some((8000, "CHF")));
        assert_eq!(money("A$12.50"), Some((1250, "AUD")));
        assert_eq!(money("CA$30.00"), Some((3000, "CAD")));
        assert_eq!(money("MX$450.00"), Some((45_000, "MXN")));
        assert_eq!(money("NZ$19.00"), Some((1900, "NZD")));
        assert_eq!(money("¥1,200"), Some((1200, "JPY")));
        assert_eq!(money("¥980"), Some((980, "JPY")));
        assert_eq!(money("€1,000.00"), Some((100_000, "EUR")));
        assert_eq!(money("1\u{202f}234,56\u{a0}€"), Some((123_456, "EUR")));
        assert_eq!(money("  €258.58 "), Some((25_858, "EUR")));
    }

    #[test]
    fn refuses_what_is_not_a_price() {
        assert_eq!(money("no extra shipping"), None);
        assert_eq!(money(""), None);
        assert_eq!(money("12.00"), None);
        assert_eq!(money("12.00 Zorkmids"), None);
        assert_eq!(money("$"), None);
        assert_eq!(money("$1,2x"), None);
    }
}
