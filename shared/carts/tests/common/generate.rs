//! Random small instances exercising every criterion, from a seed.

use cratedigger_carts::{
    Candidate, CartCriteria, ConvertedPrice, Instance, Listing, Options, Origin, Seller,
    SellerRating, ShippingPolicy, UnknownShipping,
};
use cratedigger_domain::{
    Country, Currency, ListingId, MasterId, MediaCondition, Money, ReleaseId, SellerName,
    SleeveCondition,
};

/// SplitMix64: a tiny deterministic generator, so a failing seed reproduces exactly.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

pub fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

const COUNTRIES: [&str; 3] = ["Germany", "France", "Japan"];

/// Sizes of a random instance.
#[derive(Clone, Copy, Debug)]
pub struct Size {
    pub releases: u64,
    pub sellers: u64,
    pub listings: u64,
}

pub const SMALL: Size = Size {
    releases: 7,
    sellers: 4,
    listings: 18,
};
/// Still small enough to enumerate (at most 5^8 carts), with more offers per seller.
pub const RICH: Size = Size {
    releases: 8,
    sellers: 4,
    listings: 32,
};

/// Enough sellers that the multi-seller search bounds the cost of a proven score (more
/// than three sellers and dozens of seller sets), with few releases to enumerate.
pub const MANY_SELLERS: Size = Size {
    releases: 6,
    sellers: 20,
    listings: 44,
};

/// A random instance exercising every criterion, with scores and prices coarse enough to
/// produce ties.
pub fn random_case(seed: u64, size: Size) -> (Instance, CartCriteria, Options) {
    let mut rng = Rng::new(seed);
    let releases = 2 + rng.below(size.releases - 1);
    let candidates: Vec<Candidate> = (0..releases)
        .map(|r| Candidate {
            release: ReleaseId(100 + r),
            master: rng.chance(40).then(|| MasterId(900 + rng.below(2))),
            score: if rng.chance(50) {
                *rng.pick(&[0.0, 0.25, 0.5, 1.0])
            } else {
                rng.below(1_000_000) as f64 / 1e6
            },
            origin: if rng.chance(50) {
                Origin::Wantlist
            } else {
                Origin::Recommendation
            },
        })
        .collect();
    let sellers: Vec<Seller> = (0..1 + rng.below(size.sellers))
        .map(|s| {
            let first = rng.below(9) as i64 * 100;
            Seller {
                name: SellerName::new(format!("seller{s}")),
                rating: rng.chance(85).then(|| SellerRating {
                    percent: 97.0 + rng.below(4) as f64,
                    count: 10,
                }),
                ships_from: rng
                    .chance(85)
                    .then(|| Country::new(rng.pick::<&str>(&COUNTRIES))),
                shipping: rng.chance(95).then(|| {
                    let additional = if rng.chance(4) {
                        first + 100
                    } else {
                        rng.below(first as u64 + 1) as i64
                    };
                    ShippingPolicy::new(eur(first), eur(additional))
                }),
                min_order_total: rng.chance(25).then(|| eur(rng.below(40) as i64 * 100)),
            }
        })
        .collect();
    let seller_count = sellers.len() as u64;
    let listings: Vec<Listing> = (0..size.listings / 2 + rng.below(size.listings / 2 + 1))
        .map(|i| {
            let price = if rng.chance(50) {
                (1 + rng.below(30)) as i64 * 100
            } else {
                50 + rng.below(3_000) as i64
            };
            let foreign = rng.chance(10);
            // Now and then a listing for a release nobody asked for, or an unknown seller.
            let stray_release = u64::from(rng.chance(5));
            let stray_seller = u64::from(rng.chance(5));
            Listing {
                id: ListingId(1_000 + i * 3 + rng.below(3)),
                release: ReleaseId(100 + rng.below(releases + stray_release)),
                seller: SellerName::new(format!(
                    "seller{}",
                    rng.below(seller_count + stray_seller)
                )),
                price: if foreign {
                    Money::new(price, Currency::USD)
                } else {
                    eur(price)
                },
                converted: (foreign && rng.chance(70)).then(|| ConvertedPrice {
                    price: eur(price * 9 / 10),
                    rate: 0.9,
                    rate_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
                }),
                media: MediaCondition::ALL[rng.below(8) as usize],
                sleeve: match rng.below(4) {
                    0 => None,
                    1 => Some(SleeveCondition::Generic),
                    _ => Some(SleeveCondition::Graded(
                        MediaCondition::ALL[rng.below(8) as usize],
                    )),
                },
                available: rng.chance(95),
            }
        })
        .collect();

    let mut criteria = CartCriteria::with_budget(eur(1_000 + rng.below(12_000) as i64));
    if rng.chance(20) {
        criteria.min_media_condition = Some(MediaCondition::ALL[3 + rng.below(5) as usize]);
    }
    if rng.chance(10) {
        criteria.min_sleeve_condition = Some(MediaCondition::ALL[4 + rng.below(4) as usize]);
    }
    if rng.chance(15) {
        criteria.min_seller_rating = Some(96.0 + rng.below(4) as f64);
    }
    criteria.min_items = 1 + rng.below(3) as u32;
    if rng.chance(15) {
        criteria.max_item_price = Some(eur(500 + rng.below(2_500) as i64));
    }
    if rng.chance(10) {
        criteria.ships_from = vec![Country::new("germany"), Country::new("Japan")];
    } else if rng.chance(15) {
        criteria.ships_from_exclude = vec![Country::new("France")];
    }
    criteria.max_sellers = rng.chance(30).then(|| 1 + rng.below(3) as u32);
    criteria.any_pressing = rng.chance(40);
    criteria.carts_per_seller = 1 + rng.below(5) as u32;
    let options = Options {
        unknown_shipping: if rng.chance(50) {
            UnknownShipping::Assume(ShippingPolicy::new(eur(500), eur(150)))
        } else {
            UnknownShipping::Exclude
        },
        ..Options::default()
    };
    (
        Instance {
            candidates,
            listings,
            sellers,
        },
        criteria,
        options,
    )
}
