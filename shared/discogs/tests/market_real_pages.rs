//! Every real marketplace page in the fixtures, read into the rows a person reads on it.
//! Expectations were written by reading each page's HTML, not by running the parser.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use cratedigger_discogs::market::{
    Availability, Listing, MarketPage, PageContext, PageRange, SellerSummary, Shipping,
};
use cratedigger_domain::{
    Country, ListingId, MediaCondition as M, ReleaseId, SellerName, SleeveCondition as S,
};

fn seller(
    name: &str,
    id: Option<u64>,
    rating: f64,
    ratings: u64,
    from: &str,
) -> Option<SellerSummary> {
    Some(SellerSummary {
        name: SellerName::new(name),
        id,
        rating_percent: Some(rating),
        ratings: Some(ratings),
        is_new: false,
        ships_from: Some(Country::new(from)),
    })
}

#[test]
fn every_real_page_has_its_listings() {
    for (file, count) in REAL_PAGES {
        let page = listings(&fixture(file), &PageContext::default());
        assert_eq!(page.listings.len(), count, "{file}");
        assert!(page.skipped.is_empty(), "{file}: {:?}", page.skipped);
    }
}

#[test]
fn page_2026_reads_field_by_field() {
    let page = listings(&fixture(H5_2026_SELL_RELEASE), &PageContext::default());
    assert_eq!(
        page.range,
        Some(PageRange {
            first: 1,
            last: 2,
            total: 2
        })
    );
    let stats = page.price_stats.expect("release pages show statistics");
    assert_eq!(stats.lowest, Some(money(25_858, "EUR")));
    assert_eq!(stats.median, Some(money(48_450, "EUR")));
    assert_eq!(stats.highest, Some(money(149_900, "EUR")));
    assert_eq!(stats.last_sold.as_deref(), Some("10 Nov 22"));
    let title = "Charanjit Singh - Synthesizing - Ten Ragas To A Disco Beat (LP, Album, RE)";
    assert_eq!(
        page.listings[0],
        Listing {
            id: ListingId(4_112_342_466),
            release_id: Some(ReleaseId(2_247_646)),
            title: title.to_owned(),
            price: money(900_000, "USD"),
            shipping: Shipping::NoExtra,
            media: Some(M::VeryGoodPlus),
            sleeve: Some(S::Graded(M::VeryGoodPlus)),
            seller: seller("kgrecords1976", Some(21_255_325), 84.6, 28, "United States"),
            availability: Availability::Available,
            comments: Some("Sleeve is remade Record VG++".to_owned()),
            offers_allowed: true,
        }
    );
    assert_eq!(
        page.listings[1],
        Listing {
            id: ListingId(431_584_673),
            release_id: Some(ReleaseId(2_247_646)),
            title: title.to_owned(),
            price: money(1_100_000, "EUR"),
            shipping: Shipping::Amount(money(1400, "EUR")),
            media: Some(M::NearMint),
            sleeve: Some(S::Graded(M::NearMint)),
            seller: seller("johanz", Some(24_710), 98.8, 166, "Netherlands"),
            availability: Availability::Available,
            comments: Some(
                "perfect copy, was found in a shop, unplayed and as new (only a bit of raging is noticeable)"
                    .to_owned()
            ),
            offers_allowed: false,
        }
    );
}

#[test]
fn trimmed_2026_row_with_statistics_reads_field_by_field() {
    let page = listings(&fixture(H6_2026_ONE_ROW), &PageContext::default());
    assert_eq!(page.range, None, "the trimmed page kept no pagination");
    let stats = page.price_stats.unwrap();
    assert_eq!(
        (stats.lowest, stats.median, stats.highest),
        (
            Some(money(1999, "EUR")),
            Some(money(2187, "EUR")),
            Some(money(31_249, "EUR"))
        )
    );
    assert_eq!(
        page.listings[0],
        Listing {
            id: ListingId(2_085_508_604),
            release_id: Some(ReleaseId(42_424_242)),
            title: "John Doe and Band - 1995 (LP, Ltd, Mixtape, Whi)".to_owned(),
            price: money(2499, "USD"),
            shipping: Shipping::Amount(money(2400, "USD")),
            media: Some(M::Mint),
            sleeve: Some(S::Graded(M::Mint)),
            seller: seller("John Doe", Some(966_843), 100.0, 240, "United States"),
            availability: Availability::Available,
            comments: None,
            offers_allowed: false,
        }
    );
}

#[test]
fn page_2023_reads_field_by_field() {
    let page = listings(&fixture(H3_2023_SELL_RELEASE), &PageContext::default());
    assert_eq!(
        page.range,
        Some(PageRange {
            first: 1,
            last: 2,
            total: 2
        })
    );
    assert_eq!(page.price_stats.unwrap().median, Some(money(3160, "EUR")));
    let expected = [
        (
            2_142_025_490,
            16_000,
            22_000,
            M::VeryGood,
            M::VeryGoodPlus,
            "ErlonSilva",
            5_584_267,
            98.6,
            72,
            "Em ótimas condições",
        ),
        (
            1_506_778_963,
            16_800,
            25_000,
            M::VeryGoodPlus,
            M::VeryGoodPlus,
            "ChicoeZicoSP",
            4_616_786,
            93.9,
            2043,
            "it is playing very well, there are some marks.",
        ),
    ];
    for (listing, (id, price, ship, media, sleeve, name, seller_id, rating, ratings, comment)) in
        page.listings.iter().zip(expected)
    {
        assert_eq!(
            *listing,
            Listing {
                id: ListingId(id),
                release_id: Some(ReleaseId(10_105_811)),
                title: "Jode (3) - Jode (LP, Album)".to_owned(),
                price: money(price, "BRL"),
                shipping: Shipping::Amount(money(ship, "BRL")),
                media: Some(media),
                sleeve: Some(S::Graded(sleeve)),
                seller: seller(name, Some(seller_id), rating, ratings, "Brazil"),
                availability: Availability::Available,
                comments: Some(comment.to_owned()),
                offers_allowed: false,
            }
        );
    }
}

#[test]
fn sell_list_2021_rows_read_field_by_field() {
    let page = listings(&fixture(H2_2021_SELL_LIST), &PageContext::default());
    assert_eq!(
        page.range,
        Some(PageRange {
            first: 1,
            last: 25,
            total: 6466
        })
    );
    assert_eq!(
        page.price_stats, None,
        "an artist's list has no release statistics"
    );
    let rows = &page.listings;
    assert_eq!(
        rows[0],
        Listing {
            id: ListingId(1_355_412_541),
            release_id: Some(ReleaseId(13_273_183)),
            title: "In Flames - I, The Mask (CD, Album, Ltd, Dig)".to_owned(),
            price: money(1599, "GBP"),
            shipping: Shipping::Amount(money(799, "GBP")),
            media: Some(M::Mint),
            sleeve: Some(S::Graded(M::Mint)),
            seller: seller(
                "Kmria-Records",
                Some(5_602_215),
                99.0,
                2354,
                "United Kingdom"
            ),
            availability: Availability::Available,
            comments: Some("Brand New Sealed".to_owned()),
            offers_allowed: false,
        }
    );
    // The comment continues in a hidden span behind a "show more" button.
    assert!(rows[10].comments.as_deref().unwrap().ends_with(
        "CD unplayed. Sleeve with light ringwear and some visual mark on cover. Top copy. Rare."
    ));
    assert_eq!(
        rows[11],
        Listing {
            id: ListingId(1_392_645_232),
            release_id: Some(ReleaseId(3_797_509)),
            title: "In Flames - The Jester Race ~ Black-Ash Inheritance (CD, Comp, RE, Sup)".to_owned(),
            price: money(999, "USD"),
            shipping: Shipping::Unknown,
            media: Some(M::VeryGoodPlus),
            sleeve: Some(S::Graded(M::VeryGoodPlus)),
            seller: seller("firebird_records", Some(4_952_262), 100.0, 7, "United States"),
            availability: Availability::Unavailable { buyer_country: Some(Country::new("France")) },
            comments: Some(
                "Disc and artwork are like new. Hole punch through the barcode. Hype sticker on the front of the jewel case."
                    .to_owned()
            ),
            offers_allowed: false,
        }
    );
    assert!(rows[12].offers_allowed, "DieselRecords accepts offers");
    assert_eq!(
        rows[12].comments, None,
        "an empty comment paragraph is no comment"
    );
    assert_eq!(rows[21].sleeve, Some(S::Generic));
    assert_eq!(
        rows[24].shipping,
        Shipping::Amount(money(100_000, "EUR")),
        "+€1,000.00"
    );
    let available = rows
        .iter()
        .filter(|l| l.availability == Availability::Available)
        .count();
    assert_eq!(available, 24);
}

/// Key fields of all 25 rows: id, release, price, shipping, media, sleeve, seller.
#[test]
fn sell_list_2021_every_row() {
    use Shipping::{Amount as Ship, Unknown};
    let gbp = |m| money(m, "GBP");
    let eur = |m| money(m, "EUR");
    let usd = |m| money(m, "USD");
    #[rustfmt::skip]
    let expected = [
        (1_355_412_541, 13_273_183, gbp(1599), Ship(gbp(799)), M::Mint, S::Graded(M::Mint), "Kmria-Records"),
        (1_077_233_730, 9_340_479, gbp(1599), Ship(gbp(1305)), M::Mint, S::Graded(M::Mint), "Kmria-Records"),
        (1_355_408_596, 11_078_475, gbp(1899), Ship(gbp(1300)), M::Mint, S::Graded(M::Mint), "Kmria-Records"),
        (1_077_233_731, 9_076_824, gbp(3499), Ship(gbp(1300)), M::Mint, S::Graded(M::Mint), "Kmria-Records"),
        (1_066_244_057, 9_076_824, gbp(3499), Ship(gbp(1300)), M::Mint, S::Graded(M::Mint), "Kmria-Records"),
        (1_066_244_056, 9_340_479, gbp(1599), Ship(gbp(1305)), M::Mint, S::Graded(M::Mint), "Kmria-Records"),
        (1_077_228_148, 9_076_824, gbp(3499), Ship(gbp(1500)), M::Mint, S::Graded(M::Mint), "recordcorneruk"),
        (1_077_228_146, 9_340_479, gbp(1599), Ship(gbp(1500)), M::Mint, S::Graded(M::Mint), "recordcorneruk"),
        (1_061_540_196, 9_076_824, gbp(3499), Ship(gbp(1500)), M::Mint, S::Graded(M::Mint), "recordcorneruk"),
        (1_061_540_137, 9_340_479, gbp(1599), Ship(gbp(1500)), M::Mint, S::Graded(M::Mint), "recordcorneruk"),
        (1_312_289_737, 4_136_292, eur(630), Ship(eur(700)), M::Mint, S::Graded(M::VeryGoodPlus), "KingOfCollectors"),
        (1_392_645_232, 3_797_509, usd(999), Unknown, M::VeryGoodPlus, S::Graded(M::VeryGoodPlus), "firebird_records"),
        (1_467_090_907, 2_167_270, gbp(399), Ship(gbp(900)), M::VeryGood, S::Graded(M::VeryGoodPlus), "DieselRecords"),
        (1_419_664_084, 562_522, usd(275), Ship(usd(1100)), M::VeryGood, S::Graded(M::GoodPlus), "selcukaltintas"),
        (628_414_107, 6_889_243, eur(699), Ship(eur(1300)), M::NearMint, S::Graded(M::NearMint), "johnantmoo"),
        (163_228_876, 680_169, eur(400), Ship(eur(1300)), M::NearMint, S::Graded(M::Mint), "johnantmoo"),
        (1_467_047_260, 13_280_068, gbp(2200), Ship(gbp(1000)), M::NearMint, S::Graded(M::NearMint), "FlashbackLondon"),
        (1_422_958_759, 15_851_712, eur(19_999), Ship(eur(2300)), M::Mint, S::Graded(M::Mint), "the-label"),
        (971_937_545, 1_903_739, eur(1999), Ship(eur(1300)), M::Mint, S::Graded(M::Mint), "the-label"),
        (971_932_093, 381_232, eur(1499), Ship(eur(1300)), M::Mint, S::Graded(M::Mint), "the-label"),
        (1_422_887_020, 2_597_872, eur(25_000), Ship(eur(1900)), M::NearMint, S::Graded(M::NearMint), "the-label"),
        (1_041_726_705, 2_087_459, eur(19_999), Ship(eur(1900)), M::NearMint, S::Generic, "the-label"),
        (978_742_325, 6_088_246, eur(4900), Ship(eur(1300)), M::Mint, S::Graded(M::Mint), "the-label"),
        (1_113_592_929, 2_082_464, eur(7500), Ship(eur(1300)), M::Mint, S::Graded(M::Mint), "the-label"),
        (1_051_073_422, 9_073_347, eur(890), Ship(eur(100_000)), M::Mint, S::Graded(M::Mint), "Leche_ma_hache"),
    ];
    let page = listings(&fixture(H2_2021_SELL_LIST), &PageContext::default());
    assert_eq!(page.listings.len(), expected.len());
    for (listing, (id, release, price, shipping, media, sleeve, name)) in
        page.listings.iter().zip(expected)
    {
        let got = (
            listing.id.0,
            listing.release_id.map(|r| r.0),
            listing.price,
            listing.shipping,
            listing.media,
            listing.sleeve,
            listing.seller.as_ref().map(|s| s.name.as_str()),
        );
        assert_eq!(
            got,
            (
                id,
                Some(release),
                price,
                shipping,
                Some(media),
                Some(sleeve),
                Some(name)
            ),
            "row {id}"
        );
        let seller = listing.seller.as_ref().unwrap();
        assert!(
            seller.rating_percent.is_some()
                && seller.ratings.is_some()
                && seller.ships_from.is_some()
        );
    }
}

#[test]
fn the_empty_release_page_is_an_empty_result() {
    let page = listings(
        &fixture(H7_2026_EMPTY),
        &PageContext::release(ReleaseId(35_886_547)),
    );
    assert!(page.listings.is_empty());
    assert_eq!(
        page.range,
        Some(PageRange {
            first: 0,
            last: 0,
            total: 0
        })
    );
}

/// The synthetic page covers edge cases in simplified markup: no row classes, grades in
/// bare spans, the seller name inside `a > strong`, an "Unavailable in" paragraph.
#[test]
fn synthetic_edge_cases_read() {
    let context = PageContext::release(ReleaseId(42));
    let page = listings(&fixture(H8_SYNTHETIC), &context);
    let rows = &page.listings;
    assert!(
        rows.iter().all(|l| l.release_id == Some(ReleaseId(42))),
        "release from the context"
    );
    assert_eq!(
        rows[0],
        Listing {
            id: ListingId(100_000_001),
            release_id: Some(ReleaseId(42)),
            title: "Test Release - VG+ copy".to_owned(),
            price: money(2500, "EUR"),
            shipping: Shipping::Amount(money(450, "EUR")),
            media: Some(M::VeryGoodPlus),
            sleeve: Some(S::Graded(M::VeryGood)),
            seller: seller("CoolSeller", None, 99.5, 1234, "Germany"),
            availability: Availability::Available,
            comments: Some("Plays nicely. Light surface marks.".to_owned()),
            offers_allowed: false,
        }
    );
    assert_eq!(
        rows[1].availability,
        Availability::Unavailable {
            buyer_country: Some(Country::new("Germany"))
        }
    );
    assert_eq!(rows[1].price, money(4000, "GBP"));
    let new_seller = rows[2].seller.as_ref().unwrap();
    assert!(new_seller.is_new);
    assert_eq!(
        (new_seller.rating_percent, new_seller.ratings),
        (None, None)
    );
    assert_eq!(rows[2].shipping, Shipping::NoExtra, "+free shipping");
    assert_eq!(rows[2].sleeve, Some(S::Generic));
    assert_eq!(rows[3].sleeve, None, "media graded alone");
    assert_eq!(
        rows[3].shipping,
        Shipping::Amount(money(5000, "SEK")),
        "+SEK 50.00"
    );
    assert_eq!(rows[4].price, money(800, "EUR"));
    assert_eq!(
        rows[4].seller.as_ref().unwrap().ships_from,
        Some(Country::new("France"))
    );
}

#[test]
fn real_pages_with_bot_scripts_and_login_links_are_still_listings() {
    // H5 was fetched in 2026 with Cloudflare's bot-detection script and a "Log In" link.
    let body = fixture(H5_2026_SELL_RELEASE);
    assert!(body.contains("challenge-platform") && body.contains("Log In"));
    assert!(matches!(
        read_ok(&body, &PageContext::default()),
        MarketPage::Listings(_)
    ));
}
