//! The authority end to end: enrolments per second over HTTPS with keep-alive connections, every
//! request carrying a fresh key (so that no answer comes from the repetition path), next to the
//! in-process ceiling measured in the same run (CSR validation and issuance on every core, no
//! I/O, no HTTP); then a registry already holding many certificates against a fresh one, in
//! alternate rounds; then replacements and deletions, which present a client certificate and so
//! open a connection each; then transactions, one per request and in batches of 100, each
//! checked as WEB-SRM checks it and recorded. The authority runs in a process of its own (this binary, in child
//! mode), so that its peak memory is its own.
//!
//! Run with `cargo xtask bench`, which writes the table into `docs/BENCHMARKS.md`.
//! With `WEBSRM_TEST_POSTGRES` naming a PostgreSQL server (`cargo xtask bench` starts one), the
//! same enrolments again with the registry on PostgreSQL, with one and with two authority
//! processes sharing it.
//! `WEBSRM_BENCH_FILL` sets the size of the filled registry (default 1,000,000);
//! `WEBSRM_BENCH_ONLY=transactions` measures transactions end to end (one per request, then in
//! batches of 100) and stops;
//! `WEBSRM_BENCH_ONLY=flood` measures enrolments during a flood of sign-ins and stops,
//! `WEBSRM_BENCH_ONLY=service` measures the service alone and stops, `WEBSRM_BENCH_ONLY=e2e` the
//! enrolments end to end and stops (for a profiler); `WEBSRM_BENCH_ONLY=peer` measures the
//! authority against CFSSL (`support/peer.rs`) and stops, `WEBSRM_BENCH_ONLY=profile` profiles
//! the authority under load with `perf` and prints the CPU budget of an enrolment
//! (`support/profile.rs`).

#![allow(clippy::print_stdout, clippy::print_stderr)] // A benchmark reports on standard output.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;
use websrm_authority::{Authority, AuthorityFiles, SystemClock, seed};
use websrm_crypto::tls::ClientIdentity;
use websrm_crypto::{CertificateAuthority, Csr, PrivateKey, pem, validate_csr};
use websrm_domain::{Environment, Sector, SerialNumber, Subject, Thumbprint, Validity};
use websrm_registry::NewCertificate;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;

#[path = "support/peer.rs"]
mod peer;
#[path = "support/profile.rs"]
mod profile;

const CHILD: &str = "WEBSRM_BENCH_AUTHORITY";
const CONNECTIONS: usize = 16;
const MEASURE: Duration = Duration::from_secs(6);
/// The filled registry and a fresh one are measured in turn, this long each, this many times.
const ROUND: Duration = Duration::from_secs(3);
const ROUNDS: usize = 3;

fn subject(nickname: &str) -> Subject {
    MICHEL_UNTEL
        .srs_subject(Sector::Restaurant, nickname.parse().unwrap())
        .unwrap()
}

/// Keys and CSRs made before the timed part.
fn csrs(n: usize) -> Vec<(PrivateKey, String)> {
    let per = n.div_ceil(2);
    let make = move || {
        (0..per)
            .map(|_| {
                let key = PrivateKey::generate().unwrap();
                let csr = Csr::build(&subject("Caisse du bar"), &key)
                    .unwrap()
                    .to_wire();
                (key, csr)
            })
            .collect::<Vec<_>>()
    };
    let a = std::thread::spawn(make);
    let mut out = make();
    out.extend(a.join().unwrap());
    out.truncate(n);
    out
}

fn headers(device: &str) -> Vec<(&'static str, String)> {
    vec![
        ("ENVIRN", "DEV".into()),
        ("CASESSAI", "000.000".into()),
        ("APPRLINIT", "SEV".into()),
        ("IDAPPRL", device.into()),
        ("IDSEV", "0000000000000002".into()),
        ("IDVERSI", "0000000000000003".into()),
        ("CODCERTIF", "FOB201999999".into()),
        ("IDPARTN", "0000000000000001".into()),
        ("VERSI", "1.0.0".into()),
        ("VERSIPARN", "0".into()),
    ]
}

/// The authority process: serves `dir` (with the registry in `database` when not empty) on
/// two loopback ports it writes to `dir/PORTS`.
fn child(spec: &str) {
    let [dir, database, ports, metrics] = spec.split('|').collect::<Vec<_>>()[..] else {
        panic!("bad spec")
    };
    websrm_tests::run_authority_process_with(
        Path::new(dir),
        (!database.is_empty()).then_some(database),
        "127.0.0.1:0",
        "127.0.0.1:0",
        metrics != "off",
        |e, a| {
            std::fs::write(Path::new(dir).join(ports), format!("{e} {a}")).unwrap();
        },
    );
}

struct Served {
    child: Child,
    enrolment: String,
    api: String,
    root: Vec<u8>,
}

impl Served {
    fn start(dir: &Path) -> Self {
        Self::start_on(dir, None, "ports")
    }

    /// An authority process on `dir`, with its registry in `database` if given; `ports` names
    /// the file where it writes its ports (one per process sharing a folder).
    fn start_on(dir: &Path, database: Option<&str>, ports: &str) -> Self {
        Self::start_with(dir, database, ports, true)
    }

    /// [`Served::start_on`], counting requests in its metrics or not.
    fn start_with(dir: &Path, database: Option<&str>, ports: &str, metrics: bool) -> Self {
        let _ = std::fs::remove_file(dir.join(ports));
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(
                CHILD,
                format!(
                    "{}|{}|{ports}|{}",
                    dir.display(),
                    database.unwrap_or_default(),
                    if metrics { "on" } else { "off" }
                ),
            )
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..2000 {
            if let Ok(ports) = std::fs::read_to_string(dir.join(ports))
                && let Some((e, a)) = ports.split_once(' ')
            {
                let root = pem::decode(
                    "CERTIFICATE",
                    &std::fs::read_to_string(dir.join("tls-root.pem")).unwrap(),
                )
                .unwrap();
                return Self {
                    child,
                    enrolment: format!("https://{e}"),
                    api: format!("https://{a}"),
                    root,
                };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the authority did not start");
    }

    /// Resident memory of the authority process: now and at its peak (KiB).
    fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    fn client(&self, identity: Option<ClientIdentity<'_>>) -> reqwest::Client {
        https_client(&self.root, identity)
    }
}

/// An HTTP/1.1 client that trusts `root` (DER), presenting `identity` if given.
fn https_client(root: &[u8], identity: Option<ClientIdentity<'_>>) -> reqwest::Client {
    let config = websrm_crypto::tls::client_config(&[root.to_vec()], identity).unwrap();
    reqwest::Client::builder()
        .use_preconfigured_tls(Arc::unwrap_or_clone(config))
        .http1_only()
        .build()
        .unwrap()
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(client: &reqwest::Client, url: &str, device: &str, body: Value) -> (u16, Value) {
    let mut request = client.post(url).json(&body);
    for (name, value) in headers(device) {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// One AJO with `csr`, which must be issued; how long it took.
async fn timed_ajo(client: &reqwest::Client, url: &str, csr: String) -> Duration {
    let start = Instant::now();
    let (status, answer) = post(
        client,
        url,
        "0000-0000-0000",
        json!({ "reqCertif": { "modif": "AJO", "csr": csr } }),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    start.elapsed()
}

struct Load {
    /// Requests answered in the timed part.
    count: usize,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Load {
    /// A row of the table: `what`, then the rate and the latencies.
    fn row(&self, what: &str) {
        println!(
            "| {what}, p50 / p99 (ms) | {:.0}, {:.1} / {:.1} | | |",
            self.rate, self.p50_ms, self.p99_ms
        );
    }
}

/// The rate and latencies of the requests the `tasks` timed, from `started` until the last one
/// ends.
async fn load(tasks: Vec<tokio::task::JoinHandle<Vec<Duration>>>, started: Instant) -> Load {
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Load {
        count: latencies.len(),
        rate: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// `CONNECTIONS` keep-alive connections send AJO requests, each with one of `csrs`, for
/// `MEASURE`.
async fn enrolments(served: &Served, csrs: Vec<(PrivateKey, String)>) -> Load {
    enrolments_across(&[served], csrs, MEASURE).await
}

/// The same, the connections spread over several authority processes in turn, for `time`.
async fn enrolments_across(
    served: &[&Served],
    csrs: Vec<(PrivateKey, String)>,
    time: Duration,
) -> Load {
    let csrs = Arc::new(std::sync::Mutex::new(csrs));
    let deadline = Instant::now() + time;
    let mut tasks = Vec::new();
    for i in 0..CONNECTIONS {
        let served = served[i % served.len()];
        let client = served.client(None);
        let url = format!("{}/enrolement", served.enrolment);
        let csrs = csrs.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let Some((_, csr)) = csrs.lock().unwrap().pop() else {
                    break;
                };
                latencies.push(timed_ajo(&client, &url, csr).await);
            }
            latencies
        }));
    }
    load(tasks, Instant::now()).await
}

/// Enrolments one after another on a kept-alive connection, quiet and then while 1,000
/// sign-ins with unknown numbers (one pre-session replayed) flood the online services; the
/// authority's peak memory after the flood, and how the sign-ins were answered.
async fn sign_in_flood(
    served: &Served,
    csrs: Vec<(PrivateKey, String)>,
) -> (Load, Load, u64, Vec<(u16, usize)>) {
    let srs = served.client(None);
    let url = format!("{}/enrolement", served.enrolment);
    let (quiet_csrs, flooded_csrs) = csrs.split_at(csrs.len() / 2);
    let timed = |csrs: Vec<String>| {
        let (srs, url) = (srs.clone(), url.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            for csr in csrs {
                latencies.push(timed_ajo(&srs, &url, csr).await);
            }
            latencies
        })
    };
    let quiet = load(
        vec![timed(quiet_csrs.iter().map(|(_, c)| c.clone()).collect())],
        Instant::now(),
    )
    .await;
    let browser = reqwest::Client::builder()
        .use_preconfigured_tls(Arc::unwrap_or_clone(
            websrm_crypto::tls::client_config(std::slice::from_ref(&served.root), None).unwrap(),
        ))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = format!("{}/services/connexion", served.enrolment);
    let form = browser.get(&sign_in).send().await.unwrap();
    let pre = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("websrm_presession="))
        .unwrap();
    let page = form.text().await.unwrap();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let csrf = page[at..].split('"').next().unwrap().to_owned();
    let flood: Vec<_> = (0..1_000u64)
        .map(|i| {
            let (browser, url, pre) = (browser.clone(), sign_in.clone(), pre.clone());
            let body = format!(
                "csrf={csrf}&identification_number={}&password=guess",
                9_000_000_000 + i * 7_919
            );
            tokio::spawn(async move {
                browser
                    .post(url)
                    .header("cookie", pre)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16())
            })
        })
        .collect();
    let flooded = load(
        vec![timed(flooded_csrs.iter().map(|(_, c)| c.clone()).collect())],
        Instant::now(),
    )
    .await;
    let mut answers = std::collections::BTreeMap::<u16, usize>::new();
    for task in flood {
        *answers.entry(task.await.unwrap()).or_default() += 1;
    }
    let (_, peak) = served.memory();
    (quiet, flooded, peak, answers.into_iter().collect())
}

/// Certificates to replace or delete: enrolled first (untimed), each with its key.
async fn enrolled(served: &Served, n: usize) -> Vec<(PrivateKey, Vec<u8>, String)> {
    let client = served.client(None);
    let url = format!("{}/enrolement", served.enrolment);
    let mut out = Vec::new();
    for (key, csr) in csrs(n) {
        let (status, answer) = post(
            &client,
            &url,
            "0000-0000-0000",
            json!({ "reqCertif": { "modif": "AJO", "csr": csr } }),
        )
        .await;
        assert_eq!(status, 201, "{answer}");
        let der = pem::decode(
            "CERTIFICATE",
            answer["retourCertif"]["certif"].as_str().unwrap(),
        )
        .unwrap();
        let device = answer["retourCertif"]["idApprl"]
            .as_str()
            .unwrap()
            .to_owned();
        out.push((key, der, device));
    }
    out
}

/// REM (with a new CSR) or SUP of each certificate, presenting it: a connection each.
async fn on_held(served: &Served, held: Vec<(PrivateKey, Vec<u8>, String)>, replace: bool) -> Load {
    let url = format!("{}/certificats", served.api);
    let fresh = if replace {
        csrs(held.len())
    } else {
        Vec::new()
    };
    let work: Vec<_> = held
        .into_iter()
        .zip(
            fresh
                .into_iter()
                .map(Some)
                .chain(std::iter::repeat_with(|| None)),
        )
        .collect();
    let work = Arc::new(std::sync::Mutex::new(work));
    let mut tasks = Vec::new();
    let started = Instant::now();
    for _ in 0..CONNECTIONS {
        let work = work.clone();
        let root = served.root.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let Some(((key, der, device), csr)) = work.lock().unwrap().pop() else {
                    break;
                };
                let serial = websrm_crypto::inspect_certificate(&der)
                    .unwrap()
                    .serial
                    .to_string();
                let identity = ClientIdentity {
                    chain: vec![der],
                    key: &key,
                };
                let config =
                    websrm_crypto::tls::client_config(std::slice::from_ref(&root), Some(identity))
                        .unwrap();
                let client = reqwest::Client::builder()
                    .use_preconfigured_tls(Arc::unwrap_or_clone(config))
                    .http1_only()
                    .build()
                    .unwrap();
                let body = match csr {
                    Some((_, csr)) => {
                        json!({ "reqCertif": { "modif": "REM", "csr": csr, "noSerie": serial } })
                    }
                    None => json!({ "reqCertif": { "modif": "SUP", "noSerie": serial } }),
                };
                let start = Instant::now();
                let (status, answer) = post(&client, &url, &device, body).await;
                assert!(status == 201 || status == 200, "{answer}");
                latencies.push(start.elapsed());
            }
            latencies
        }));
    }
    load(tasks, started).await
}

/// Signed transactions, sent over `held`'s keep-alive mutual-TLS connections (a certificate and
/// a device each), `per_request` in each request: one current transaction (`transActu`) when 1,
/// otherwise a batch (`transLot`, newest first, `SIGNATRANSM` over it oldest first). Every
/// transaction and signature is made before the timed part. Each connection sends
/// `requests_each` requests or stops after `MEASURE`; the load, and the transactions accepted
/// per second.
async fn transmissions(
    served: &Served,
    held: Vec<(PrivateKey, Vec<u8>, String)>,
    per_request: usize,
    requests_each: usize,
) -> (Load, f64) {
    let url = format!("{}/transaction", served.api);
    let start = OffsetDateTime::now_utc() - time::Duration::days(1);
    let code: websrm_domain::AuthorizationCode = "D8T8-W8W8".parse().unwrap();
    let mut next = 0u64;
    let mut work = Vec::new();
    for (key, der, device) in held {
        let thumbprint = websrm_crypto::inspect_certificate(&der).unwrap().thumbprint;
        let mut requests = Vec::with_capacity(requests_each);
        for _ in 0..requests_each {
            let mut made = Vec::with_capacity(per_request);
            for _ in 0..per_request {
                next += 1;
                let sale = websrm_tests::example_sale(start, next, next as i64);
                made.push(websrm_tests::signed_transaction(&key, thumbprint, sale));
            }
            let actus: Vec<websrm_crypto::Signature> = made.iter().map(|(_, a)| *a).collect();
            let signature = key
                .sign(
                    websrm_crypto::signatransm_input(&code, device.parse().unwrap(), &actus)
                        .as_bytes(),
                )
                .unwrap();
            let body = if per_request == 1 {
                json!({ "reqTrans": { "transActu": made[0].0 } })
            } else {
                let lot: Vec<Value> = made.into_iter().rev().map(|(t, _)| t).collect();
                json!({ "reqTrans": { "transLot": lot } })
            };
            requests.push((serde_json::to_vec(&body).unwrap(), signature.to_base64()));
        }
        work.push((key, der, device, thumbprint, requests));
    }
    let mut tasks = Vec::new();
    let started = Instant::now();
    for (key, der, device, thumbprint, requests) in work {
        let root = served.root.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let identity = ClientIdentity {
                chain: vec![der],
                key: &key,
            };
            let config =
                websrm_crypto::tls::client_config(std::slice::from_ref(&root), Some(identity))
                    .unwrap();
            let client = reqwest::Client::builder()
                .use_preconfigured_tls(Arc::unwrap_or_clone(config))
                .http1_only()
                .build()
                .unwrap();
            let mut latencies = Vec::new();
            for (body, signature) in requests {
                if started.elapsed() > MEASURE {
                    break;
                }
                let mut request = client
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .body(body);
                for (name, value) in headers(&device) {
                    request = request.header(name, value);
                }
                request = request
                    .header("NOTPS", "567891234RT0001")
                    .header("NOTVQ", "5678912340TQ0001")
                    .header("SIGNATRANSM", signature)
                    .header("EMPRCERTIFTRANSM", thumbprint.to_string());
                let begun = Instant::now();
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let text = response.text().await.unwrap();
                assert_eq!(status, 200, "{text}");
                latencies.push(begun.elapsed());
            }
            latencies
        }));
    }
    let load = load(tasks, started).await;
    let transactions = load.rate * per_request as f64;
    (load, transactions)
}

/// Validation and issuance on every core, no I/O, no HTTP.
fn ceiling(csrs: &[(PrivateKey, String)]) -> f64 {
    let ca = Arc::new(
        CertificateAuthority::generate(Environment::Dev, OffsetDateTime::now_utc()).unwrap(),
    );
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let wires: Arc<Vec<String>> = Arc::new(csrs.iter().map(|(_, c)| c.clone()).collect());
    let deadline = Instant::now() + Duration::from_secs(3);
    let started = Instant::now();
    #[allow(clippy::needless_collect)] // Every thread starts before the first is joined.
    let threads: Vec<_> = (0..cores)
        .map(|t| {
            let ca = ca.clone();
            let wires = wires.clone();
            std::thread::spawn(move || {
                let mut n = 0usize;
                let mut i = t;
                while Instant::now() < deadline {
                    let validated = validate_csr(&wires[i % wires.len()]).unwrap();
                    std::hint::black_box(ca.issue(&validated, OffsetDateTime::now_utc()).unwrap());
                    n += 1;
                    i += cores;
                }
                n
            })
        })
        .collect();
    let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

/// The authority's service alone, on every core: requests handed to `Authority::handle` as the
/// HTTP layer would, with the registry on disk, but no TLS, no HTTP and no client.
fn service_only(csrs: Vec<(PrivateKey, String)>) -> f64 {
    service_on(None, csrs, 32).rate
}

/// The service alone on the registry in `database` (SQLite in a temporary folder if `None`),
/// `threads` calling it at once: its rate, and what the registry's writer did meanwhile.
struct ServiceRun {
    rate: f64,
    enrolments: u64,
    registry: websrm_registry::WriterStats,
}

fn service_on(
    database: Option<&str>,
    csrs: Vec<(PrivateKey, String)>,
    threads: usize,
) -> ServiceRun {
    let dir = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let database = database.map(websrm_registry::Database::parse);
    let files =
        AuthorityFiles::open_or_create_with(dir.path(), database.as_ref(), Environment::Dev, now)
            .unwrap();
    let (authority, _) = Authority::new(files, Environment::Dev, Arc::new(SystemClock));
    seed::seed_test_data(&authority, now).unwrap();
    let authority = Arc::new(authority);
    let headers: Vec<(String, String)> = headers("0000-0000-0000")
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .collect();
    let requests: Arc<std::sync::Mutex<Vec<Vec<u8>>>> = Arc::new(std::sync::Mutex::new(
        csrs.into_iter()
            .map(|(_, csr)| {
                json!({ "reqCertif": { "modif": "AJO", "csr": csr } })
                    .to_string()
                    .into_bytes()
            })
            .collect(),
    ));
    eprintln!("measuring the service alone (pid {})…", std::process::id());
    let deadline = Instant::now() + Duration::from_secs(3);
    let before = authority.registry().writer_stats();
    let started = Instant::now();
    #[allow(clippy::needless_collect)] // Every thread starts before the first is joined.
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let authority = authority.clone();
            let requests = requests.clone();
            let headers = headers.clone();
            std::thread::spawn(move || {
                let mut n = 0usize;
                while Instant::now() < deadline {
                    let Some(body) = requests.lock().unwrap().pop() else {
                        break;
                    };
                    let request = websrm_authority::Request::new(
                        websrm_authority::Endpoint::Enrolment,
                        headers.clone(),
                        body,
                        None,
                    );
                    let response = authority.handle(&request);
                    assert_eq!(
                        response.status,
                        201,
                        "{}",
                        String::from_utf8_lossy(&response.body)
                    );
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: usize = workers.into_iter().map(|t| t.join().unwrap()).sum();
    let rate = total as f64 / started.elapsed().as_secs_f64();
    let after = authority.registry().writer_stats();
    let mut registry = websrm_registry::WriterStats::default();
    registry.batches = after.batches - before.batches;
    registry.writes = after.writes - before.writes;
    registry.round_trips = after.round_trips - before.round_trips;
    registry.read_round_trips = after.read_round_trips - before.read_round_trips;
    ServiceRun {
        rate,
        enrolments: total as u64,
        registry,
    }
}

impl ServiceRun {
    /// Round trips per enrolment: the writer's, the readers', and writes per batch.
    fn trips(&self) -> String {
        let n = self.enrolments.max(1) as f64;
        format!(
            "{:.1} on the writer + {:.1} reads; {:.1} writes a batch",
            self.registry.round_trips as f64 / n,
            self.registry.read_round_trips as f64 / n,
            self.registry.writes as f64 / self.registry.batches.max(1) as f64
        )
    }
}

/// The authority process's CPU (seconds) over a measure.
struct Cpu(f64);

impl Cpu {
    /// Microseconds of the authority's CPU for each of `items`.
    fn per(&self, items: usize) -> f64 {
        self.0 / items.max(1) as f64 * 1e6
    }
}

/// Runs `work` (a measure against `served`) and returns what it returns with the CPU the
/// authority process used meanwhile.
fn with_cpu<T>(served: &Served, work: impl FnOnce() -> T) -> (T, Cpu) {
    let pid = served.child.id();
    let before = peer::cpu_seconds(pid);
    let out = work();
    (out, Cpu(peer::cpu_seconds(pid) - before))
}

/// The filled registry and a fresh one, measured in turn.
struct Filled {
    /// Medians of the rounds on the filled registry.
    filled: Load,
    /// The median rate of the rounds on the fresh one.
    fresh_rate: f64,
    /// The median of the rounds' ratios, filled / fresh.
    ratio: f64,
    /// The filled registry's authority's resident memory at the end, and its peak (KiB).
    rss_end: u64,
    peak: u64,
}

/// Serves the filled registry of `dir` and a fresh one, and sends them enrolments in alternate
/// rounds, each with keys of its own: the disk of these machines is as noisy as their cores, and
/// this ratio is about the registry.
fn filled_against_fresh(runtime: &tokio::runtime::Runtime, dir: &Path, per_round: usize) -> Filled {
    let served = Served::start(dir);
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = Served::start(fresh_dir.path());
    let rounds: Vec<(Load, Load)> = (0..ROUNDS)
        .map(|_| {
            let (a, b) = (csrs(per_round), csrs(per_round));
            let fresh = runtime.block_on(enrolments_across(&[&fresh], a, ROUND));
            let filled = runtime.block_on(enrolments_across(&[&served], b, ROUND));
            (fresh, filled)
        })
        .collect();
    let (rss_end, peak) = served.memory();
    let median = |f: &dyn Fn(&(Load, Load)) -> f64| {
        let mut v: Vec<f64> = rounds.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Filled {
        filled: Load {
            count: rounds.iter().map(|(_, f)| f.count).sum(),
            rate: median(&|(_, f)| f.rate),
            p50_ms: median(&|(_, f)| f.p50_ms),
            p99_ms: median(&|(_, f)| f.p99_ms),
        },
        fresh_rate: median(&|(e, _)| e.rate),
        ratio: median(&|(e, f)| f.rate / e.rate),
        rss_end,
        peak,
    }
}

/// Two fresh authorities, one counting requests in its metrics and one not, sent enrolments in
/// alternate rounds: the median of the rounds' ratios, with / without.
fn metrics_cost(runtime: &tokio::runtime::Runtime, per_round: usize) -> (f64, f64, f64) {
    let (dir_on, dir_off) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let on = Served::start_with(dir_on.path(), None, "ports", true);
    let off = Served::start_with(dir_off.path(), None, "ports", false);
    let rounds: Vec<(f64, f64)> = (0..ROUNDS)
        .map(|_| {
            let (a, b) = (csrs(per_round), csrs(per_round));
            let without = runtime.block_on(enrolments_across(&[&off], a, ROUND)).rate;
            let with = runtime.block_on(enrolments_across(&[&on], b, ROUND)).rate;
            (with, without)
        })
        .collect();
    let median = |f: &dyn Fn(&(f64, f64)) -> f64| {
        let mut v: Vec<f64> = rounds.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (
        median(&|(w, _)| *w),
        median(&|(_, o)| *o),
        median(&|(w, o)| w / o),
    )
}

/// The registry on PostgreSQL, when the run names a server: one process, then two sharing the
/// database (and a folder).
fn on_postgres(
    runtime: &tokio::runtime::Runtime,
    per_run: usize,
) -> Option<(Load, Load, ServiceRun)> {
    websrm_tests::fresh_postgres_database("websrm_bench_one").map(|one| {
        eprintln!("PostgreSQL, one process…");
        let dir = tempfile::tempdir().unwrap();
        let served = Served::start_on(dir.path(), Some(&one), "ports");
        let single = runtime.block_on(enrolments(&served, csrs(per_run)));
        drop(served);
        eprintln!("PostgreSQL, two processes…");
        let two = websrm_tests::fresh_postgres_database("websrm_bench_two").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let a = Served::start_on(dir.path(), Some(&two), "ports-a");
        let b = Served::start_on(dir.path(), Some(&two), "ports-b");
        let double = runtime.block_on(enrolments_across(&[&a, &b], csrs(per_run), MEASURE));
        drop((a, b));
        eprintln!("PostgreSQL, round trips…");
        let three = websrm_tests::fresh_postgres_database("websrm_bench_trips").unwrap();
        let trips = service_on(Some(&three), csrs(20_000), CONNECTIONS);
        (single, double, trips)
    })
}

/// Fills the registry of `dir` (the authority stopped) with `n` certificates.
fn fill(dir: &Path, n: usize) {
    // With the folder, which holds the keys of the audit chain and the authorization codes.
    let registry = AuthorityFiles::open_or_create(dir, Environment::Dev, OffsetDateTime::now_utc())
        .unwrap()
        .registry;
    let operator = registry
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap()
        .id;
    let now = OffsetDateTime::now_utc();
    let random = |len: usize| {
        let mut b = vec![0u8; len];
        getrandom::fill(&mut b).unwrap();
        b
    };
    let mut left = n;
    while left > 0 {
        let batch: Vec<NewCertificate> = (0..left.min(10_000))
            .map(|_| {
                let mut serial = [0u8; 20];
                serial.copy_from_slice(&random(20));
                serial[0] = 0x10 + serial[0] % 0x70;
                let mut thumb = [0u8; 20];
                thumb.copy_from_slice(&random(20));
                NewCertificate::new(
                    SerialNumber::from_bytes(serial),
                    Thumbprint::from_bytes(thumb),
                    Environment::Dev,
                    operator,
                    None,
                    "Caisse du bar".parse().unwrap(),
                    "CN=5678912340,O=RBC-D8T8-W8W8".into(),
                    Validity::five_years_from(now),
                    random(700),
                    "enrolment",
                )
                .with_key_id(&random(20))
            })
            .collect();
        left -= batch.len();
        registry.record_issued_batch(&batch, now).unwrap();
    }
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        child(&spec);
        return;
    }
    // `cargo bench` passes --bench; anything else (cargo test) only checks it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let fill_to: usize = std::env::var("WEBSRM_BENCH_FILL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let per_run = 30_000;
    eprintln!("making keys and CSRs…");
    if std::env::var("WEBSRM_BENCH_ONLY").as_deref() == Ok("peer") {
        // The authority against CFSSL, in alternate rounds (`cargo xtask bench peer`).
        peer::against_cfssl(&runtime, csrs);
        return;
    }
    if std::env::var("WEBSRM_BENCH_ONLY").as_deref() == Ok("profile") {
        // The CPU budget of an enrolment, from a profile of the authority (`cargo xtask bench
        // profile`).
        profile::budget(&runtime, csrs);
        return;
    }
    if std::env::var("WEBSRM_BENCH_ONLY").as_deref() == Ok("service") {
        // For profiling the service alone: attach to this process once it says so.
        let work = csrs(40_000);
        eprintln!("service alone: {:.0} enrolments/s", service_only(work));
        return;
    }
    let batch_a = csrs(per_run);
    if std::env::var("WEBSRM_BENCH_ONLY").as_deref() == Ok("e2e") {
        // For profiling the authority process: attach to the pid it prints.
        let dir = tempfile::tempdir().unwrap();
        let served = Served::start(dir.path());
        eprintln!(
            "measuring end to end (authority pid {})…",
            served.child.id()
        );
        let empty = runtime.block_on(enrolments(&served, batch_a));
        eprintln!("end to end: {:.0} enrolments/s", empty.rate);
        return;
    }
    if std::env::var("WEBSRM_BENCH_ONLY").as_deref() == Ok("transactions") {
        let dir = tempfile::tempdir().unwrap();
        let served = Served::start(dir.path());
        let held = runtime.block_on(enrolled(&served, CONNECTIONS));
        let (one, one_rate) = runtime.block_on(transmissions(&served, held, 1, 1000));
        let held = runtime.block_on(enrolled(&served, CONNECTIONS));
        let (lot, lot_rate) = runtime.block_on(transmissions(&served, held, 100, 12));
        eprintln!(
            "transactions: one per request {one_rate:.0}/s p50 {:.1} ms; batches of 100 {lot_rate:.0}/s p50 {:.1} ms",
            one.p50_ms, lot.p50_ms
        );
        return;
    }
    if std::env::var("WEBSRM_BENCH_ONLY").as_deref() == Ok("flood") {
        let dir = tempfile::tempdir().unwrap();
        let served = Served::start(dir.path());
        let (quiet, flooded, peak, answers) = runtime.block_on(sign_in_flood(&served, csrs(400)));
        eprintln!(
            "enrolment p99 quiet {:.1} ms, during the flood {:.1} ms; peak {} KiB; sign-ins {answers:?}",
            quiet.p99_ms, flooded.p99_ms, peak
        );
        return;
    }
    if std::env::var("WEBSRM_BENCH_ONLY").as_deref() == Ok("postgres") {
        let (single, double, trips) = on_postgres(&runtime, per_run).expect("WEBSRM_TEST_POSTGRES");
        eprintln!(
            "PostgreSQL: one process {:.0}/s p50 {:.1} ms; two {:.0}/s p50 {:.1} ms; round trips {}; service alone {:.0}/s",
            single.rate,
            single.p50_ms,
            double.rate,
            double.p50_ms,
            trips.trips(),
            trips.rate
        );
        return;
    }
    if std::env::var("WEBSRM_BENCH_ONLY").as_deref() == Ok("metrics") {
        let (with, without, ratio) = metrics_cost(&runtime, per_run / 2);
        eprintln!("metrics counted {with:.0}/s, not counted {without:.0}/s, ratio {ratio:.3}");
        return;
    }
    if std::env::var("WEBSRM_BENCH_ONLY").as_deref() == Ok("filled") {
        // The filled registry against a fresh one, alone.
        let dir = tempfile::tempdir().unwrap();
        drop(Served::start(dir.path()));
        fill(dir.path(), fill_to);
        let f = filled_against_fresh(&runtime, dir.path(), per_run / 2);
        eprintln!(
            "filled {:.0}/s p99 {:.1} ms, fresh {:.0}/s, ratio {:.3}; rss {} peak {} KiB",
            f.filled.rate, f.filled.p99_ms, f.fresh_rate, f.ratio, f.rss_end, f.peak
        );
        return;
    }
    let ceiling_rate = ceiling(&batch_a[..2000]);
    let service_rate = service_only(csrs(12_000));

    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path());
    let (rss_start, _) = served.memory();
    let (empty, empty_cpu) = with_cpu(&served, || runtime.block_on(enrolments(&served, batch_a)));
    let empty_cpu = empty_cpu.per(empty.count);
    let (rss_after_empty, _) = served.memory();
    let held = runtime.block_on(enrolled(&served, 1500));
    let rem = runtime.block_on(on_held(&served, held, true));
    let held = runtime.block_on(enrolled(&served, 1500));
    let sup = runtime.block_on(on_held(&served, held, false));
    let held = runtime.block_on(enrolled(&served, CONNECTIONS));
    let ((one_by_one, one_rate), one_cpu) = with_cpu(&served, || {
        runtime.block_on(transmissions(&served, held, 1, 1000))
    });
    let one_cpu = one_cpu.per(one_by_one.count);
    let held = runtime.block_on(enrolled(&served, CONNECTIONS));
    let ((batches, batch_rate), batch_cpu) = with_cpu(&served, || {
        runtime.block_on(transmissions(&served, held, 100, 12))
    });
    let batch_cpu = batch_cpu.per(batches.count * 100);
    let (_, peak_empty) = served.memory();
    drop(served);

    let flood_dir = tempfile::tempdir().unwrap();
    let flood_served = Served::start(flood_dir.path());
    let (quiet, flooded, flood_peak, flood_answers) =
        runtime.block_on(sign_in_flood(&flood_served, csrs(400)));
    drop(flood_served);

    eprintln!("filling the registry to {fill_to} certificates…");
    let fill_started = Instant::now();
    fill(dir.path(), fill_to);
    let fill_secs = fill_started.elapsed().as_secs();
    let Filled {
        filled,
        fresh_rate,
        ratio: filled_ratio,
        rss_end,
        peak: peak_filled,
    } = filled_against_fresh(&runtime, dir.path(), per_run / 2);

    let postgres = on_postgres(&runtime, per_run);
    let (metrics_on, metrics_off, metrics_ratio) = metrics_cost(&runtime, per_run / 2);

    let ratio = empty.rate / ceiling_rate;
    let met = |ok: bool| if ok { "yes" } else { "**no**" };
    println!("| measure | value | target | met |");
    println!("|---|---:|---:|---|");
    println!(
        "| in-process ceiling: validate + issue on {} cores, enrolments/s | {ceiling_rate:.0} | | |",
        std::thread::available_parallelism().map_or(2, usize::from)
    );
    println!(
        "| the service alone (`Authority::handle`: headers, JSON, validation, registry, group commit, issuance; no TLS, no HTTP, no client), enrolments/s | {service_rate:.0} | | |"
    );
    println!(
        "| end to end, HTTPS keep-alive, {CONNECTIONS} connections, fresh key each: enrolments/s (empty registry); the authority's CPU per enrolment | {:.0}; {empty_cpu:.0} µs | | |",
        empty.rate
    );
    println!(
        "| end to end / ceiling (a breakdown: what TLS, HTTP, the registry and the load generator take) | {ratio:.2} | | |"
    );
    println!(
        "| latency p50 / p99 (ms) | {:.1} / {:.1} | | |",
        empty.p50_ms, empty.p99_ms
    );
    println!(
        "| end to end with {fill_to} certificates already recorded, and a fresh registry in alternate rounds ({ROUNDS} of {} s each, medians): enrolments/s | {:.0}; fresh {fresh_rate:.0} | | |",
        ROUND.as_secs(),
        filled.rate
    );
    println!(
        "| filled / fresh, median of the rounds' ratios | {filled_ratio:.2} | ≥ 0.80 | {} |",
        met(filled_ratio >= 0.80)
    );
    println!(
        "| latency p50 / p99 with {fill_to} (ms) | {:.1} / {:.1} | | |",
        filled.p50_ms, filled.p99_ms
    );
    quiet.row("enrolments one after another, quiet: per s");
    flooded.row("the same while 1,000 sign-ins flood the online services: per s");
    println!(
        "| enrolment p99 during the flood / quiet | {:.2} | p99 < 1 s | {} |",
        flooded.p99_ms / quiet.p99_ms.max(0.001),
        met(flooded.p99_ms < 1000.0)
    );
    println!(
        "| authority peak resident memory after the flood (MiB); sign-ins answered by status | {:.0}; {} | < 256 | {} |",
        flood_peak as f64 / 1024.0,
        flood_answers
            .iter()
            .map(|(status, n)| format!("{n}× {status}"))
            .collect::<Vec<_>>()
            .join(", "),
        if flood_peak == 0 {
            "not measured (no /proc)"
        } else {
            met(flood_peak < 256 * 1024)
        }
    );
    rem.row("replacements (REM, mutual TLS, a connection each): per s");
    sup.row("deletions (SUP, mutual TLS, a connection each): per s");
    println!(
        "| transactions end to end, one current transaction per request, {CONNECTIONS} mutual-TLS keep-alive connections (a device each), every one checked and recorded: transactions/s, p50 / p99 (ms); the authority's CPU per transaction | {one_rate:.0}, {:.1} / {:.1}; {one_cpu:.0} µs | | |",
        one_by_one.p50_ms, one_by_one.p99_ms
    );
    println!(
        "| the same in batches of 100 (`transLot`): transactions/s, p50 / p99 per request (ms); the authority's CPU per transaction | {batch_rate:.0}, {:.1} / {:.1}; {batch_cpu:.0} µs | | |",
        batches.p50_ms, batches.p99_ms
    );
    println!(
        "| transactions one per request / enrolments; in batches of 100 / one per request | {:.2}; {:.2} | | |",
        one_rate / empty.rate,
        batch_rate / one_rate.max(1.0)
    );
    println!(
        "| authority resident memory (MiB): at start, after {:.0}k enrolments, peak | {:.0}, {:.0}, {:.0} | flat | {} |",
        empty.rate * MEASURE.as_secs_f64() / 1000.0,
        rss_start as f64 / 1024.0,
        rss_after_empty as f64 / 1024.0,
        peak_empty as f64 / 1024.0,
        // Unread (no /proc) is not flat: it is not measured.
        if rss_start == 0 || rss_after_empty == 0 {
            "not measured (no /proc)"
        } else {
            met(rss_after_empty < rss_start + 64 * 1024)
        }
    );
    println!(
        "| authority with {fill_to} certificates (MiB): resident at end, peak | {:.0}, {:.0} | | |",
        rss_end as f64 / 1024.0,
        peak_filled as f64 / 1024.0
    );
    println!("| filled to {fill_to} in {fill_secs} s | | | |");
    println!(
        "| end to end with request metrics counted / not counted, fresh registries in alternate rounds ({ROUNDS} of {} s, medians): enrolments/s | {metrics_on:.0} / {metrics_off:.0} | | |",
        ROUND.as_secs()
    );
    println!(
        "| metrics' cost: with / without, median of the rounds' ratios | {metrics_ratio:.3} | ≥ 0.95 | {} |",
        met(metrics_ratio >= 0.95)
    );
    match postgres {
        Some((single, double, trips)) => {
            single.row("end to end on PostgreSQL, one authority process: enrolments/s");
            double
                .row("end to end on PostgreSQL, two authority processes sharing it: enrolments/s");
            let (one, two) = (single.rate / empty.rate, double.rate / single.rate);
            println!(
                "| PostgreSQL one process / SQLite; two processes / one | {one:.2}; {two:.2} | ≥ 0.60; ≥ 1.00 | {} |",
                met(one >= 0.60 && two >= 1.0)
            );
            println!(
                "| round trips per enrolment on PostgreSQL (the service alone, {CONNECTIONS} threads, {:.0} enrolments/s) | {} | | |",
                trips.rate,
                trips.trips()
            );
        }
        None => println!("| PostgreSQL | not measured: no server named | | |"),
    }
}
