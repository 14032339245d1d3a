//! The www.discogs.com side: marketplace pages and what stands in front of them.

pub mod challenge;
pub mod html;
mod listing_row;
pub mod protection;
pub mod sell_release;
