//! The contract generated clients rely on, completed on the document utoipa generates from the
//! handlers: every status an operation can answer declared with the [`ApiError`] schema (the
//! HTTP layer's too), `Idempotency-Key` on every POST, an example request and answer on every
//! operation; and [`PARITY`], how each call of the facade is served.
//!
//! [`ApiError`]: crate::ApiError

use serde_json::{Value, json};
use websrm::domain::published::MICHEL_UNTEL;

/// How a public call of the facade's `Srs` is served by the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    /// By this route (`METHOD /path`).
    Route(&'static str),
    /// Not served, for this reason.
    NotServed(&'static str),
}

/// Every public call of `websrm::Srs`, and the route that serves it or why none does (a test
/// fails when a call of the facade is missing here).
pub const PARITY: &[(&str, Parity)] = &[
    (
        "open",
        Parity::NotServed(
            "the agent opens the store once, at start (`websrm agent serve --store`)",
        ),
    ),
    ("enrol", Parity::Route("POST /v1/enrolments")),
    ("enrol_server", Parity::Route("POST /v1/server-enrolments")),
    (
        "enrol_in_server_mode",
        Parity::Route("POST /v1/server-mode-enrolments"),
    ),
    (
        "replace",
        Parity::Route("POST /v1/certificates/{nickname}/replace"),
    ),
    (
        "replace_with",
        Parity::Route("POST /v1/certificates/{nickname}/replace"),
    ),
    (
        "delete",
        Parity::Route("POST /v1/certificates/{nickname}/delete"),
    ),
    (
        "remove_ended",
        Parity::Route("POST /v1/certificates/{nickname}/remove"),
    ),
    ("recover", Parity::Route("POST /v1/recover")),
    (
        "installation",
        Parity::NotServed(
            "the agent calls its own installation `main` in every answer (`installation`)",
        ),
    ),
    ("test_case", Parity::Route("GET /v1/test-case")),
    ("essai", Parity::Route("GET /v1/test-case")),
    ("set_test_case", Parity::Route("PUT /v1/test-case")),
    ("device_id", Parity::Route("GET /v1/device-id")),
    ("enter_device_id", Parity::Route("PUT /v1/device-id")),
    ("refresh_revocations", Parity::Route("POST /v1/checks")),
    ("certificates", Parity::Route("GET /v1/certificates")),
    (
        "certificate_pem",
        Parity::Route("GET /v1/certificates/{nickname}/pem"),
    ),
    ("billing_guard", Parity::Route("GET /v1/billing-guard")),
    (
        "sign_transaction",
        Parity::NotServed(
            "a signature over a `preced` the caller chooses would let two cash registers fork the chain; POST /v1/signatures makes the next link of the device's chain",
        ),
    ),
    ("sign_in_chain", Parity::Route("POST /v1/signatures")),
    ("sign_sale", Parity::Route("POST /v1/signed-transactions")),
    ("sign_in_chain_once", Parity::Route("POST /v1/signatures")),
    ("transmit", Parity::Route("POST /v1/transactions")),
    ("transmit_once", Parity::Route("POST /v1/transactions")),
    ("flush", Parity::Route("POST /v1/outbox/flush")),
    ("outbox", Parity::Route("GET /v1/outbox")),
    (
        "qr_code_url",
        Parity::NotServed(
            "the QR code's URL comes with each transaction's answer (`qr_url` of POST /v1/transactions)",
        ),
    ),
    (
        "transmission_signature",
        Parity::Route("POST /v1/transmission-signatures"),
    ),
    (
        "transmission_signature_for",
        Parity::Route("POST /v1/transmission-signatures"),
    ),
    ("add_terminal", Parity::Route("POST /v1/terminals")),
    ("add_user", Parity::Route("POST /v1/users")),
    ("remove_user", Parity::Route("POST /v1/users/remove")),
    (
        "validate_tax_numbers",
        Parity::Route("POST /v1/tax-number-validations"),
    ),
    ("send_document", Parity::Route("POST /v1/documents")),
    ("sign_document", Parity::Route("POST /v1/signed-documents")),
    ("relay", Parity::Route("POST /v1/relayed-transactions")),
    (
        "relay_document",
        Parity::Route("POST /v1/relayed-documents"),
    ),
    ("record_terminal", Parity::Route("POST /v1/terminals")),
    ("terminals", Parity::Route("GET /v1/terminals")),
    ("history", Parity::Route("GET /v1/history")),
    (
        "reset_installation",
        Parity::Route("POST /v1/installations/{installation}/reset"),
    ),
    (
        "remembered_answer",
        Parity::NotServed("the agent's own memory of `Idempotency-Key`, which every POST accepts"),
    ),
    (
        "remember_answer",
        Parity::NotServed("the agent's own memory of `Idempotency-Key`, which every POST accepts"),
    ),
];

/// The document, completed.
pub(crate) fn complete(mut document: Value) -> Value {
    document["servers"] = json!([{
        "url": "http://127.0.0.1:8765",
        "description": "The agent on the till (the port is the one given to `websrm agent serve --listen`)"
    }]);
    document["info"]["license"]["identifier"] = json!("MIT OR Apache-2.0");
    document["info"]["license"]
        .as_object_mut()
        .map(|l| l.remove("url"));
    let Some(paths) = document["paths"].as_object_mut() else {
        return document;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            complete_operation(path, method, operation);
        }
    }
    document
}

fn complete_operation(path: &str, method: &str, operation: &mut Value) {
    // Protected: every way to call it needs the token (`{}` would make the token optional).
    let secured = operation["security"].as_array().is_some_and(|s| {
        !s.is_empty()
            && s.iter()
                .all(|r| r.as_object().is_some_and(|o| !o.is_empty()))
    });
    let post = method == "post";
    let has_body = operation.get("requestBody").is_some();
    let has_query = operation["parameters"]
        .as_array()
        .is_some_and(|p| p.iter().any(|p| p["in"] == "query"));
    if post {
        let parameters = operation
            .as_object_mut()
            .map(|o| o.entry("parameters").or_insert_with(|| json!([])));
        if let Some(Value::Array(parameters)) = parameters {
            parameters.push(json!({
                "name": "Idempotency-Key",
                "in": "header",
                "required": false,
                "description": "A key of the caller's choice (a UUID, say) for this request. Sent again with the same body after a lost answer, it gets the first answer (with `Idempotent-Replayed: true`) and no second effect; with another body, `422 idempotency_conflict`. Kept 48 hours.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
                "example": "0b6c1f0e-4a51-4d25-9d3e-8f4bb2b9c5a1"
            }));
        }
    }
    let errors: &[(&str, &str, bool)] = &[
        (
            "400",
            "`invalid`: the body is not JSON, or a header is invalid (`field` names it)",
            has_body || post,
        ),
        (
            "401",
            "`unauthorized`: the agent's token is missing or wrong",
            secured,
        ),
        (
            "403",
            "`host_not_allowed`: called under a name that is not the agent's (only loopback's)",
            true,
        ),
        (
            "404",
            "`not_found`: no certificate, terminal or installation of that name",
            path.contains('{'),
        ),
        ("413", "`too_large`: the body is over 64 KB", has_body),
        (
            "415",
            "`unsupported_media_type`: the body is not `application/json`",
            has_body,
        ),
        (
            "422",
            "`invalid` (a field or query parameter is missing, of the wrong type or refused: `field` names it), `refused` (the authority's errors are in `errors`), `not_confirmed`, or `idempotency_conflict`",
            has_body || has_query || post,
        ),
        (
            "500",
            "`local`: the agent failed (its store, its files)",
            true,
        ),
        ("503", "`timeout`: the request took more than 120 s", true),
    ];
    let Some(responses) = operation["responses"].as_object_mut() else {
        return;
    };
    for (status, description, applies) in errors {
        if !applies {
            continue;
        }
        let response = responses
            .entry(*status)
            .or_insert_with(|| json!({"description": description}));
        response["content"] = json!({"application/json": {
            "schema": {"$ref": "#/components/schemas/ApiError"},
            "example": error_example(status)
        }});
        if response["description"].as_str().is_none_or(str::is_empty) {
            response["description"] = json!(description);
        }
    }
    for status in ["409", "502"] {
        if let Some(response) = responses.get_mut(status) {
            response["content"]["application/json"]["example"] = error_example(status);
        }
    }
    let id = operation["operationId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (request, answer) = examples(&id);
    if let Some(request) = request
        && let Some(content) = operation
            .pointer_mut("/requestBody/content/application~1json")
            .and_then(Value::as_object_mut)
    {
        content.insert("example".into(), request);
    }
    if let Some(answer) = answer
        && let Some(responses) = operation["responses"].as_object_mut()
        && let Some((_, success)) = responses.iter_mut().find(|(s, _)| s.starts_with('2'))
        && let Some(content) = success
            .pointer_mut("/content/application~1json")
            .and_then(Value::as_object_mut)
    {
        content.insert("example".into(), answer);
    }
}

fn error(kind: &str, fr: &str, en: &str) -> Value {
    json!({"kind": kind, "message_fr": fr, "message_en": en, "errors": [], "retryable": false})
}

fn error_example(status: &str) -> Value {
    match status {
        "400" => error(
            "invalid",
            "Le corps n'est pas du JSON : EOF while parsing an object",
            "The body is not JSON: EOF while parsing an object",
        ),
        "401" => error(
            "unauthorized",
            "Jeton de l'agent absent ou invalide.",
            "The agent's token is missing or wrong.",
        ),
        "403" => error(
            "host_not_allowed",
            "L'agent ne répond qu'à localhost.",
            "The agent answers only as localhost.",
        ),
        "404" => error(
            "not_found",
            "Aucun certificat nommé Caisse du bar sur cet appareil.",
            "no certificate named Caisse du bar on this device",
        ),
        "409" => error(
            "device_id_question",
            "L'appareil n'a pas d'identifiant : demandez à l'utilisateur s'il en a un (IDAPPRL).",
            "the device has no identifier: ask the user whether they have one",
        ),
        "413" => error(
            "too_large",
            "Le corps dépasse 64 Ko.",
            "The body is over 64 KB.",
        ),
        "415" => error(
            "unsupported_media_type",
            "Le corps doit être du JSON (Content-Type: application/json).",
            "The body must be JSON (Content-Type: application/json).",
        ),
        "422" => {
            let mut e = error(
                "invalid",
                "Valeur invalide pour nickname : missing field `nickname`",
                "Invalid value for nickname: missing field `nickname`",
            );
            e["field"] = json!("nickname");
            e
        }
        "502" => {
            let mut e = error(
                "unreachable",
                "L'autorité ne peut pas être jointe; rien n'a été envoyé.",
                "the authority cannot be reached: nothing was sent",
            );
            e["retryable"] = json!(true);
            e
        }
        "503" => error(
            "timeout",
            "La requête a pris trop de temps.",
            "The request took too long.",
        ),
        _ => error(
            "local",
            "Erreur locale : the store could not be read",
            "the store could not be read",
        ),
    }
}

fn certificate() -> Value {
    json!({
        "nickname": "Caisse du bar",
        "slot": "DEV/5678912340/main",
        "installation": "main",
        "serial": "4f1c9a0b7d2e",
        "thumbprint": "9a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
        "not_before": "2026-12-03T14:00:00Z",
        "not_after": "2031-12-03T14:00:00Z",
        "health": "valid",
        "days_left": null,
        "usable": true,
        "warning_fr": null,
        "warning_en": null
    })
}

fn health() -> Value {
    json!({
        "status": "ok",
        "device_id": "7654-0955-8558",
        "last_check": "2026-12-03T14:00:00Z",
        "next_check": "2026-12-04T14:00:00Z",
        "warnings": [],
        "recovery": {"completed": 0, "abandoned": 0, "still_pending": 0},
        "revocation": "consulted https://127.0.0.1:8443/crl"
    })
}

/// A restaurant's closing receipt as a POS writes it: docs/examples/transactions.
fn sale() -> Value {
    serde_json::from_str(include_str!(
        "../../../docs/examples/transactions/restaurant-closing-receipt.json"
    ))
    .unwrap_or_default()
}

/// The example request and success answer of each operation.
fn examples(operation: &str) -> (Option<Value>, Option<Value>) {
    let sign = json!({
        "identification_number": MICHEL_UNTEL.identification_number,
        "noTrans": "0000000001",
        "datTrans": "20261203120000",
        "TPS": "+0000000000.13",
        "TVQ": "+0000000000.26",
        "apresTax": "+0000000002.39",
        "noTPS": "567891234RT0001",
        "modImpr": "FAC",
        "modTrans": "CMP"
    });
    let certificates = json!({"device_id": "7654-0955-8558", "certificates": [certificate()]});
    let outbox = json!({
        "pending": 1,
        "oldest_age_seconds": 42,
        "offline": {"since": "2026-12-03T17:00:00Z", "reason": "connection refused"},
        "transactions": [{
            "outbox_id": 7, "noTrans": "0000000124", "device_id": "7654-0955-8558",
            "identification_number": MICHEL_UNTEL.identification_number, "recorded_at": "2026-12-03T17:00:00Z",
            "attempts": 1
        }]
    });
    let delivery = json!({
        "requests": 1, "sent": 1, "refused": 0,
        "batches": [{"noLot": "0000000012", "datLot": "20261203120200"}],
        "errors": [], "offline": null
    });
    match operation {
        "transmit_transaction" => (
            Some(json!({
                "terminal": null,
                "transaction": sale()
            })),
            Some(json!({
                "outcome": "transmitted",
                "noTrans": "0000000123",
                "outbox_id": 8,
                "device_id": "7654-0955-8558",
                "psiNoTrans": "0000-0000-0000-0009",
                "psiDatTrans": "20261203121501",
                "noLot": null,
                "mention": null,
                "mentions": [
                    {"order": 1, "text": "CARTE DE CRÉDIT"},
                    {"order": 6, "text": "PAIEMENT REÇU"}
                ],
                "qr_url": "https://cnfr.qr.mev-web.ca?f=Zm9v%2Bbar%3D%3D",
                "reason": null,
                "errors": [],
                "resend": null,
                "batch": delivery,
                "transaction": sale()
            })),
        ),
        "sign_sale" => (
            Some(json!({
                "terminal": null,
                "identification_number": "3601837200",
                "transaction": sale()
            })),
            Some(json!({"device_id": "7654-0955-8558", "transaction": sale()})),
        ),
        "relay_transaction" => (
            Some(json!({
                "identification_number": "3601837200",
                "device_id": "7654-0955-8558",
                "transaction": sale()
            })),
            Some(json!({
                "outcome": "offline",
                "noTrans": "0000000123",
                "outbox_id": 9,
                "device_id": "7654-0955-8558",
                "psiNoTrans": null,
                "psiDatTrans": null,
                "noLot": null,
                "mention": "PROBLÈME DE COMMUNICATION",
                "mentions": [
                    {"order": 1, "text": "CARTE DE CRÉDIT"},
                    {"order": 10, "text": "PROBLÈME DE COMMUNICATION"}
                ],
                "qr_url": "https://cnfr.qr.mev-web.ca?f=Zm9v%2Bbar%3D%3D",
                "reason": "connection refused",
                "errors": [],
                "resend": null,
                "batch": {"requests": 1, "sent": 0, "refused": 0, "batches": [], "errors": [],
                    "offline": "connection refused"},
                "transaction": sale()
            })),
        ),
        "sign_document" => (
            Some(json!({
                "identification_number": "3601837200",
                "document_type": "HAB",
                "parameters": {"TQ": "5678912340TQ0001", "NM": "Michel Untel enr."}
            })),
            Some(json!({
                "device_id": "7654-0955-8558",
                "document_type": "HAB",
                "parameters": {"TQ": "5678912340TQ0001", "NM": "Michel Untel enr.",
                    "SI": "MEUCIQC…", "EM": "9a1b2c3d4e5f60718293a4b5c6d7e8f901234567"}
            })),
        ),
        "relay_document" => (
            Some(json!({
                "identification_number": "3601837200",
                "device_id": "7654-0955-8558",
                "gst": "567891234RT0001",
                "qst": "5678912340TQ0001",
                "document_type": "HAB",
                "parameters": {"TQ": "5678912340TQ0001", "NM": "Michel Untel enr.",
                    "SI": "MEUCIQC…", "EM": "9a1b2c3d4e5f60718293a4b5c6d7e8f901234567"}
            })),
            Some(json!({"no_doc": "0000000002"})),
        ),
        "get_outbox" => (None, Some(outbox)),
        "flush_outbox" => (
            None,
            Some(json!({
                "pending": 0, "oldest_age_seconds": null, "offline": null, "transactions": [],
                "flushed": delivery
            })),
        ),
        "get_health" | "check_now" => (None, Some(health())),
        "get_device_id" => (None, Some(json!({"device_id": "7654-0955-8558"}))),
        "set_device_id" => (
            Some(json!({"device_id": "7654-0955-8558"})),
            Some(json!({"device_id": "7654-0955-8558"})),
        ),
        "list_history" => (
            None,
            Some(json!([{
                "at": "2026-12-03T14:00:00Z", "slot": "DEV/5678912340/main", "event": "enrolled",
                "serial": "4f1c9a0b7d2e", "old_serial": null, "device_id": null, "error_id": null,
                "codRetour": null, "detail": null
            }])),
        ),
        "list_certificates" | "delete_certificate" | "remove_certificate" => (
            (operation != "list_certificates").then(|| json!({"confirm": true})),
            Some(certificates),
        ),
        "get_certificate_pem" => (
            None,
            Some(json!({
                "nickname": "Caisse du bar",
                "certificate_pem": "-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n",
                "psi_certificate_pem": "-----BEGIN CERTIFICATE-----\nMIIC…\n-----END CERTIFICATE-----\n"
            })),
        ),
        "enrol" => (
            Some(json!({
                "identification_number": MICHEL_UNTEL.identification_number,
                "authorization_code": "D8T8-W8W8",
                "sector": "RBC",
                "qst": "5678912340TQ0001",
                "file_number": "ER0001",
                "nickname": "Caisse du bar",
                "device_id_answer": {"answer": "request_new"}
            })),
            Some(json!({"device_id": "7654-0955-8558", "certificate": certificate()})),
        ),
        "enrol_server" => (
            Some(json!({
                "identification_number": MICHEL_UNTEL.identification_number,
                "authorization_code": "W7V7-K8W9",
                "nickname": "Serveur central"
            })),
            Some(json!({"device_id": null, "certificate": certificate()})),
        ),
        "enrol_in_server_mode" => (
            Some(json!({
                "identification_number": "3601837200",
                "authorization_code": "B8T8-W8W8",
                "nickname": "Caisse avec serveur",
                "device_id_answer": {"answer": "request_new"}
            })),
            Some(json!({"device_id": "7654-0955-8558", "certificate": certificate()})),
        ),
        "replace_certificate" => (
            Some(json!({"confirm": true, "authorization_code": "D8T8-W8W8"})),
            Some(certificate()),
        ),
        "recover" => (
            None,
            Some(json!({"completed": 1, "abandoned": 0, "still_pending": 0})),
        ),
        "reset_installation" => (Some(json!({"confirm": true})), Some(json!({"removed": 1}))),
        "list_terminals" => (
            None,
            Some(
                json!([{"label": "Terminal 1", "device_id": "7654-0955-8559", "certificate_installed": false}]),
            ),
        ),
        "add_user" | "remove_user" => (
            Some(json!({
                "identification_number": MICHEL_UNTEL.identification_number,
                "name": "Michel Untel",
                "gst": "567891234RT0001",
                "qst": "5678912340TQ0001",
                "confirm": operation == "remove_user"
            })),
            Some(json!({"gst_valid": true, "qst_valid": true, "valid": true})),
        ),
        "validate_tax_numbers" => (
            Some(json!({
                "identification_number": "3601837200",
                "gst": "567891234RT0001",
                "qst": "5678912340TQ0001"
            })),
            Some(json!({"gst_valid": true, "qst_valid": true, "valid": true})),
        ),
        "send_document" => (
            Some(json!({
                "identification_number": MICHEL_UNTEL.identification_number,
                "gst": "567891234RT0001",
                "qst": "5678912340TQ0001",
                "document_type": "HAB",
                "parameters": {"TQ": "5678912340TQ0001", "NM": "Michel Untel enr."}
            })),
            Some(json!({"no_doc": "0000000001"})),
        ),
        "add_terminal" => (
            Some(
                json!({"label": "Terminal 1", "identification_number": MICHEL_UNTEL.identification_number}),
            ),
            Some(
                json!({"label": "Terminal 1", "device_id": "7654-0955-8559", "certificate_installed": false}),
            ),
        ),
        "check_billing_guard" => (
            None,
            Some(json!({"allowed": true, "reason_fr": null, "reason_en": null, "mentions": []})),
        ),
        "sign_transaction" => (
            Some(sign),
            Some(json!({
                "device_id": "7654-0955-8558",
                "actu": "MEUCIQC…",
                "preced": "========================================================================================",
                "emprCertifSEV": "9a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
                "position": 1
            })),
        ),
        "sign_transmission" => (
            Some(json!({
                "identification_number": MICHEL_UNTEL.identification_number,
                "authorization_code": "D8T8-W8W8",
                "actus": ["MEUCIQC…"]
            })),
            Some(
                json!({"SIGNATRANSM": "MEQCIA…", "EMPRCERTIFTRANSM": "9a1b2c3d4e5f60718293a4b5c6d7e8f901234567"}),
            ),
        ),
        "get_test_case" => (
            None,
            Some(json!({"test_case": "001.001", "step": {
                "block": "certificates",
                "server_mode": false,
                "en": {"case": "SRS certificates", "step": "Michel Untel enr., device 1: add a certificate; answer no to \"Do you have an identifier for this device?\"."},
                "fr": {"case": "Certificats du SEV", "step": "Michel Untel enr., appareil 1 : ajouter un certificat ; répondre non à « Avez-vous un identifiant pour cet appareil ? »."},
                "keep_document": null
            }})),
        ),
        "set_test_case" => (
            Some(json!({"test_case": "001.001"})),
            Some(json!({"test_case": "001.001", "step": {
                "block": "certificates",
                "server_mode": false,
                "en": {"case": "SRS certificates", "step": "Michel Untel enr., device 1: add a certificate; answer no to \"Do you have an identifier for this device?\"."},
                "fr": {"case": "Certificats du SEV", "step": "Michel Untel enr., appareil 1 : ajouter un certificat ; répondre non à « Avez-vous un identifiant pour cet appareil ? »."},
                "keep_document": null
            }})),
        ),
        _ => (None, None),
    }
}
