//! `cratedigger`: parses the command line and runs it; the work is in the library.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cratedigger::run(cratedigger::Cli::parse()).await
}
