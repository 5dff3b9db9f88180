//! The admin listener: health, readiness and Prometheus metrics that add up under load.

use serde_json::json;
use tokio::sync::oneshot;
use websrm_tests::Served;
use websrm_tests::websrm_authority::server;
use websrm_tests::websrm_crypto::{Csr, PrivateKey};
use websrm_tests::websrm_domain::Environment;

use crate::support::*;

/// The value of the sample `name{labels}` (labels as written, in order), or 0.
fn sample(text: &str, name: &str, labels: &str) -> f64 {
    let key = if labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{labels}}}")
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&key)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Enrolments accepted and refused while `/metrics` is scraped: the request counters add up to
/// what was sent, by result and `codRetour`; the latency histogram counts each; the certificates
/// in force and the registry's writes are counted; `/healthz` and `/readyz` answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_add_up_under_load_and_the_admin_endpoints_answer() {
    let s = Served::start(Environment::Dev);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve_admin(s.authority.clone(), listener, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder().http1_only().build().unwrap();
    let scrape = || async {
        let response = http.get(format!("{admin}/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    };

    let anonymous = plain_client(&s, None);
    let url = format!("{}/enrolement", s.enrolment_base);
    let mut load = tokio::task::JoinSet::new();
    for i in 0..18 {
        let (anonymous, url) = (anonymous.clone(), url.clone());
        load.spawn(async move {
            // Every third from Express Taxe with a code that is not its own (514E, codRetour 14).
            let subject = if i % 3 == 0 {
                srs(
                    "1234567890",
                    "A1A1-A1A1",
                    "1234567890TQ0001",
                    "ER0001",
                    "Caisse express",
                )
            } else {
                michel(&format!("Caisse {i}"))
            };
            let key = PrivateKey::generate().unwrap();
            let csr = Csr::build(&subject, &key).unwrap().to_wire();
            let body = json!({ "reqCertif": { "modif": "AJO", "csr": csr } }).to_string();
            post(&anonymous, &url, &header_pairs("0000-0000-0000"), &body)
                .await
                .0
        });
    }
    // Scraped while the load runs: every scrape is whole.
    for _ in 0..5 {
        assert!(scrape().await.ends_with("# EOF\n"));
    }
    let mut statuses = Vec::new();
    while let Some(status) = load.join_next().await {
        statuses.push(status.unwrap());
    }
    let accepted = statuses.iter().filter(|s| **s == 201).count() as f64;
    assert_eq!(accepted, 12.0, "{statuses:?}");

    let text = scrape().await;
    let requests = |labels: &str| sample(&text, "websrm_requests_total", labels);
    assert_eq!(
        requests(r#"service="enrolement",result="accepted",cod_retour="""#),
        accepted,
        "{text}"
    );
    assert_eq!(
        requests(r#"service="enrolement",result="refused",cod_retour="14""#),
        6.0,
        "{text}"
    );
    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("websrm_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(total, 18.0, "every request counted once: {text}");
    assert_eq!(
        sample(
            &text,
            "websrm_request_seconds_count",
            r#"service="enrolement""#
        ),
        18.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, "websrm_certificates", r#"state="active""#),
        accepted
    );
    assert!(
        sample(&text, "websrm_registry_batches_total", "") > 0.0,
        "{text}"
    );
    assert!(
        sample(&text, "websrm_registry_writes_total", "") >= accepted,
        "{text}"
    );
    if s.database.is_none() {
        // The size of the registry's files (PostgreSQL's are the server's).
        assert!(sample(&text, "websrm_registry_bytes", "") > 0.0, "{text}");
    }
    assert!(text.contains("websrm_open_connections "), "{text}");

    let health = http.get(format!("{admin}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = http.get(format!("{admin}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["ready"], true, "{ready}");
    // The readiness check made a CRL: its age is now measured.
    let text = scrape().await;
    assert!(text.contains("websrm_crl_age_seconds "), "{text}");

    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}
