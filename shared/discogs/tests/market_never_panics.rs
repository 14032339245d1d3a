//! The page reader never panics: arbitrary HTML-ish text, and the real pages cut,
//! spliced and mutated at random, with random statuses and headers.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cratedigger_discogs::market::{MarketPage, PageContext, read_market_page};
use http::{HeaderMap, HeaderValue, StatusCode};
use proptest::prelude::*;

/// Fragments of real markup, so random documents reach deep into the row reader.
const FRAGMENTS: &[&str] = &[
    "<table class=\"mpitems\"><tbody>",
    "</tbody></table>",
    "<tr class=\"shortcut_navigable unavailable\" data-release-id=\"12\">",
    "<tr data-release-id=\"x9\">",
    "</tr>",
    "<td class=\"item_description\">",
    "<a class=\"item_description_title\" href=\"/sell/item/",
    "<a href=\"/sell/item/99999999999999999999999\">",
    "\">title</a>",
    "<p class=\"item_condition\"><span class=\"mplabel\">Media:</span><span>",
    "Near Mint (NM or M-)",
    "(",
    "<span class=\"item_sleeve_condition\">",
    "<i class=\"media-condition-tooltip\" data-condition=\"",
    "</span></p>",
    "<p class=\"hide_mobile\">comment</p>",
    "<p class=\"hide-desktop muted\">Unavailable in ",
    "<td class=\"seller_info\"><ul><li>",
    "<strong><a href=\"/seller/",
    "<a href=\"/seller/\">",
    "<strong>99.9%</strong>",
    "<strong>%</strong>",
    "<a class=\"section_link\">1,2,3 ratings</a>",
    "<li><span class=\"mplabel\">Ships From:</span>",
    "<td class=\"item_price\"><span class=\"price\" data-currency=",
    " data-pricevalue=",
    "<span class=\"price\">",
    "<span class=\" item_shipping\">+",
    "<button>shipping</button>",
    "$9,000.00",
    "10,99\u{a0}$US",
    "¥",
    "R$",
    "1.2.3,4,5",
    "<strong class=\"pagination_total\">",
    "1 – 25 of 6,466",
    "</strong>",
    "<div class=\"mprelease_info\"><ul><li><span>Median:</span>",
    "<title>Just a moment...</title>",
    "<input type=\"password\">",
    "challenge-platform",
    "<td class=\"item_add_to_cart\"><strong>Make Offer</strong>",
    "&nbsp;",
    "&#x0;",
    "<!--",
    "<script>",
    "\u{0}",
    "é",
    "</",
];

fn fragment_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
            1 => "\\PC{0,12}",
            1 => "[0-9.,%$€£ ]{0,8}",
        ],
        0..120,
    )
    .prop_map(|parts| parts.concat())
}

fn any_status() -> impl Strategy<Value = StatusCode> {
    prop_oneof![
        Just(StatusCode::OK),
        Just(StatusCode::FORBIDDEN),
        Just(StatusCode::NOT_FOUND),
        Just(StatusCode::TOO_MANY_REQUESTS),
        (100_u16..600).prop_map(|s| StatusCode::from_u16(s).unwrap()),
    ]
}

fn any_headers() -> impl Strategy<Value = HeaderMap> {
    prop::collection::vec(
        (
            prop::sample::select(vec!["cf-mitigated", "retry-after", "location", "x-other"]),
            "[ -~]{0,20}",
        ),
        0..4,
    )
    .prop_map(|pairs| {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(name, value);
            }
        }
        headers
    })
}

/// Reads and checks the invariant that holds for every input: an empty result always
/// comes with a pagination total of 0.
fn read_and_check(status: StatusCode, headers: &HeaderMap, body: &str) {
    let page = read_market_page(status, headers, body, &PageContext::default());
    if let MarketPage::Listings(listings) = page
        && listings.listings.is_empty()
    {
        assert_eq!(
            listings.range.map(|r| r.total),
            Some(0),
            "empty without saying so: {body:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_markup_never_panics(status in any_status(), headers in any_headers(), body in fragment_soup()) {
        read_and_check(status, &headers, &body);
    }

    #[test]
    fn arbitrary_text_never_panics(body in "\\PC{0,400}") {
        read_and_check(StatusCode::OK, &HeaderMap::new(), &body);
    }
}

/// Cuts a real page at `cut`, splices `insert` at `at` and flips bytes: what a truncated
/// or corrupted download looks like.
fn mutate(page: &str, cut: usize, at: usize, insert: &str, flips: &[(usize, u8)]) -> String {
    let mut bytes = page.as_bytes()[..cut.min(page.len())].to_vec();
    let at = at.min(bytes.len());
    bytes.splice(at..at, insert.bytes());
    let len = bytes.len();
    if len > 0 {
        for (position, value) in flips {
            bytes[position % len] = *value;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_real_pages_never_panic(
        page in 0..REAL_PAGES.len(),
        cut in any::<usize>(),
        at in any::<usize>(),
        insert in fragment_soup(),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..20),
    ) {
        let original = fixture(REAL_PAGES[page].0);
        let cut = cut % (original.len() + 1);
        let body = mutate(&original, cut, at, &insert, &flips);
        read_and_check(StatusCode::OK, &HeaderMap::new(), &body);
    }
}
