//! What the authority counts, for Prometheus: requests by service, result and `codRetour`,
//! their latency, open connections, sign-ins, faults on purpose; and, read when scraped, the
//! registry's writer, its size, certificates by state and the CRL's age.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A request answered: which service, whether accepted, and the `codRetour` of its first error.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    pub(crate) service: &'static str,
    pub(crate) result: &'static str,
    pub(crate) cod_retour: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabel {
    service: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FaultLabel {
    fault: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

/// The authority's metrics.
pub(crate) struct Metrics {
    /// Whether requests, connections, sign-ins and faults are counted (off only to measure
    /// what counting costs).
    enabled: bool,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<ServiceLabel, Histogram>,
    open_connections: Gauge,
    sign_ins: Family<OutcomeLabel, Counter>,
    faults: Family<FaultLabel, Counter>,
    certificates: Family<StateLabel, Gauge>,
    crl_age_seconds: Gauge<f64, AtomicU64>,
    registry_bytes: Gauge,
    writer_batches: Counter,
    writer_writes: Counter,
    writer_failed: Counter,
    writer_seconds: Counter<f64, AtomicU64>,
    /// The writer's totals at the last scrape, to count on from.
    seen: std::sync::Mutex<websrm_registry::WriterStats>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("websrm");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Protocol requests answered, by service, result (accepted or refused) and the codRetour of the first error",
            requests.clone(),
        );
        let request_seconds = Family::<ServiceLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        registry.register(
            "request_seconds",
            "Time to answer a protocol request (issuance for enrolement and certificats), registry included",
            request_seconds.clone(),
        );
        let open_connections = Gauge::default();
        registry.register(
            "open_connections",
            "TLS connections open on both hosts",
            open_connections.clone(),
        );
        let sign_ins = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "portal_sign_ins",
            "Sign-ins to the online services, by outcome (accepted, refused, locked)",
            sign_ins.clone(),
        );
        let faults = Family::<FaultLabel, Counter>::default();
        registry.register(
            "faults",
            "Faults injected on purpose, by kind",
            faults.clone(),
        );
        let certificates = Family::<StateLabel, Gauge>::default();
        registry.register(
            "certificates",
            "Certificates in the registry, by state (active, expired, replaced, deleted, revoked)",
            certificates.clone(),
        );
        let crl_age_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "crl_age_seconds",
            "Seconds since the CRL of the root that issues was made",
            crl_age_seconds.clone(),
        );
        let registry_bytes = Gauge::default();
        registry.register(
            "registry_bytes",
            "Size of the registry's files (SQLite)",
            registry_bytes.clone(),
        );
        let writer_batches = Counter::default();
        registry.register(
            "registry_batches",
            "Batches (transactions) the registry's writer ran",
            writer_batches.clone(),
        );
        let writer_writes = Counter::default();
        registry.register(
            "registry_writes",
            "Writes those batches held (writes / batches: the mean batch size)",
            writer_writes.clone(),
        );
        let writer_failed = Counter::default();
        registry.register(
            "registry_failed_batches",
            "Batches that did not commit",
            writer_failed.clone(),
        );
        let writer_seconds = Counter::<f64, AtomicU64>::default();
        registry.register(
            "registry_commit_seconds",
            "Time from each batch's start to its commit, summed (per batch: divide by batches)",
            writer_seconds.clone(),
        );
        Self {
            enabled: true,
            registry,
            requests,
            request_seconds,
            open_connections,
            sign_ins,
            faults,
            certificates,
            crl_age_seconds,
            registry_bytes,
            writer_batches,
            writer_writes,
            writer_failed,
            writer_seconds,
            seen: std::sync::Mutex::new(websrm_registry::WriterStats::default()),
        }
    }

    /// The same metrics, counting nothing as requests come (read at scrape time only).
    pub(crate) fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::new()
        }
    }

    /// A protocol request answered with HTTP `status` and `body`, in `seconds`.
    pub(crate) fn request(&self, service: &'static str, status: u16, body: &[u8], seconds: f64) {
        if !self.enabled {
            return;
        }
        let accepted = (200..300).contains(&status);
        let cod_retour = if accepted {
            String::new()
        } else {
            first_cod_retour(body)
        };
        self.requests
            .get_or_create(&RequestLabels {
                service,
                result: if accepted { "accepted" } else { "refused" },
                cod_retour,
            })
            .inc();
        self.request_seconds
            .get_or_create(&ServiceLabel { service })
            .observe(seconds);
    }

    /// A connection opened (`true`) or closed.
    pub(crate) fn connection(&self, open: bool) {
        if !self.enabled {
            return;
        }
        if open {
            self.open_connections.inc();
        } else {
            self.open_connections.dec();
        }
    }

    /// A sign-in to the online services: `accepted`, `refused` or `locked`.
    pub(crate) fn sign_in(&self, outcome: &'static str) {
        if !self.enabled {
            return;
        }
        self.sign_ins.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// A fault injected on purpose.
    pub(crate) fn fault(&self, fault: &'static str) {
        if !self.enabled {
            return;
        }
        self.faults.get_or_create(&FaultLabel { fault }).inc();
    }

    /// The text Prometheus scrapes, after reading what is read at scrape time.
    pub(crate) fn render(&self, scrape: Scrape) -> String {
        self.registry_bytes
            .set(i64::try_from(scrape.registry_bytes.unwrap_or(0)).unwrap_or(i64::MAX));
        self.crl_age_seconds.set(scrape.crl_age_seconds);
        self.certificates.clear();
        for (state, n) in scrape.certificates {
            self.certificates
                .get_or_create(&StateLabel { state })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        {
            let mut seen = self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = scrape.writer;
            self.writer_batches
                .inc_by(now.batches.saturating_sub(seen.batches));
            self.writer_writes
                .inc_by(now.writes.saturating_sub(seen.writes));
            self.writer_failed
                .inc_by(now.failed_batches.saturating_sub(seen.failed_batches));
            self.writer_seconds
                .inc_by(now.busy.saturating_sub(seen.busy).as_secs_f64());
            *seen = now;
        }
        let mut text = String::new();
        // Writing into a String does not fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// What is read when the metrics are scraped.
pub(crate) struct Scrape {
    pub(crate) registry_bytes: Option<u64>,
    pub(crate) crl_age_seconds: f64,
    pub(crate) certificates: Vec<(String, u64)>,
    pub(crate) writer: websrm_registry::WriterStats,
}

/// The `codRetour` of the first error of a refusal's body (`""` when it has none).
fn first_cod_retour(body: &[u8]) -> String {
    const KEY: &[u8] = b"\"codRetour\":\"";
    body.windows(KEY.len())
        .position(|w| w == KEY)
        .and_then(|at| {
            let rest = &body[at + KEY.len()..];
            let end = rest.iter().position(|b| *b == b'"')?;
            std::str::from_utf8(&rest[..end.min(4)])
                .ok()
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_cod_retour_of_a_refusal() {
        let body = br#"{"retourCertif":{"listErr":[{"id":"JW00B999514E","codRetour":"14","mess":"x"},{"id":"JW00B999999E"}]}}"#;
        assert_eq!(first_cod_retour(body), "14");
        assert_eq!(first_cod_retour(b"{}"), "");
    }
}
