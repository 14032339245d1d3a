//! The `cratedigger` command.
//!
//! - `up`: every service in one process, on the backends the settings name (embedded by
//!   default: no servers). `up --sim` also starts the Discogs simulator, syncs a corpus of
//!   simulated users through the pipeline, trains a model, and serves the gateway.
//! - `serve <service>`: one service, as one process of a deployment.
//! - `train`, `crawl`, `migrate`, `fx import`: one-off work against the configured backends.
//! - `pubsub provision`: every topic and subscription of the mesh, before the services.
//! - `probe <url>`: a container health check (the runtime image has no curl).
//! - `sim`: the Discogs simulator alone.
//!
//! Settings come from `--config FILE` (TOML) and `APP_*` environment variables.

pub mod crawl;
pub mod fx;
pub mod probe;
pub mod provision;
pub mod services;
pub mod settings;
pub mod train;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use cratedigger_backends::Backends;
use cratedigger_discogs_sim::cli::SimArgs;
use cratedigger_kit::{Health, Runnable, Shutdown, Task, run_all};

pub use services::Service;
pub use settings::AppSettings;

#[derive(Debug, Parser)]
#[command(
    name = "cratedigger",
    version,
    about = "Records you will love, and the cheapest way to buy them"
)]
pub struct Cli {
    /// A TOML settings file; `APP_*` environment variables override it.
    #[arg(long, global = true, env = "CRATEDIGGER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every service in one process.
    Up(UpArgs),
    /// Run one service, on the backends its settings name.
    Serve { service: Service },
    /// Train a model on every stored interaction now.
    Train,
    /// Sync many users' profiles through the pipeline so the trainer has a corpus.
    Crawl(CrawlArgs),
    /// Apply the catalog's migrations.
    Migrate,
    /// Foreign exchange rates for converting listing prices.
    Fx {
        #[command(subcommand)]
        command: FxCommand,
    },
    /// Manage the Pub/Sub resources of a deployment.
    Pubsub {
        #[command(subcommand)]
        command: PubsubCommand,
    },
    /// Exit 0 if the URL answers 2xx (a health check for containers).
    Probe {
        url: String,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
    /// Run the Discogs simulator.
    Sim(SimArgs),
}

#[derive(Debug, Subcommand)]
pub enum FxCommand {
    /// Store euro reference rates in the European Central Bank's layouts (CSV:
    /// `eurofxref.csv`, `eurofxref-hist.csv`; XML: `eurofxref-daily.xml`,
    /// `eurofxref-hist-90d.xml`, `eurofxref-hist.xml`), from a file, `-` (standard input) or
    /// an http(s) URL.
    Import { source: String },
}

#[derive(Debug, Subcommand)]
pub enum PubsubCommand {
    /// Create every topic, every subscription of every service (with its dead-letter
    /// policy) and a subscription on every dead-letter topic; idempotent.
    Provision,
}

#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Start the Discogs simulator, sync simulated users, train, then serve.
    #[arg(long)]
    pub sim: bool,
    /// With --sim: how many simulated users to sync before training.
    #[arg(long, default_value_t = 200)]
    pub users: usize,
    /// The gateway's port (overrides the settings).
    #[arg(long)]
    pub port: Option<u16>,
    /// With --sim: the simulator's seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Stop once the corpus is trained instead of serving (for scripted checks).
    #[arg(long)]
    pub exit_after_setup: bool,
    /// With --sim: serve the marketplace pages without today's bot challenge. By default
    /// the simulator challenges them as www.discogs.com does, and only the browser
    /// source (a local Chromium) gets through.
    #[arg(long)]
    pub no_challenge: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CrawlArgs {
    /// A file of usernames, one per line.
    #[arg(long, conflicts_with = "sim_users")]
    pub users_file: Option<PathBuf>,
    /// The first N users of the simulator at the configured Discogs API address.
    #[arg(long)]
    pub sim_users: Option<usize>,
    /// How long to wait for the sync jobs, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
}

pub fn load_settings(config: Option<&std::path::Path>) -> anyhow::Result<AppSettings> {
    let settings: AppSettings = cratedigger_kit::settings::load(config)?;
    settings.gateway.check().map_err(anyhow::Error::msg)?;
    Ok(settings)
}

async fn connect(settings: &AppSettings) -> anyhow::Result<Backends> {
    let wait = Duration::from_secs(settings.wait_for_backends_seconds.max(1));
    let backends = Backends::connect(&settings.backends, wait).await?;
    backends.migrate().await?;
    Ok(backends)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // A health check runs every few seconds: no settings, no logging set-up.
    if let Command::Probe { url, timeout } = &cli.command {
        return probe::probe(url, Duration::from_secs(*timeout)).await;
    }
    let mut settings = load_settings(cli.config.as_deref())?;
    let service_name = match &cli.command {
        Command::Serve { service } => format!("cratedigger-{}", service.name()),
        _ => "cratedigger".to_owned(),
    };
    let otlp = cratedigger_kit::telemetry::OtlpExport::from_env(&service_name)
        .map_err(anyhow::Error::msg)?;
    let telemetry = cratedigger_kit::telemetry::init(settings.telemetry.format, otlp)
        .map_err(anyhow::Error::msg)?;
    let outcome = execute(cli.command, &mut settings).await;
    // After the services drained: the last spans leave before the process does.
    telemetry.flush();
    outcome
}

async fn execute(command: Command, settings: &mut AppSettings) -> anyhow::Result<()> {
    match command {
        Command::Up(args) => up(settings, args).await,
        Command::Serve { service } => serve(settings, service).await,
        Command::Train => {
            let backends = connect(settings).await?;
            let trained = train::train(&backends, &settings.trainer, true).await?;
            println!(
                "model {} trained on {} users x {} releases ({} interactions) in {:.1} s",
                trained.version,
                trained.users,
                trained.items,
                trained.interactions,
                trained.fit_seconds
            );
            Ok(())
        }
        Command::Crawl(args) => {
            let backends = connect(settings).await?;
            let users = match (&args.users_file, args.sim_users) {
                (Some(file), _) => crawl::users_from_file(file)?,
                (None, Some(n)) => {
                    crawl::users_from_simulator(&settings.backends.discogs.api_url, n).await?
                }
                (None, None) => anyhow::bail!("give --users-file or --sim-users"),
            };
            let outcome =
                crawl::crawl(&backends, &users, Duration::from_secs(args.timeout), true).await?;
            println!(
                "{} profiles synced, {} failed",
                outcome.succeeded, outcome.failed
            );
            Ok(())
        }
        Command::Migrate => {
            connect(settings).await?;
            println!("catalog migrated");
            Ok(())
        }
        Command::Fx {
            command: FxCommand::Import { source },
        } => {
            // The file is read and checked before any backend is touched.
            let rates = fx::parse_rates(&fx::read_source(&source).await?)
                .with_context(|| format!("reading rates from {source}"))?;
            let wait = Duration::from_secs(settings.wait_for_backends_seconds.max(1));
            let catalog = cratedigger_backends::connect_catalog(
                &settings.backends.catalog,
                std::time::Instant::now() + wait,
            )
            .await?;
            catalog.migrate().await.context("migrating the catalog")?;
            let imported = fx::import(catalog.as_ref(), &rates).await?;
            println!(
                "{} rates stored for {} currencies, {} to {}",
                imported.rates, imported.currencies, imported.first, imported.last
            );
            Ok(())
        }
        Command::Pubsub {
            command: PubsubCommand::Provision,
        } => provision::provision_pubsub(settings).await.map(drop),
        Command::Probe { .. } => Ok(()),
        Command::Sim(args) => {
            let sim = cratedigger_discogs_sim::Application::build(args.into_settings())
                .await
                .context("starting the simulator")?;
            tracing::info!(port = sim.port(), "discogs simulator listening");
            sim.run_until_stopped(cratedigger_kit::shutdown::signal())
                .await
                .context("serving the simulator")
        }
    }
}

/// One service of a deployment, until SIGTERM (or Ctrl-C) and its in-flight work drained.
///
/// Every service answers `/healthz`, `/readyz` and `/metrics` on the health port (the
/// gateway also answers the first two on its own port) from the start to the end: alive but not
/// ready while start-up waits for the servers, ready while it serves, not ready again as
/// soon as the signal comes and while the workers drain, so an orchestrator neither routes
/// work to it nor restarts it for being slow to stop.
pub async fn serve(settings: &AppSettings, service: Service) -> anyhow::Result<()> {
    let shutdown = Shutdown::new();
    shutdown.on_signals();
    let health = Health::new(service.name());
    let endpoints = HealthEndpoints::start(&settings.health, &health).await?;
    let served = tokio::select! {
        connected = connect(settings) => match connected {
            Ok(backends) => run_service(service, &backends, settings, &health, shutdown).await,
            Err(e) => Err(e),
        },
        () = shutdown.wait() => {
            tracing::info!(service = service.name(), "stopped while waiting for the backends");
            Ok(())
        }
    };
    endpoints.stop().await;
    served
}

/// Runs `service` on connected `backends` until `shutdown` fires and every task has
/// drained. `health` is ready from when the tasks run until `shutdown` fires; the caller
/// serves its endpoints (the gateway serves them itself).
pub async fn run_service(
    service: Service,
    backends: &Backends,
    settings: &AppSettings,
    health: &Health,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let tasks = services::tasks(service, backends, settings, health);
    let subscriptions = tasks
        .iter()
        .filter_map(|task| task.subscription())
        .collect();
    let wait = Duration::from_secs(settings.wait_for_backends_seconds);
    tokio::select! {
        ensured = ensure_subscriptions(backends, subscriptions, wait) => ensured?,
        () = shutdown.wait() => {
            tracing::info!(service = service.name(), "stopped while waiting for the backends");
            return Ok(());
        }
    }
    tracing::info!(service = service.name(), "serving");
    if service != Service::Gateway {
        health.ready_until(&shutdown);
    }
    // A service whose tasks all ended on their own (a trainer without a schedule has none)
    // stays up until the signal; a failed task fires `shutdown` itself.
    let (ran, ()) = tokio::join!(run_all(tasks, shutdown.clone()), shutdown.wait());
    if ran.is_ok() {
        tracing::info!(service = service.name(), "drained, stopping");
    }
    ran
}

/// Creates `subscriptions` (and their topics), once the bus answers. Connecting to Pub/Sub
/// sends nothing, so this is where a service first meets it: it waits with backoff, as for
/// the other servers. (It takes the subscriptions, not the tasks, which are not `Sync`.)
async fn ensure_subscriptions(
    backends: &Backends,
    subscriptions: Vec<cratedigger_bus::SubscriptionSpec>,
    wait: Duration,
) -> anyhow::Result<()> {
    if let Some(first) = subscriptions.first() {
        provision::wait_for_bus(backends.bus.as_ref(), &first.topic, wait)
            .await
            .context("connecting to pub/sub")?;
    }
    for spec in &subscriptions {
        backends
            .bus
            .ensure_subscription(spec)
            .await
            .with_context(|| format!("creating subscription {}", spec.name))?;
    }
    Ok(())
}

/// The health and metrics endpoints of a service, served on their own schedule: they
/// outlive the service's shutdown signal and stop only when told.
pub struct HealthEndpoints {
    stop: Shutdown,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl HealthEndpoints {
    /// Binds the health port of `listen` and serves `health` there.
    pub async fn start(listen: &settings::Listen, health: &Health) -> anyhow::Result<Self> {
        let listener = listen.bind().await.context("binding the health port")?;
        tracing::info!(address = %listener.local_addr()?, "health and metrics listening");
        Ok(Self::serve(listener, health))
    }

    /// Serves `health` on a bound `listener` (tests bind port 0).
    pub fn serve(listener: tokio::net::TcpListener, health: &Health) -> Self {
        let stop = Shutdown::new();
        let serving = tokio::spawn(cratedigger_kit::health::serve(
            listener,
            health.router(),
            stop.clone(),
        ));
        Self { stop, serving }
    }

    /// Stops serving, letting requests in flight finish.
    pub async fn stop(self) {
        self.stop.trigger();
        match self.serving.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the health endpoints failed"),
            Err(e) => tracing::warn!(error = %e, "the health endpoints task failed"),
        }
    }
}

/// Every service in one process: what a newcomer runs.
pub async fn up(settings: &mut AppSettings, args: UpArgs) -> anyhow::Result<()> {
    if let Some(port) = args.port {
        settings.gateway.port = port;
    }
    let shutdown = Shutdown::new();
    shutdown.on_signals();
    let mut background = Vec::new();
    if args.sim {
        let sim = start_simulator(settings, &args).await?;
        background.push(sim);
    }
    let backends = connect(settings).await?;
    let health = Health::new("cratedigger");
    let endpoints = HealthEndpoints::start(&settings.health, &health).await?;
    let mut tasks = services::all_tasks(&backends, settings, &health);
    let subscriptions = tasks
        .iter()
        .filter_map(|task| task.subscription())
        .collect();
    ensure_subscriptions(
        &backends,
        subscriptions,
        Duration::from_secs(settings.wait_for_backends_seconds),
    )
    .await?;
    tasks.extend(background);
    let running = tokio::spawn(run_all(tasks, shutdown.clone()));
    if args.sim {
        let setup = async {
            let users =
                crawl::users_from_simulator(&settings.backends.discogs.api_url, args.users).await?;
            let outcome = crawl::crawl(&backends, &users, Duration::from_secs(600), true).await?;
            tracing::info!(
                synced = outcome.succeeded,
                failed = outcome.failed,
                "corpus synced"
            );
            let trained = train::train(&backends, &settings.trainer, true).await?;
            tracing::info!(version = %trained.version, users = trained.users, releases = trained.items, "model trained");
            anyhow::Ok(users)
        };
        let users = tokio::select! {
            users = setup => users?,
            () = shutdown.wait() => Vec::new(),
        };
        if let Some(example) = users.first() {
            let address = format!("http://{}:{}", settings.gateway.host, settings.gateway.port);
            println!("\ncratedigger is up at {address}");
            println!(
                "the simulated Discogs is at {}",
                settings.backends.discogs.api_url
            );
            println!(
                "try: curl -s -X POST {address}/api/v1/jobs -H 'content-type: application/json' -d '{{\"kind\":\"recommendations\",\"username\":\"{example}\"}}'"
            );
        }
        if args.exit_after_setup {
            shutdown.trigger();
        }
    }
    let ran = running.await.context("the services stopped unexpectedly");
    endpoints.stop().await;
    ran?
}

/// Says at start-up, rather than in every carts job, that no source can pass the
/// simulator's challenge.
fn warn_without_a_browser(settings: &AppSettings) {
    let market = &settings.market;
    let browser_listed = market
        .sources
        .contains(&cratedigger_market::SourceKind::Browser);
    if !browser_listed {
        tracing::warn!(
            "the simulator challenges its marketplace pages and market.sources has no browser: carts jobs will find them blocked (add \"browser\", or run up --sim --no-challenge)"
        );
    } else if market
        .browser
        .url
        .as_deref()
        .is_none_or(|url| url.trim().is_empty())
        && cratedigger_discogs::browser::local_chromium(&market.browser).is_none()
    {
        tracing::warn!(
            "no chromium found for the browser source: carts jobs will find the simulator's marketplace pages blocked (install chromium, set market.browser.executable, or run up --sim --no-challenge)"
        );
    }
}

/// Starts the simulator in this process and points the Discogs settings at it.
async fn start_simulator(
    settings: &mut AppSettings,
    args: &UpArgs,
) -> anyhow::Result<Box<dyn Runnable>> {
    let mut sim_settings = cratedigger_discogs_sim::SimSettings {
        seed: args.seed,
        web_challenge: !args.no_challenge,
        ..Default::default()
    };
    if sim_settings.web_challenge {
        warn_without_a_browser(settings);
    }
    // The demo should not wait on Discogs' real budget; benchmarks set their own.
    sim_settings.rate_limit.authenticated = None;
    sim_settings.rate_limit.unauthenticated = None;
    let sim = cratedigger_discogs_sim::Application::build(sim_settings)
        .await
        .context("starting the simulator")?;
    let base = format!("http://127.0.0.1:{}", sim.port());
    tracing::info!(address = %base, "discogs simulator started");
    let discogs = &mut settings.backends.discogs;
    discogs.api_url = base.clone();
    discogs.web_url = base;
    discogs.token.get_or_insert_with(|| "demo-token".into());
    discogs.requests_per_minute.get_or_insert(6_000);
    Ok(Task::new(
        "discogs-sim",
        move |shutdown: Shutdown| async move {
            sim.run_until_stopped(async move { shutdown.wait().await })
                .await
                .map_err(anyhow::Error::from)
        },
    ))
}
