//! What only the Pub/Sub adapter has: name prefixes that isolate deployments sharing a
//! project, and errors when the server cannot be reached.

use std::time::Duration;

use cratedigger_bus::{
    BusError, EventBus, OutgoingMessage, PubSubBus, PubSubSettings, SubscriptionSpec,
};
use cratedigger_testkit::{server_url, unique_name};

fn project() -> String {
    std::env::var("PUBSUB_PROJECT_ID").unwrap_or_else(|_| "cratedigger-test".to_owned())
}

async fn bus(host: &str, prefix: &str) -> PubSubBus {
    let settings = PubSubSettings::new(project())
        .with_emulator_host(host)
        .with_name_prefix(prefix);
    PubSubBus::connect(settings)
        .await
        .expect("pub/sub clients for the emulator")
}

#[tokio::test]
async fn prefixes_isolate_deployments_using_the_same_names() {
    let Some(host) = server_url("PUBSUB_EMULATOR_HOST") else {
        return;
    };
    let (blue, green) = (
        bus(&host, &unique_name("blue.")).await,
        bus(&host, &unique_name("green.")).await,
    );
    let spec = SubscriptionSpec::new("tracker.chunk-done", "cratedigger.chunk-done.v1");
    let mut blue_subscription = blue.subscribe(&spec).await.expect("blue subscription");
    let mut green_subscription = green.subscribe(&spec).await.expect("green subscription");

    blue.publish(&spec.topic, OutgoingMessage::new("for blue"))
        .await
        .expect("publish on blue");
    let delivery = tokio::time::timeout(Duration::from_secs(30), blue_subscription.next()).await;
    let delivery = delivery
        .expect("blue receives in time")
        .expect("blue stream")
        .expect("blue open");
    assert_eq!(&delivery.data[..], b"for blue");
    delivery.ack().await.expect("ack on blue");

    let stray = tokio::time::timeout(Duration::from_secs(2), green_subscription.next()).await;
    assert!(
        stray.is_err(),
        "green must not see blue's message: {stray:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_not_a_bad_name() {
    // Nothing listens on port 9 (discard) here, so every connection is refused.
    let settings = PubSubSettings::new(project())
        .with_emulator_host("127.0.0.1:9")
        .with_request_time_limit(Duration::from_secs(2));
    let bus = PubSubBus::connect(settings)
        .await
        .expect("clients are built without connecting");
    let started = std::time::Instant::now();
    let ensure = tokio::time::timeout(
        Duration::from_secs(30),
        bus.ensure_topic("cratedigger.x.v1"),
    )
    .await;
    assert!(
        matches!(ensure, Ok(Err(BusError::Unavailable(_)))),
        "ensure gave {ensure:?}"
    );
    let message = OutgoingMessage::new("x");
    let publish = tokio::time::timeout(
        Duration::from_secs(30),
        bus.publish("cratedigger.x.v1", message),
    )
    .await;
    assert!(
        matches!(publish, Ok(Err(BusError::Unavailable(_)))),
        "publish gave {publish:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the time limit was ignored: {:?}",
        started.elapsed()
    );
}
