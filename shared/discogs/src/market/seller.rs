//! The seller column of a listing row: name, feedback, new-seller marker, ships-from.
//!
//! 2023 and later wrap the name in `div.seller_block`; 2020/2021 put it straight in the
//! first `li`; the simplified markup nests `strong` inside the link. All of them link the
//! name to `/seller/<name>/…`, which is what is read here.

use std::sync::LazyLock;

use cratedigger_domain::{Country, SellerName};
use scraper::{ElementRef, Selector};

use super::SellerSummary;
use super::html::{integer_in, own_text, selector, text_of};

struct SellerSelectors {
    profile_link: Selector,
    strong: Selector,
    feedback_link: Selector,
    link: Selector,
    item: Selector,
    label: Selector,
}

static SELECTORS: LazyLock<SellerSelectors> = LazyLock::new(|| SellerSelectors {
    profile_link: selector(r#"a[href*="/seller/"]"#),
    strong: selector("strong"),
    feedback_link: selector("a.section_link"),
    link: selector("a"),
    item: selector("li"),
    label: selector("span"),
});

#[cfg(test)]
pub(super) fn force_selectors() {
    LazyLock::force(&SELECTORS);
}

/// A seller known from the request (a seller's own page without the seller column).
pub(super) fn known_seller(name: SellerName, id: Option<u64>) -> SellerSummary {
    SellerSummary {
        name,
        id,
        rating_percent: None,
        ratings: None,
        is_new: false,
        ships_from: None,
    }
}

pub(super) fn read_seller(cell: ElementRef<'_>, id: Option<u64>) -> Option<SellerSummary> {
    let s = &*SELECTORS;
    let name = cell.select(&s.profile_link).find_map(|a| {
        let text = text_of(a);
        if !text.is_empty() {
            return Some(text);
        }
        let href = a.value().attr("href")?;
        let rest = &href[href.find("/seller/")? + "/seller/".len()..];
        rest.split('/')
            .next()
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
    })?;
    let rating_percent = cell
        .select(&s.strong)
        .find_map(|strong| percent(&text_of(strong)));
    let ratings = cell
        .select(&s.feedback_link)
        .next()
        .or_else(|| {
            cell.select(&s.link).find(|a| {
                let text = text_of(*a).to_lowercase();
                ["rating", "notes", "bewertung"]
                    .iter()
                    .any(|w| text.contains(w))
            })
        })
        .and_then(|a| integer_in(&text_of(a)));
    let whole = text_of(cell).to_lowercase();
    let is_new = whole.contains("new seller") || whole.contains("nouveau vendeur");
    Some(SellerSummary {
        name: SellerName::new(name),
        id,
        rating_percent,
        ratings,
        is_new,
        ships_from: ships_from(cell),
    })
}

/// `99.0%`, or `99,0 %` on French pages.
fn percent(text: &str) -> Option<f64> {
    let number = text.trim().strip_suffix('%')?.trim().replace(',', ".");
    let value: f64 = number.parse().ok()?;
    (0.0..=100.0).contains(&value).then_some(value)
}

/// The `li` whose label says "Ships From:" (French "Expédie depuis :"); the country is
/// the text beside the label.
fn ships_from(cell: ElementRef<'_>) -> Option<Country> {
    let s = &*SELECTORS;
    cell.select(&s.item).find_map(|li| {
        let labelled = li.select(&s.label).any(|span| {
            let label = text_of(span).to_lowercase();
            label.starts_with("ships from") || label.starts_with("expédie depuis")
        });
        let country = own_text(li);
        (labelled && !country.is_empty()).then(|| Country::new(&country))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_percentages_in_both_locales() {
        assert_eq!(percent("99.0%"), Some(99.0));
        assert_eq!(percent("99,5 %"), Some(99.5));
        assert_eq!(percent("100.0%"), Some(100.0));
        assert_eq!(percent("250%"), None);
        assert_eq!(percent("NaN%"), None);
        assert_eq!(percent("99.0"), None);
    }
}
