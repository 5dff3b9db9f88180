//! The agent over HTTP against a served authority: the lifecycle a point-of-sale program in
//! another language drives, its token, its confirmations, concurrent signing in one chain, and
//! an agent killed with SIGKILL mid-enrolment that recovers on restart.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use websrm_tests::websrm::domain::Environment;
use websrm_tests::websrm::{AuthorityAddress, Config};
use websrm_tests::websrm_agent::{AgentConfig, Running};
use websrm_tests::websrm_crypto::{Preceding, Signature, TransactionSignatureInput};
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;
use websrm_tests::{Served, test_product, websrm_agent, websrm_crypto};

pub(crate) use websrm_tests::AgentOnLoopback as Agent;

pub(crate) async fn start_agent(s: &Served, store: &std::path::Path) -> Agent {
    Agent::start(s.srs_config(store), store).await
}

pub(crate) async fn call(
    agent: &Agent,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", agent.url);
    let mut request = match method {
        "GET" => client.get(url),
        "PUT" => client.put(url),
        _ => client.post(url),
    };
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub(crate) fn enrolment(nickname: &str, answer: Option<&str>) -> Value {
    let mut body = json!({
        "identification_number": MICHEL_UNTEL.identification_number,
        "authorization_code": "D8T8-W8W8",
        "sector": "RBC",
        "qst": "5678912340TQ0001",
        "file_number": "ER0001",
        "nickname": nickname,
    });
    if let Some(a) = answer {
        body["device_id_answer"] = json!({"answer": a});
    }
    body
}

pub(crate) fn transaction(no: usize) -> Value {
    json!({
        "identification_number": MICHEL_UNTEL.identification_number,
        "noTrans": format!("{no:010}"),
        "datTrans": "20261201120000",
        "TPS": "+0000000000.13",
        "TVQ": "+0000000000.26",
        "apresTax": "+0000000002.39",
        "noTPS": "567891234RT0001",
        "modImpr": "FAC",
        "modTrans": "CMP",
    })
}

/// Every link verifies with the certificate's key over its values and the previous link's
/// `actu`, in order from the first.
pub(crate) fn verify_chain(links: &mut [Value], certificate_der: &[u8]) {
    links.sort_by_key(|l| l["position"].as_u64().unwrap());
    let key = websrm_crypto::inspect_certificate(certificate_der)
        .unwrap()
        .public_key
        .unwrap();
    let gst = "567891234RT0001".parse().unwrap();
    let qst = "5678912340TQ0001".parse().unwrap();
    let mut previous: Option<String> = None;
    for (i, link) in links.iter().enumerate() {
        assert_eq!(link["position"].as_u64(), Some(i as u64 + 1), "{links:?}");
        let preced = match &previous {
            None => Preceding::First,
            Some(actu) => Preceding::Signature(Signature::from_base64(actu).unwrap()),
        };
        assert_eq!(
            link["preced"].as_str().unwrap(),
            preced.to_string(),
            "link {i}"
        );
        let no = link["noTrans"].as_str().unwrap().to_owned();
        let input = TransactionSignatureInput {
            no_trans: &no,
            dat_trans: "20261201120000",
            tps: "+0000000000.13",
            tvq: "+0000000000.26",
            apres_tax: "+0000000002.39",
            no_tps: &gst,
            no_tvq: &qst,
            mod_impr: "FAC",
            mod_trans: "CMP",
            preced,
        };
        let actu = link["actu"].as_str().unwrap();
        key.verify(
            input.to_text().as_bytes(),
            &Signature::from_base64(actu).unwrap(),
        )
        .unwrap_or_else(|e| panic!("link {i} does not verify: {e}"));
        previous = Some(actu.to_owned());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_over_http_with_its_token_and_confirmations() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("pos.db");
    let agent = start_agent(&s, &store).await;
    let t = Some(agent.token.as_str());

    // The token: in its file, owner-only; needed everywhere but the health check.
    let file = websrm_agent::token_path(&store);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), agent.token);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The first check runs in the background as the agent starts: its time shows once done.
    let mut health = Value::Null;
    for _ in 0..100 {
        let (status, body) = call(&agent, "GET", "/v1/health", None, t).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
        health = body;
        if health["next_check"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(health["next_check"].is_string(), "{health}");
    for token in [None, Some("0".repeat(64)).as_deref()] {
        let (status, body) = call(&agent, "GET", "/v1/certificates", None, token).await;
        assert_eq!((status, body["kind"].as_str()), (401, Some("unauthorized")));
    }

    // Enrolment: the device question first, then a certificate and a device identifier.
    let (status, body) = call(
        &agent,
        "POST",
        "/v1/enrolments",
        Some(enrolment("Caisse du bar", None)),
        t,
    )
    .await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (409, Some("device_id_question")),
        "{body}"
    );
    let (status, body) = call(
        &agent,
        "POST",
        "/v1/enrolments",
        Some(enrolment("Caisse du bar", Some("request_new"))),
        t,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let device = body["device_id"].as_str().unwrap().to_owned();
    let serial = body["certificate"]["serial"].as_str().unwrap().to_owned();
    let (_, status_body) = call(&agent, "GET", "/v1/certificates", None, t).await;
    assert_eq!(status_body["device_id"], device.as_str());
    assert_eq!(status_body["certificates"][0]["health"], "valid");
    let (_, guard) = call(
        &agent,
        "GET",
        "/v1/billing-guard?identification_number=5678912340",
        None,
        t,
    )
    .await;
    assert_eq!(guard["allowed"], true, "{guard}");

    // Three transactions in a chain, then SIGNATRANSM over them.
    let mut links = Vec::new();
    for no in 1..=3 {
        let (status, mut link) =
            call(&agent, "POST", "/v1/signatures", Some(transaction(no)), t).await;
        assert_eq!(status, 200, "{link}");
        assert_eq!(link["device_id"], device.as_str());
        link["noTrans"] = json!(format!("{no:010}"));
        links.push(link);
    }
    let der = s
        .authority
        .registry()
        .certificate_by_serial(serial.parse().unwrap())
        .unwrap()
        .unwrap()
        .der;
    verify_chain(&mut links, &der);
    let actus: Vec<Value> = links.iter().map(|l| l["actu"].clone()).collect();
    let (status, headers) = call(&agent, "POST", "/v1/transmission-signatures",
        Some(json!({"identification_number": MICHEL_UNTEL.identification_number, "authorization_code": "D8T8-W8W8", "actus": actus})), t).await;
    assert_eq!(status, 200, "{headers}");
    assert_eq!(headers["SIGNATRANSM"].as_str().map(str::len), Some(88));
    assert_eq!(headers["EMPRCERTIFTRANSM"], links[0]["emprCertifSEV"]);

    // Replace and delete need the explicit confirmation.
    let path = "/v1/certificates/Caisse%20du%20bar/replace";
    let (status, body) = call(&agent, "POST", path, Some(json!({})), t).await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (422, Some("not_confirmed")),
        "{body}"
    );
    let (status, body) = call(&agent, "POST", path, Some(json!({"confirm": true})), t).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["serial"].as_str(), Some(serial.as_str()));
    let path = "/v1/certificates/Caisse%20du%20bar/delete";
    let (status, _) = call(&agent, "POST", path, Some(json!({"confirm": false})), t).await;
    assert_eq!(status, 422);
    let (status, body) = call(&agent, "POST", path, Some(json!({"confirm": true})), t).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["certificates"], json!([]));
    assert_eq!(
        body["device_id"],
        device.as_str(),
        "the device keeps its identifier"
    );
    // An authority refusal comes back with its id, codRetour and both languages.
    let (status, body) = call(&agent, "POST", "/v1/enrolments",
        Some(json!({"identification_number": MICHEL_UNTEL.identification_number, "authorization_code": "A1A1-A1A1", "sector": "RBC",
            "qst": "5678912340TQ0001", "file_number": "ER0001", "nickname": "Caisse du bar"})), t).await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (422, Some("refused")),
        "{body}"
    );
    assert_eq!(body["errors"][0]["id"], "JW00B999514E");
    assert_eq!(body["errors"][0]["codRetour"], "14");
    assert!(
        body["errors"][0]["message_en"]
            .as_str()
            .unwrap()
            .contains(MICHEL_UNTEL.identification_number),
        "{body}"
    );
    assert_eq!(body["retryable"], false);
    // The description is served, and is the one kept in the documentation.
    let (status, spec) = call(&agent, "GET", "/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        spec["paths"]["/v1/signatures"]["post"]["security"][0]["bearer"],
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_cash_registers_signing_at_once_never_fork_the_chain() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("pos.db");
    let agent = std::sync::Arc::new(start_agent(&s, &store).await);
    let t = agent.token.clone();
    let (status, body) = call(
        &agent,
        "POST",
        "/v1/enrolments",
        Some(enrolment("Caisse du bar", Some("request_new"))),
        Some(&t),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let serial = body["certificate"]["serial"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for register in 0..8 {
        let agent = agent.clone();
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let mut links = Vec::new();
            for i in 0..5 {
                let no = register * 100 + i;
                let (status, mut link) = call(
                    &agent,
                    "POST",
                    "/v1/signatures",
                    Some(transaction(no)),
                    Some(&t),
                )
                .await;
                assert_eq!(status, 200, "{link}");
                link["noTrans"] = json!(format!("{no:010}"));
                links.push(link);
            }
            links
        }));
    }
    let mut links = Vec::new();
    for task in tasks {
        links.extend(task.await.unwrap());
    }
    assert_eq!(links.len(), 40);
    let der = s
        .authority
        .registry()
        .certificate_by_serial(serial.parse().unwrap())
        .unwrap()
        .unwrap()
        .der;
    verify_chain(&mut links, &der);
}

const CHILD: &str = "WEBSRM_AGENT_CHILD";

/// Not a test: the agent process the crash test starts and kills. It runs only when started
/// by it (with the variable set).
#[test]
#[ignore = "the child process of the agent crash test; started by it"]
fn agent_crash_child() {
    let spec = std::env::var(CHILD).expect("started by the crash test");
    let parts: Vec<&str> = spec.split('|').collect();
    let [store, enrolment, api, trust, port_file] = parts.as_slice() else {
        panic!("bad spec")
    };
    let config = Config::new(Environment::Dev, test_product(), store).with_authority(
        AuthorityAddress::Local {
            enrolment: (*enrolment).into(),
            api: (*api).into(),
            trust_pem: std::fs::read_to_string(trust).unwrap(),
        },
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let running = Running::start(AgentConfig::new(config, *store))
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        std::fs::write(port_file, listener.local_addr().unwrap().to_string()).unwrap();
        running
            .serve(listener, None, std::future::pending())
            .await
            .unwrap();
    });
}

pub(crate) fn spawn_child(
    s: &Served,
    store: &std::path::Path,
    port_file: &std::path::Path,
    crash: Option<&str>,
) -> (Child, String) {
    let _ = std::fs::remove_file(port_file);
    let trust = s.dir.path().join("tls-root.pem");
    let spec = format!(
        "{}|{}|{}|{}|{}",
        store.display(),
        s.enrolment_base,
        s.api_base,
        trust.display(),
        port_file.display()
    );
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--ignored",
            "--exact",
            "agent::agent_crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(point) = crash {
        command.env("WEBSRM_CRASH_AT", point);
    }
    let mut child = command.spawn().unwrap();
    for _ in 0..200 {
        if let Ok(address) = std::fs::read_to_string(port_file)
            && !address.is_empty()
        {
            return (child, format!("http://{address}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the agent did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_mid_enrolment_recovers_on_restart() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("pos.db");
    let port_file = dir.path().join("port");
    let registry = s.authority.registry();
    let operator = registry
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap();

    // The agent dies (SIGKILL) after the authority answered, before the answer is stored.
    let (mut child, url) = spawn_child(&s, &store, &port_file, Some("after-send"));
    let token = std::fs::read_to_string(websrm_agent::token_path(&store)).unwrap();
    let agent = Agent {
        url,
        token: token.clone(),
        stop: None,
        task: None,
    };
    let client = reqwest::Client::new();
    let sent = client
        .post(format!("{}/v1/enrolments", agent.url))
        .bearer_auth(&token)
        .json(&enrolment("Caisse du bar", Some("request_new")))
        .send()
        .await;
    assert!(sent.is_err(), "the agent died before answering: {sent:?}");
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "killed with SIGKILL: {status:?}");
    assert_eq!(
        registry
            .certificates_of_operator(operator.id)
            .unwrap()
            .len(),
        1,
        "the authority issued"
    );

    // Restarted on the same store: recovery at start finishes the enrolment, once.
    let (mut child, url) = spawn_child(&s, &store, &port_file, None);
    let agent = Agent {
        url,
        token: token.clone(),
        stop: None,
        task: None,
    };
    let (_, health) = call(
        &agent,
        "GET",
        "/v1/health",
        None,
        Some(agent.token.as_str()),
    )
    .await;
    assert_eq!(health["recovery"]["completed"], 1, "{health}");
    let (status, body) = call(&agent, "GET", "/v1/certificates", None, Some(&token)).await;
    assert_eq!(status, 200);
    let certs = registry.certificates_of_operator(operator.id).unwrap();
    assert_eq!(certs.len(), 1, "no second certificate");
    assert_eq!(
        body["certificates"][0]["serial"],
        certs[0].serial.to_string().as_str()
    );
    assert_eq!(
        body["device_id"],
        certs[0].device.map(|d| d.to_string()).unwrap().as_str()
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// What the agent gives without its token, under another name, or to a client that holds a
/// connection: its health's status only; nothing under a name that is not loopback's (DNS
/// rebinding); an idle connection cut. A token file others may read is refused at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_gives_nothing_away_without_its_token_or_its_name() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("pos.db");
    let running = Running::start(AgentConfig::new(s.srs_config(&store), &store))
        .await
        .unwrap();
    let token = running.token().to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let url = format!("http://{address}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut limits = websrm_agent::Limits::default();
    limits.header_read = Duration::from_secs(1);
    let task = tokio::spawn(async move {
        running
            .serve_with(listener, None, limits, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    let agent = Agent {
        url,
        token: token.clone(),
        stop: Some(stop),
        task: Some(task),
    };
    let (status, _) = call(
        &agent,
        "POST",
        "/v1/enrolments",
        Some(enrolment("Caisse du bar", Some("request_new"))),
        Some(&token),
    )
    .await;
    assert_eq!(status, 201);

    // Health: the status only without the token; everything with it.
    let (_, open) = call(&agent, "GET", "/v1/health", None, None).await;
    assert_eq!(open["status"], "ok");
    assert!(open["device_id"].is_null(), "{open}");
    assert!(open["next_check"].is_null(), "{open}");
    let (_, full) = call(&agent, "GET", "/v1/health", None, Some(&token)).await;
    assert!(full["device_id"].is_string(), "{full}");

    // Another name for 127.0.0.1, as a rebinding page would use: refused, even with the token.
    let refused = reqwest::Client::new()
        .get(format!("{}/v1/certificates", agent.url))
        .header("host", format!("attacker.example:{}", address.port()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["kind"], "host_not_allowed");
    let allowed = reqwest::Client::new()
        .get(format!("{}/v1/certificates", agent.url))
        .header("host", format!("localhost:{}", address.port()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status().as_u16(), 200);

    // A connection that sends nothing is cut after the head's time limit.
    let mut idle = tokio::net::TcpStream::connect(address).await.unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(10), idle.read(&mut buf))
        .await
        .expect("the idle connection is cut");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let _ = idle.shutdown().await;
    drop(agent);

    // The token file made readable by others: the agent refuses to start on it.
    use std::os::unix::fs::PermissionsExt;
    let file = websrm_agent::token_path(&store);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let error = Running::start(AgentConfig::new(s.srs_config(&store), &store))
        .await
        .expect_err("a token others may read is refused");
    assert!(
        error
            .to_string()
            .contains(&format!("chmod 600 {}", file.display())),
        "{error}"
    );
}

/// A malformed call: what it is, its method, path, content type and body, and the status and
/// `kind` expected.
type Case<'a> = (
    &'a str,
    reqwest::Method,
    &'a str,
    Option<&'a str>,
    Vec<u8>,
    u16,
    &'a str,
);

/// Every failing answer has one shape, an `ApiError` in JSON, even when the agent's HTTP layer
/// refuses the request before any handler runs; a field that is missing is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_an_api_error_in_json() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("pos.db");
    let agent = start_agent(&s, &store).await;
    let client = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut request = client
            .request(method, format!("{}{path}", agent.url))
            .bearer_auth(&agent.token)
            .body(body);
        if let Some(c) = content_type {
            request = request.header("content-type", c);
        }
        request.send()
    };
    let json = Some("application/json");
    let cases: Vec<Case<'_>> = vec![
        (
            "not JSON",
            reqwest::Method::POST,
            "/v1/enrolments",
            json,
            b"{nickname:".to_vec(),
            400,
            "invalid",
        ),
        (
            "a field missing",
            reqwest::Method::POST,
            "/v1/enrolments",
            json,
            b"{}".to_vec(),
            422,
            "invalid",
        ),
        (
            "no content type",
            reqwest::Method::POST,
            "/v1/enrolments",
            None,
            b"{}".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "too large",
            reqwest::Method::POST,
            "/v1/enrolments",
            json,
            vec![b' '; 70 * 1024],
            413,
            "too_large",
        ),
        (
            "unknown route",
            reqwest::Method::GET,
            "/v1/nothing-here",
            None,
            Vec::new(),
            404,
            "not_found",
        ),
        (
            "wrong method",
            reqwest::Method::DELETE,
            "/v1/certificates",
            None,
            Vec::new(),
            405,
            "method_not_allowed",
        ),
    ];
    for (what, method, path, content_type, body, status, kind) in cases {
        let answer = send(method, path, content_type, body).await.unwrap();
        assert_eq!(answer.status().as_u16(), status, "{what}");
        assert!(
            answer.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{what}"
        );
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["kind"], kind, "{what}: {body}");
        assert!(
            body["message_en"].is_string() && body["message_fr"].is_string(),
            "{what}"
        );
        if what == "a field missing" {
            assert!(
                body["message_en"]
                    .as_str()
                    .unwrap()
                    .contains("missing field"),
                "{body}"
            );
        }
    }
}
