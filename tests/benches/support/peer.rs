//! The peer: CloudFlare CFSSL's `cfssl serve` (Debian's `golang-cfssl`) signing CSRs on
//! loopback, driven by the same load generator as the authority, in alternate rounds of the same
//! run: the same 16 keep-alive HTTPS connections, a fresh key and CSR in every request (made
//! before the timed part), and each server's CPU read from `/proc/PID/stat` over each round.
//!
//! What each does per request: CFSSL parses the JSON and the CSR, checks the CSR's signature,
//! signs one P-256 certificate and answers JSON, with no database (`-db-config` unset). The
//! authority validates the request as WEB-SRM does (headers, subject, authorization code, the
//! operator and product in the registry), issues, and records the certificate, its event and a
//! chained audit entry durably (group commit, `synchronous = FULL`) before it answers.
//!
//! The load generator's own CPU is read too: both runs keep the cores about busy, so twice
//! CFSSL's rate leaves the authority at most half of what CFSSL and the load generator spent per
//! request, less the load generator's share; that bound is printed next to what validating a CSR
//! and issuing its certificate take alone (the in-process ceiling), so that whether the target
//! can be reached at all is computed in the run, not argued.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use websrm_crypto::{PrivateKey, pem};

use super::{CONNECTIONS, Load, Served, enrolments_across, load};

/// Each server is measured this long per round, this many rounds, in turn.
const ROUND: Duration = Duration::from_secs(5);
const ROUNDS: usize = 3;

/// `cfssl serve` on a loopback port, with a fresh P-256 CA and a TLS certificate for 127.0.0.1
/// made by OpenSSL in a temporary folder; ended when dropped.
pub(crate) struct Cfssl {
    child: Child,
    url: String,
    root: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl Drop for Cfssl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new P-256 key in `dir/name` (PEM), made by OpenSSL.
fn p256_key(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            name,
        ],
    );
}

impl Cfssl {
    /// Starts it, or `None` when `cfssl` is not installed (`cargo xtask bench` installs it).
    pub(crate) fn start() -> Option<Self> {
        Command::new("cfssl").arg("version").output().ok()?;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        p256_key(d, "ca-key.pem");
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "ca-key.pem",
                "-sha256",
                "-days",
                "30",
                "-subj",
                "/CN=peer-bench test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-out",
                "ca.pem",
            ],
        );
        p256_key(d, "tls-key.pem");
        openssl(
            d,
            &[
                "req",
                "-new",
                "-key",
                "tls-key.pem",
                "-subj",
                "/CN=127.0.0.1",
                "-out",
                "tls.csr",
            ],
        );
        std::fs::write(
            d.join("tls.ext"),
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "tls.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca-key.pem",
                "-CAcreateserial",
                "-days",
                "30",
                "-sha256",
                "-extfile",
                "tls.ext",
                "-out",
                "tls.pem",
            ],
        );
        // Five years, and both spellings of non-repudiation (this build knows the misspelt one).
        std::fs::write(
            d.join("config.json"),
            r#"{"signing":{"default":{"expiry":"43800h","usages":["digital signature","content committment","content commitment"]}}}"#,
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("cfssl")
            .args(["serve", "-address", "127.0.0.1", "-port", &port.to_string()])
            .args([
                "-ca",
                "ca.pem",
                "-ca-key",
                "ca-key.pem",
                "-config",
                "config.json",
            ])
            .args(["-tls-cert", "tls.pem", "-tls-key", "tls-key.pem"])
            // Warnings only: CFSSL's default logs a line per request, which costs it.
            .args(["-loglevel", "2"])
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cfssl serve starts");
        let root = pem::decode(
            "CERTIFICATE",
            &std::fs::read_to_string(d.join("ca.pem")).unwrap(),
        )
        .unwrap();
        Some(Self {
            child,
            url: format!("https://127.0.0.1:{port}"),
            root,
            _dir: dir,
        })
    }

    fn client(&self) -> reqwest::Client {
        super::https_client(&self.root, None)
    }

    /// Waits until it answers, then checks one signing: a certificate for the CSR's key.
    async fn ready(&self, csr: &str) {
        let client = self.client();
        for _ in 0..200 {
            if client
                .post(format!("{}/api/v1/cfssl/info", self.url))
                .json(&json!({}))
                .send()
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let answer = sign(&client, &self.url, csr).await;
        let issued = answer["result"]["certificate"].as_str().unwrap_or_default();
        let der = pem::decode("CERTIFICATE", issued).expect("CFSSL signs the CSR");
        websrm_crypto::verify_issued_by(&der, &self.root).expect("by its CA");
    }
}

/// The PEM form CFSSL reads: the wire form's Base64 in lines of 64.
fn pem_csr(wire: &str) -> String {
    let body: String = wire.lines().filter(|l| !l.starts_with("-----")).collect();
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        lines.join("\n")
    )
}

async fn sign(client: &reqwest::Client, url: &str, csr: &str) -> Value {
    let answer = client
        .post(format!("{url}/api/v1/cfssl/sign"))
        .json(&json!({ "certificate_request": csr }))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    assert!(
        status == 200 && body["success"] == json!(true),
        "CFSSL: {status} {body}"
    );
    body
}

/// `CONNECTIONS` connections sign CSRs from `csrs` (each once) for `time`.
async fn signings(cfssl: &Cfssl, csrs: Vec<String>, time: Duration) -> Load {
    let csrs = Arc::new(std::sync::Mutex::new(csrs));
    let deadline = Instant::now() + time;
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let client = cfssl.client();
        let url = cfssl.url.clone();
        let csrs = csrs.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let Some(csr) = csrs.lock().unwrap().pop() else {
                    break;
                };
                let start = Instant::now();
                sign(&client, &url, &csr).await;
                latencies.push(start.elapsed());
            }
            latencies
        }));
    }
    load(tasks, Instant::now()).await
}

/// CPU seconds (user and system, every thread) the process `pid` has used.
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's closing parenthesis; utime and stime are the 14th and
    // 15th of the line, the 12th and 13th after it.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / clock_ticks()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// A server's rounds: requests a second, and its CPU per request (µs), each round.
#[derive(Default)]
struct Rounds {
    rates: Vec<f64>,
    cpu_us: Vec<f64>,
    cpu_share: Vec<f64>,
    p50_ms: Vec<f64>,
    /// The load generator's CPU per request (µs): this process's.
    client_us: Vec<f64>,
    /// The server's and the load generator's CPU together (% of one core).
    busy: Vec<f64>,
}

impl Rounds {
    fn add(&mut self, load: &Load, cpu: f64, client: f64, time: f64) {
        let requests = load.rate * time;
        self.rates.push(load.rate);
        self.cpu_us.push(cpu / requests.max(1.0) * 1e6);
        self.cpu_share.push(cpu / time * 100.0);
        self.p50_ms.push(load.p50_ms);
        self.client_us.push(client / requests.max(1.0) * 1e6);
        self.busy.push((cpu + client) / time * 100.0);
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The comparison's table, or a line saying why there is none.
pub(crate) fn against_cfssl(
    runtime: &tokio::runtime::Runtime,
    make_csrs: impl Fn(usize) -> Vec<(PrivateKey, String)>,
) {
    let Some(cfssl) = Cfssl::start() else {
        println!("CFSSL is not installed (`apt-get install golang-cfssl`): no comparison.");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path());
    // Enough CSRs for every round above either server's rate here, each used once (a round
    // that runs out ends early; its rate is still requests over the time they took).
    let (per_round, warm_up) = (25_000, 2_000);
    let total = per_round * ROUNDS + warm_up;
    let mut ours = make_csrs(total);
    let mut theirs: Vec<String> = make_csrs(total)
        .into_iter()
        .map(|(_, csr)| pem_csr(&csr))
        .collect();
    runtime.block_on(cfssl.ready(&theirs[0]));
    // A warm-up for each, not counted.
    let warm = Duration::from_secs(1);
    runtime.block_on(enrolments_across(
        &[&served],
        ours.split_off(ours.len() - warm_up),
        warm,
    ));
    runtime.block_on(signings(
        &cfssl,
        theirs.split_off(theirs.len() - warm_up),
        warm,
    ));

    // The work no authority can skip: validating a CSR and issuing its certificate, with no
    // I/O, in CPU per enrolment (the in-process ceiling, on every core).
    let cores = std::thread::available_parallelism().map_or(2, usize::from) as f64;
    let floor = cores / super::ceiling(&ours[..2_000]) * 1e6;
    let (mut websrm, mut peer) = (Rounds::default(), Rounds::default());
    let (authority_pid, cfssl_pid, me) = (served.child.id(), cfssl.child.id(), std::process::id());
    for _ in 0..ROUNDS {
        let batch = ours.split_off(ours.len() - per_round);
        let (cpu, client, start) = (cpu_seconds(authority_pid), cpu_seconds(me), Instant::now());
        let round = runtime.block_on(enrolments_across(&[&served], batch, ROUND));
        let time = start.elapsed().as_secs_f64();
        websrm.add(
            &round,
            cpu_seconds(authority_pid) - cpu,
            cpu_seconds(me) - client,
            time,
        );

        let batch = theirs.split_off(theirs.len() - per_round);
        let (cpu, client, start) = (cpu_seconds(cfssl_pid), cpu_seconds(me), Instant::now());
        let round = runtime.block_on(signings(&cfssl, batch, ROUND));
        let time = start.elapsed().as_secs_f64();
        peer.add(
            &round,
            cpu_seconds(cfssl_pid) - cpu,
            cpu_seconds(me) - client,
            time,
        );
    }
    let (ours_rate, theirs_rate) = (median(&websrm.rates), median(&peer.rates));
    let ratio = ours_rate / theirs_rate;
    let met = if ratio >= 2.0 { "yes" } else { "**no**" };
    let rounds = |r: &[f64]| {
        r.iter()
            .map(|v| format!("{v:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| measure | websrm authority (`AJO`) | CFSSL 1.2 (`cfssl serve`, sign) | target | met |"
    );
    println!("|---|---:|---:|---:|---|");
    println!(
        "| requests/s, median of {ROUNDS} rounds of {} s (each round) | {ours_rate:.0} ({}) | {theirs_rate:.0} ({}) | | |",
        ROUND.as_secs(),
        rounds(&websrm.rates),
        rounds(&peer.rates)
    );
    println!("| websrm / CFSSL | {ratio:.2} | | ≥ 2.00 | {met} |");
    println!(
        "| server CPU per request (µs), median | {:.0} | {:.0} | | |",
        median(&websrm.cpu_us),
        median(&peer.cpu_us)
    );
    println!(
        "| server CPU (% of one core), median | {:.0} | {:.0} | | |",
        median(&websrm.cpu_share),
        median(&peer.cpu_share)
    );
    println!(
        "| latency p50 (ms), median | {:.1} | {:.1} | | |",
        median(&websrm.p50_ms),
        median(&peer.p50_ms)
    );
    // Both runs keep the cores busy (server and load generator together): at twice CFSSL's
    // rate on the same cores, the authority and the load generator together may spend half
    // of what CFSSL and the load generator spent per request.
    let (ours_client, theirs_client) = (median(&websrm.client_us), median(&peer.client_us));
    let budget = (median(&peer.cpu_us) + theirs_client) / 2.0 - ours_client;
    println!(
        "| load generator's CPU per request (µs), median | {ours_client:.0} | {theirs_client:.0} | | |"
    );
    println!(
        "| server and load generator together (% of one core; the machine has {}), median | {:.0} | {:.0} | | |",
        std::thread::available_parallelism().map_or(1, usize::from) * 100,
        median(&websrm.busy),
        median(&peer.busy)
    );
    println!(
        "| the authority's CPU per request that 2.00× would allow on these cores (µs): (CFSSL's + its load generator's) / 2 − ours | ≤ {budget:.0} | | | |"
    );
    println!(
        "| validating a CSR and issuing its certificate alone, CPU per enrolment on every core, no TLS, HTTP or registry (µs) | {floor:.0} | | | |"
    );
    println!();
    println!(
        "{}",
        if budget <= floor {
            format!(
                "On this machine 2.00× CFSSL is out of reach of any cut at the edge: it would leave the authority {budget:.0} µs per enrolment, no more than validation and issuance alone take ({floor:.0} µs), before TLS, HTTP and the durable record."
            )
        } else {
            format!(
                "On this machine 2.00× CFSSL would leave the authority {budget:.0} µs per enrolment, {:.0} µs above validation and issuance alone ({floor:.0} µs), for TLS, HTTP and the durable record.",
                budget - floor
            )
        }
    );
    println!();
    println!(
        "Same machine, same load generator in this process ({CONNECTIONS} keep-alive HTTPS connections, a fresh P-256 key and CSR in every request), the two servers in turn. The load generator shares the cores with the server measured. CFSSL only signs (no database, no OCSP, log at warnings); the authority validates every request as WEB-SRM does and records each certificate durably before it answers."
    );
}
