//! Transmission end to end, against a local authority over real TLS on loopback: one POS
//! recording and sending its sales one after the other; eight POS sending at once through one
//! agent; recording while the authority cannot be reached, with an empty outbox and with
//! 200,000 transactions waiting (the ratio is what matters: these machines are noisy); and
//! 10,000 pending transactions flushed when the link returns.
//!
//! Run with `cargo xtask bench` (or `cargo xtask bench transmit`), which writes the table into
//! `docs/BENCHMARKS.md`. `WEBSRM_BENCH_PENDING` sets the long outbox (default 200,000) and
//! `WEBSRM_BENCH_FLUSH` the flushed one (default 10,000).

#![allow(clippy::print_stdout, clippy::print_stderr)] // A benchmark reports on standard output.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;
use websrm::transaction::{Checks, Sale, read_sale};
use websrm::{DeviceIdAnswer, Origin, Outcome, Srs};
use websrm_domain::{Environment, IdentificationNumber};
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;
use websrm_tests::{AgentOnLoopback, Relay, Served, example_sale_json, michel_enrolment};

/// Sale `n` as a POS writes it, recorded within 20 seconds after `start`, so that a batch of
/// them is never later than its reception.
fn sale_json(start: OffsetDateTime, n: u64) -> Value {
    example_sale_json(start, n, i64::try_from(n % 1000 / 50).unwrap())
}

fn sale(start: OffsetDateTime, n: u64) -> Sale {
    read_sale(&sale_json(start, n), Checks::default()).unwrap()
}

fn operator() -> IdentificationNumber {
    MICHEL_UNTEL.id()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

struct Timed {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn timed(mut latencies: Vec<Duration>, elapsed: Duration) -> Timed {
    latencies.sort();
    Timed {
        rate: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
    }
}

/// `count` sales transmitted one after the other, numbered from `from`; each must come to
/// `outcome` (`Transmitted` online, `Offline` with the link cut).
async fn in_turn(srs: &Srs, start: OffsetDateTime, from: u64, count: u64, online: bool) -> Timed {
    let mut latencies = Vec::new();
    let began = Instant::now();
    for n in from..from + count {
        let t0 = Instant::now();
        let t = srs
            .transmit(
                &Origin::Host,
                &operator(),
                sale(start, n),
                Checks::default(),
            )
            .await
            .unwrap();
        let expected = if online {
            matches!(t.outcome, Outcome::Transmitted { .. })
        } else {
            matches!(t.outcome, Outcome::Offline { .. })
        };
        assert!(expected, "{:?}", t.outcome);
        latencies.push(t0.elapsed());
    }
    timed(latencies, began.elapsed())
}

/// Eight POS sending `each` sales at once through one agent, with idempotency keys.
async fn eight_pos(s: &Served, dir: &Path, start: OffsetDateTime, each: u64) -> Timed {
    let store = dir.join("agent.db");
    let agent = AgentOnLoopback::start(s.srs_config(&store), &store).await;
    let (url, token) = (agent.url.clone(), agent.token.clone());
    let client = reqwest::Client::new();
    let enrolled = client
        .post(format!("{url}/v1/enrolments"))
        .bearer_auth(&token)
        .json(&json!({
            "identification_number": MICHEL_UNTEL.identification_number, "authorization_code": "D8T8-W8W8",
            "sector": "RBC", "qst": "5678912340TQ0001", "file_number": "ER0001",
            "nickname": "Caisse agent", "device_id_answer": {"answer": "request_new"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(enrolled.status().as_u16(), 201);
    let began = Instant::now();
    let tasks: Vec<_> = (0..8u64)
        .map(|pos| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for i in 0..each {
                    let n = 1_000_000 + pos * each + i;
                    let t0 = Instant::now();
                    let answer: Value = client
                        .post(format!("{url}/v1/transactions"))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", format!("sale-{n}"))
                        .json(&json!({ "transaction": sale_json(start, n) }))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    assert_eq!(answer["outcome"], "transmitted", "{answer}");
                    latencies.push(t0.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    timed(latencies, began.elapsed())
}

/// Adds `n` pending transactions to the outbox of `store` at once, copies of its last one
/// (each with its own `actu`, as the outbox requires): a long outbox for the recording measure
/// (they are never sent).
fn pad_outbox(store: &Path, n: u64) {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.execute(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?1) \
         INSERT INTO outbox (environment, operator, installation, device_id, no_trans, gst, actu, body, size, \
         recorded_at, attempts, state) \
         SELECT o.environment, o.operator, o.installation, o.device_id, printf('P%09d', k.i), o.gst, printf('%s-%09d', o.actu, k.i), \
         o.body, o.size, o.recorded_at, 0, 'pending' FROM k, (SELECT * FROM outbox ORDER BY id DESC LIMIT 1) o",
        [i64::try_from(n).unwrap()],
    )
    .unwrap();
}

fn main() {
    // `cargo bench` passes --bench; anything else (cargo test) only checks it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let pending: u64 = std::env::var("WEBSRM_BENCH_PENDING")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let flushed: u64 = std::env::var("WEBSRM_BENCH_FLUSH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let s = Served::start(Environment::Dev);
        let relay = Relay::start(&s.api_base);
        let dir = tempfile::tempdir().unwrap();
        let start = OffsetDateTime::now_utc() - time::Duration::minutes(4);

        eprintln!("one POS…");
        let srs = Srs::open(s.srs_config_via(&relay.base, &dir.path().join("pos.db"))).unwrap();
        srs.enrol(&michel_enrolment("Caisse du bar"), Some(DeviceIdAnswer::RequestNew))
            .await
            .unwrap();
        in_turn(&srs, start, 1, 50, true).await;
        let single = in_turn(&srs, start, 100, 1000, true).await;

        eprintln!("eight POS through one agent…");
        let agent = eight_pos(&s, dir.path(), start, 150).await;

        eprintln!("recording offline, then with {pending} pending…");
        let quiet_store = dir.path().join("offline.db");
        let quiet = Srs::open(s.srs_config_via(&relay.base, &quiet_store)).unwrap();
        quiet
            .enrol(&michel_enrolment("Caisse horsligne"), Some(DeviceIdAnswer::RequestNew))
            .await
            .unwrap();
        relay.set_cut(true);
        in_turn(&quiet, start, 2_000_000, 20, false).await;
        let empty = in_turn(&quiet, start, 2_000_100, 300, false).await;
        pad_outbox(&quiet_store, pending);
        let long = in_turn(&quiet, start, 2_001_000, 300, false).await;

        eprintln!("flushing {flushed}…");
        let flush_store = dir.path().join("flush.db");
        let flusher = Srs::open(s.srs_config_via(&relay.base, &flush_store)).unwrap();
        flusher
            .enrol(&michel_enrolment("Caisse du patio"), Some(DeviceIdAnswer::RequestNew))
            .await
            .unwrap();
        relay.set_cut(true);
        let record_began = Instant::now();
        for n in 0..flushed {
            flusher
                .transmit(&Origin::Host, &operator(), sale(start, 3_000_000 + n), Checks::default())
                .await
                .unwrap();
        }
        let recorded = record_began.elapsed();
        relay.set_cut(false);
        let flush_began = Instant::now();
        let delivery = flusher.flush().await.unwrap();
        let flush_time = flush_began.elapsed();
        assert_eq!(delivery.sent as u64, flushed, "{delivery:?}");

        let ratio = long.rate / empty.rate;
        let met = |ok: bool| if ok { "yes" } else { "**no**" };
        println!("| measure | value | target | met |");
        println!("|---|---:|---:|---|");
        println!(
            "| one POS: sales recorded and transmitted one after the other, per second | {:.0} (p50 {:.1} ms, p99 {:.1} ms) | | |",
            single.rate, single.p50_ms, single.p99_ms
        );
        println!(
            "| eight POS at once through one agent (`POST /v1/transactions` with `Idempotency-Key`), per second | {:.0} (p50 {:.1} ms, p99 {:.1} ms) | | |",
            agent.rate, agent.p50_ms, agent.p99_ms
        );
        println!(
            "| offline, empty outbox: sales recorded (and tried with the batch) per second | {:.0} (p50 {:.1} ms, p99 {:.1} ms) | | |",
            empty.rate, empty.p50_ms, empty.p99_ms
        );
        println!(
            "| offline, {pending} pending: sales recorded per second | {:.0} (p50 {:.1} ms, p99 {:.1} ms) | | |",
            long.rate, long.p50_ms, long.p99_ms
        );
        println!(
            "| ratio, {pending} pending to empty | {ratio:.2} | ≥ 0.50 | {} |",
            met(ratio >= 0.5)
        );
        println!(
            "| {flushed} sales recorded offline | {:.1} s | | |",
            recorded.as_secs_f64()
        );
        println!(
            "| {flushed} pending flushed when the link returns | {:.1} s in {} requests ({:.0} transactions/s) | | |",
            flush_time.as_secs_f64(),
            delivery.requests,
            flushed as f64 / flush_time.as_secs_f64()
        );
    });
}
