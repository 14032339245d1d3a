//! Markup variants no real sample covers (tests/pages, see its README), and the pages that
//! are not listings: challenge, login wall, not found, unrecognised.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cratedigger_discogs::market::{
    Availability, MarketPage, PageContext, PageRange, Shipping, read_market_page,
};
use cratedigger_domain::{
    Country, ListingId, MediaCondition as M, ReleaseId, SellerName, SleeveCondition as S,
};
use http::{HeaderMap, HeaderValue, StatusCode};

#[test]
fn french_2020_page_without_data_attributes_reads() {
    let context = PageContext::release(ReleaseId(1_234_567));
    let page = listings(&built_page("fr_2020_sell_release.html"), &context);
    assert_eq!(
        page.range,
        Some(PageRange {
            first: 1,
            last: 3,
            total: 3
        })
    );
    assert_eq!(page.listings.len(), 3);

    let first = &page.listings[0];
    assert_eq!(first.id, ListingId(1_059_523_334), "/fr/sell/item/ link");
    assert_eq!(first.release_id, Some(ReleaseId(1_234_567)));
    assert_eq!(first.title, "Various - Trésors (LP, Comp)");
    assert_eq!(first.price, money(1099, "USD"), "10,99 $US");
    assert_eq!(
        first.shipping,
        Shipping::Amount(money(1000, "USD")),
        "+10,00 $US then a truck icon"
    );
    assert_eq!(
        (first.media, first.sleeve),
        (Some(M::NearMint), Some(S::Graded(M::VeryGoodPlus)))
    );
    let seller = first.seller.as_ref().unwrap();
    assert_eq!(seller.name, SellerName::new("disquaire_lyon"));
    assert_eq!(seller.id, Some(311));
    assert_eq!(
        (seller.rating_percent, seller.ratings),
        (Some(99.5), Some(914)),
        "99,5 % and 914 notes"
    );
    assert_eq!(
        seller.ships_from,
        Some(Country::new("France")),
        "Expédie Depuis:"
    );
    assert_eq!(
        first.comments.as_deref(),
        Some("Très bon état, pochette légèrement usée.")
    );
    assert!(first.offers_allowed, "Faire une offre / Détails");
    assert_eq!(first.availability, Availability::Available);

    let second = &page.listings[1];
    assert_eq!(second.price, money(125_000, "EUR"), "1 250,00 €");
    assert_eq!(second.shipping, Shipping::Amount(money(750, "EUR")));
    assert_eq!(second.sleeve, Some(S::Generic));
    assert_eq!(second.comments, None);
    assert_eq!(
        second.seller.as_ref().unwrap().ratings,
        Some(12_345),
        "12 345 notes"
    );
    assert!(!second.offers_allowed);

    let third = &page.listings[2];
    assert_eq!(third.price, money(1200, "JPY"));
    assert_eq!(third.shipping, Shipping::Amount(money(2000, "JPY")));
    assert_eq!((third.media, third.sleeve), (Some(M::GoodPlus), None));
}

#[test]
fn english_2023_variants_read() {
    let page = listings(
        &built_page("en_2023_unknown_shipping.html"),
        &PageContext::default(),
    );
    assert_eq!(
        page.range,
        Some(PageRange {
            first: 26,
            last: 30,
            total: 30
        })
    );
    assert_eq!(page.listings.len(), 4);
    assert_eq!(
        page.skipped.len(),
        1,
        "the row without a price is reported, not dropped silently"
    );
    assert_eq!(page.skipped[0].position, 3);
    assert!(
        page.skipped[0].reason.contains("2500000004"),
        "{}",
        page.skipped[0].reason
    );

    let unknown = &page.listings[0];
    assert_eq!(unknown.price, money(4500, "CAD"));
    assert_eq!(
        unknown.shipping,
        Shipping::Unknown,
        "+<button>shipping</button>"
    );
    assert_eq!(unknown.sleeve, Some(S::NoCover));
    assert!(unknown.offers_allowed);
    assert_eq!(unknown.seller.as_ref().unwrap().ratings, Some(1024));

    let new_seller = &page.listings[1];
    assert_eq!(new_seller.price, money(1200, "AUD"));
    assert_eq!(new_seller.shipping, Shipping::Amount(money(2500, "AUD")));
    assert_eq!(
        (new_seller.media, new_seller.sleeve),
        (Some(M::Fair), Some(S::NotGraded))
    );
    let seller = new_seller.seller.as_ref().unwrap();
    assert!(seller.is_new);
    assert_eq!(seller.rating_percent, None);

    let swiss = &page.listings[2];
    assert_eq!(swiss.price, money(8000, "CHF"));
    assert_eq!(swiss.shipping, Shipping::Amount(money(1250, "CHF")));
    assert_eq!(swiss.sleeve, None);

    let mexican = &page.listings[3];
    assert_eq!(
        (mexican.price, mexican.shipping),
        (money(45_000, "MXN"), Shipping::Amount(money(15_000, "MXN")))
    );
}

#[test]
fn a_seller_page_without_the_seller_column_takes_the_seller_from_the_context() {
    let body = built_page("en_2023_unknown_shipping.html")
        .replace("<td class=\"seller_info\">", "<td class=\"gone\">");
    let context = PageContext {
        release_id: None,
        seller: Some(SellerName::new("crate_king")),
    };
    let page = listings(&body, &context);
    assert!(
        page.listings
            .iter()
            .all(|l| l.seller.as_ref().unwrap().name.as_str() == "crate_king")
    );
}

fn classify(status: u16, headers: &[(&'static str, &'static str)], body: &str) -> MarketPage {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, HeaderValue::from_static(value));
    }
    read_market_page(
        StatusCode::from_u16(status).unwrap(),
        &map,
        body,
        &PageContext::default(),
    )
}

#[test]
fn cloudflare_challenges_are_recognised_never_read_as_empty() {
    let challenge = built_page("cloudflare_challenge.html");
    for status in [200, 403, 503] {
        assert!(
            matches!(
                classify(status, &[], &challenge),
                MarketPage::Challenge { .. }
            ),
            "{status}"
        );
    }
    // The header alone is enough, whatever the body says.
    let real = fixture(H5_2026_SELL_RELEASE);
    assert_eq!(
        classify(403, &[("cf-mitigated", "challenge")], &real),
        MarketPage::Challenge {
            evidence: "cf-mitigated header"
        }
    );
    // A challenge script without a title or listings table is still a challenge.
    let bare = "<html><body><script src=\"/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1\"></script></body></html>";
    assert!(matches!(
        classify(200, &[], bare),
        MarketPage::Challenge { .. }
    ));
    // A plain 403 without the table is bot protection too.
    assert!(matches!(
        classify(403, &[], "<html><body>Forbidden</body></html>"),
        MarketPage::Challenge { .. }
    ));
}

#[test]
fn login_walls_are_recognised() {
    assert_eq!(
        classify(200, &[], &built_page("login_wall.html")),
        MarketPage::LoginWall
    );
    assert_eq!(classify(401, &[], "<html></html>"), MarketPage::LoginWall);
    assert_eq!(
        classify(
            302,
            &[(
                "location",
                "https://www.discogs.com/login?return_to=%2Fsell"
            )],
            ""
        ),
        MarketPage::LoginWall
    );
}

#[test]
fn missing_pages_are_recognised() {
    assert_eq!(
        classify(404, &[], &built_page("not_found.html")),
        MarketPage::NotFound
    );
    assert_eq!(
        classify(200, &[], &built_page("not_found.html")),
        MarketPage::NotFound
    );
    assert_eq!(classify(404, &[], ""), MarketPage::NotFound);
}

#[test]
fn throttling_and_server_errors_are_reported_with_their_status() {
    assert_eq!(
        classify(429, &[("retry-after", "7")], ""),
        MarketPage::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(7))
        }
    );
    assert_eq!(
        classify(429, &[("retry-after", "soon")], ""),
        MarketPage::RateLimited { retry_after: None }
    );
    assert_eq!(
        classify(502, &[], "<html>bad gateway</html>"),
        MarketPage::ServerError { status: 502 }
    );
}

#[test]
fn anything_else_is_unrecognised_with_a_reason() {
    let MarketPage::Unrecognised { reason } = classify(200, &[], &built_page("unrecognised.html"))
    else {
        panic!("a release page is not a listings page");
    };
    assert!(
        reason.contains("no listings table") && reason.contains("Rick Astley"),
        "{reason}"
    );
    for body in ["", "<html></html>", "not html at all", "{\"json\": true}"] {
        assert!(
            matches!(classify(200, &[], body), MarketPage::Unrecognised { .. }),
            "{body:?}"
        );
    }
}

#[test]
fn an_empty_table_is_only_empty_when_the_page_says_zero() {
    let empty_rows = |total: &str| {
        format!(
            "<div id=\"pjax_container\"><strong class=\"pagination_total\">{total}</strong>\
             <table class=\"mpitems\"><tbody></tbody></table></div>"
        )
    };
    assert!(
        matches!(classify(200, &[], &empty_rows("0 – 0 of 0")), MarketPage::Listings(p) if p.listings.is_empty())
    );
    let MarketPage::Unrecognised { reason } = classify(200, &[], &empty_rows("1 – 25 of 340"))
    else {
        panic!("rows missing while the page counts 340 must not read as empty");
    };
    assert!(reason.contains("340"), "{reason}");
    let no_total = "<table class=\"mpitems\"><tbody></tbody></table>";
    assert!(matches!(
        classify(200, &[], no_total),
        MarketPage::Unrecognised { .. }
    ));
    // Rows that are all unreadable are a markup change, not an empty result.
    let unreadable = "<strong class=\"pagination_total\">1 – 1 of 1</strong><table class=\"mpitems\"><tr>\
        <td class=\"item_description\"><a href=\"/sell/item/1\">x</a></td></tr></table>";
    assert!(matches!(
        classify(200, &[], unreadable),
        MarketPage::Unrecognised { .. }
    ));
}
