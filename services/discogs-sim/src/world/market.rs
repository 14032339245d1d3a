//! Sellers and what they list: ratings, ships-from countries, shipping policies in the
//! seller's currency, minimum orders, and inventories with log-normal prices around each
//! release's reference price and a realistic spread of condition grades.

use std::collections::HashMap;

use cratedigger_domain::{Currency, ListingId, MediaCondition, Money, SleeveCondition};
use rand::Rng;

use super::catalog::{Catalog, Format, WORLD_NOW};
use super::currency::convert;
use super::random::{Stream, Zipf, log_normal, poisson, stream_rng, weighted_index};
use super::vocabulary::{self, CONDITION_COMMENTS, SELLER_COUNTRIES};

/// Listings the most popular release of a cluster gets (before noise); the rest fall off
/// with rank, so the long tail has one or none.
const TOP_RELEASE_LISTINGS: f64 = 100.0;

/// A seller's postage, in the seller's currency. The listing page shows the first-item
/// amount; each further item in one order adds `additional`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShippingPolicy {
    PerItem {
        first: i64,
        additional: i64,
    },
    /// Postage is included in the price ("+no extra shipping").
    NoExtra,
    /// The seller set no policy for the viewer's country: the page shows only a button.
    Unknown,
}

#[derive(Clone, Debug)]
pub struct Seller {
    pub id: u64,
    pub name: String,
    pub country: &'static str,
    pub currency: Currency,
    /// Positive feedback in tenths of a percent (998 = 99.8%); `None` for a new seller.
    pub rating_permille: Option<u16>,
    pub ratings: u32,
    pub shipping: ShippingPolicy,
    pub minimum_order: Option<i64>,
    /// Sellers that do not ship to the viewer's country show "Unavailable in …" rows.
    pub ships_to_viewer: bool,
    pub registered: i64,
}

impl Seller {
    pub fn rating_percent(&self) -> Option<f64> {
        self.rating_permille.map(|p| f64::from(p) / 10.0)
    }

    /// Star rating as the page draws it: the percentage over 20, down to a half star.
    pub fn stars(&self) -> f64 {
        self.rating_percent()
            .map_or(0.0, |p| (p / 20.0 * 2.0).floor() / 2.0)
    }

    pub fn money(&self, minor: i64) -> Money {
        Money::new(minor, self.currency)
    }
}

#[derive(Clone, Debug)]
pub struct Listing {
    pub id: ListingId,
    pub release: u32,
    pub seller: u32,
    /// In the seller's currency.
    pub price_minor: i64,
    pub media: MediaCondition,
    /// `None` when the seller left the sleeve ungraded field empty (common for CDs).
    pub sleeve: Option<SleeveCondition>,
    pub comment: Option<&'static str>,
    pub posted: i64,
    pub allow_offers: bool,
}

#[derive(Debug)]
pub struct Market {
    pub sellers: Vec<Seller>,
    pub listings: Vec<Listing>,
    /// Listing indices per release index.
    pub by_release: Vec<Vec<u32>>,
    /// Listing indices per seller index.
    pub by_seller: Vec<Vec<u32>>,
    seller_index: HashMap<String, u32>,
    listing_index: HashMap<ListingId, u32>,
}

impl Market {
    pub fn generate(seed: u64, catalog: &Catalog, seller_count: usize) -> Self {
        let mut rng = stream_rng(seed, Stream::Market, 0);
        let sellers: Vec<Seller> = (0..seller_count.max(1))
            .map(|i| make_seller(&mut rng, i))
            .collect();
        let seller_popularity = Zipf::new(sellers.len(), 0.8);
        let mut listings = Vec::new();
        let mut by_release = vec![Vec::new(); catalog.releases.len()];
        let mut by_seller = vec![Vec::new(); sellers.len()];
        let mut next_id = 1_000_000_000_u64;

        for (release_index, release) in catalog.releases.iter().enumerate() {
            // Popular releases are on sale many times over; the long tail keeps about
            // one copy each, and a third of it none.
            let expected = TOP_RELEASE_LISTINGS / f64::from(release.rank + 1).powf(0.75) + 1.0;
            let mean = log_normal(&mut rng, expected, 0.5);
            let count = poisson(&mut rng, mean);
            for _ in 0..count {
                let seller = seller_popularity.sample(&mut rng).unwrap_or(0) as u32;
                let media = draw_media(&mut rng);
                let price_usd = release.reference_price_usd_cents as f64
                    * condition_factor(media)
                    * log_normal(&mut rng, 1.0, 0.3);
                let currency = sellers[seller as usize].currency;
                next_id += rng.random_range(1..5_000);
                let listing = Listing {
                    id: ListingId(next_id),
                    release: release_index as u32,
                    seller,
                    price_minor: asking_price(&mut rng, price_usd, currency),
                    media,
                    sleeve: draw_sleeve(&mut rng, media, release.format),
                    comment: rng
                        .random_bool(0.7)
                        .then(|| CONDITION_COMMENTS[rng.random_range(0..CONDITION_COMMENTS.len())]),
                    posted: WORLD_NOW - rng.random_range(3_600..4 * 365 * 86_400),
                    allow_offers: rng.random_bool(0.3),
                };
                let index = listings.len() as u32;
                by_release[release_index].push(index);
                by_seller[seller as usize].push(index);
                listings.push(listing);
            }
        }
        let seller_index = sellers
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.to_lowercase(), i as u32))
            .collect();
        let listing_index = listings
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id, i as u32))
            .collect();
        Self {
            sellers,
            listings,
            by_release,
            by_seller,
            seller_index,
            listing_index,
        }
    }

    /// Discogs usernames are case-insensitive in URLs.
    pub fn seller_by_name(&self, name: &str) -> Option<(u32, &Seller)> {
        let index = *self.seller_index.get(&name.to_lowercase())?;
        Some((index, &self.sellers[index as usize]))
    }

    pub fn listing_by_id(&self, id: ListingId) -> Option<(u32, &Listing)> {
        let index = *self.listing_index.get(&id)?;
        Some((index, &self.listings[index as usize]))
    }
}

fn make_seller(rng: &mut impl Rng, index: usize) -> Seller {
    let weights: Vec<u32> = SELLER_COUNTRIES.iter().map(|(_, _, w)| *w).collect();
    let (country, currency, _) = SELLER_COUNTRIES[weighted_index(rng, &weights)];
    let is_new = rng.random_bool(0.08);
    let rating_permille = (!is_new).then(|| match weighted_index(rng, &[40, 35, 15, 10]) {
        0 => 1000,
        1 => rng.random_range(990..1000),
        2 => rng.random_range(970..990),
        _ => rng.random_range(850..970),
    });
    let ratings = if is_new {
        0
    } else {
        log_normal(rng, 300.0, 1.3).max(1.0) as u32
    };
    let shipping = match weighted_index(rng, &[85, 7, 8]) {
        0 => {
            let first_usd = log_normal(rng, 1_200.0, 0.5);
            let first = round_to_step(convert_usd(first_usd, currency), currency, 50);
            let additional =
                round_to_step(first as f64 * rng.random_range(0.15..0.5), currency, 50);
            ShippingPolicy::PerItem { first, additional }
        }
        1 => ShippingPolicy::NoExtra,
        _ => ShippingPolicy::Unknown,
    };
    let minimum_order = rng.random_bool(0.1).then(|| {
        let usd = [1_000.0, 2_000.0, 3_000.0][rng.random_range(0..3)];
        round_to_step(convert_usd(usd, currency), currency, 100)
    });
    Seller {
        id: 100_000 + index as u64 * 97 + rng.random_range(0..97),
        name: vocabulary::seller_name(rng, index),
        country,
        currency,
        rating_permille,
        ratings,
        shipping,
        minimum_order,
        ships_to_viewer: rng.random_bool(0.95),
        registered: WORLD_NOW - rng.random_range(86_400..15 * 365 * 86_400),
    }
}

/// Grade mix seen on the marketplace: mostly VG+ and NM, a thin tail of worn copies.
fn draw_media(rng: &mut impl Rng) -> MediaCondition {
    use MediaCondition::*;
    const GRADES: [MediaCondition; 8] = [
        Mint,
        NearMint,
        VeryGoodPlus,
        VeryGood,
        GoodPlus,
        Good,
        Fair,
        Poor,
    ];
    GRADES[weighted_index(rng, &[4, 28, 36, 18, 8, 4, 1, 1])]
}

fn draw_sleeve(
    rng: &mut impl Rng,
    media: MediaCondition,
    format: Format,
) -> Option<SleeveCondition> {
    let no_grade_share = if matches!(format, Format::Cd | Format::Cassette) {
        0.35
    } else {
        0.06
    };
    if rng.random_bool(no_grade_share) {
        return None;
    }
    match weighted_index(rng, &[84, 8, 3, 5]) {
        0 => {
            let step_down = rng.random_range(0..3_u8);
            let rank = media.rank().saturating_sub(step_down).max(1);
            MediaCondition::ALL
                .iter()
                .find(|g| g.rank() == rank)
                .map(|g| SleeveCondition::Graded(*g))
        }
        1 => Some(SleeveCondition::Generic),
        2 => Some(SleeveCondition::NoCover),
        _ => Some(SleeveCondition::NotGraded),
    }
}

fn condition_factor(media: MediaCondition) -> f64 {
    match media {
        MediaCondition::Mint => 1.6,
        MediaCondition::NearMint => 1.3,
        MediaCondition::VeryGoodPlus => 1.0,
        MediaCondition::VeryGood => 0.7,
        MediaCondition::GoodPlus => 0.5,
        MediaCondition::Good => 0.35,
        MediaCondition::Fair => 0.25,
        MediaCondition::Poor => 0.15,
    }
}

fn convert_usd(usd_cents: f64, to: Currency) -> f64 {
    convert(Money::new(usd_cents.round() as i64, Currency::USD), to).minor as f64
}

/// Rounds to a step of minor units (50 = half a euro); zero-decimal currencies round to
/// a hundred units instead (¥100).
fn round_to_step(minor: f64, currency: Currency, step: i64) -> i64 {
    let step = if currency.minor_digits() == 0 {
        100
    } else {
        step
    };
    ((minor / step as f64).round() as i64 * step).max(step)
}

/// Sellers price like people: 12.99, 15.00, 1,200 yen.
fn asking_price(rng: &mut impl Rng, usd_cents: f64, currency: Currency) -> i64 {
    let rounded = round_to_step(convert_usd(usd_cents, currency), currency, 100);
    if currency.minor_digits() > 0 && rng.random_bool(0.5) {
        rounded - 1
    } else {
        rounded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_follow_popularity_and_mix_currencies() {
        let catalog = Catalog::generate(3, 2_000, 4);
        let market = Market::generate(3, &catalog, 200);
        assert!(market.listings.len() > 1_000, "{}", market.listings.len());
        let top: usize = catalog
            .by_cluster
            .iter()
            .map(|m| market.by_release[m[0] as usize].len())
            .sum();
        let empty = market.by_release.iter().filter(|l| l.is_empty()).count();
        assert!(top > 100, "top releases have {top} listings");
        assert!(empty > 100, "{empty} releases have nothing for sale");
        let currencies: std::collections::HashSet<_> =
            market.sellers.iter().map(|s| s.currency).collect();
        assert!(currencies.len() >= 5);
        assert!(market.sellers.iter().any(|s| s.rating_permille.is_none()));
        assert!(
            market
                .sellers
                .iter()
                .any(|s| s.shipping == ShippingPolicy::Unknown)
        );
        assert!(market.sellers.iter().any(|s| s.minimum_order.is_some()));
        assert!(market.listings.iter().any(|l| l.sleeve.is_none()));
        let (_, seller) = market
            .seller_by_name(&market.sellers[5].name.to_uppercase())
            .unwrap();
        assert_eq!(seller.id, market.sellers[5].id);
    }

    #[test]
    fn stars_round_down_to_half_stars() {
        let mut rng = stream_rng(1, Stream::Market, 1);
        let mut seller = make_seller(&mut rng, 0);
        seller.rating_permille = Some(988);
        assert_eq!(seller.stars(), 4.5);
        seller.rating_permille = Some(846);
        assert_eq!(seller.stars(), 4.0);
        seller.rating_permille = Some(1000);
        assert_eq!(seller.stars(), 5.0);
    }
}
