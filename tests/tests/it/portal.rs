//! The online services over HTTPS with a plain client that keeps cookies by hand: sign-in,
//! listing, revocation, and the attacks the portal must refuse.

use std::collections::HashMap;

use time::OffsetDateTime;
use websrm_tests::Served;
use websrm_tests::websrm::domain::{
    CertificateState, DeviceIdState, Environment, RevocationChannel, RevocationReason,
};
use websrm_tests::websrm_authority::password::hash_password;
use websrm_tests::websrm_crypto;
use websrm_tests::websrm_protocol;
use websrm_tests::websrm_registry::NewAudit;
use websrm_tests::websrm_registry::{AttemptState, Credential};

use crate::support::*;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;

/// A client that keeps cookies and does not follow redirects.
pub(crate) struct Session {
    client: reqwest::Client,
    base: String,
    pub(crate) cookies: HashMap<String, String>,
}

impl Session {
    pub(crate) fn new(s: &Served) -> Self {
        Self::at(&s.enrolment_base, &s.tls_root)
    }

    /// A session with the online services of the enrolment host at `base`.
    pub(crate) fn at(base: &str, tls_root: &[u8]) -> Self {
        let config = websrm_crypto::tls::client_config(&[tls_root.to_vec()], None).unwrap();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(std::sync::Arc::unwrap_or_clone(config))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            client,
            base: base.to_owned(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, response: reqwest::Response) -> (u16, String, Option<String>) {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            assert!(
                text.contains("Secure")
                    && text.contains("HttpOnly")
                    && text.contains("SameSite=Strict"),
                "{text}"
            );
            let (pair, _) = text.split_once(';').unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, response.text().await.unwrap(), location)
    }

    /// Changes a cookie's value, as a forger would.
    pub(crate) fn tamper_cookie(&mut self, name: &str, f: impl FnOnce(&str) -> String) {
        let value = f(&self.cookies[name]);
        self.cookies.insert(name.to_owned(), value);
    }

    pub(crate) async fn get(&mut self, path: &str) -> (u16, String, Option<String>) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(r).await
    }

    pub(crate) async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, String, Option<String>) {
        let body: String = form_encode(form);
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(r).await
    }
}

fn form_encode(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// What a client keeps of the sign-in form's answer to post it: the `websrm_presession=…`
/// cookie pair it sets, and the form's CSRF token.
pub(crate) async fn sign_in_form(form: reqwest::Response) -> (String, String) {
    let pre = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("websrm_presession="))
        .expect("the sign-in form sets a pre-session");
    (pre, csrf(&form.text().await.unwrap()))
}

/// The value of the hidden `csrf` field of a page.
pub(crate) fn csrf(html: &str) -> String {
    let at =
        html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_owned()
}

pub(crate) fn set_password(s: &Served, number: &str, password: &str) {
    let registry = s.authority.registry();
    let op = registry
        .operator_by_identification(&number.parse().unwrap())
        .unwrap()
        .unwrap();
    let now = OffsetDateTime::now_utc();
    registry
        .set_operator_password_hash(
            op.id,
            &hash_password(password).unwrap(),
            NewAudit::new(now, "test", "set-password", number, ""),
        )
        .unwrap();
}

/// A session signed in as `number` with `password`.
pub(crate) async fn signed_in(s: &Served, number: &str, password: &str) -> Session {
    let mut session = Session::new(s);
    assert_eq!(sign_in(&mut session, number, password).await.0, 303);
    session
}

pub(crate) async fn sign_in(
    session: &mut Session,
    number: &str,
    password: &str,
) -> (u16, String, Option<String>) {
    let (_, page, _) = session.get("/services/connexion").await;
    let token = csrf(&page);
    session
        .post(
            "/services/connexion",
            &[
                ("csrf", &token),
                ("identification_number", number),
                ("password", password),
            ],
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_list_and_revoke_with_every_guard() {
    let s = Served::start(Environment::Dev);
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-1");
    set_password(&s, "1234567890", "express-secret-2");
    let c = client(&s, Environment::Dev);
    let (mine, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse du bar"),
    )
    .await;
    let device = answer.device_id.unwrap();
    let (theirs, _) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Assigned(device))),
        &express_taxe("Caisse Express"),
    )
    .await;

    // Wrong password: refused, no session.
    let mut attacker = Session::new(&s);
    let (status, page, _) =
        sign_in(&mut attacker, MICHEL_UNTEL.identification_number, "wrong").await;
    assert_eq!(status, 401);
    assert!(page.contains("incorrect"));
    assert!(!attacker.cookies.contains_key("websrm_session"));

    // Session fixation: a session cookie chosen by someone else is never honoured, and signing in
    // issues a new one.
    let mut michel = Session::new(&s);
    michel
        .cookies
        .insert("websrm_session".into(), "planted-by-attacker".into());
    let (status, _, location) = michel.get("/services/certificats").await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/services/connexion?lang=fr"))
    );
    let (status, _, location) = sign_in(
        &mut michel,
        MICHEL_UNTEL.identification_number,
        "michel-secret-1",
    )
    .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/services/certificats?lang=fr"))
    );
    assert_ne!(michel.cookies["websrm_session"], "planted-by-attacker");

    // The list shows the operator's own certificates and device identifiers only.
    let (status, list, _) = michel.get("/services/certificats").await;
    assert_eq!(status, 200);
    assert!(
        list.contains("Caisse du bar")
            && list.contains(&device.to_string())
            && list.contains("En vigueur")
    );
    assert!(
        !list.contains("Caisse Express"),
        "another operator's certificate is never shown"
    );
    let (_, english, _) = michel.get("/services/certificats?lang=en").await;
    assert!(english.contains("<html lang=\"en\">") && english.contains("In force"));

    // Cross-operator: neither the confirmation page nor the form reach another operator's certificate.
    let (status, _, _) = michel
        .get(&format!("/services/revoquer?serie={}", theirs.info.serial))
        .await;
    assert_eq!(status, 404);
    let (_, confirm, _) = michel
        .get(&format!("/services/revoquer?serie={}", mine.info.serial))
        .await;
    let token = csrf(&confirm);
    let theirs_serial = theirs.info.serial.to_string();
    let (status, _, _) = michel
        .post(
            "/services/revoquer",
            &[
                ("csrf", &token),
                ("serie", &theirs_serial),
                ("reason", "keyCompromise"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(status, 404);
    let registry = s.authority.registry();
    assert!(
        registry
            .certificate_by_serial(theirs.info.serial)
            .unwrap()
            .unwrap()
            .state
            .is_in_force()
    );

    // CSRF: a form without the session's token is refused; so is one from another session.
    let mine_serial = mine.info.serial.to_string();
    let (status, _, _) = michel
        .post(
            "/services/revoquer",
            &[
                ("serie", &mine_serial),
                ("reason", "keyCompromise"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(status, 403);
    let mut express = Session::new(&s);
    sign_in(&mut express, "1234567890", "express-secret-2").await;
    let (_, express_list, _) = express.get("/services/certificats").await;
    let foreign_token = csrf(&express_list);
    let (status, _, _) = michel
        .post(
            "/services/revoquer",
            &[
                ("csrf", &foreign_token),
                ("serie", &mine_serial),
                ("reason", "keyCompromise"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(status, 403);
    // Without the confirmation box, the confirmation page comes back.
    let (status, page, _) = michel
        .post(
            "/services/revoquer",
            &[
                ("csrf", &token),
                ("serie", &mine_serial),
                ("reason", "keyCompromise"),
            ],
        )
        .await;
    assert!(status == 200 && page.contains("Je confirme"));
    assert!(
        registry
            .certificate_by_serial(mine.info.serial)
            .unwrap()
            .unwrap()
            .state
            .is_in_force()
    );

    // The real thing.
    let (status, _, location) = michel
        .post(
            "/services/revoquer",
            &[
                ("csrf", &token),
                ("serie", &mine_serial),
                ("reason", "keyCompromise"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, list, _) = michel.get(location.unwrap().as_str()).await;
    assert!(list.contains("a été révoqué") && list.contains("Révoqué"));
    let record = registry
        .certificate_by_serial(mine.info.serial)
        .unwrap()
        .unwrap();
    assert_eq!(
        record.state,
        CertificateState::Revoked {
            reason: RevocationReason::KeyCompromise,
            channel: RevocationChannel::OnlineServices
        }
    );
    assert_eq!(record.ended_by.as_deref(), Some("operator:5678912340"));

    // Signing out ends the session.
    let (_, list, _) = michel.get("/services/certificats").await;
    let token = csrf(&list);
    michel
        .post("/services/deconnexion", &[("csrf", &token)])
        .await;
    let (status, _, _) = michel.get("/services/certificats").await;
    assert_eq!(status, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_wrong_passwords_lock_the_sign_in() {
    let s = Served::start(Environment::Dev);
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-1");
    let mut guesser = Session::new(&s);
    for _ in 0..5 {
        assert_eq!(
            sign_in(&mut guesser, MICHEL_UNTEL.identification_number, "guess")
                .await
                .0,
            401
        );
    }
    let (status, page, _) = sign_in(
        &mut guesser,
        MICHEL_UNTEL.identification_number,
        "michel-secret-1",
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        page.contains("Réessayez dans 15 minutes"),
        "locked even with the right password"
    );
    // The sign-in form itself is protected: a post without its pre-session token is refused.
    let mut direct = Session::new(&s);
    let (status, _, _) = direct
        .post(
            "/services/connexion",
            &[
                ("identification_number", MICHEL_UNTEL.identification_number),
                ("password", "michel-secret-1"),
            ],
        )
        .await;
    assert_eq!(status, 403);
}

/// A disabled operator cannot sign in, with the right password, and is told no more than an
/// unknown number would be; enabled again, it signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_operator_cannot_sign_in() {
    let s = Served::start(Environment::Dev);
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-1");
    let number = MICHEL_UNTEL.id();
    // A session opened before: it ends when the operator is disabled.
    let mut before = signed_in(&s, MICHEL_UNTEL.identification_number, "michel-secret-1").await;
    assert_eq!(before.get("/services/certificats").await.0, 200);
    assert!(
        s.authority
            .admin()
            .set_operator_disabled(&number, true, "closed", "test")
            .unwrap()
    );
    assert_eq!(
        before.get("/services/certificats").await.0,
        303,
        "sent back to the sign-in"
    );
    let mut michel = Session::new(&s);
    let (status, page, _) = sign_in(
        &mut michel,
        MICHEL_UNTEL.identification_number,
        "michel-secret-1",
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        page.contains("Numéro d'identification ou mot de passe incorrect."),
        "{page}"
    );
    s.authority
        .admin()
        .set_operator_disabled(&number, false, "", "test")
        .unwrap();
    assert_eq!(
        sign_in(
            &mut michel,
            MICHEL_UNTEL.identification_number,
            "michel-secret-1"
        )
        .await
        .0,
        303
    );
}

/// One lockout policy for the online services and enrolment, counted in the registry: five
/// failures within 15 minutes lock; five spread over more than 15 minutes do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lockout_counts_five_failures_within_fifteen_minutes_only() {
    let start = OffsetDateTime::now_utc();
    let s = Served::start_at(Environment::Dev, start);
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-1");
    let mut guesser = Session::new(&s);
    // Five failures, four minutes apart: the first has left the window by the fifth.
    for i in 0..5 {
        s.clock.set(start + time::Duration::minutes(4 * i));
        assert_eq!(
            sign_in(&mut guesser, MICHEL_UNTEL.identification_number, "guess")
                .await
                .0,
            401
        );
    }
    let (status, _, _) = sign_in(
        &mut guesser,
        MICHEL_UNTEL.identification_number,
        "michel-secret-1",
    )
    .await;
    assert_eq!(
        status, 303,
        "not locked: the failures were spread over 16 minutes"
    );
    // Five within a minute lock the online services.
    let mut guesser = Session::new(&s);
    for _ in 0..5 {
        assert_eq!(
            sign_in(&mut guesser, MICHEL_UNTEL.identification_number, "guess")
                .await
                .0,
            401
        );
    }
    let (status, page, _) = sign_in(
        &mut guesser,
        MICHEL_UNTEL.identification_number,
        "michel-secret-1",
    )
    .await;
    assert_eq!(status, 401);
    assert!(page.contains("Réessayez dans 15 minutes"), "{page}");
    let operator = s
        .authority
        .registry()
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap();
    let registry = s.authority.registry();
    assert!(
        registry
            .attempt_state(operator.id, Credential::Password)
            .unwrap()
            .locked_until
            .is_some()
    );
    // The authorization code is another credential: knowing the number is not enough to stop
    // the operator from obtaining a certificate.
    assert_eq!(
        registry
            .attempt_state(operator.id, Credential::AuthorizationCode)
            .unwrap(),
        AttemptState::default()
    );
    let c = client(&s, Environment::Dev);
    enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse du bar"),
    )
    .await;
    // An unknown number leaves nothing behind to count.
    let mut other = Session::new(&s);
    for _ in 0..7 {
        assert_eq!(sign_in(&mut other, "9999999999", "guess").await.0, 401);
    }
}

/// Signing in with an unknown identification number costs the same password verification as
/// with a known one: the time of the answer does not tell which numbers exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_takes_about_as_long_for_unknown_numbers() {
    let s = Served::start(Environment::Dev);
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-1");
    let mut session = Session::new(&s);
    let mut time_of = async |number: &str| {
        let started = std::time::Instant::now();
        for _ in 0..3 {
            sign_in(&mut session, number, "wrong password").await;
        }
        started.elapsed()
    };
    let known = time_of(MICHEL_UNTEL.identification_number).await;
    let unknown = time_of("1111111119").await;
    let without_password = time_of("1234567890").await;
    for (what, t) in [("unknown", unknown), ("no password set", without_password)] {
        assert!(
            t.as_secs_f64() > 0.5 * known.as_secs_f64(),
            "{what}: {t:?} against {known:?} for a known number"
        );
    }
}

/// No page reflects text from the query; the message after an action comes from the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_page_reflects_query_text() {
    let s = Served::start(Environment::Dev);
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-1");
    let mut michel = signed_in(&s, MICHEL_UNTEL.identification_number, "michel-secret-1").await;
    for path in [
        "/services/certificats?message=Appelez%20le%20555-0199%20%3Cb%3Emaintenant%3C/b%3E",
        "/services/connexion?message=Appelez%20le%20555-0199",
        "/services/revoquer?serie=%3Cscript%3E&message=Appelez%20le%20555-0199",
    ] {
        let (_, page, _) = michel.get(path).await;
        assert!(
            !page.contains("555-0199") && !page.contains("<script>"),
            "{path}: {page}"
        );
    }
}

/// The pre-session cookie of the sign-in form is signed by the authority: nothing is kept on
/// the server for a client that has not signed in, and an altered or expired one is refused.
/// Over HTTP the form's token is bound to the whole cookie, so an altered cookie fails that
/// first; the signature and the expiry alone are checked by the portal's unit test
/// (`a_pre_session_needs_its_signature_its_expiry_and_its_token`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_form_is_bound_to_a_signed_pre_session() {
    let s = Served::start(Environment::Dev);
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-1");
    // A form left open past its pre-session's 30 minutes is refused, unaltered.
    let mut late = Session::new(&s);
    let (_, page, _) = late.get("/services/connexion").await;
    let token = csrf(&page);
    let opened = s.authority.now();
    s.clock.set(opened + time::Duration::minutes(31));
    let (status, _, _) = late
        .post(
            "/services/connexion",
            &[
                ("csrf", &token),
                ("identification_number", MICHEL_UNTEL.identification_number),
                ("password", "michel-secret-1"),
            ],
        )
        .await;
    assert_eq!(status, 403, "an expired pre-session");
    s.clock.set(opened);
    let mut forger = Session::new(&s);
    let (_, page, _) = forger.get("/services/connexion").await;
    let token = csrf(&page);
    // The pre-session's expiry moved a day later: its signature no longer matches.
    forger.tamper_cookie("websrm_presession", |v| {
        let (expiry, rest) = v.split_once('.').unwrap();
        format!("{}.{rest}", expiry.parse::<i64>().unwrap() + 86_400)
    });
    let (status, _, _) = forger
        .post(
            "/services/connexion",
            &[
                ("csrf", &token),
                ("identification_number", MICHEL_UNTEL.identification_number),
                ("password", "michel-secret-1"),
            ],
        )
        .await;
    assert_eq!(status, 403);
}

/// Sessions are kept in the registry (a hash of their token): one survives a restart of the
/// authority, and signing out ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_survives_a_restart_of_the_authority() {
    let s = Served::start(Environment::Dev);
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-1");
    let mut michel = signed_in(&s, MICHEL_UNTEL.identification_number, "michel-secret-1").await;
    let session = michel.cookies["websrm_session"].clone();

    let s = s.restart();
    let (status, list, _) = michel.get("/services/certificats").await;
    assert_eq!(status, 200, "the session survived the restart");
    assert!(list.contains(MICHEL_UNTEL.identification_number));
    assert_eq!(michel.cookies["websrm_session"], session);
    let token = csrf(&list);
    let (status, _, _) = michel
        .post("/services/deconnexion", &[("csrf", &token)])
        .await;
    assert_eq!(status, 303);
    // Signed out on the server: the old cookie opens nothing.
    michel.cookies.insert("websrm_session".to_owned(), session);
    let (status, _, location) = michel.get("/services/certificats").await;
    assert_eq!(status, 303, "signed out: back to the sign-in page");
    assert!(location.is_some_and(|l| l.contains("/services/connexion")));
    drop(s);
}

/// Each page is a route of its own: a path of the services that is no page is a 404 page in
/// the services' frame, and a method a page does not take is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_is_no_page_is_not_found() {
    let s = Served::start(Environment::Dev);
    let mut visitor = Session::new(&s);
    let (status, page, _) = visitor.get("/services/nulle-part?lang=en").await;
    assert!(status == 404 && page.contains("Page not found"), "{status}");
    let (status, _, location) = visitor.get("/services/agent/nulle-part").await;
    assert_eq!(status, 303, "the console's sign-in first");
    assert!(location.is_some_and(|l| l.contains("/services/agent/connexion")));
    let (status, _, _) = visitor.post("/services/certificats", &[]).await;
    assert_eq!(status, 405);
    let (status, _, _) = visitor.get("/services/style.css").await;
    assert_eq!(status, 200, "the style sheet is not a page");
}

/// Failed authorization codes never lock the online services: each credential has its counter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authorization_codes_leave_the_online_services_open() {
    let s = Served::start(Environment::Dev);
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-1");
    let c = client(&s, Environment::Dev);
    let h = headers(Environment::Dev, Some(DeviceIdState::Unassigned));
    for _ in 0..6 {
        let key = websrm_tests::websrm_crypto::PrivateKey::generate().unwrap();
        let subject = srs(
            MICHEL_UNTEL.identification_number,
            "W8W8-W8W8",
            "5678912340TQ0001",
            "ER0001",
            "Caisse du bar",
        );
        let csr = websrm_tests::websrm_crypto::Csr::build(&subject, &key)
            .unwrap()
            .to_wire();
        let refused = c
            .send(&h, &websrm_protocol::wire::Modification::Add { csr }, None)
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("514"), "{refused}");
    }
    let mut michel = Session::new(&s);
    let (status, _, location) = sign_in(
        &mut michel,
        MICHEL_UNTEL.identification_number,
        "michel-secret-1",
    )
    .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/services/certificats?lang=fr")),
        "the online services stay open"
    );
}

/// Forty wrong passwords at once for one operator: each attempt is reserved in the registry
/// before its password is verified, so at most five are ever judged "wrong"; the others are
/// answered as locked out, or refused at once by the rate per number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_parallel_wrong_passwords_get_at_most_five_verifications() {
    let s = Served::start(Environment::Dev);
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-1");
    let mut sessions = Vec::new();
    for _ in 0..40 {
        let mut session = Session::new(&s);
        let (_, page, _) = session.get("/services/connexion").await;
        let token = csrf(&page);
        sessions.push((session, token));
    }
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|(mut session, token)| {
            tokio::spawn(async move {
                session
                    .post(
                        "/services/connexion",
                        &[
                            ("csrf", &token),
                            ("identification_number", MICHEL_UNTEL.identification_number),
                            ("password", "guess"),
                        ],
                    )
                    .await
            })
        })
        .collect();
    let (mut wrong, mut locked, mut limited) = (0, 0, 0);
    for task in tasks {
        let (status, page, _) = task.await.unwrap();
        match status {
            401 if page.contains("incorrect") => wrong += 1,
            401 if page.contains("Trop d'essais") => locked += 1,
            429 | 503 => limited += 1,
            other => panic!("unexpected answer {other}: {page}"),
        }
    }
    assert!(
        wrong <= 5,
        "{wrong} verified as wrong, {locked} locked, {limited} limited"
    );
    assert_eq!(wrong + locked + limited, 40);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    assert!(s.authority.peak_password_verifications() <= cores);
    let registry = s.authority.registry();
    let operator = registry
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap();
    let state = registry
        .attempt_state(operator.id, Credential::Password)
        .unwrap();
    // Every attempt verified was counted, and no more.
    assert_eq!(state.failures as usize, wrong);
    assert!(wrong >= 1);
    assert_eq!(state.locked_until.is_some(), wrong == 5);
}

/// Beyond the rate per address, a sign-in is answered at once with 429 and `Retry-After`, in
/// the page's language; the online services say they are to be reached over HTTPS only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_beyond_the_rate_per_address_are_answered_at_once_with_retry_after() {
    let s = Served::start(Environment::Dev);
    let config =
        websrm_crypto::tls::client_config(std::slice::from_ref(&s.tls_root), None).unwrap();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(std::sync::Arc::unwrap_or_clone(config))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client
        .get(format!("{}/services/connexion?lang=en", s.enrolment_base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        form.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let (pre, token) = sign_in_form(form).await;
    let mut answers = Vec::new();
    for i in 0..31 {
        // Each for another number: only the rate per address can refuse.
        let number = format!("99999{i:05}");
        let answer = client
            .post(format!("{}/services/connexion?lang=en", s.enrolment_base))
            .header("cookie", &pre)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "csrf={token}&identification_number={number}&password=guess"
            ))
            .send()
            .await
            .unwrap();
        answers.push(answer);
    }
    let last = answers.pop().unwrap();
    assert!(answers.iter().all(|a| a.status() == 401));
    assert_eq!(last.status(), 429);
    let retry: u64 = last.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let page = last.text().await.unwrap();
    assert!(page.contains("Too many sign-in attempts"), "{page}");
}

/// A new password ends the operator's sessions; a sign-out whose form is not the session's
/// keeps both the cookie and the session, and one that is ends both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_and_a_sign_out_end_the_session_on_the_server() {
    let s = Served::start(Environment::Dev);
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-1");
    let mut michel = signed_in(&s, MICHEL_UNTEL.identification_number, "michel-secret-1").await;
    assert_eq!(michel.get("/services/certificats").await.0, 200);
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-2");
    let (status, _, location) = michel.get("/services/certificats").await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/services/connexion?lang=fr")),
        "the reset ended the session"
    );

    assert_eq!(
        sign_in(
            &mut michel,
            MICHEL_UNTEL.identification_number,
            "michel-secret-2"
        )
        .await
        .0,
        303
    );
    let session = michel.cookies["websrm_session"].clone();
    let (status, _, _) = michel
        .post("/services/deconnexion", &[("csrf", "forged")])
        .await;
    assert_eq!(status, 403);
    assert_eq!(michel.cookies["websrm_session"], session, "cookie kept");
    assert_eq!(
        michel.get("/services/certificats").await.0,
        200,
        "session kept"
    );
    let (_, list, _) = michel.get("/services/certificats").await;
    let token = csrf(&list);
    let (status, _, _) = michel
        .post("/services/deconnexion", &[("csrf", &token)])
        .await;
    assert_eq!(status, 303);
    assert!(!michel.cookies.contains_key("websrm_session"));
    // The old cookie, replayed, names no session any more.
    michel.cookies.insert("websrm_session".into(), session);
    assert_eq!(michel.get("/services/certificats").await.0, 303);
}

/// The lockout policy is the registry's setting: set by an administrator, enrolment honours it
/// (two failures lock out here, where the default takes five).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lockout_policy_set_in_the_registry_is_honoured() {
    use websrm_tests::websrm_authority::LockoutPolicy;
    let s = Served::start(Environment::Dev);
    assert!(
        s.authority
            .admin()
            .set_lockout_policy(
                LockoutPolicy::new(2, time::Duration::minutes(15), time::Duration::minutes(15)),
                "test"
            )
            .unwrap()
    );
    assert_eq!(s.authority.lockout().max_failures, 2);
    let anonymous = plain_client(&s, None);
    let url = format!("{}/enrolement", s.enrolment_base);
    let attempt = |code: &'static str| {
        let (anonymous, url) = (anonymous.clone(), url.clone());
        async move {
            let subject = srs(
                MICHEL_UNTEL.identification_number,
                code,
                "5678912340TQ0001",
                "ER0001",
                "Caisse du bar",
            );
            let key = websrm_crypto::PrivateKey::generate().unwrap();
            let csr = websrm_crypto::Csr::build(&subject, &key).unwrap().to_wire();
            let body =
                serde_json::json!({ "reqCertif": { "modif": "AJO", "csr": csr } }).to_string();
            post(&anonymous, &url, &header_pairs("0000-0000-0000"), &body)
                .await
                .0
        }
    };
    assert_eq!(attempt("A1A1-A1A1").await, 400);
    assert_eq!(attempt("A1A1-A1A1").await, 400);
    assert_eq!(
        attempt("D8T8-W8W8").await,
        400,
        "locked out after two failures"
    );
}

/// The last attempt the lockout policy allows, with the right password, signs in and clears the
/// count: four typos then the password is not a lockout, and the next sign-in works too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_allowed_attempt_with_the_right_password_is_not_a_lockout() {
    let s = Served::start(Environment::Dev);
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-1");
    let mut michel = Session::new(&s);
    for round in 0..2 {
        for _ in 0..4 {
            assert_eq!(
                sign_in(&mut michel, MICHEL_UNTEL.identification_number, "typo")
                    .await
                    .0,
                401
            );
        }
        let (status, _, location) = sign_in(
            &mut michel,
            MICHEL_UNTEL.identification_number,
            "michel-secret-1",
        )
        .await;
        assert_eq!(
            (status, location.as_deref()),
            (303, Some("/services/certificats?lang=fr")),
            "round {round}"
        );
    }
    let audit = s.authority.admin().audit_since(None).unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.entry.action == "lockout-lifted")
            .count(),
        2
    );
}
