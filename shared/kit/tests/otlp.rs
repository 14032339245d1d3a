//! Spans leave over OTLP (HTTP, protobuf) to a collector, and the trace context travels
//! with each event: the span that handles an event is a child of the span that published
//! it. The collector here is a real HTTP server decoding the OTLP protobuf request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use cratedigger_bus::{EventBus, MemoryBus, SubscriptionSpec};
use cratedigger_kit::telemetry::{LogFormat, OtlpExport, init};
use cratedigger_kit::{EventHandler, HandleError, Outcome, Publisher, Worker, WorkerSettings};
use cratedigger_proto::{Event, events};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::sync::mpsc;
use tracing::Instrument;

struct Handled;

#[async_trait]
impl EventHandler for Handled {
    type Event = events::JobRequested;

    async fn handle(&self, _event: events::JobRequested) -> Result<(), HandleError> {
        tracing::info_span!("profile.sync").in_scope(|| tracing::info!("synced"));
        Ok(())
    }
}

/// (service name, span) for every span the collector received.
async fn collect(
    State(spans): State<mpsc::UnboundedSender<(String, Span)>>,
    body: Bytes,
) -> Vec<u8> {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf request");
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.key == "service.name")
            .and_then(|a| a.value.as_ref()?.value.clone())
            .map(|v| match v {
                Value::StringValue(s) => s,
                other => format!("{other:?}"),
            })
            .unwrap_or_default();
        for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
            let _ = spans.send((service.clone(), span));
        }
    }
    Vec::new()
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            Value::IntValue(i) => Some(i.to_string()),
            other => Some(format!("{other:?}")),
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_as_one_trace_across_an_event() {
    let (sender, mut received) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(collect))
        .with_state(sender);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let export = OtlpExport {
        service_name: "cratedigger-test".to_owned(),
        endpoint: Some(format!("http://{address}/v1/traces")),
    };
    let telemetry = init(LogFormat::Pretty, Some(export)).unwrap();
    assert!(telemetry.exporting());

    let bus = MemoryBus::new();
    let dyn_bus: Arc<dyn EventBus> = Arc::new(bus.clone());
    let spec = SubscriptionSpec::new("test.job-requested", events::JobRequested::TOPIC);
    dyn_bus.ensure_subscription(&spec).await.unwrap();
    let event = events::JobRequested {
        job: Some(events::Job {
            id: "job-traced".into(),
            ..Default::default()
        }),
    };
    Publisher::new(dyn_bus.clone())
        .publish(&event)
        .instrument(tracing::info_span!("gateway.request"))
        .await
        .unwrap();

    let worker = Worker::new(Arc::new(Handled), dyn_bus, spec, WorkerSettings::default());
    let delivery = loop {
        if let Some(delivery) = bus.try_next("test.job-requested") {
            break delivery;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        delivery.attributes.contains_key("traceparent"),
        "{:?}",
        delivery.attributes
    );
    assert_eq!(worker.handle_one(delivery).await, Outcome::Acked);
    tokio::task::spawn_blocking(move || telemetry.flush())
        .await
        .unwrap();

    let mut spans = Vec::new();
    while spans.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(10), received.recv()).await {
            Ok(Some(span)) => spans.push(span),
            _ => panic!("the collector received only {spans:?}"),
        }
    }
    let find = |name: &str| {
        spans
            .iter()
            .map(|(_, s)| s)
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name}"))
    };
    let (request, handled, inner) = (find("gateway.request"), find("event"), find("profile.sync"));
    assert!(
        spans
            .iter()
            .all(|(service, _)| service == "cratedigger-test"),
        "{spans:?}"
    );
    // One trace: the request published the event, the worker's span continues it.
    assert_eq!(handled.trace_id, request.trace_id);
    assert_eq!(handled.parent_span_id, request.span_id);
    assert_eq!(inner.parent_span_id, handled.span_id);
    assert_eq!(attribute(handled, "job_id").as_deref(), Some("job-traced"));
    assert_eq!(
        attribute(handled, "event").as_deref(),
        Some(events::JobRequested::NAME)
    );
}
