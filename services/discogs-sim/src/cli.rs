//! Command-line options, shared by the `discogs-sim` binary and any CLI that embeds the
//! simulator (flatten [`SimArgs`] into its own subcommand). Every option can also come
//! from a `DISCOGS_SIM_…` environment variable.

use std::time::Duration;

use clap::Args;
use cratedigger_domain::Currency;

use crate::settings::{RateLimitSettings, SellPageBudget, SimSettings, Viewer};
use crate::world::WorldSpec;

#[derive(Args, Clone, Debug)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, env = "DISCOGS_SIM_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "DISCOGS_SIM_PORT", default_value_t = 8089)]
    pub port: u16,
    /// Seed of the generated world: the same seed gives the same world.
    #[arg(long, env = "DISCOGS_SIM_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Simulated users (digger0001 …); they cost nothing until requested.
    #[arg(long, env = "DISCOGS_SIM_USERS", default_value_t = 1_000)]
    pub users: u32,
    #[arg(long, env = "DISCOGS_SIM_RELEASES", default_value_t = 5_000)]
    pub releases: u32,
    #[arg(long, env = "DISCOGS_SIM_SELLERS", default_value_t = 500)]
    pub sellers: u32,
    /// Latent taste clusters the users' lists are drawn from.
    #[arg(long, env = "DISCOGS_SIM_CLUSTERS", default_value_t = 8)]
    pub clusters: u16,
    /// Authenticated API requests per window.
    #[arg(long, env = "DISCOGS_SIM_RATE_AUTHENTICATED", default_value_t = 60)]
    pub rate_authenticated: u32,
    /// Anonymous API requests per window (per client IP).
    #[arg(long, env = "DISCOGS_SIM_RATE_ANONYMOUS", default_value_t = 25)]
    pub rate_anonymous: u32,
    /// Length of the moving rate-limit window, in seconds.
    #[arg(long, env = "DISCOGS_SIM_RATE_WINDOW_SECS", default_value_t = 60)]
    pub rate_window_secs: u64,
    /// Serve the API without any rate limit.
    #[arg(long, env = "DISCOGS_SIM_UNLIMITED")]
    pub unlimited: bool,
    /// Budget of the /sell pages: "unlimited", "shared" (with the API), or a number of
    /// pages per window per client IP.
    #[arg(long, env = "DISCOGS_SIM_SELL_PAGES", default_value = "unlimited", value_parser = parse_page_budget)]
    pub sell_pages: SellPageBudget,
    /// Country of the visitor the marketplace pages are drawn for.
    #[arg(long, env = "DISCOGS_SIM_VIEWER_COUNTRY", default_value = "Germany")]
    pub viewer_country: String,
    /// Currency of the visitor's price estimates.
    #[arg(long, env = "DISCOGS_SIM_VIEWER_CURRENCY", default_value = "EUR", value_parser = parse_currency)]
    pub viewer_currency: Currency,
    /// Answer plain clients on the web pages with a Cloudflare-style managed challenge,
    /// as www.discogs.com does since 2026 (a browser passes it; the API stays open).
    #[arg(long, env = "DISCOGS_SIM_CHALLENGE")]
    pub challenge: bool,
}

impl SimArgs {
    pub fn into_settings(self) -> SimSettings {
        let window = Duration::from_secs(self.rate_window_secs.max(1));
        let rate_limit = if self.unlimited {
            RateLimitSettings {
                window,
                ..RateLimitSettings::unlimited()
            }
        } else {
            RateLimitSettings {
                authenticated: Some(self.rate_authenticated),
                unauthenticated: Some(self.rate_anonymous),
                window,
            }
        };
        SimSettings {
            host: self.host,
            port: self.port,
            seed: self.seed,
            world: WorldSpec {
                users: self.users,
                releases: self.releases,
                sellers: self.sellers,
                clusters: self.clusters,
                ..WorldSpec::default()
            },
            rate_limit,
            sell_pages: self.sell_pages,
            viewer: Viewer {
                country: self.viewer_country,
                currency: self.viewer_currency,
            },
            web_challenge: self.challenge,
            ..SimSettings::default()
        }
    }
}

fn parse_page_budget(text: &str) -> Result<SellPageBudget, String> {
    match text.trim() {
        "unlimited" => Ok(SellPageBudget::Unlimited),
        "shared" => Ok(SellPageBudget::SharedWithApi),
        number => number
            .parse()
            .map(SellPageBudget::PerClient)
            .map_err(|_| format!("expected unlimited, shared or a number, got {number:?}")),
    }
}

fn parse_currency(text: &str) -> Result<Currency, String> {
    Currency::new(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    #[test]
    fn options_become_settings() {
        let cli = Cli::parse_from([
            "sim",
            "--port",
            "0",
            "--users",
            "100000",
            "--sell-pages",
            "30",
            "--unlimited",
        ]);
        let settings = cli.sim.into_settings();
        assert_eq!(settings.world.users, 100_000);
        assert_eq!(settings.sell_pages, SellPageBudget::PerClient(30));
        assert_eq!(settings.rate_limit.authenticated, None);
        let defaults = Cli::parse_from(["sim"]).sim.into_settings();
        assert_eq!(defaults.rate_limit, RateLimitSettings::discogs());
        assert!(Cli::try_parse_from(["sim", "--sell-pages", "lots"]).is_err());
    }
}
