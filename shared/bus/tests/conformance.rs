//! The EventBus conformance suite against every adapter: the memory bus on tokio's paused
//! clock, and Pub/Sub on the emulator of `PUBSUB_EMULATOR_HOST` (project
//! `PUBSUB_PROJECT_ID`), each test under its own name prefix.

use std::sync::Arc;

use cratedigger_bus::conformance::{self, Case, Pace};
use cratedigger_bus::{MemoryBus, PubSubBus, PubSubSettings};
use cratedigger_testkit::{server_url, unique_name};

/// Every behaviour of the suite, handed to an adapter's test generator.
macro_rules! behaviours {
    ($adapter:ident) => {
        $adapter!(
            round_trip_keeps_data_and_attributes,
            the_largest_message_arrives_whole,
            fan_out_gives_each_subscription_a_copy,
            competing_consumers_share_a_subscription,
            late_subscription_misses_earlier_messages,
            concurrent_publishers_lose_nothing,
            nack_redelivers_with_the_next_attempt,
            leases_last_while_held_and_end_when_let_go,
            a_lease_ends_at_max_lease,
            a_stopped_subscriber_settles_what_it_holds_and_its_nacks_go_elsewhere,
            used_up_attempts_go_to_the_dead_letter_topic,
            ensure_is_idempotent,
            publishing_to_a_missing_topic_is_reported,
            invalid_names_are_rejected,
        );
    };
}

fn memory_case() -> Case {
    Case::new(
        Arc::new(MemoryBus::new()),
        unique_name("bus"),
        Pace::PAUSED_CLOCK,
    )
}

/// A Pub/Sub bus on the emulator under a fresh prefix; None skips (no emulator locally).
async fn pubsub_case() -> Option<Case> {
    let host = server_url("PUBSUB_EMULATOR_HOST")?;
    let project =
        std::env::var("PUBSUB_PROJECT_ID").unwrap_or_else(|_| "cratedigger-test".to_owned());
    let settings = PubSubSettings::new(project)
        .with_emulator_host(host)
        .with_name_prefix(format!("{}.", unique_name("bus")));
    let bus = PubSubBus::connect(settings)
        .await
        .expect("pub/sub clients for the emulator");
    Some(Case::new(Arc::new(bus), "conformance", Pace::REAL_SERVER))
}

macro_rules! memory {
    ($($behaviour:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(start_paused = true)]
                async fn $behaviour() {
                    super::conformance::$behaviour(super::memory_case()).await;
                }
            )*
        }
    };
}

macro_rules! pubsub {
    ($($behaviour:ident),* $(,)?) => {
        mod pubsub {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    if let Some(case) = super::pubsub_case().await {
                        super::conformance::$behaviour(case).await;
                    }
                }
            )*
        }
    };
}

behaviours!(memory);
behaviours!(pubsub);
