//! Logs and spans through `tracing`: JSON lines in production, human-readable locally.
//! The filter comes from `RUST_LOG` (default `info`). Secrets never reach a span: fields
//! holding tokens are skipped where they are recorded.
//!
//! Spans are also exported over OTLP (HTTP, protobuf) when the standard OpenTelemetry
//! variables ask for it, and only then: `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) names the collector; `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_EXPORTER_OTLP_TIMEOUT`
//! are read as the specification says; `OTEL_SDK_DISABLED=true` or
//! `OTEL_TRACES_EXPORTER=none` turn it off. The W3C trace context travels with every event
//! (the `traceparent` attribute), so one job's work across services is one trace.
//!
//! [`init`] returns a [`Telemetry`] guard: flush it after the service has drained, so the
//! last spans leave before the process does.

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde::Deserialize;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// Where spans go over OTLP, when they go anywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpExport {
    /// The service name when `OTEL_SERVICE_NAME` does not give one.
    pub service_name: String,
    /// The full traces URL (`http://collector:4318/v1/traces`); `None` reads it from the
    /// standard variables.
    pub endpoint: Option<String>,
}

impl OtlpExport {
    /// What the standard variables ask for, given as a map (the process environment in
    /// [`OtlpExport::from_env`]). `Err` names a variable with a value this exporter
    /// cannot honour.
    pub fn from_variables(
        variables: &BTreeMap<String, String>,
        service_name: &str,
    ) -> Result<Option<Self>, String> {
        let get = |name: &str| {
            variables
                .get(name)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        if get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        match get("OTEL_TRACES_EXPORTER") {
            None | Some("otlp") => {}
            Some("none") => return Ok(None),
            Some(other) => {
                return Err(format!(
                    "OTEL_TRACES_EXPORTER={other}: only `otlp` and `none` are supported"
                ));
            }
        }
        // The traces setting, when given, overrides the general one.
        let protocol = [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ]
        .into_iter()
        .find_map(|variable| get(variable).map(|protocol| (variable, protocol)));
        if let Some((variable, protocol)) = protocol.filter(|(_, p)| *p != "http/protobuf") {
            return Err(format!(
                "{variable}={protocol}: spans are exported as http/protobuf only (the collector's port 4318)"
            ));
        }
        if get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none()
            && get("OTEL_EXPORTER_OTLP_ENDPOINT").is_none()
        {
            return Ok(None);
        }
        Ok(Some(Self {
            service_name: service_name.to_owned(),
            endpoint: None,
        }))
    }

    pub fn from_env(service_name: &str) -> Result<Option<Self>, String> {
        Self::from_variables(
            &std::env::vars()
                .filter(|(name, _)| name.starts_with("OTEL_"))
                .collect(),
            service_name,
        )
    }
}

/// The telemetry pipeline; [`Telemetry::flush`] sends what is still buffered.
#[must_use = "flush it when the process ends, or the last spans are lost"]
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends the spans still buffered and stops exporting (waits at most a few seconds).
    pub fn flush(self) {
        if let Some(provider) = self.provider {
            // The exporter blocks on its HTTP client: keep that off the async workers.
            let flushed =
                std::thread::spawn(move || provider.shutdown_with_timeout(Duration::from_secs(5)))
                    .join();
            if !matches!(flushed, Ok(Ok(()))) {
                tracing::warn!(outcome = ?flushed, "spans could not all be exported");
            }
        }
    }
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global subscriber once (later calls install nothing and export nothing;
/// tests call it freely), exporting spans when `otlp` says where. An exporter that cannot
/// be built (a malformed collector address) is an error naming the variables.
pub fn init(format: LogFormat, otlp: Option<OtlpExport>) -> Result<Telemetry, String> {
    let provider = otlp.map(|otlp| tracer_provider(&otlp)).transpose().map_err(|e| {
        format!(
            "OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: no span exporter: {}",
            without_credentials(&e.to_string())
        )
    })?;
    let logs = tracing_subscriber::fmt::layer().with_target(false);
    let logs = match format {
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_filter(filter())
            .boxed(),
        LogFormat::Pretty => logs.compact().with_filter(filter()).boxed(),
    };
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![logs];
    if let Some(provider) = &provider {
        let tracer = provider.tracer("cratedigger");
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(filter())
                .boxed(),
        );
    }
    if tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .is_err()
    {
        // Someone installed a subscriber first: spans would never reach this provider.
        return Ok(Telemetry::default());
    }
    if let Some(provider) = &provider {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        opentelemetry::global::set_tracer_provider(provider.clone());
    }
    Ok(Telemetry { provider })
}

/// `text` with the user and password of any URL in it masked (a collector address may
/// carry credentials).
fn without_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"')
            .unwrap_or(tail.len());
        match tail[..authority_end].rfind('@') {
            Some(userinfo) => {
                out.push_str("***");
                rest = &tail[userinfo..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

fn tracer_provider(
    otlp: &OtlpExport,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
    if let Some(endpoint) = &otlp.endpoint {
        exporter = exporter.with_endpoint(endpoint.clone());
    }
    let exporter = exporter.build()?;
    let mut resource = Resource::builder();
    let named =
        |variable: &str, holds: fn(&str) -> bool| std::env::var(variable).is_ok_and(|v| holds(&v));
    let service_named = named("OTEL_SERVICE_NAME", |v| !v.trim().is_empty())
        || named("OTEL_RESOURCE_ATTRIBUTES", |v| {
            v.split(',')
                .any(|pair| pair.trim_start().starts_with("service.name="))
        });
    if !service_named {
        resource = resource.with_service_name(otlp.service_name.clone());
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// For tests: logs only when `TEST_LOG` is set, so test output stays quiet by default.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = init(LogFormat::Pretty, None);
    }
}

/// Writes the current span's trace context into an event's attributes (nothing when spans
/// are not exported).
pub fn inject_trace_context(attributes: &mut BTreeMap<String, String>) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut Attributes(attributes))
    });
}

/// Makes `span` a child of the trace context an event's attributes carry, if any.
pub fn continue_trace(span: &tracing::Span, attributes: &BTreeMap<String, String>) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&ReadAttributes(attributes))
    });
    // Fails only when the span is disabled (filtered out): then there is nothing to link.
    let _ = span.set_parent(parent);
}

struct Attributes<'a>(&'a mut BTreeMap<String, String>);

impl Injector for Attributes<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct ReadAttributes<'a>(&'a BTreeMap<String, String>);

impl Extractor for ReadAttributes<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn export_is_on_only_when_a_collector_is_named() {
        assert_eq!(
            OtlpExport::from_variables(&variables(&[]), "market"),
            Ok(None)
        );
        let named = variables(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")]);
        assert_eq!(
            OtlpExport::from_variables(&named, "market"),
            Ok(Some(OtlpExport {
                service_name: "market".to_owned(),
                endpoint: None
            }))
        );
        let traces_only = variables(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://collector:4318/v1/traces",
        )]);
        assert!(
            OtlpExport::from_variables(&traces_only, "market")
                .unwrap()
                .is_some()
        );
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            let mut disabled = named.clone();
            disabled.insert(off.0.to_owned(), off.1.to_owned());
            assert_eq!(
                OtlpExport::from_variables(&disabled, "market"),
                Ok(None),
                "{off:?}"
            );
        }
    }

    #[test]
    fn credentials_in_addresses_are_masked() {
        assert_eq!(
            without_credentials(
                "invalid uri \"http://user:secret@collector:4318/v1/traces\" and https://h/x"
            ),
            "invalid uri \"http://***@collector:4318/v1/traces\" and https://h/x"
        );
        assert_eq!(without_credentials("no address"), "no address");
    }

    #[test]
    fn what_cannot_be_honoured_is_named() {
        let grpc = variables(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        let error = OtlpExport::from_variables(&grpc, "market").unwrap_err();
        assert!(
            error.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc"),
            "{error}"
        );
        let traces_grpc = variables(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ]);
        let error = OtlpExport::from_variables(&traces_grpc, "market").unwrap_err();
        assert!(
            error.starts_with("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc"),
            "{error}"
        );
        let overridden = variables(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ]);
        assert!(
            OtlpExport::from_variables(&overridden, "market")
                .unwrap()
                .is_some()
        );
        let zipkin = variables(&[("OTEL_TRACES_EXPORTER", "zipkin")]);
        assert!(
            OtlpExport::from_variables(&zipkin, "market")
                .unwrap_err()
                .contains("OTEL_TRACES_EXPORTER")
        );
    }
}
