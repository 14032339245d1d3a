//! `discogs-sim`: runs the simulator until Ctrl-C or SIGTERM.

use anyhow::Context;
use clap::Parser;
use cratedigger_discogs_sim::Application;
use cratedigger_discogs_sim::cli::SimArgs;

#[derive(Parser)]
#[command(
    name = "discogs-sim",
    about = "A local Discogs: API JSON and marketplace pages from a seeded world"
)]
struct Cli {
    #[command(flatten)]
    sim: SimArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let settings = Cli::parse().sim.into_settings();
    let host = settings.host.clone();
    let app = Application::build(settings)
        .await
        .context("starting the simulator")?;
    tracing::info!(address = %format!("http://{host}:{}", app.port()), "discogs simulator listening");
    app.run_until_stopped(shutdown_signal())
        .await
        .context("serving")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
