//! `websrm agent`: a local service that gives point-of-sale software in any language (C#, Java,
//! JavaScript, Python, Delphi…) the whole WEB-SRM certificate lifecycle over a versioned JSON
//! API, on top of the [`websrm`] facade and with all its guarantees: crash-safe requests, sealed
//! keys, the device identifier for life, warnings before expiry, the billing guard, signature
//! chains that never fork.
//!
//! - It listens on loopback (and on a Unix socket if asked); every call but `GET /v1/health`
//!   needs the bearer token kept beside the store (`<store>.agent-token`, owner-only).
//! - At start it finishes the requests a crash left pending; then, while it runs, it checks
//!   the certificates' health (and the CRL) every day, and `/v1/health` tells what it found.
//! - Requests to the authority are made one at a time; signatures are made one at a time, so
//!   that many cash registers calling at once never fork a chain.
//!
//! The API is described by [`openapi`] (served at `/v1/openapi.json`), generated from the
//! handlers' own types.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
mod contract;
mod idempotency;
mod serve;

pub use serve::Limits;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::OpenApi;
use websrm::{Config, Srs};

pub use api::{
    AgentStatus, ApiError, AuthorityErrorBody, BillingGuardBody, CertificateBody,
    CertificatePemBody, CertificatesBody, Confirm, DeviceIdAnswerBody, DeviceIdBody,
    DocumentAnswerBody, DocumentBody, EnrolledBody, EnrolmentRequest, ErrorKind, EssaiStepBody,
    HealthBody, HealthName, HistoryEntryBody, HistoryEventName, Installation, InstructionsBody,
    NewTerminal, RecoveryBody, ReplaceRequest, ResetBody, SectorName, ServerEnrolmentRequest,
    ServerModeEnrolmentRequest, SignRequest, SignedBody, TaxNumbersAnswerBody, TaxNumbersBody,
    TerminalBody, TestCaseAnswer, TestCaseBody, TransmissionBody, TransmissionRequest,
    UserRequestBody, Warning,
};
pub use api::{
    BatchBody, DeliveryBody, MentionBody, OfflineBody, OutboxBody, PendingBody, ResendAdvice,
    TransmissionOutcome, TransmitRequest, TransmittedBody,
};
pub use api::{
    RelayDocumentRequest, RelayRequest, SignDocumentRequest, SignSaleRequest, SignedDocumentBody,
    SignedSaleBody,
};
pub use contract::{PARITY, Parity};

/// What went wrong starting the agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The facade could not open the store.
    #[error("opening the SRS store")]
    Srs(#[from] websrm::Error),
    /// A file or socket operation failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The system's random generator failed.
    #[error("the random generator failed: {0}")]
    Random(websrm::domain::Source),
}

/// How the agent runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AgentConfig {
    /// The facade's configuration (store, environment, product, authority).
    pub srs: Config,
    /// The store file, beside which the token is kept.
    pub store: PathBuf,
    /// The installation of the SRS (default `main`).
    pub installation: String,
    /// How often the health check runs (a day by default).
    pub check_every: Duration,
}

impl AgentConfig {
    /// An agent over `srs` (whose store is `store`), checking health every day.
    pub fn new(srs: Config, store: impl Into<PathBuf>) -> Self {
        Self {
            srs,
            store: store.into(),
            installation: "main".into(),
            check_every: Duration::from_secs(24 * 3600),
        }
    }

    /// Checks health this often (tests, or a vendor's choice).
    pub fn with_check_every(mut self, every: Duration) -> Self {
        self.check_every = every;
        self
    }

    /// The SRS installation the agent serves by default.
    pub fn with_installation(mut self, installation: impl Into<String>) -> Self {
        self.installation = installation.into();
        self
    }
}

/// The running agent's state, shared by the handlers.
pub(crate) struct Agent {
    config: AgentConfig,
    /// One facade per installation (the main one, a back-office SRS, a server administrator).
    installations: Mutex<HashMap<String, Arc<Srs>>>,
    /// Held while a request goes to the authority: requests never overlap.
    pub(crate) authority: tokio::sync::Mutex<()>,
    /// Held by a call with an idempotency key, from looking up its answer to remembering it.
    pub(crate) keyed: tokio::sync::Mutex<()>,
    /// The `CASESSAI` set through the API, for installations opened later.
    test_case: Mutex<Option<websrm::domain::TestCase>>,
    /// What the background work found last.
    pub(crate) health: tokio::sync::Mutex<HealthBody>,
    /// Woken when a transaction was kept offline: the background flush starts.
    outbox_signal: tokio::sync::Notify,
    token: String,
}

impl Agent {
    pub(crate) fn main(&self) -> Arc<Srs> {
        self.srs(&self.config.installation)
            .unwrap_or_else(|_| unreachable!("the main installation is opened at start"))
    }

    /// A transaction was kept offline: the background flush starts if it is not running.
    pub(crate) fn outbox_waiting(&self) {
        self.outbox_signal.notify_one();
    }

    /// Sends what waits in the outbox after a communication failure, in the background: from
    /// one second after the failure, then twice as long after each failed attempt, up to
    /// [`FLUSH_CAP`], each wait shortened by up to half at random so that the tills of a
    /// restaurant do not all call at once. It stops when a flush reaches the authority, and
    /// starts again at the next transaction kept offline (or at start, if some are pending).
    async fn flush_in_background(self: Arc<Self>) {
        let mut wake_now = self.main().outbox(0).is_ok_and(|o| o.pending > 0);
        loop {
            if !wake_now {
                self.outbox_signal.notified().await;
            }
            wake_now = false;
            let mut backoff = FLUSH_FLOOR;
            loop {
                tokio::time::sleep(jittered(backoff)).await;
                match self.main().flush().await {
                    Ok(delivery) if delivery.offline.is_none() => {
                        tracing::info!(sent = delivery.sent, "the outbox was sent");
                        break;
                    }
                    Ok(delivery) => {
                        tracing::info!(reason = ?delivery.offline, "the authority is still unreachable");
                    }
                    Err(e) => tracing::warn!(error = %e, "the outbox could not be sent"),
                }
                backoff = (backoff * 2).min(FLUSH_CAP);
            }
        }
    }

    pub(crate) fn installation(&self) -> &str {
        &self.config.installation
    }

    /// The facade of `installation`, opened on first use.
    pub(crate) fn srs(&self, installation: &str) -> Result<Arc<Srs>, websrm::Error> {
        let mut map = self
            .installations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(srs) = map.get(installation) {
            return Ok(srs.clone());
        }
        let srs = Arc::new(Srs::open(
            self.config.srs.clone().with_installation(installation),
        )?);
        if let Some(case) = *self
            .test_case
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            srs.set_test_case(case);
        }
        map.insert(installation.to_owned(), srs.clone());
        Ok(srs)
    }

    /// The `CASESSAI` the main installation's next request carries.
    pub(crate) fn test_case(&self) -> websrm::domain::TestCase {
        self.main().test_case()
    }

    /// Sends `case` with the next request of every installation.
    pub(crate) fn set_test_case(
        &self,
        case: websrm::domain::TestCase,
    ) -> Result<(), websrm::Error> {
        *self
            .test_case
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(case);
        let map = self
            .installations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for srs in map.values() {
            srs.set_test_case(case);
        }
        Ok(())
    }

    /// The facade holding the certificate `nickname` (any installation).
    /// The installation holding the certificate named `nickname`, and that name typed (a name
    /// no certificate can have is no certificate's: not found).
    pub(crate) fn srs_of(
        &self,
        nickname: &str,
    ) -> Result<(Arc<Srs>, websrm::domain::Nickname), websrm::Error> {
        let not_found = || websrm::Error::NotFound(nickname.to_owned());
        let typed: websrm::domain::Nickname = nickname.parse().map_err(|_| not_found())?;
        let main = self.main();
        let slot = main
            .certificates(self.now())?
            .into_iter()
            .find(|c| c.nickname == typed)
            .ok_or_else(not_found)?;
        Ok((self.srs(&slot.slot.installation)?, typed))
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    /// Recovers every installation's pending requests.
    pub(crate) async fn recover_all(&self) -> Result<RecoveryBody, websrm::Error> {
        let mut installations = vec![self.config.installation.clone()];
        for slot in self.main().certificates(self.now())? {
            if !installations.contains(&slot.slot.installation) {
                installations.push(slot.slot.installation);
            }
        }
        let mut total = RecoveryBody::default();
        for installation in installations {
            let report = self.srs(&installation)?.recover().await?;
            total.completed += report.completed;
            total.abandoned += report.abandoned;
            total.still_pending += report.still_pending;
        }
        Ok(total)
    }

    /// The daily check: revocations from the CRL, then every certificate's warning.
    pub(crate) async fn check(&self) {
        let main = self.main();
        let revocation = {
            let _authority = self.authority.lock().await;
            match main.refresh_revocations().await {
                Ok(check) if !check.without_crl.is_empty() => Some(format!(
                    "no CRL is known for {}",
                    check.without_crl.join(", ")
                )),
                Ok(check) if check.consulted.is_empty() => Some("no certificate to check".into()),
                Ok(check) => Some(format!("consulted {}", check.consulted.join(", "))),
                Err(e) => Some(format!("the CRL could not be checked: {e}")),
            }
        };
        let now = self.now();
        let warnings: Vec<Warning> = match main.certificates(now) {
            Ok(views) => views
                .into_iter()
                .filter_map(|v| {
                    v.warning.map(|w| Warning {
                        nickname: v.nickname.to_string(),
                        french: w.french,
                        english: w.english,
                    })
                })
                .collect(),
            Err(e) => {
                tracing::error!(error = %e, "the health check could not read the certificates");
                Vec::new()
            }
        };
        for w in &warnings {
            tracing::warn!(nickname = %w.nickname, "{} / {}", w.french, w.english);
        }
        let next =
            now + time::Duration::try_from(self.config.check_every).unwrap_or(time::Duration::DAY);
        let mut health = self.health.lock().await;
        health.last_check = now.format(&Rfc3339).ok();
        health.next_check = next.format(&Rfc3339).ok();
        health.warnings = warnings;
        health.revocation = revocation;
    }
}

/// The OpenAPI 3 description of the agent's API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "websrm agent",
        description = "The WEB-SRM certificate lifecycle for point-of-sale software in any language: device identifier, enrolment, health and warnings, replacement, deletion, recovery, terminals, billing guard, signatures, transactions transmitted and kept offline. Every call but /v1/health needs the bearer token kept in <store>.agent-token.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        api::health,
        api::check_now,
        api::device_id,
        api::set_device_id,
        api::history,
        api::certificates,
        api::certificate_pem,
        api::enrol,
        api::enrol_server,
        api::enrol_in_server_mode,
        api::replace,
        api::delete,
        api::remove,
        api::recover,
        api::reset_installation,
        api::terminals,
        api::add_terminal,
        api::add_user,
        api::remove_user,
        api::validate_tax_numbers,
        api::send_document,
        api::sign_document,
        api::relay_document,
        api::billing_guard,
        api::sign,
        api::transmission_signature,
        api::test_case,
        api::set_test_case,
        api::transmit,
        api::sign_sale,
        api::relay,
        api::outbox,
        api::flush,
    ),
    modifiers(&BearerToken),
    tags(
        (name = "agent", description = "The agent itself"),
        (name = "device", description = "The device identifier, for life"),
        (name = "certificates", description = "Obtain, replace, delete, recover"),
        (name = "terminals", description = "Terminals attached to this device"),
        (name = "users", description = "User accounts declared to the authority, tax numbers validated, documents (user reports, third-party declarations)"),
        (name = "billing", description = "May this SRS produce a bill now"),
        (name = "signatures", description = "actu in its chain, SIGNATRANSM"),
        (name = "transactions", description = "Transactions recorded and transmitted, the outbox of those waiting"),
        (name = "certification", description = "CASESSAI: Revenu Québec's certification cases, run from the vendor's product"),
    )
)]
struct ApiDoc;

struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI description, as JSON (what `/v1/openapi.json` serves and `docs/agent-openapi.json`
/// keeps).
pub fn openapi() -> String {
    let document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    serde_json::to_string_pretty(&contract::complete(document)).unwrap_or_else(|_| "{}".to_owned())
}

/// The token file of a store: `<store>.agent-token`.
pub fn token_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".agent-token");
    PathBuf::from(name)
}

/// The bearer token: read from its file, or created there on first start (32 random bytes in
/// hex, owner-only, written under a temporary name and linked into place). Owner-only is mode
/// 0600 on Unix, and on Windows a protected access list granting this account, `SYSTEM` and
/// `Administrators` only; a token others may read is refused either way.
fn token(store: &Path) -> Result<String, Error> {
    let path = token_path(store);
    let io = |what: String| move |source| Error::Io { what, source };
    // A token others may read is no secret: refused, with the command that fixes it.
    #[cfg(unix)]
    if let Ok(metadata) = std::fs::metadata(&path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::Io {
                what: format!(
                    "{} may be read by others (mode {mode:o}); run `chmod 600 {}`",
                    path.display(),
                    path.display()
                ),
                source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            });
        }
    }
    // Windows: the same refusal when the token's access list lets others read it.
    #[cfg(windows)]
    if path.exists() {
        match websrm_acl::check(&path, websrm_acl::Kind::File) {
            Ok(None) => {}
            Ok(Some(exposed)) => {
                return Err(Error::Io {
                    what: exposed.to_string(),
                    source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
                });
            }
            Err(e) => return Err(io(format!("reading the access list of {}", path.display()))(e)),
        }
    }
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() == 64 => return Ok(text.trim().to_owned()),
        Ok(_) => {
            return Err(Error::Io {
                what: format!("{} is not an agent token", path.display()),
                source: std::io::Error::from(std::io::ErrorKind::InvalidData),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(format!("reading {}", path.display()))(e)),
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(websrm::domain::Source::new(e)))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let temporary = path.with_extension(format!("agent-token.{}", std::process::id()));
    {
        use std::io::Write;
        #[cfg(not(windows))]
        let created = {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            options.open(&temporary)
        };
        // Private from its first instant: this account, SYSTEM and Administrators only.
        #[cfg(windows)]
        let created = websrm_acl::create_new(&temporary);
        let mut file = created.map_err(io(format!("creating {}", temporary.display())))?;
        file.write_all(token.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io(format!("writing {}", temporary.display())))?;
    }
    // A token another agent created meanwhile wins; this one is dropped.
    let linked = std::fs::hard_link(&temporary, &path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(token),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(&path)
            .map(|t| t.trim().to_owned())
            .map_err(io(format!("reading {}", path.display()))),
        Err(e) => Err(io(format!("creating {}", path.display()))(e)),
    }
}

/// The agent, built and ready to serve.
pub struct Running {
    agent: Arc<Agent>,
    router: Router,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").finish_non_exhaustive()
    }
}

impl Running {
    /// Opens the store, makes (or reads) the token, and recovers what a crash left pending.
    pub async fn start(config: AgentConfig) -> Result<Self, Error> {
        let token = token(&config.store)?;
        let main = Arc::new(Srs::open(
            config.srs.clone().with_installation(&config.installation),
        )?);
        let mut installations = HashMap::new();
        installations.insert(config.installation.clone(), main);
        let agent = Arc::new(Agent {
            config,
            installations: Mutex::new(installations),
            authority: tokio::sync::Mutex::new(()),
            keyed: tokio::sync::Mutex::new(()),
            test_case: Mutex::new(None),
            health: tokio::sync::Mutex::new(HealthBody::default()),
            outbox_signal: tokio::sync::Notify::new(),
            token,
        });
        // Recovery at start: what a crash left pending is finished (or abandoned) now.
        let recovery = {
            let _authority = agent.authority.lock().await;
            agent.recover_all().await
        };
        match recovery {
            Ok(report) => {
                tracing::info!(?report, "recovery at start");
                agent.health.lock().await.recovery = Some(report);
            }
            Err(e) => {
                tracing::warn!(error = %e, "recovery at start failed; retried by the next check")
            }
        }
        let router = router(agent.clone());
        Ok(Self { agent, router })
    }

    /// The token clients present.
    pub fn token(&self) -> &str {
        &self.agent.token
    }

    /// Serves on `listener` (and `unix`, if given) until `shutdown` completes, running the
    /// health check in the background, with the default [`Limits`].
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        #[cfg(unix)] unix: Option<tokio::net::UnixListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        self.serve_with(
            listener,
            #[cfg(unix)]
            unix,
            Limits::default(),
            shutdown,
        )
        .await
    }

    /// [`serve`](Self::serve) with other [`Limits`]. Calls whose `Host` is not one of the
    /// agent's names (loopback's, or the address it listens on) are refused.
    pub async fn serve_with(
        self,
        listener: tokio::net::TcpListener,
        #[cfg(unix)] unix: Option<tokio::net::UnixListener>,
        limits: Limits,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let listening = listener.local_addr().ok().map(|a| a.ip());
        let router = serve::with_host_check(self.router, serve::AllowedHosts::new(listening));
        let agent = self.agent.clone();
        let every = agent.config.check_every;
        let checks = tokio::spawn(async move {
            loop {
                agent.check().await;
                tokio::time::sleep(every).await;
            }
        });
        let flusher = tokio::spawn(self.agent.clone().flush_in_background());
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        #[cfg(unix)]
        let unix_server = unix.map(|u| {
            tokio::spawn(serve::serve(
                serve::Listener::Unix(u),
                router.clone(),
                limits,
                stop_rx.clone(),
            ))
        });
        let stopper = tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        serve::serve(serve::Listener::Tcp(listener), router, limits, stop_rx).await;
        #[cfg(unix)]
        if let Some(server) = unix_server {
            let _ = server.await;
        }
        stopper.abort();
        checks.abort();
        flusher.abort();
        Ok(())
    }
}

/// The first wait of the background flush after a communication failure.
const FLUSH_FLOOR: Duration = Duration::from_secs(1);

/// The longest wait of the background flush.
const FLUSH_CAP: Duration = Duration::from_secs(300);

/// `d` shortened by up to half, at random (the clock's nanoseconds are random enough to keep
/// tills apart).
fn jittered(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let fraction = f64::from(nanos % 1_000) / 2_000.0;
    d.mul_f64(1.0 - fraction)
}

fn router(agent: Arc<Agent>) -> Router {
    let protected = Router::new()
        .route("/v1/device-id", get(api::device_id).put(api::set_device_id))
        .route("/v1/certificates", get(api::certificates))
        .route("/v1/certificates/{nickname}/pem", get(api::certificate_pem))
        .route("/v1/history", get(api::history))
        .route("/v1/checks", post(api::check_now))
        .route("/v1/test-case", get(api::test_case).put(api::set_test_case))
        .route("/v1/enrolments", post(api::enrol))
        .route("/v1/server-enrolments", post(api::enrol_server))
        .route(
            "/v1/server-mode-enrolments",
            post(api::enrol_in_server_mode),
        )
        .route("/v1/certificates/{nickname}/replace", post(api::replace))
        .route("/v1/certificates/{nickname}/delete", post(api::delete))
        .route("/v1/certificates/{nickname}/remove", post(api::remove))
        .route("/v1/recover", post(api::recover))
        .route(
            "/v1/installations/{installation}/reset",
            post(api::reset_installation),
        )
        .route("/v1/terminals", get(api::terminals).post(api::add_terminal))
        .route("/v1/users", post(api::add_user))
        .route("/v1/users/remove", post(api::remove_user))
        .route(
            "/v1/tax-number-validations",
            post(api::validate_tax_numbers),
        )
        .route("/v1/documents", post(api::send_document))
        .route("/v1/signed-documents", post(api::sign_document))
        .route("/v1/relayed-documents", post(api::relay_document))
        .route("/v1/billing-guard", get(api::billing_guard))
        .route("/v1/signatures", post(api::sign))
        .route("/v1/transactions", post(api::transmit))
        .route("/v1/signed-transactions", post(api::sign_sale))
        .route("/v1/relayed-transactions", post(api::relay))
        .route("/v1/outbox", get(api::outbox))
        .route("/v1/outbox/flush", post(api::flush))
        .route(
            "/v1/transmission-signatures",
            post(api::transmission_signature),
        )
        .layer(middleware::from_fn_with_state(
            agent.clone(),
            idempotency::remember,
        ))
        .layer(middleware::from_fn_with_state(agent.clone(), authenticate));
    Router::new()
        .route("/v1/health", get(api::health))
        .route("/v1/openapi.json", get(openapi_json))
        .merge(protected)
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .fallback(|| async {
            api::Failure::new(
                StatusCode::NOT_FOUND,
                ErrorKind::NotFound,
                "Cette adresse n'existe pas.",
                "No such route.",
            )
        })
        .layer(middleware::from_fn(serve::json_errors))
        .with_state(agent)
}

async fn openapi_json() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        openapi(),
    )
        .into_response()
}

/// Whether `headers` carry the agent's token.
pub(crate) fn authorized(agent: &Agent, headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|p| constant_time_eq(p.as_bytes(), agent.token.as_bytes()))
}

/// Every call but the health check carries `Authorization: Bearer <token>`; another token gets
/// 401 and is logged.
async fn authenticate(
    State(agent): State<Arc<Agent>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let ok = presented.is_some_and(|p| constant_time_eq(p.as_bytes(), agent.token.as_bytes()));
    if !ok {
        tracing::warn!(
            path = %request.uri().path(),
            token = if presented.is_some() { "wrong" } else { "missing" },
            "refused a call without the agent's token"
        );
        return api::Failure::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::Unauthorized,
            "Jeton de l'agent absent ou invalide.",
            "The agent's token is missing or wrong.",
        )
        .into_response();
    }
    next.run(request).await
}

/// Whether `a` and `b` are the same bytes, compared in constant time for equal lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    bool::from(a.ct_eq(b))
}
