//! Everything that talks to Discogs.
//!
//! Consumes the Discogs JSON API (`api.discogs.com`), the marketplace web pages
//! (`www.discogs.com/sell/release/{id}`), or the local simulator serving both, plus Redis
//! when several replicas share one request budget. Produces typed API responses, listings
//! read from marketplace pages, and typed errors that say whether retrying can help. Owns
//! the per-identity rate-limit bucket (a Redis hash, or memory when embedded); it stores
//! nothing else.
//!
//! - [`DiscogsClient`]: user profiles, wantlists, collections, releases, master versions,
//!   marketplace statistics, listings and inventories; OAuth 1.0a; marketplace pages
//!   through the [`ListingSource`] port. Every request waits for the shared limiter, sends
//!   the application's User-Agent, and retries 429/5xx with backoff and jitter.
//! - [`BrowserListingSource`]: the same pages through a real Chromium over the DevTools
//!   protocol, for a web host that challenges every plain client.
//! - [`market`]: the pure, synchronous page reader. [`market::read_market_page`] takes
//!   status, headers and body and tells listings from challenges, login walls, missing and
//!   unrecognised pages.
//! - [`ratelimit`]: [`RateLimiter`] with [`MemoryRateLimiter`] and [`RedisRateLimiter`]
//!   (GCRA, one atomic script), adapting to `X-Discogs-Ratelimit*` headers and 429s.
//! - [`Secret`]: credentials that print as `[redacted]`.

pub mod api;
pub mod browser;
pub mod market;
pub mod ratelimit;
mod secret;

pub use api::{Auth, ClientConfig, DiscogsClient, DiscogsError, ListingSource, PageRequest};
pub use browser::{BrowserListingSource, BrowserSettings};
pub use ratelimit::{
    MemoryRateLimiter, RateLimitPolicy, RateLimiter, RedisRateLimiter, SharedRateLimiter,
};
pub use secret::Secret;
