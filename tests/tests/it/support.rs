//! What the authority tests share: subjects of the test data, a protocol client, and a plain
//! HTTP sender that knows nothing of websrm's client.

use std::sync::Arc;

use serde_json::Value;
use websrm_tests::websrm_crypto::rustls::ClientConfig;
use websrm_tests::websrm_crypto::tls::{self, ClientIdentity};
use websrm_tests::websrm_crypto::{
    CertificateInfo, Csr, PrivateKey, Signature, inspect_certificate, pem,
};
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;
use websrm_tests::websrm_domain::{
    DeviceIdState, Environment, InitiatingDevice, Sector, ServerSubject, SrsSubject,
    SrsSubjectFields, Subject, TestCase, UtcOffset,
};
use websrm_tests::websrm_protocol::client::{CertificateClient, Endpoints, Trust};
use websrm_tests::websrm_protocol::headers::CertificateHeaders;
use websrm_tests::websrm_protocol::transaction::Sale;
use websrm_tests::websrm_protocol::wire::{CertificateAnswer, Modification};
use websrm_tests::{Served, test_product};

pub(crate) fn client(s: &Served, env: Environment) -> CertificateClient {
    CertificateClient::new(
        Endpoints::local(&s.enrolment_base, &s.api_base),
        Trust::Anchors(vec![s.tls_root.clone()]),
        env,
    )
}

pub(crate) fn headers(env: Environment, device: Option<DeviceIdState>) -> CertificateHeaders {
    let initiating = if device.is_some() {
        InitiatingDevice::Srs
    } else {
        InitiatingDevice::Server
    };
    let tc = if env == Environment::Essai {
        TestCase::new(1, 1).unwrap()
    } else {
        TestCase::PRODUCTION
    };
    CertificateHeaders::new(env, tc, initiating, device, &test_product())
}

pub(crate) fn michel(nickname: &str) -> Subject {
    srs(
        MICHEL_UNTEL.identification_number,
        "D8T8-W8W8",
        "5678912340TQ0001",
        "ER0001",
        nickname,
    )
}

pub(crate) fn express_taxe(nickname: &str) -> Subject {
    srs(
        "1234567890",
        "W7V7-K8W9",
        "1234567890TQ0001",
        "ER0001",
        nickname,
    )
}

pub(crate) fn srs(cn: &str, code: &str, qst: &str, file: &str, nickname: &str) -> Subject {
    Subject::Srs(
        SrsSubject::new(SrsSubjectFields {
            identification_number: cn.parse().unwrap(),
            sector: Sector::Restaurant,
            authorization_code: code.parse().unwrap(),
            nickname: nickname.parse().unwrap(),
            qst_number: qst.parse().unwrap(),
            file_number: file.parse().unwrap(),
            utc_offset: UtcOffset::EASTERN,
        })
        .unwrap(),
    )
}

pub(crate) fn server_admin() -> Subject {
    Subject::Server(ServerSubject::new(
        "3601837200".parse().unwrap(),
        "B8T8-W8W8".parse().unwrap(),
        "Certificat du serveur".parse().unwrap(),
        UtcOffset::EASTERN,
    ))
}

/// A certificate an SRS holds: key and certificate.
pub(crate) struct Held {
    pub(crate) key: PrivateKey,
    pub(crate) der: Vec<u8>,
    pub(crate) info: CertificateInfo,
}

impl Held {
    pub(crate) fn identity(&self) -> ClientIdentity<'_> {
        ClientIdentity {
            chain: vec![self.der.clone()],
            key: &self.key,
        }
    }
}

pub(crate) fn held(key: PrivateKey, answer: &CertificateAnswer) -> Held {
    let der = pem::decode(
        "CERTIFICATE",
        answer.certificate_pem.as_deref().expect("a certificate"),
    )
    .unwrap();
    let info = inspect_certificate(&der).unwrap();
    assert!(
        info.matches_key(&key),
        "the certificate is for the key of the CSR"
    );
    Held { key, der, info }
}

/// AJO through websrm's protocol client.
pub(crate) async fn enrol(
    c: &CertificateClient,
    h: &CertificateHeaders,
    subject: &Subject,
) -> (Held, CertificateAnswer) {
    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(subject, &key).unwrap().to_wire();
    let answer = c
        .send(h, &Modification::Add { csr }, None)
        .await
        .expect("the enrolment succeeds");
    (held(key, &answer), answer)
}

/// A plain HTTP client (reqwest) with websrm's TLS settings, presenting `identity` if given.
pub(crate) fn plain_client(s: &Served, identity: Option<ClientIdentity<'_>>) -> reqwest::Client {
    let config: Arc<ClientConfig> =
        tls::client_config(std::slice::from_ref(&s.tls_root), identity).unwrap();
    reqwest::Client::builder()
        .use_preconfigured_tls(Arc::unwrap_or_clone(config))
        .http1_only()
        .build()
        .unwrap()
}

/// POSTs `body` with `headers` to `url`; returns the status and the JSON body (Null if none).
pub(crate) async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u16, Value) {
    let mut request = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.expect("the request is answered");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The headers of a valid DEV request as (name, value) strings.
pub(crate) fn header_pairs(device: &str) -> Vec<(String, String)> {
    let p = test_product();
    vec![
        ("ENVIRN".into(), "DEV".into()),
        ("CASESSAI".into(), "000.000".into()),
        ("APPRLINIT".into(), "SEV".into()),
        ("IDAPPRL".into(), device.into()),
        ("IDSEV".into(), p.srs_id.to_string()),
        ("IDVERSI".into(), p.version_id.to_string()),
        ("CODCERTIF".into(), p.certification_code.to_string()),
        ("IDPARTN".into(), p.partner_id.to_string()),
        ("VERSI".into(), p.version.to_string()),
        ("VERSIPARN".into(), p.parent_version.to_string()),
    ]
}

/// The ids and codRetour of a refusal's listErr.
pub(crate) fn errors(body: &Value) -> Vec<(String, String)> {
    body["retourCertif"]["listErr"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    (
                        e["id"].as_str().unwrap_or_default().to_owned(),
                        e["codRetour"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A restaurant sale (a closing receipt for a poutine paid by card) of Michel's, numbered `no`,
/// recorded at `date` (`AAAAMMJJhhmmss`, Eastern time).
pub(crate) fn restaurant_sale(no: &str, date: &str) -> Sale {
    use websrm_tests::websrm_protocol::transaction::values::*;
    use websrm_tests::websrm_protocol::transaction::*;
    let cents = |c| Amount::from_cents(c).unwrap();
    Sale::builder(
        SectorBlock::restaurant(ServiceType::Table, 2),
        no.parse().unwrap(),
        "Resto Chez Michel",
        date.parse().unwrap(),
        UtcMark::EasternStandard,
        "ER0001".parse().unwrap(),
        TaxNumbers {
            gst: "567891234RT0001".parse().unwrap(),
            qst: "5678912340TQ0001".parse().unwrap(),
        },
        TransactionType::ClosingReceipt,
    )
    .item(Item::new(
        Quantity::ONE,
        "Poutine",
        cents(1200),
        TaxCode::Fp,
        Activity::Restaurant,
    ))
    .amounts(Amounts {
        before_tax: cents(1200),
        gst: cents(60),
        qst: cents(120),
        after_tax: cents(1380),
        ..Amounts::default()
    })
    .payment(PaymentMode::Credit)
    .document_address(DocumentAddress {
        civic_number: "100".into(),
        postal_code: "H2X1Y4".into(),
    })
    .build(Checks::default().with_sums())
    .expect("a valid sale")
}

/// A whole restaurant transaction ([`restaurant_sale`]) numbered `no`, recorded at `date`,
/// signed first in its chain with `held`'s key over the values its `actu` covers: its JSON and
/// its `actu`.
pub(crate) fn full_transaction(held: &Held, no: &str, date: &str) -> (Value, Signature) {
    websrm_tests::signed_transaction(&held.key, held.info.thumbprint, restaurant_sale(no, date))
}

/// Puts the seeded product's ESSAI run at step `tc`, as if every step before it had passed:
/// for tests of what a service answers in ESSAI at a given step.
pub(crate) fn essai_at(s: &Served, tc: &str) {
    use websrm_tests::websrm_registry::{EssaiExchange, EssaiMove, ProductKey};
    let p = test_product();
    let key = ProductKey::new(p.partner_id, p.srs_id, p.version_id);
    let tc = tc.parse().unwrap();
    let exchange = EssaiExchange::new(
        time::OffsetDateTime::now_utc(),
        tc,
        "test",
        "positioned",
        tc,
        "{}",
        0,
        "{}",
    );
    s.authority
        .registry()
        .record_essai(&key, EssaiMove::Start, exchange)
        .unwrap();
}
