//! The customer-service console in the online services, over HTTPS with the cookie-keeping
//! client of the portal tests: an agent signs in, verifies a caller with the three numbers,
//! revokes one of that operator's certificates with a note, and cannot go past what it verified.

use websrm_tests::Served;
use websrm_tests::websrm::domain::{
    CertificateState, DeviceIdState, Environment, RevocationChannel, RevocationReason,
};

use crate::portal::{Session, csrf, set_password, signed_in};
use crate::support::*;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;

/// A console session signed in as `agent` with `password`: the answer to the sign-in.
async fn agent_sign_in(
    session: &mut Session,
    agent: &str,
    password: &str,
) -> (u16, String, Option<String>) {
    let (status, page, _) = session.get("/services/agent/connexion").await;
    assert_eq!(status, 200);
    let token = csrf(&page);
    session
        .post(
            "/services/agent/connexion",
            &[
                ("csrf", &token),
                ("agent_id", agent),
                ("password", password),
            ],
        )
        .await
}

/// Verifies a caller with its three numbers.
async fn verify(
    session: &mut Session,
    number: &str,
    qst: &str,
    file: &str,
) -> (u16, String, Option<String>) {
    let (_, page, _) = session.get("/services/agent/dossier").await;
    let token = csrf(&page);
    session
        .post(
            "/services/agent/dossier",
            &[
                ("csrf", &token),
                ("identification_number", number),
                ("qst", qst),
                ("file_number", file),
            ],
        )
        .await
}

fn actions(s: &Served, actor: &str) -> Vec<String> {
    s.authority
        .admin()
        .audit_since(None)
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.actor == actor)
        .map(|e| e.entry.action)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_verifies_a_caller_and_revokes_with_a_note() {
    let s = Served::start(Environment::Dev);
    let password = s.authority.admin().register_agent("A42", "test").unwrap();
    let c = client(&s, Environment::Dev);
    let (held, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse du bar"),
    )
    .await;
    let device = answer.device_id.unwrap();
    let (theirs, _) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &express_taxe("Caisse Express"),
    )
    .await;

    // Nothing without a console session: not even with an operator's session of the services.
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-1");
    let mut operator = signed_in(&s, MICHEL_UNTEL.identification_number, "michel-secret-1").await;
    let (status, _, location) = operator.get("/services/agent/dossier").await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/services/agent/connexion?lang=fr"))
    );

    // A wrong password: refused, audited, no session.
    let mut agent = Session::new(&s);
    let (status, page, _) = agent_sign_in(&mut agent, "A42", "wrong").await;
    assert!(
        status == 401 && page.contains("incorrect"),
        "{status} {page}"
    );
    assert!(!agent.cookies.contains_key("websrm_agent_session"));
    assert!(actions(&s, "agent:A42").contains(&"agent-sign-in-refused".to_owned()));
    // A planted session cookie is never honoured; signing in makes a new one.
    agent
        .cookies
        .insert("websrm_agent_session".into(), "planted".into());
    let (status, _, location) = agent_sign_in(&mut agent, "A42", &password).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/services/agent/dossier?lang=fr"))
    );
    assert_ne!(agent.cookies["websrm_agent_session"], "planted");

    // Before any identity check, no operator is shown; a certificate cannot be reached by serial.
    let (status, page, _) = agent.get("/services/agent/dossier").await;
    assert!(status == 200 && page.contains("Agent A42"));
    assert!(!page.contains("Caisse du bar"));
    let (status, _, _) = agent
        .get(&format!(
            "/services/agent/revoquer?serie={}",
            held.info.serial
        ))
        .await;
    assert_eq!(status, 404);

    // Numbers that do not all match: refused and audited, nothing shown.
    let (status, page, _) = verify(
        &mut agent,
        MICHEL_UNTEL.identification_number,
        "5678912340TQ0002",
        "ER0001",
    )
    .await;
    assert!(
        status == 404 && page.contains("n'a pas pu être vérifiée") && !page.contains("Caisse"),
        "{status}"
    );
    let failed = |s: &Served| {
        actions(s, "agent:A42")
            .iter()
            .filter(|a| *a == "identity-check-failed")
            .count()
    };
    assert_eq!(failed(&s), 1);
    let (status, page, _) = verify(&mut agent, "not a number", "x", "y").await;
    assert!(status == 404 && !page.contains("not a number"));
    assert_eq!(failed(&s), 2, "a malformed check is audited too");

    // The three numbers: the operator's file, its certificates and devices, never another's.
    let (status, _, location) = verify(
        &mut agent,
        MICHEL_UNTEL.identification_number,
        "5678912340TQ0001",
        "TR0001",
    )
    .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/services/agent/dossier?lang=fr"))
    );
    let (_, file, _) = agent.get("/services/agent/dossier").await;
    assert!(
        file.contains("Caisse du bar")
            && file.contains(&device.to_string())
            && !file.contains("Caisse Express")
    );
    let (status, _, _) = agent
        .get(&format!(
            "/services/agent/revoquer?serie={}",
            theirs.info.serial
        ))
        .await;
    assert_eq!(status, 404, "another operator's certificate");

    // The confirmation asks for a reason, a note and the box; a forged token is refused.
    let (status, confirm, _) = agent
        .get(&format!(
            "/services/agent/revoquer?serie={}",
            held.info.serial
        ))
        .await;
    assert!(status == 200 && confirm.contains("name=\"note\""));
    let token = csrf(&confirm);
    let serial = held.info.serial.to_string();
    let form = |csrf: &'static str, note: &'static str| {
        vec![
            ("csrf", csrf),
            ("reason", "keyCompromise"),
            ("note", note),
            ("confirm", "yes"),
        ]
    };
    let mut forged = form("forged", "appel 555-0199");
    forged.push(("serie", &serial));
    assert_eq!(agent.post("/services/agent/revoquer", &forged).await.0, 403);
    let token: &'static str = Box::leak(token.into_boxed_str());
    let mut no_note = form(token, " ");
    no_note.push(("serie", &serial));
    let (status, page, _) = agent.post("/services/agent/revoquer", &no_note).await;
    assert!(status == 200 && page.contains("Je confirme"));
    let theirs_serial = theirs.info.serial.to_string();
    let mut other = form(token, "appel 555-0199");
    other.push(("serie", &theirs_serial));
    assert_eq!(agent.post("/services/agent/revoquer", &other).await.0, 404);
    let registry = s.authority.registry();
    for serial in [held.info.serial, theirs.info.serial] {
        assert!(
            registry
                .certificate_by_serial(serial)
                .unwrap()
                .unwrap()
                .state
                .is_in_force()
        );
    }

    // The real thing: revoked through customer service, under the agent's id, with the note.
    let mut good = form(token, "appel 555-0199, appareil volé");
    good.push(("serie", &serial));
    let (status, _, location) = agent.post("/services/agent/revoquer", &good).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/services/agent/dossier?lang=fr"))
    );
    let (_, file, _) = agent.get("/services/agent/dossier").await;
    assert!(file.contains("a été révoqué") && file.contains("Révoqué"));
    let record = registry
        .certificate_by_serial(held.info.serial)
        .unwrap()
        .unwrap();
    assert_eq!(
        record.state,
        CertificateState::Revoked {
            reason: RevocationReason::KeyCompromise,
            channel: RevocationChannel::CustomerService
        }
    );
    assert_eq!(record.ended_by.as_deref(), Some("agent:A42"));
    let audit = s.authority.admin().audit_since(None).unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.entry.actor == "agent:A42" && e.entry.detail.contains("appareil volé"))
    );

    // Signing out ends the session.
    let (_, file, _) = agent.get("/services/agent/dossier").await;
    let token = csrf(&file);
    agent
        .post("/services/agent/deconnexion", &[("csrf", &token)])
        .await;
    assert_eq!(agent.get("/services/agent/dossier").await.0, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_wrong_passwords_lock_an_agent_out() {
    let s = Served::start(Environment::Dev);
    let password = s.authority.admin().register_agent("A42", "test").unwrap();
    // Four typos, then the right password: the fifth attempt is allowed, and it clears the count.
    let careful = s.authority.admin().register_agent("A43", "test").unwrap();
    let mut typist = Session::new(&s);
    for round in 0..2 {
        for _ in 0..4 {
            assert_eq!(agent_sign_in(&mut typist, "A43", "typo").await.0, 401);
        }
        let (status, _, _) = agent_sign_in(&mut typist, "A43", &careful).await;
        assert_eq!(status, 303, "round {round}");
    }
    // An id no agent can have is refused as an unknown one, and not written as typed.
    let long = "A".repeat(65);
    let (status, page, _) = agent_sign_in(&mut typist, &long, "guess").await;
    assert!(status == 401 && page.contains("incorrect"));
    assert!(
        !s.authority
            .admin()
            .audit_since(None)
            .unwrap()
            .iter()
            .any(|e| e.entry.subject.contains(&long))
    );

    let mut guesser = Session::new(&s);
    for _ in 0..5 {
        let (status, page, _) = agent_sign_in(&mut guesser, "A42", "guess").await;
        assert!(status == 401 && page.contains("incorrect"), "{status}");
    }
    // Locked: even the right password is refused now, without being verified.
    let mut agent = Session::new(&s);
    let (status, page, _) = agent_sign_in(&mut agent, "A42", &password).await;
    assert!(
        status == 401 && page.contains("Réessayez dans 15 minutes"),
        "{status} {page}"
    );
    assert!(!agent.cookies.contains_key("websrm_agent_session"));
    let refusals = |s: &Served| {
        actions(s, "agent:A42")
            .iter()
            .filter(|a| *a == "agent-sign-in-refused")
            .count()
    };
    assert_eq!(
        refusals(&s),
        6,
        "five wrong passwords and the one refused while locked"
    );
    // An unknown agent is refused as a wrong password, however often, and locks nothing.
    for _ in 0..6 {
        let (status, page, _) = agent_sign_in(&mut agent, "B7", "guess").await;
        assert!(status == 401 && page.contains("incorrect"));
    }
    let lockouts: Vec<String> = s
        .authority
        .admin()
        .audit_since(None)
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == "agent-lockout")
        .map(|e| e.entry.subject)
        .collect();
    assert_eq!(lockouts, ["A43", "A43", "A42"], "none for B7");
}
