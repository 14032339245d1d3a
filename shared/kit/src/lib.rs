//! What every cratedigger service shares besides the ports: layered settings, logging
//! and tracing, the shutdown signal, the health and metrics endpoints, a typed event
//! publisher, and the worker loop that turns a subscription into idempotent handler calls
//! with retries, dead letters and a draining shutdown.

pub mod health;
pub mod job;
pub mod publish;
pub mod run;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
pub mod worker;

pub use health::Health;
pub use publish::Publisher;
pub use run::{Runnable, Task, run_all};
pub use shutdown::Shutdown;
pub use worker::{EventHandler, HandleError, Outcome, Worker, WorkerSettings, subscription};
