//! Helpers shared by the cross-crate integration tests in `tests/it`: a served authority on
//! loopback with a clock the test controls, and the published test data.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use time::OffsetDateTime;
use tokio::sync::oneshot;
use websrm_authority::{Authority, AuthorityFiles, seed, server};
use websrm_domain::{Clock, Environment};

/// The crates under test, under one roof.
pub use {
    websrm, websrm_agent, websrm_authority, websrm_crypto, websrm_domain, websrm_protocol,
    websrm_registry, websrm_store,
};

/// A clock the test sets.
#[derive(Debug)]
pub struct TestClock(Mutex<OffsetDateTime>);

impl TestClock {
    /// A clock at `t`.
    pub fn new(t: OffsetDateTime) -> Self {
        Self(Mutex::new(t))
    }

    /// Moves the clock to `t`.
    pub fn set(&self, t: OffsetDateTime) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = t;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An authority served on two loopback ports from a temporary folder, with the test data; it
/// stops when dropped.
#[derive(Debug)]
pub struct Served {
    /// `https://127.0.0.1:PORT` of the enrolment host.
    pub enrolment_base: String,
    /// `https://127.0.0.1:PORT` of the API host.
    pub api_base: String,
    /// The TLS root clients trust (DER).
    pub tls_root: Vec<u8>,
    /// The authority's CA certificate (DER).
    pub ca: Vec<u8>,
    /// The authority, for inspecting its registry.
    pub authority: Arc<Authority>,
    /// The authority's clock.
    pub clock: Arc<TestClock>,
    /// The folder.
    pub dir: tempfile::TempDir,
    /// The registry's database when it is not in the folder (PostgreSQL).
    pub database: Option<websrm_registry::Database>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Served {
    /// Starts an authority for `environment` with the published test data, its clock at the
    /// current time. Its registry is in its folder, or on a fresh database of the PostgreSQL
    /// server named by [`POSTGRES_ENV`] when it is set.
    pub fn start(environment: Environment) -> Self {
        Self::start_at(environment, OffsetDateTime::now_utc())
    }

    /// Starts an authority whose clock reads `now`.
    pub fn start_at(environment: Environment, now: OffsetDateTime) -> Self {
        Self::start_with(environment, now, server::Limits::default())
    }

    /// Starts an authority with other limits for slow clients.
    pub fn start_with(
        environment: Environment,
        now: OffsetDateTime,
        limits: server::Limits,
    ) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        // On a fresh PostgreSQL database when the run names a server: the same tests, on the
        // other engine.
        let database =
            fresh_postgres_database("websrm_served").map(websrm_registry::Database::Postgres);
        Self::serve(dir, database.as_ref(), environment, now, limits, true)
    }

    /// Serves the authority folder `dir` as it is (a restored one, say), with its registry in
    /// the folder and without adding test data.
    pub fn open(dir: tempfile::TempDir, environment: Environment) -> Self {
        Self::serve(
            dir,
            None,
            environment,
            OffsetDateTime::now_utc(),
            server::Limits::default(),
            false,
        )
    }

    /// Stops this authority and serves its folder (and its database, when it has one) again
    /// in a new one on the same addresses, as a restart does, without adding test data.
    pub fn restart(mut self) -> Self {
        let dir = std::mem::replace(
            &mut self.dir,
            tempfile::tempdir().expect("a temporary folder"),
        );
        let database = self.database.take();
        let environment = self.authority.environment();
        let now = self.clock.now();
        let address = |base: &str| -> std::net::SocketAddr {
            base.trim_start_matches("https://")
                .parse()
                .expect("a loopback address")
        };
        let addresses = (address(&self.enrolment_base), address(&self.api_base));
        drop(self);
        Self::serve_on(
            dir,
            database.as_ref(),
            environment,
            now,
            server::Limits::default(),
            false,
            Some(addresses),
        )
    }

    fn serve(
        dir: tempfile::TempDir,
        database: Option<&websrm_registry::Database>,
        environment: Environment,
        now: OffsetDateTime,
        limits: server::Limits,
        seed: bool,
    ) -> Self {
        Self::serve_on(dir, database, environment, now, limits, seed, None)
    }

    /// [`serve`](Self::serve) on `addresses` (enrolment, API), or on new loopback ports.
    fn serve_on(
        dir: tempfile::TempDir,
        database: Option<&websrm_registry::Database>,
        environment: Environment,
        now: OffsetDateTime,
        limits: server::Limits,
        seed: bool,
        addresses: Option<(std::net::SocketAddr, std::net::SocketAddr)>,
    ) -> Self {
        let files = AuthorityFiles::open_or_create_with(
            dir.path(),
            database,
            environment,
            OffsetDateTime::now_utc(),
        )
        .expect("the authority starts");
        let clock = Arc::new(TestClock::new(now));
        let (authority, tls) = Authority::new(files, environment, clock.clone());
        if seed {
            seed::seed_test_data(&authority, now).expect("the test data is registered");
        }
        let authority = Arc::new(authority);
        let bind = |address: Option<std::net::SocketAddr>| {
            let address =
                address.unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
            let listener = std::net::TcpListener::bind(address).expect("a loopback port");
            listener
                .set_nonblocking(true)
                .expect("a non-blocking listener");
            listener
        };
        let (enrolment, api) = (
            bind(addresses.map(|(e, _)| e)),
            bind(addresses.map(|(_, a)| a)),
        );
        let enrolment_base = format!("https://{}", enrolment.local_addr().expect("bound"));
        let api_base = format!("https://{}", api.local_addr().expect("bound"));
        let (stop, stopped) = oneshot::channel::<()>();
        let served = authority.clone();
        let ca = authority.ca_certificate_der().to_vec();
        let tls_root = tls.root_der.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let enrolment =
                    tokio::net::TcpListener::from_std(enrolment).expect("a tokio listener");
                let api = tokio::net::TcpListener::from_std(api).expect("a tokio listener");
                let shutdown = async {
                    let _ = stopped.await;
                };
                server::serve_with(
                    served,
                    enrolment,
                    api,
                    tls.chain.clone(),
                    &tls.key,
                    limits,
                    shutdown,
                )
                .await
                .expect("the server runs");
            });
        });
        Self {
            enrolment_base,
            api_base,
            tls_root,
            ca,
            authority,
            clock,
            dir,
            database: database.cloned(),
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Served {
    /// Stops the authority and waits for its thread; a thread that panicked fails the test
    /// (unless the test is failing already), rather than passing with its server dead.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
            && !std::thread::panicking()
        {
            panic!("the authority's server thread panicked");
        }
    }
}

/// The test product's identity, as seeded.
pub use websrm_domain::published::test_product;

/// The body of an authority process that a test or benchmark starts and may kill: opens (or
/// creates) the authority in `dir` on the system clock, seeds the published test data on first
/// start, binds the two hosts to `enrolment` and `api` (`127.0.0.1:0` for any free port), calls
/// `ready` with the bound addresses, and serves until the process is killed.
///
/// With `database`, the registry is that database (a PostgreSQL URL) rather than the folder's.
pub fn run_authority_process(
    dir: &std::path::Path,
    database: Option<&str>,
    enrolment: &str,
    api: &str,
    ready: impl FnOnce(std::net::SocketAddr, std::net::SocketAddr),
) {
    run_authority_process_with(dir, database, enrolment, api, true, ready);
}

/// [`run_authority_process`], counting requests in its metrics or not (`metrics`).
pub fn run_authority_process_with(
    dir: &std::path::Path,
    database: Option<&str>,
    enrolment: &str,
    api: &str,
    metrics: bool,
    ready: impl FnOnce(std::net::SocketAddr, std::net::SocketAddr),
) {
    let now = OffsetDateTime::now_utc();
    let database = database.map(websrm_registry::Database::parse);
    let files = AuthorityFiles::open_or_create_with(dir, database.as_ref(), Environment::Dev, now)
        .expect("authority files");
    let (authority, tls) = Authority::new(
        files,
        Environment::Dev,
        Arc::new(websrm_authority::SystemClock),
    );
    let authority = if metrics {
        authority
    } else {
        authority.without_request_metrics()
    };
    if authority.admin().operators().expect("registry").is_empty() {
        seed::seed_test_data(&authority, now).expect("seed");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let enrolment = tokio::net::TcpListener::bind(enrolment)
            .await
            .expect("bind");
        let api = tokio::net::TcpListener::bind(api).await.expect("bind");
        ready(
            enrolment.local_addr().expect("address"),
            api.local_addr().expect("address"),
        );
        server::serve(
            Arc::new(authority),
            enrolment,
            api,
            tls.chain.clone(),
            &tls.key,
            std::future::pending(),
        )
        .await
        .expect("serve");
    });
}

/// The environment variable naming the PostgreSQL server of the tests and benchmarks
/// (`postgres://user@host:port`, without a database); `cargo xtask ci` starts one and sets it.
pub const POSTGRES_ENV: &str = "WEBSRM_TEST_POSTGRES";

/// The environment variable naming the folder of that server's programs (`pg_dump`,
/// `pg_restore`); `cargo xtask ci` sets it with [`POSTGRES_ENV`].
pub const POSTGRES_BIN_ENV: &str = "WEBSRM_TEST_POSTGRES_BIN";

/// A new, empty database on the test PostgreSQL server, by URL; `None` when no server is named.
/// Callable from async code.
pub fn fresh_postgres_database(prefix: &str) -> Option<String> {
    let server = std::env::var(POSTGRES_ENV).ok()?;
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000,
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    // On a thread of its own: the synchronous client must not run inside an async runtime.
    let admin_url = format!("{server}/postgres");
    let create = format!("CREATE DATABASE {name}");
    std::thread::spawn(move || {
        postgres::Client::connect(&admin_url, postgres::NoTls)
            .expect("the test PostgreSQL server answers")
            .batch_execute(&create)
            .expect("a test database");
    })
    .join()
    .expect("creating the test database");
    Some(format!("{server}/{name}"))
}

/// A loopback relay to another address that the test can cut, as a network outage would: while
/// cut, each connection is accepted and closed at once (nothing reaches the other side); a
/// connection already relayed is not disturbed. It stops when dropped.
#[derive(Debug)]
pub struct Relay {
    /// `https://127.0.0.1:PORT` of the relay.
    pub base: String,
    cut: Arc<std::sync::atomic::AtomicBool>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// A relay to `target` (`https://HOST:PORT`), passing everything through.
    pub fn start(target: &str) -> Self {
        let target = target
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let base = format!("https://{}", listener.local_addr().expect("bound"));
        let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (stop, mut stopped) = oneshot::channel::<()>();
        let is_cut = cut.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
                loop {
                    let accepted = tokio::select! {
                        _ = &mut stopped => return,
                        a = listener.accept() => a,
                    };
                    let Ok((mut inbound, _)) = accepted else {
                        continue;
                    };
                    if is_cut.load(std::sync::atomic::Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let target = target.clone();
                    tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                }
            });
        });
        Self {
            base,
            cut,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Cuts (`true`) or restores (`false`) the link.
    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
            && !std::thread::panicking()
        {
            panic!("the relay's thread panicked");
        }
    }
}

impl Served {
    /// An SRS of the test product in DEV talking to this authority, its store at `store`.
    pub fn srs_config(&self, store: &std::path::Path) -> websrm::Config {
        self.srs_config_via(&self.api_base, store)
    }

    /// [`srs_config`](Self::srs_config) with the API host reached at `api` (a [`Relay`]).
    pub fn srs_config_via(&self, api: &str, store: &std::path::Path) -> websrm::Config {
        websrm::Config::new(Environment::Dev, test_product(), store).with_authority(
            websrm::AuthorityAddress::Local {
                enrolment: self.enrolment_base.clone(),
                api: api.to_owned(),
                trust_pem: websrm_crypto::pem::encode("CERTIFICATE", &self.tls_root),
            },
        )
    }
}

/// The certificate nickname `name`.
pub fn nick(name: &str) -> websrm_domain::Nickname {
    name.parse().expect("a nickname")
}

/// What Michel's restaurant enters to obtain a certificate named `nickname`.
pub fn michel_enrolment(nickname: &str) -> websrm::OperatorEnrolment {
    use websrm_domain::published::MICHEL_UNTEL as michel;
    websrm::OperatorEnrolment::parse(
        michel.identification_number,
        michel
            .code(websrm_domain::Sector::Restaurant)
            .expect("a code"),
        "RBC",
        michel.qst.expect("a QST number"),
        michel
            .file(websrm_domain::Sector::Restaurant)
            .expect("a file"),
        nickname,
        "-05:00",
    )
    .expect("the published test data")
}

/// The restaurant's closing receipt of the docs (`docs/examples/transactions`) as a POS writes
/// it, numbered `n`, recorded `seconds` after `start` (Eastern time).
pub fn example_sale_json(start: OffsetDateTime, n: u64, seconds: i64) -> serde_json::Value {
    let mut sale: serde_json::Value = serde_json::from_str(include_str!(
        "../../docs/examples/transactions/restaurant-closing-receipt.json"
    ))
    .expect("the example is JSON");
    let eastern = time::UtcOffset::from_hms(-5, 0, 0).expect("an offset");
    let at = (start + time::Duration::seconds(seconds)).to_offset(eastern);
    let moment = websrm_protocol::transaction::values::Moment::new(time::PrimitiveDateTime::new(
        at.date(),
        at.time(),
    ))
    .expect("a moment of this century");
    sale["noTrans"] = format!("{n:010}").into();
    sale["datTrans"] = moment.to_string().into();
    sale
}

/// [`example_sale_json`], read.
pub fn example_sale(start: OffsetDateTime, n: u64, seconds: i64) -> websrm::transaction::Sale {
    websrm::transaction::read_sale(
        &example_sale_json(start, n, seconds),
        websrm::transaction::Checks::default(),
    )
    .expect("the example reads")
}

/// An agent serving on a loopback port, stopped when dropped.
#[derive(Debug)]
pub struct AgentOnLoopback {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its bearer token.
    pub token: String,
    /// Stops it.
    pub stop: Option<oneshot::Sender<()>>,
    /// Its task.
    pub task: Option<tokio::task::JoinHandle<()>>,
}

impl AgentOnLoopback {
    /// An agent over the SRS `config`, its store at `store`.
    pub async fn start(config: websrm::Config, store: &std::path::Path) -> Self {
        let running = websrm_agent::Running::start(websrm_agent::AgentConfig::new(config, store))
            .await
            .expect("the agent starts");
        let token = running.token().to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            running
                .serve(listener, None, async {
                    let _ = stopped.await;
                })
                .await
                .expect("the agent serves");
        });
        Self {
            url,
            token,
            stop: Some(stop),
            task: Some(task),
        }
    }
}

impl Drop for AgentOnLoopback {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// `sale` signed with `key` as the first of its chain (`preced` 88 `=`), made at its
/// `datTrans` by the certificate `thumbprint`, with the test product's software block: its
/// JSON and its `actu`.
pub fn signed_transaction(
    key: &websrm_crypto::PrivateKey,
    thumbprint: websrm_domain::Thumbprint,
    sale: websrm_protocol::transaction::Sale,
) -> (serde_json::Value, websrm_crypto::Signature) {
    use websrm_crypto::{Preceding, TransactionSignatureInput};
    use websrm_protocol::transaction::values::SignatureText;
    use websrm_protocol::transaction::{Signatures, SoftwareBlock};
    let amounts = sale.amounts;
    let (number, date) = (sale.number.as_str().to_owned(), sale.date.to_string());
    let input = TransactionSignatureInput {
        no_trans: &number,
        dat_trans: &date,
        tps: &amounts.gst.to_string(),
        tvq: &amounts.qst.to_string(),
        apres_tax: &amounts.after_tax.to_string(),
        no_tps: &sale.tax_numbers.gst,
        no_tvq: &sale.tax_numbers.qst,
        mod_impr: sale.print_mode.code(),
        mod_trans: sale.mode.code(),
        preced: Preceding::First,
    };
    let actu = key.sign(input.to_text().as_bytes()).expect("a signature");
    let product = test_product();
    let made_at = sale.date;
    let transaction = sale.signed(
        Signatures {
            made_at,
            actu: actu.to_base64().parse().expect("88 characters"),
            preced: SignatureText::first(),
        },
        thumbprint.to_string(),
        SoftwareBlock {
            srs_id: product.srs_id,
            version_id: product.version_id,
            certification_code: product.certification_code,
            partner_id: product.partner_id,
            version: product.version,
            parent_version: product.parent_version,
        },
    );
    (transaction.to_json(), actu)
}
