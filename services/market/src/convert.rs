//! Listings read from marketplace pages, as catalog rows.

use std::collections::BTreeMap;

use cratedigger_catalog::{Listing, Seller};
use cratedigger_discogs::market::{Availability, Listing as PageListing, Shipping};
use cratedigger_domain::{Money, ReleaseId, SellerName};

/// The first-item shipping a listing shows: the amount, nothing extra, or unknown.
fn shipping_of(listing: &PageListing) -> Option<Money> {
    match listing.shipping {
        Shipping::Amount(amount) => Some(amount),
        Shipping::NoExtra => Some(Money::zero(listing.price.currency)),
        Shipping::Unknown => None,
    }
}

/// The catalog rows of a release's listings. Rows with no seller, or that name another
/// release, are left out (and logged): they cannot be bought as this release.
pub fn listings_of(release: ReleaseId, listings: &[PageListing]) -> Vec<Listing> {
    listings
        .iter()
        .filter_map(|l| {
            let Some(seller) = &l.seller else {
                tracing::warn!(%release, listing = %l.id, "listing without a seller left out");
                return None;
            };
            if l.release_id.is_some_and(|r| r != release) {
                tracing::warn!(%release, listing = %l.id, other = ?l.release_id, "listing of another release left out");
                return None;
            }
            Some(Listing {
                id: l.id,
                release_id: release,
                seller: seller.name.clone(),
                price: l.price,
                shipping: shipping_of(l),
                media: l.media,
                sleeve: l.sleeve,
                comments: l.comments.clone(),
                available: matches!(l.availability, Availability::Available),
                first_seen: None,
                last_seen: None,
                gone_at: None,
            })
        })
        .collect()
}

/// The sellers behind the listings, once each. A seller's first-item shipping is the
/// lowest its listings show (they normally all show the same); what each further item
/// costs and the minimum order are not on the page, so they are left as stored.
pub fn sellers_of(listings: &[PageListing]) -> Vec<Seller> {
    let mut sellers: BTreeMap<SellerName, Seller> = BTreeMap::new();
    for listing in listings {
        let Some(summary) = &listing.seller else {
            continue;
        };
        let shipping = shipping_of(listing);
        let seller = sellers
            .entry(summary.name.clone())
            .or_insert_with(|| Seller {
                name: summary.name.clone(),
                rating: if summary.is_new {
                    None
                } else {
                    summary.rating_percent.map(|p| p as f32)
                },
                ratings_count: summary.ratings.map(|n| n.min(u64::from(u32::MAX)) as u32),
                ships_from: summary.ships_from.clone(),
                shipping_first: shipping,
                shipping_additional: None,
                min_order_total: None,
            });
        if let (Some(known), Some(new)) = (seller.shipping_first, shipping) {
            if known.currency == new.currency && new.minor < known.minor {
                seller.shipping_first = Some(new);
            }
        } else if seller.shipping_first.is_none() {
            seller.shipping_first = shipping;
        }
    }
    sellers.into_values().collect()
}

#[cfg(test)]
mod tests {
    use cratedigger_discogs::market::SellerSummary;
    use cratedigger_domain::{Country, Currency, ListingId, MediaCondition};

    use super::*;

    fn listing(id: u64, seller: &str, price: i64, shipping: Shipping) -> PageListing {
        PageListing {
            id: ListingId(id),
            release_id: Some(ReleaseId(7)),
            title: "Artist - Title (LP)".into(),
            price: Money::new(price, Currency::EUR),
            shipping,
            media: Some(MediaCondition::VeryGoodPlus),
            sleeve: None,
            seller: Some(SellerSummary {
                name: SellerName::new(seller),
                id: None,
                rating_percent: Some(99.5),
                ratings: Some(1200),
                is_new: false,
                ships_from: Some(Country::new("Germany")),
            }),
            availability: Availability::Available,
            comments: None,
            offers_allowed: false,
        }
    }

    #[test]
    fn shipping_shown_becomes_the_sellers_first_item_shipping() {
        let rows = [
            listing(
                1,
                "a",
                1000,
                Shipping::Amount(Money::new(500, Currency::EUR)),
            ),
            listing(
                2,
                "a",
                1500,
                Shipping::Amount(Money::new(450, Currency::EUR)),
            ),
            listing(3, "b", 900, Shipping::NoExtra),
            listing(4, "c", 900, Shipping::Unknown),
        ];
        let sellers = sellers_of(&rows);
        let by_name = |n: &str| sellers.iter().find(|s| s.name.as_str() == n).cloned();
        assert_eq!(sellers.len(), 3);
        assert_eq!(
            by_name("a").and_then(|s| s.shipping_first),
            Some(Money::new(450, Currency::EUR))
        );
        assert_eq!(
            by_name("b").and_then(|s| s.shipping_first),
            Some(Money::zero(Currency::EUR))
        );
        assert_eq!(by_name("c").and_then(|s| s.shipping_first), None);
        assert_eq!(by_name("a").and_then(|s| s.rating), Some(99.5));
    }

    #[test]
    fn rows_without_a_seller_or_of_another_release_are_left_out() {
        let mut orphan = listing(1, "a", 1000, Shipping::NoExtra);
        orphan.seller = None;
        let mut other = listing(2, "a", 1000, Shipping::NoExtra);
        other.release_id = Some(ReleaseId(8));
        let mut unavailable = listing(3, "a", 1000, Shipping::NoExtra);
        unavailable.availability = Availability::Unavailable {
            buyer_country: None,
        };
        let rows = listings_of(
            ReleaseId(7),
            &[
                orphan,
                other,
                unavailable,
                listing(4, "b", 800, Shipping::Unknown),
            ],
        );
        assert_eq!(rows.iter().map(|r| r.id.0).collect::<Vec<_>>(), vec![3, 4]);
        assert!(!rows[0].available);
        assert_eq!(rows[1].shipping, None);
    }
}
