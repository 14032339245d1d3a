//! What a page says about the whole result: the `1 – 25 of 1,234` line and the release's
//! price statistics block.

use std::sync::LazyLock;

use scraper::{Html, Selector};

use super::html::{own_text, selector, text_of};
use super::money_text::parse_localised_money;
use super::{PageRange, PriceStats};

struct SummarySelectors {
    pagination_total: Selector,
    stats_item: Selector,
    label: Selector,
    link: Selector,
}

static SELECTORS: LazyLock<SummarySelectors> = LazyLock::new(|| SummarySelectors {
    pagination_total: selector("strong.pagination_total"),
    stats_item: selector(".mprelease_info li"),
    label: selector("span"),
    link: selector("a"),
});

#[cfg(test)]
pub(super) fn force_selectors() {
    LazyLock::force(&SELECTORS);
}

/// The first pagination line of the page, if it has one.
pub(super) fn page_range(document: &Html) -> Option<PageRange> {
    document
        .select(&SELECTORS.pagination_total)
        .find_map(|strong| range_from_text(&text_of(strong)))
}

/// `1 – 25 of 6,466`, `0 – 0 of 0`, `1 – 25 sur 1 234`: the first three numbers.
pub(super) fn range_from_text(text: &str) -> Option<PageRange> {
    let numbers = numbers_in(text);
    match numbers.as_slice() {
        [first, last, total, ..] if first <= last && last <= total => Some(PageRange {
            first: *first,
            last: *last,
            total: *total,
        }),
        _ => None,
    }
}

/// Integers in reading order; a `,` `.` or (no-break) space between a digit and a group
/// of exactly three digits is a thousands separator.
fn numbers_in(text: &str) -> Vec<u64> {
    let chars: Vec<char> = text.chars().collect();
    let mut numbers = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut digits = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c.is_ascii_digit() {
                digits.push(c);
                i += 1;
            } else if matches!(c, ',' | '.' | ' ' | '\u{a0}' | '\u{202f}')
                && chars
                    .get(i + 1..i + 4)
                    .is_some_and(|g| g.iter().all(char::is_ascii_digit))
                && !chars.get(i + 4).is_some_and(char::is_ascii_digit)
            {
                i += 1;
            } else {
                break;
            }
        }
        if let Ok(n) = digits.parse() {
            numbers.push(n);
        }
    }
    numbers
}

/// The "Lowest / Median / Highest / Last Sold" list of a release page.
pub(super) fn price_stats(document: &Html) -> Option<PriceStats> {
    let s = &*SELECTORS;
    let mut stats = PriceStats::default();
    let mut found = false;
    for item in document.select(&s.stats_item) {
        let Some(label) = item.select(&s.label).next().map(text_of) else {
            continue;
        };
        let value = own_text(item);
        match label.trim_end_matches(':').trim().to_lowercase().as_str() {
            "lowest" => stats.lowest = parse_localised_money(&value),
            "median" => stats.median = parse_localised_money(&value),
            "highest" => stats.highest = parse_localised_money(&value),
            "last sold" => {
                let date = item.select(&s.link).next().map(text_of).unwrap_or(value);
                stats.last_sold = Some(date).filter(|d| !d.is_empty());
            }
            _ => continue,
        }
        found = true;
    }
    found.then_some(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pagination_lines() {
        let range = |t| range_from_text(t).map(|r| (r.first, r.last, r.total));
        assert_eq!(range("1 – 25 of 6,466"), Some((1, 25, 6466)));
        assert_eq!(range("\n 1 &ndash; 2 of 2 "), Some((1, 2, 2)));
        assert_eq!(range("0 – 0 of 0"), Some((0, 0, 0)));
        assert_eq!(range("26 – 50 sur 1\u{a0}234"), Some((26, 50, 1234)));
        assert_eq!(range("1 – 25 of 1.234.567"), Some((1, 25, 1_234_567)));
        assert_eq!(range("of"), None);
        assert_eq!(range("30 – 25 of 10"), None);
    }
}
