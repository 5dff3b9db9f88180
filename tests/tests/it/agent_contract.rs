//! The agent as a contract for generated clients: every answer of every operation in the
//! OpenAPI document is declared there and, when it fails, an `ApiError`; `Idempotency-Key`
//! gives a retried call its first answer, even across a crash between storing a link and
//! answering; and every call of the facade has a route or a written reason.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use websrm_tests::websrm::domain::Environment;
use websrm_tests::websrm_agent::{PARITY, Parity};
use websrm_tests::{Served, websrm_agent, websrm_crypto};

use crate::agent::{Agent, call, enrolment, spawn_child, start_agent, transaction, verify_chain};
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;

/// A call with a raw body, a content type and extra headers; the status, headers and JSON.
async fn raw(
    agent: &Agent,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(
        method.to_uppercase().parse().unwrap(),
        format!("{}{path}", agent.url),
    );
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    if let Some(b) = body {
        request = request
            .header("content-type", "application/json")
            .body(b.to_vec());
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let text = answer.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Fails unless `body` is an `ApiError` whose kind is one of the document's.
fn assert_api_error(
    what: &str,
    headers: &reqwest::header::HeaderMap,
    body: &Value,
    kinds: &[Value],
) {
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{what}: {headers:?}"
    );
    assert!(kinds.contains(&body["kind"]), "{what}: kind of {body}");
    assert!(
        body["message_fr"].is_string() && body["message_en"].is_string(),
        "{what}: {body}"
    );
    assert!(
        body["errors"].is_array() && body["retryable"].is_boolean(),
        "{what}: {body}"
    );
}

/// Each operation of the document is sent a malformed body, an empty object and no token; each
/// answer's status is declared on the operation, and each failing answer is an `ApiError` of a
/// declared kind, an `invalid` one naming its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_every_operation_is_declared_and_has_one_shape() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(&s, &dir.path().join("pos.db")).await;
    let document: Value = serde_json::from_str(&websrm_agent::openapi()).unwrap();
    let kinds = document["components"]["schemas"]["ErrorKind"]["enum"]
        .as_array()
        .expect("ErrorKind is an enum in the document")
        .clone();
    assert!(kinds.len() >= 17, "{kinds:?}");
    let health = document["components"]["schemas"]["HealthName"]["enum"]
        .as_array()
        .expect("health is an enum");
    for name in [
        "valid",
        "expiring_soon",
        "revoked",
        "refused",
        "deleted",
        "replaced",
        "unusable",
    ] {
        assert!(health.contains(&json!(name)), "{name}");
    }
    let mut operations = 0;
    let mut ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let what = format!("{} {path}", method.to_uppercase());
            let id = operation["operationId"].as_str().expect("an operationId");
            assert!(ids.insert(id.to_owned()), "{id} is used twice");
            let declared: Vec<u16> = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.parse().unwrap())
                .collect();
            for status in &declared {
                if *status >= 400 {
                    assert_eq!(
                        operation["responses"][status.to_string()]["content"]["application/json"]["schema"]
                            ["$ref"],
                        "#/components/schemas/ApiError",
                        "{what} {status}"
                    );
                }
            }
            let secured = operation["security"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|o| !o.is_empty()))
            });
            let has_body = operation.get("requestBody").is_some();
            assert!(
                operation["responses"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .any(|(s, r)| s.starts_with('2')
                        && r["content"]["application/json"]["example"].is_object()
                            | r["content"]["application/json"]["example"].is_array()),
                "{what}: an example answer"
            );
            if has_body {
                assert!(
                    operation["requestBody"]["content"]["application/json"]["example"].is_object(),
                    "{what}: an example request"
                );
            }
            if method == "post" {
                assert!(
                    operation["parameters"]
                        .as_array()
                        .is_some_and(|p| p.iter().any(|p| p["name"] == "Idempotency-Key")),
                    "{what}: Idempotency-Key"
                );
            }
            let path = path
                .replace("{nickname}", "Personne%20ici")
                .replace("{installation}", "main");
            let check =
                |case: &str, status: u16, headers: &reqwest::header::HeaderMap, body: &Value| {
                    assert!(
                        declared.contains(&status),
                        "{what} ({case}): {status} is not declared ({declared:?}): {body}"
                    );
                    if status >= 400 {
                        assert_api_error(&format!("{what} ({case})"), headers, body, &kinds);
                        if status == 422 && body["kind"] == "invalid" {
                            assert!(
                                body["field"].as_str().is_some_and(|f| !f.is_empty()),
                                "{what} ({case}): the field is named: {body}"
                            );
                        }
                    }
                };
            // No token.
            let (status, headers, body) = raw(
                &agent,
                method,
                &path,
                has_body.then_some(&b"{}"[..]),
                None,
                &[],
            )
            .await;
            if secured {
                assert_eq!(status, 401, "{what} without the token");
            }
            check("no token", status, &headers, &body);
            if has_body {
                // A body that is not JSON.
                let (status, headers, body) = raw(
                    &agent,
                    method,
                    &path,
                    Some(b"{nickname:"),
                    Some(&agent.token),
                    &[],
                )
                .await;
                assert_eq!(status, 400, "{what}: not JSON: {body}");
                check("not JSON", status, &headers, &body);
            }
            // An empty object (or no body, and no query).
            let (status, headers, body) = raw(
                &agent,
                method,
                &path,
                has_body.then_some(&b"{}"[..]),
                Some(&agent.token),
                &[],
            )
            .await;
            check("empty", status, &headers, &body);
        }
    }
    assert!(operations >= 21, "{operations} operations");
    // The document on disk is the one served.
    let (status, _, served) = raw(&agent, "GET", "/v1/openapi.json", None, None, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(served, document);
}

/// A signature retried with its key is the same link, not a second one; the same key with
/// another body is refused; an enrolment retried with its key is answered as the first time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_retried_with_its_key_gets_its_first_answer_and_no_second_effect() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(&s, &dir.path().join("pos.db")).await;
    let token = agent.token.clone();
    let enrol = serde_json::to_vec(&enrolment("Caisse du bar", Some("request_new"))).unwrap();
    let key = [("Idempotency-Key", "enrol-1")];
    let (status, first_headers, first) = raw(
        &agent,
        "POST",
        "/v1/enrolments",
        Some(&enrol),
        Some(&token),
        &key,
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert!(first_headers.get("idempotent-replayed").is_none());
    let (status, headers, again) = raw(
        &agent,
        "POST",
        "/v1/enrolments",
        Some(&enrol),
        Some(&token),
        &key,
    )
    .await;
    assert_eq!(status, 201, "the first answer again: {again}");
    assert_eq!(again, first);
    assert_eq!(headers["idempotent-replayed"], "true");
    let (status, _, without) = raw(
        &agent,
        "POST",
        "/v1/enrolments",
        Some(&enrol),
        Some(&token),
        &[],
    )
    .await;
    assert_eq!(
        (status, without["kind"].as_str()),
        (409, Some("already_enrolled")),
        "{without}"
    );
    let registry = s.authority.registry();
    let operator = registry
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap();
    assert_eq!(
        registry
            .certificates_of_operator(operator.id)
            .unwrap()
            .len(),
        1,
        "one certificate for two calls with one key"
    );

    let one = serde_json::to_vec(&transaction(1)).unwrap();
    let key = [("Idempotency-Key", "0b6c1f0e-4a51-4d25-9d3e-8f4bb2b9c5a1")];
    let (status, _, first) = raw(
        &agent,
        "POST",
        "/v1/signatures",
        Some(&one),
        Some(&token),
        &key,
    )
    .await;
    assert_eq!(
        (status, first["position"].as_u64()),
        (200, Some(1)),
        "{first}"
    );
    let (status, _, again) = raw(
        &agent,
        "POST",
        "/v1/signatures",
        Some(&one),
        Some(&token),
        &key,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(again, first, "the same link");
    // The same JSON spelt otherwise is the same request.
    let respelt = serde_json::to_vec_pretty(&transaction(1)).unwrap();
    let (status, _, again) = raw(
        &agent,
        "POST",
        "/v1/signatures",
        Some(&respelt),
        Some(&token),
        &key,
    )
    .await;
    assert_eq!((status, &again), (200, &first));
    let two = serde_json::to_vec(&transaction(2)).unwrap();
    let (status, _, conflict) = raw(
        &agent,
        "POST",
        "/v1/signatures",
        Some(&two),
        Some(&token),
        &key,
    )
    .await;
    assert_eq!(
        (status, conflict["kind"].as_str()),
        (422, Some("idempotency_conflict")),
        "{conflict}"
    );
    for bad in ["", "a b", &"k".repeat(256)] {
        let (status, _, invalid) = raw(
            &agent,
            "POST",
            "/v1/signatures",
            Some(&two),
            Some(&token),
            &[("Idempotency-Key", bad)],
        )
        .await;
        assert_eq!(
            (status, invalid["field"].as_str()),
            (400, Some("Idempotency-Key")),
            "{bad:?}: {invalid}"
        );
    }
    let (status, _, second) = raw(
        &agent,
        "POST",
        "/v1/signatures",
        Some(&two),
        Some(&token),
        &[("Idempotency-Key", "another")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        second["position"], 2,
        "no link was added by the retries: {second}"
    );
    assert_eq!(second["preced"], first["actu"]);
    // A key of a signature is not a key of another operation.
    let (status, _, conflict) = raw(&agent, "POST", "/v1/recover", None, Some(&token), &key).await;
    assert_eq!(
        (status, conflict["kind"].as_str()),
        (422, Some("idempotency_conflict")),
        "{conflict}"
    );
}

/// The agent is killed (SIGKILL) after a link is stored and before its answer leaves; the
/// retry with the same key, after a restart, gets that same link, and the chain goes on from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_between_storing_a_link_and_answering_gives_the_same_link_on_retry() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("pos.db");
    let port_file = dir.path().join("port");
    let (mut child, url) = spawn_child(&s, &store, &port_file, None);
    let token = std::fs::read_to_string(websrm_agent::token_path(&store)).unwrap();
    let agent = Agent {
        url,
        token: token.clone(),
        stop: None,
        task: None,
    };
    let (status, body) = call(
        &agent,
        "POST",
        "/v1/enrolments",
        Some(enrolment("Caisse du bar", Some("request_new"))),
        Some(&token),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let _ = child.kill();
    let _ = child.wait();

    let one = serde_json::to_vec(&transaction(1)).unwrap();
    let key = [("Idempotency-Key", "till-3-sale-1")];
    let (mut child, url) = spawn_child(&s, &store, &port_file, Some("chain-after-commit"));
    let agent = Agent {
        url,
        token: token.clone(),
        stop: None,
        task: None,
    };
    let sent = reqwest::Client::new()
        .post(format!("{}/v1/signatures", agent.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header(key[0].0, key[0].1)
        .body(one.clone())
        .send()
        .await;
    assert!(sent.is_err(), "the agent died before answering: {sent:?}");
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "killed with SIGKILL: {status:?}");

    let (mut child, url) = spawn_child(&s, &store, &port_file, None);
    let agent = Agent {
        url,
        token: token.clone(),
        stop: None,
        task: None,
    };
    let (status, _, first) = raw(
        &agent,
        "POST",
        "/v1/signatures",
        Some(&one),
        Some(&token),
        &key,
    )
    .await;
    assert_eq!(
        (status, first["position"].as_u64()),
        (200, Some(1)),
        "the stored link: {first}"
    );
    let two = serde_json::to_vec(&transaction(2)).unwrap();
    let (status, _, second) = raw(
        &agent,
        "POST",
        "/v1/signatures",
        Some(&two),
        Some(&token),
        &[("Idempotency-Key", "till-3-sale-2")],
    )
    .await;
    assert_eq!(
        (status, second["position"].as_u64()),
        (200, Some(2)),
        "{second}"
    );
    assert_eq!(second["preced"], first["actu"]);
    let (_, pem) = call(
        &agent,
        "GET",
        "/v1/certificates/Caisse%20du%20bar/pem",
        None,
        Some(&token),
    )
    .await;
    let der = websrm_crypto::pem::decode("CERTIFICATE", pem["certificate_pem"].as_str().unwrap())
        .unwrap();
    let (mut first, mut second) = (first, second);
    first["noTrans"] = json!("0000000001");
    second["noTrans"] = json!("0000000002");
    verify_chain(&mut [first, second], &der);
    let _ = child.kill();
    let _ = child.wait();
}

/// What the facade offers a POS, the agent serves: the certificate and `certifPSI` as PEM
/// (never the key), the history, a health and CRL check now, `CASESSAI`, a replacement with a
/// new authorization code, the billing guard of another installation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_serves_what_the_facade_offers() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent(&s, &dir.path().join("pos.db")).await;
    let token = agent.token.as_str();
    let (status, enrolled) = call(
        &agent,
        "POST",
        "/v1/enrolments",
        Some(enrolment("Caisse du bar", Some("request_new"))),
        Some(token),
    )
    .await;
    assert_eq!(status, 201, "{enrolled}");
    assert_eq!(enrolled["certificate"]["installation"], "main");

    let (status, pem) = call(
        &agent,
        "GET",
        "/v1/certificates/Caisse%20du%20bar/pem",
        None,
        Some(token),
    )
    .await;
    assert_eq!(status, 200, "{pem}");
    let text = pem.to_string();
    assert!(!text.contains("PRIVATE KEY"), "never the key");
    let der = websrm_crypto::pem::decode("CERTIFICATE", pem["certificate_pem"].as_str().unwrap())
        .unwrap();
    let inspected = websrm_crypto::inspect_certificate(&der).unwrap();
    assert_eq!(
        inspected.serial.to_string(),
        enrolled["certificate"]["serial"].as_str().unwrap()
    );
    let psi =
        websrm_crypto::pem::decode("CERTIFICATE", pem["psi_certificate_pem"].as_str().unwrap())
            .unwrap();
    assert!(websrm_crypto::inspect_certificate(&psi).is_ok());
    let (status, _) = call(
        &agent,
        "GET",
        "/v1/certificates/Personne%20ici/pem",
        None,
        Some(token),
    )
    .await;
    assert_eq!(status, 404);

    let (status, history) = call(&agent, "GET", "/v1/history", None, Some(token)).await;
    assert_eq!(status, 200);
    let events: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(
        events.contains(&"device_id_assigned") && events.contains(&"enrolled"),
        "{history}"
    );

    let (status, checked) = call(&agent, "POST", "/v1/checks", None, Some(token)).await;
    assert_eq!(status, 200);
    assert!(
        checked["last_check"].is_string() && checked["revocation"].is_string(),
        "{checked}"
    );

    let (status, case) = call(&agent, "GET", "/v1/test-case", None, Some(token)).await;
    assert_eq!((status, case["test_case"].as_str()), (200, Some("000.000")));
    assert!(case["step"].is_null(), "{case}");
    // A step of a run comes with what the tester does there and the document to keep.
    let (status, case) = call(
        &agent,
        "PUT",
        "/v1/test-case",
        Some(json!({"test_case": "011.201"})),
        Some(token),
    )
    .await;
    assert_eq!((status, case["test_case"].as_str()), (200, Some("011.201")));
    assert_eq!(case["step"]["block"], "transactions", "{case}");
    assert_eq!(case["step"]["keep_document"], "011.201.pdf", "{case}");
    assert!(
        case["step"]["fr"]["step"]
            .as_str()
            .unwrap()
            .contains("pourboire"),
        "{case}"
    );
    let (status, case) = call(
        &agent,
        "PUT",
        "/v1/test-case",
        Some(json!({"test_case": "001.001"})),
        Some(token),
    )
    .await;
    assert_eq!((status, case["test_case"].as_str()), (200, Some("001.001")));
    assert_eq!(case["step"]["en"]["case"], "SRS certificates", "{case}");
    let (status, bad) = call(
        &agent,
        "PUT",
        "/v1/test-case",
        Some(json!({"test_case": "1.1.1"})),
        Some(token),
    )
    .await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (422, Some("test_case")),
        "{bad}"
    );
    call(
        &agent,
        "PUT",
        "/v1/test-case",
        Some(json!({"test_case": "000.000"})),
        Some(token),
    )
    .await;

    // User accounts: declared with the operator's numbers, removed only once confirmed;
    // another operator's numbers are found invalid and nothing is declared.
    let user = |name: &str, gst: &str, qst: &str, confirm: bool| {
        json!({"identification_number": MICHEL_UNTEL.identification_number, "name": name, "gst": gst, "qst": qst,
            "confirm": confirm})
    };
    let michel = ("567891234RT0001", "5678912340TQ0001");
    let (status, added) = call(
        &agent,
        "POST",
        "/v1/users",
        Some(user("Michel Untel", michel.0, michel.1, false)),
        Some(token),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(
        added,
        json!({"gst_valid": true, "qst_valid": true, "valid": true})
    );
    let (status, other) = call(
        &agent,
        "POST",
        "/v1/users",
        Some(user(
            "Joe Bleau",
            "123456789RT0001",
            "1234567890TQ0001",
            false,
        )),
        Some(token),
    )
    .await;
    assert_eq!(
        (status, other["valid"].as_bool()),
        (200, Some(false)),
        "{other}"
    );
    let (status, unconfirmed) = call(
        &agent,
        "POST",
        "/v1/users/remove",
        Some(user("Michel Untel", michel.0, michel.1, false)),
        Some(token),
    )
    .await;
    assert_eq!(
        (status, unconfirmed["kind"].as_str()),
        (422, Some("not_confirmed")),
        "{unconfirmed}"
    );
    let (status, removed) = call(
        &agent,
        "POST",
        "/v1/users/remove",
        Some(user("Michel Untel", michel.0, michel.1, true)),
        Some(token),
    )
    .await;
    assert_eq!(
        (status, removed["valid"].as_bool()),
        (200, Some(true)),
        "{removed}"
    );
    let (status, bad) = call(
        &agent,
        "POST",
        "/v1/users",
        Some(user("Michel Untel", "567891234", michel.1, false)),
        Some(token),
    )
    .await;
    assert_eq!((status, bad["field"].as_str()), (422, Some("gst")), "{bad}");
    // A user report, signed by the agent and numbered by the authority.
    let (_, device) = call(&agent, "GET", "/v1/device-id", None, Some(token)).await;
    let device = device["device_id"].as_str().unwrap().to_owned();
    let report = json!({
        "identification_number": MICHEL_UNTEL.identification_number, "gst": michel.0, "qst": michel.1,
        "document_type": "RUT",
        "parameters": {
            "RT": michel.0, "TQ": michel.1, "UT": "Michel Untel", "NO": "100016",
            "MT": "+000000015.00", "DF": "20261203125939", "AN": "2026", "SN": "16", "SV": "3",
            "SS": "+000000020.00", "SF": "+000000001.00", "SP": "+000000002.00",
            "ST": "+000000023.00", "SA": "-000000004.00", "SD": "+000000019.00", "TS": "A",
            "SR": device, "CM": "Tous", "IA": device, "IS": "0000000000000002", "VR": "1.0.0",
            "DC": "20261203080000", "DR": "20261203130000",
            "AD": "123-456, rue Principale, Montréal, H2Y1C6"
        }
    });
    let (status, sent) = call(
        &agent,
        "POST",
        "/v1/documents",
        Some(report.clone()),
        Some(token),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["no_doc"].as_str().map(str::len), Some(10), "{sent}");
    let mut unknown = report;
    unknown["parameters"]["ZZ"] = json!("1");
    let (status, bad) = call(&agent, "POST", "/v1/documents", Some(unknown), Some(token)).await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (422, Some("parameters")),
        "{bad}"
    );

    // No server certificate on this device: nothing to validate with.
    let (status, missing) = call(
        &agent,
        "POST",
        "/v1/tax-number-validations",
        Some(json!({"identification_number": "3601837200", "gst": michel.0, "qst": michel.1})),
        Some(token),
    )
    .await;
    assert_eq!(status, 404, "{missing}");

    // A replacement with another authorization code sends it: a wrong one is refused.
    let replace = "/v1/certificates/Caisse%20du%20bar/replace";
    let (status, refused) = call(
        &agent,
        "POST",
        replace,
        Some(json!({"confirm": true, "authorization_code": "A1A1-A1A1"})),
        Some(token),
    )
    .await;
    assert_eq!(
        (status, refused["kind"].as_str()),
        (422, Some("refused")),
        "{refused}"
    );
    let (status, replaced) = call(
        &agent,
        "POST",
        replace,
        Some(json!({"confirm": true, "authorization_code": "D8T8-W8W8"})),
        Some(token),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_ne!(replaced["serial"], enrolled["certificate"]["serial"]);

    let guard = |installation: &'static str| {
        format!("/v1/billing-guard?identification_number=5678912340&installation={installation}")
    };
    let (status, main) = call(&agent, "GET", &guard("main"), None, Some(token)).await;
    assert_eq!(
        (status, main["allowed"].as_bool()),
        (200, Some(true)),
        "{main}"
    );
    let (status, back) = call(&agent, "GET", &guard("back_office"), None, Some(token)).await;
    assert_eq!(
        (status, back["allowed"].as_bool()),
        (200, Some(false)),
        "no certificate there: {back}"
    );
    let (status, bad) = call(&agent, "GET", &guard("attic"), None, Some(token)).await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (422, Some("installation")),
        "{bad}"
    );
    let (status, bad) = call(&agent, "GET", "/v1/billing-guard", None, Some(token)).await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (422, Some("identification_number")),
        "{bad}"
    );
}

/// Every public call of the facade's `Srs` has a route of the agent, or a written reason in
/// `PARITY`; every route named there is in the document.
#[test]
fn every_call_of_the_facade_has_a_route_or_a_reason() {
    let sources = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/websrm/src/srs");
    let mut methods = BTreeSet::new();
    for entry in std::fs::read_dir(&sources).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut in_srs = false;
        for line in text.lines() {
            if line.starts_with("impl ") {
                in_srs = line.starts_with("impl Srs ");
            }
            let line = line.trim_start();
            let name = line
                .strip_prefix("pub fn ")
                .or_else(|| line.strip_prefix("pub async fn "));
            if in_srs && let Some(name) = name {
                methods.insert(name.split(['(', '<']).next().unwrap().to_owned());
            }
        }
    }
    assert!(methods.len() >= 25, "{methods:?}");
    let listed: BTreeSet<String> = PARITY.iter().map(|(m, _)| (*m).to_owned()).collect();
    let missing: Vec<_> = methods.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "facade calls with no route and no reason: {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&methods).collect();
    assert!(
        stale.is_empty(),
        "PARITY names calls the facade no longer has: {stale:?}"
    );
    let document: Value = serde_json::from_str(&websrm_agent::openapi()).unwrap();
    for (method, parity) in PARITY {
        match parity {
            Parity::Route(route) => {
                let (verb, path) = route.split_once(' ').unwrap();
                assert!(
                    document["paths"][path][verb.to_lowercase()].is_object(),
                    "{method}: {route} is not in the document"
                );
            }
            Parity::NotServed(reason) => assert!(reason.len() > 20, "{method}: a real reason"),
        }
    }
}
