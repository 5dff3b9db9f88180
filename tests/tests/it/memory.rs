//! Memory under unauthenticated load: the authority runs as its own process, and clients that
//! never sign in load the sign-in page again and again, each time without cookies, as a crawler
//! or an attacker would. Each load gets a fresh signed pre-session; none of it may be kept by
//! the server, so its resident memory stays flat.

use std::time::Duration;

use websrm_tests::websrm_crypto;
use websrm_tests::websrm_crypto::pem;

use crate::crash_load::{free_port, start};

/// The authority's resident set, in KiB, from `/proc`.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// Loads the sign-in page `count` times over `clients` kept-alive connections, never sending
/// a cookie back.
async fn load_sign_in_page(client: &reqwest::Client, url: &str, count: usize, clients: usize) {
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = client.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            for _ in 0..count / clients {
                let response = client.get(&url).send().await.unwrap();
                assert_eq!(response.status().as_u16(), 200);
                assert!(
                    response.headers().get("set-cookie").is_some(),
                    "a fresh pre-session each time"
                );
                let page = response.text().await.unwrap();
                assert!(page.contains("name=\"csrf\""), "{page}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_sign_in_page_loads_leave_the_memory_flat() {
    let dir = tempfile::tempdir().unwrap();
    let (enrolment, api) = (free_port(), free_port());
    let mut child = start(dir.path(), &enrolment, &api);
    let tls_root = pem::decode(
        "CERTIFICATE",
        &std::fs::read_to_string(dir.path().join("tls-root.pem")).unwrap(),
    )
    .unwrap();
    let config = websrm_crypto::tls::client_config(&[tls_root], None).unwrap();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(std::sync::Arc::unwrap_or_clone(config))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("https://{enrolment}/services/connexion");

    // Warm up: connections, buffers, the allocator's arenas.
    load_sign_in_page(&client, &url, 2_000, 4).await;
    let before = resident_kib(child.id());
    load_sign_in_page(&client, &url, 20_000, 4).await;
    let after = resident_kib(child.id());
    child.kill().unwrap();
    child.wait().unwrap();

    let growth = after.saturating_sub(before);
    // A server-side record of even 64 bytes per load would add 1,250 KiB.
    assert!(
        growth < 1_024,
        "the authority grew by {growth} KiB over 20,000 sign-in page loads ({before} -> {after} KiB)"
    );
}
