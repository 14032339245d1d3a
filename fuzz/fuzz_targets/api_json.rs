//! The Discogs API's JSON types on any bytes: profiles, releases, list pages (wants,
//! collections, inventories, versions), marketplace stats and listings. Bad input is an
//! error, never a panic.

#![no_main]

use cratedigger_discogs::api::{
    ApiListing, Identity, MarketplaceStats, MasterVersion, Page, Release, ReleaseEntry,
    UserProfile,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<UserProfile>(data);
    let _ = serde_json::from_slice::<Identity>(data);
    let _ = serde_json::from_slice::<Release>(data);
    let _ = serde_json::from_slice::<MarketplaceStats>(data);
    let _ = serde_json::from_slice::<ApiListing>(data);
    let _ = Page::<ReleaseEntry>::from_json(data);
    let _ = Page::<ApiListing>::from_json(data);
    let _ = Page::<MasterVersion>::from_json(data);
});
