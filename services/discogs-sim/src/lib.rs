//! A local Discogs for demos, tests and benchmarks.
//!
//! Consumes a [`SimSettings`] (seed, world size, rate limits, page budget) and a TCP
//! listener. Produces the Discogs API JSON (profiles, wantlists, collections, releases,
//! masters, marketplace stats, listings, inventories) and the marketplace HTML pages
//! (`/sell/release/{id}`), in the shapes of the real responses kept in
//! `shared/datasets/discogs-fixtures`, plus a control API under `/_sim/` (users, stats,
//! mutations, fault injection). With [`SimSettings::web_challenge`] the web pages sit
//! behind a Cloudflare-style managed challenge, as www.discogs.com does since 2026: a plain
//! client gets 403 `cf-mitigated: challenge`, a browser that runs the page's script gets
//! through. Owns a world generated deterministically from the seed:
//! the same seed gives the same releases, listings and users on every machine.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cratedigger_discogs_sim::{Application, SimSettings};
//! let app = Application::build(SimSettings::default()).await?;
//! println!("listening on {}", app.port());
//! app.run_until_stopped(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod app;
pub mod cli;
pub mod faults;
pub mod http;
pub mod limiter;
mod pages;
pub mod settings;
pub mod simulation;
pub mod stats;
pub mod world;

pub use app::{Application, Background, StartError};
pub use faults::{FaultKind, FaultRule};
pub use pages::challenge::{CLEARANCE_COOKIE, solve as solve_challenge};
pub use settings::{PaginationSettings, RateLimitSettings, SellPageBudget, SimSettings, Viewer};
pub use world::WorldSpec;
