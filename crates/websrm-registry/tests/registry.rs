//! The authority's registry, on real files.

mod common;

use common::*;
use time::Duration;
use websrm_crypto::{CertificateAuthority, Csr, PrivateKey, validate_csr};
use websrm_domain::published::MICHEL_UNTEL;
use websrm_domain::{
    AuthorizationCode, CertificateState, DeviceId, Environment, Nickname, RevocationChannel,
    RevocationReason, Sector, SerialNumber, Thumbprint, Validity, VersionState,
};
use websrm_registry::{
    AttemptState, Credential, NewCertificate, NewOperator, OperatorId, Product, Reservation,
};
use websrm_registry::{AuditEntry, Error, NewAudit};

fn audit(action: &str) -> NewAudit {
    NewAudit::new(T0, "test", action, "subject", "")
}

fn michel() -> NewOperator {
    let mut op = NewOperator::new(MICHEL_UNTEL.id(), "Michel Untel enr.");
    op.qst_number = Some("5678912340TQ0001".parse().unwrap());
    op.gst_number = Some("567891234RT0001".parse().unwrap());
    op.file_numbers = vec![
        ("ER0001".parse().unwrap(), Sector::Restaurant),
        ("TR0001".parse().unwrap(), Sector::Transport),
    ];
    op
}

fn new_cert(
    ca: &CertificateAuthority,
    env: Environment,
    op: OperatorId,
    device: Option<DeviceId>,
    nickname: &str,
) -> NewCertificate {
    let key = PrivateKey::generate().unwrap();
    let validated = validate_csr(&Csr::build(&subject(nickname), &key).unwrap().to_wire()).unwrap();
    let cert = ca.issue(&validated, T0).unwrap();
    NewCertificate::new(
        cert.serial,
        cert.thumbprint,
        env,
        op,
        device,
        nickname.parse().unwrap(),
        "CN=5678912340".into(),
        cert.validity,
        cert.der,
        "enrolment",
    )
}

#[test]
fn operators_codes_and_lockout_counters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authority.db");
    let id = open_registry(&path)
        .unwrap()
        .add_operator(&michel(), T0, audit("add-operator"))
        .unwrap();
    assert!(matches!(
        open_registry(&path)
            .unwrap()
            .add_operator(&michel(), T0, audit("x")),
        Err(Error::OperatorExists(_))
    ));
    let reg = open_registry(&path).unwrap();
    let op = reg
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap();
    assert_eq!(op.id, id);
    assert_eq!(op.legal_name, "Michel Untel enr.");
    assert_eq!(op.file_numbers.len(), 2);
    assert_eq!(
        reg.operator_by_identification(&"1234567890".parse().unwrap())
            .unwrap(),
        None
    );

    let first = "D8T8-W8W8".parse().unwrap();
    reg.add_authorization_code(
        id,
        &first,
        Sector::Restaurant,
        T0 + Duration::minutes(90),
        T0,
        audit("code"),
    )
    .unwrap();
    let second = "A1B2-C3D4".parse().unwrap();
    open_registry(&path)
        .unwrap()
        .add_authorization_code(
            id,
            &second,
            Sector::Restaurant,
            T0,
            T0 + Duration::days(1),
            audit("code"),
        )
        .unwrap();
    let reg = open_registry(&path).unwrap();
    let old = reg.find_authorization_code(&first).unwrap().unwrap();
    assert_eq!(
        old.superseded_at,
        Some(T0 + Duration::days(1)),
        "a new code supersedes the previous one"
    );
    assert_eq!(old.activated_at, T0 + Duration::minutes(90));
    assert_eq!(
        reg.find_authorization_code(&second)
            .unwrap()
            .unwrap()
            .superseded_at,
        None
    );
    assert!(matches!(
        reg.add_authorization_code(id, &second, Sector::Restaurant, T0, T0, audit("c")),
        Err(Error::AuthorizationCodeExists)
    ));
    assert_eq!(
        reg.find_authorization_code(&"Z9Z9-Z9Z9".parse().unwrap())
            .unwrap(),
        None
    );

    assert_eq!(
        reg.attempt_state(id, Credential::AuthorizationCode)
            .unwrap(),
        AttemptState::default()
    );
    let state = AttemptState::new(3, Some(T0), Some(T0 + Duration::minutes(15)));
    reg.set_attempt_state(
        id,
        Credential::AuthorizationCode,
        state,
        Some(audit("lockout")),
    )
    .unwrap();
    assert_eq!(
        open_registry(&path)
            .unwrap()
            .attempt_state(id, Credential::AuthorizationCode)
            .unwrap(),
        state
    );
}

#[test]
fn products_are_per_environment() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open_registry(&dir.path().join("a.db")).unwrap();
    let product = Product::new(
        Environment::Dev,
        websrm_domain::published::test_product(),
        VersionState::Certified,
    );
    reg.add_product(&product, audit("product")).unwrap();
    assert!(matches!(
        reg.add_product(&product, audit("product")),
        Err(Error::ProductExists)
    ));
    let found = reg
        .find_product(
            Environment::Dev,
            product.identity.partner_id,
            product.identity.srs_id,
            product.identity.version_id,
        )
        .unwrap();
    assert_eq!(found, Some(product.clone()));
    assert_eq!(
        reg.find_product(
            Environment::Prod,
            product.identity.partner_id,
            product.identity.srs_id,
            product.identity.version_id
        )
        .unwrap(),
        None
    );
    assert_eq!(
        reg.products_of(
            Environment::Dev,
            product.identity.partner_id,
            product.identity.srs_id
        )
        .unwrap(),
        [product]
    );
}

/// A version's state moves in every environment at once; registering versions is all or
/// nothing; a developer is registered with its first product and can be withdrawn.
#[test]
fn product_states_and_partners() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open_registry(&dir.path().join("a.db")).unwrap();
    let version = |environment, id: &str| {
        let mut identity = websrm_domain::published::test_product();
        identity.version_id = id.parse().unwrap();
        Product::new(environment, identity, VersionState::Registered)
    };
    reg.add_products(
        &[
            version(Environment::Dev, "0000000000000003"),
            version(Environment::Essai, "0000000000000003"),
        ],
        audit("product"),
    )
    .unwrap();
    // One already registered: neither is added.
    assert!(matches!(
        reg.add_products(
            &[
                version(Environment::Dev, "0000000000000004"),
                version(Environment::Essai, "0000000000000003"),
            ],
            audit("product"),
        ),
        Err(Error::ProductExists)
    ));
    assert_eq!(reg.products().unwrap().len(), 2);
    let p = version(Environment::Dev, "0000000000000003");
    assert_eq!(
        reg.set_version_state(
            p.identity.partner_id,
            p.identity.srs_id,
            p.identity.version_id,
            VersionState::AwaitingCertification,
            audit("state")
        )
        .unwrap(),
        2
    );
    assert!(
        reg.products()
            .unwrap()
            .iter()
            .all(|v| v.state == VersionState::AwaitingCertification)
    );
    assert!(matches!(
        reg.set_version_state(
            p.identity.partner_id,
            p.identity.srs_id,
            "00000000000000FF".parse().unwrap(),
            VersionState::Certified,
            audit("state")
        ),
        Err(Error::ProductNotFound { .. })
    ));
    let mut partner = reg
        .partner(p.identity.partner_id)
        .unwrap()
        .expect("registered with its product");
    assert!(partner.registered && partner.name.is_empty());
    partner.registered = false;
    partner.name = "Caisses inc.".to_owned();
    reg.set_partner(&partner, audit("partner")).unwrap();
    assert_eq!(reg.partners().unwrap(), [partner]);
    assert_eq!(
        reg.partner("00000000000000FF".parse().unwrap()).unwrap(),
        None
    );
}

/// Certificates listed by expiry a page at a time, those expiring together in serial order, with
/// their state and an expiry window; an operator disabled and enabled again.
#[test]
fn certificates_by_expiry_and_disabled_operators() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open_registry(&dir.path().join("a.db")).unwrap();
    let ca = ca();
    let op = reg.add_operator(&michel(), T0, audit("op")).unwrap();
    let mut serials = Vec::new();
    for i in 0..5 {
        let c = new_cert(&ca, Environment::Dev, op, None, &format!("Caisse {i}"));
        reg.record_issued(&c, false, T0, audit("issue")).unwrap();
        serials.push(c.serial);
    }
    reg.record_deletion(serials[2], T0, "srs", audit("delete"))
        .unwrap();
    serials.sort_by_key(ToString::to_string);
    // Pages of two, all with the same expiry: the serial breaks the tie, nothing twice.
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = reg
            .certificates_by_expiry(None, None, None, after, 2)
            .unwrap();
        walked.extend(page.iter().map(|c| c.serial));
        match page.last() {
            Some(last) if page.len() == 2 => after = Some((last.validity.not_after(), last.serial)),
            _ => break,
        }
    }
    assert_eq!(walked, serials);
    let deleted = reg
        .certificates_by_expiry(Some("deleted"), None, None, None, 10)
        .unwrap();
    assert_eq!(deleted.len(), 1);
    let not_after = deleted[0].validity.not_after();
    assert_eq!(
        reg.certificates_by_expiry(Some("active"), None, Some(not_after), None, 10)
            .unwrap()
            .len(),
        0,
        "none expires before"
    );
    assert_eq!(
        reg.certificates_by_expiry(Some("active"), Some(not_after), None, None, 10)
            .unwrap()
            .len(),
        4
    );

    assert_eq!(reg.operator(op).unwrap().disabled_at, None);
    assert!(
        reg.set_operator_disabled(op, Some(T0), audit("disable"))
            .unwrap()
    );
    assert!(
        !reg.set_operator_disabled(op, Some(T0), audit("disable"))
            .unwrap()
    );
    assert_eq!(reg.operator(op).unwrap().disabled_at, Some(T0));
    assert!(
        reg.set_operator_disabled(op, None, audit("enable"))
            .unwrap()
    );
    assert_eq!(reg.operator(op).unwrap().disabled_at, None);
    assert!(matches!(
        reg.set_operator_disabled(OperatorId(999), None, audit("enable")),
        Err(Error::OperatorNotFound(OperatorId(999)))
    ));
}

#[test]
fn device_ids_are_unique_and_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let reg = open_registry(&path).unwrap();
    let op = reg.add_operator(&michel(), T0, audit("op")).unwrap();
    let mut seen = std::collections::HashSet::new();
    let host = reg
        .allocate_device_id(Some(op), None, T0, audit("device"))
        .unwrap();
    for _ in 0..300 {
        assert!(
            seen.insert(
                reg.allocate_device_id(Some(op), Some(host), T0, audit("device"))
                    .unwrap()
            )
        );
    }
    assert!(!seen.contains(&host));
    let reg = open_registry(&path).unwrap();
    let record = reg.device(host).unwrap().unwrap();
    assert_eq!(
        (record.operator, record.host, record.issued_at),
        (Some(op), None, T0)
    );
    assert_eq!(reg.terminals_of(host).unwrap().len(), 300);
    assert_eq!(reg.device("0000-0000-0001".parse().unwrap()).unwrap(), None);
}

#[test]
fn certificate_lifecycle_with_every_transition() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let ca = ca();
    let reg = open_registry(&path).unwrap();
    let op = reg.add_operator(&michel(), T0, audit("op")).unwrap();

    let first = new_cert(&ca, Environment::Dev, op, None, "Caisse principale");
    let device = reg
        .record_issued(&first, true, T0, audit("issue"))
        .unwrap()
        .unwrap();
    let reg = open_registry(&path).unwrap();
    let rec = reg.certificate_by_serial(first.serial).unwrap().unwrap();
    assert_eq!(
        rec.device,
        Some(device),
        "the new device id is the certificate's"
    );
    assert_eq!(reg.device(device).unwrap().unwrap().operator, Some(op));
    assert_eq!(rec.state, CertificateState::Active);
    assert_eq!(
        reg.certificate_by_thumbprint(first.thumbprint)
            .unwrap()
            .unwrap()
            .serial,
        first.serial
    );
    assert!(matches!(
        reg.record_issued(&first, false, T0, audit("again")),
        Err(Error::CertificateExists(_))
    ));

    let second = new_cert(&ca, Environment::Dev, op, Some(device), "Caisse principale");
    reg.record_replacement(
        first.serial,
        &second,
        T0 + Duration::days(1),
        audit("replace"),
    )
    .unwrap();
    let reg = open_registry(&path).unwrap();
    let old = reg.certificate_by_serial(first.serial).unwrap().unwrap();
    assert_eq!(old.state, CertificateState::Replaced);
    assert_eq!(old.replaced_by, Some(second.serial));
    assert_eq!(old.ended_at, Some(T0 + Duration::days(1)));
    let third = new_cert(&ca, Environment::Dev, op, Some(device), "Caisse principale");
    assert!(matches!(
        reg.record_replacement(first.serial, &third, T0, audit("r")),
        Err(Error::CertificateNotActive(_))
    ));

    reg.record_deletion(
        second.serial,
        T0 + Duration::days(2),
        "api",
        audit("delete"),
    )
    .unwrap();
    let reg = open_registry(&path).unwrap();
    assert_eq!(
        reg.certificate_by_serial(second.serial)
            .unwrap()
            .unwrap()
            .state,
        CertificateState::Deleted
    );
    assert!(matches!(
        reg.record_deletion(second.serial, T0, "api", audit("d")),
        Err(Error::CertificateNotActive(_))
    ));

    reg.record_issued(&third, false, T0, audit("issue"))
        .unwrap();
    reg.record_revocation(
        third.serial,
        RevocationReason::KeyCompromise,
        RevocationChannel::CustomerService,
        T0 + Duration::days(3),
        "agent:A42",
        audit("revoke"),
    )
    .unwrap();
    let reg = open_registry(&path).unwrap();
    let rec = reg.certificate_by_serial(third.serial).unwrap().unwrap();
    assert_eq!(
        rec.state,
        CertificateState::Revoked {
            reason: RevocationReason::KeyCompromise,
            channel: RevocationChannel::CustomerService
        }
    );
    assert_eq!(rec.ended_by.as_deref(), Some("agent:A42"));
    assert_eq!(
        reg.revoked(Environment::Essai).unwrap().len(),
        1,
        "DEV and ESSAI share one CA, and one list"
    );
    assert!(reg.revoked(Environment::Prod).unwrap().is_empty());
    let events: Vec<String> = reg
        .certificate_events(first.serial)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(events, ["issued", "replaced"]);
    let events = reg.certificate_events(third.serial).unwrap();
    assert_eq!(events[1].detail, "keyCompromise via customer-service");
    assert_eq!(reg.certificates_of_operator(op).unwrap().len(), 3);
    assert_eq!(reg.certificates_of_device(device).unwrap().len(), 3);
    assert!(matches!(
        reg.record_deletion(SerialNumber::from_bytes([0x11; 20]), T0, "api", audit("d")),
        Err(Error::CertificateNotFound(_))
    ));
    reg.verify_audit_chain().unwrap();
    reg.integrity_check().unwrap();
}

#[test]
fn nicknames_are_unique_among_in_force_certificates_in_prod_only() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open_registry(&dir.path().join("a.db")).unwrap();
    let ca = ca();
    let op = reg.add_operator(&michel(), T0, audit("op")).unwrap();
    let a = new_cert(&ca, Environment::Prod, op, None, "Certificat A");
    reg.record_issued(&a, false, T0, audit("issue")).unwrap();
    let nickname: Nickname = "Certificat A".parse().unwrap();
    assert!(
        reg.nickname_in_force(op, Environment::Prod, &nickname, T0)
            .unwrap()
    );
    let dup = new_cert(&ca, Environment::Prod, op, None, "Certificat A");
    assert_eq!(
        reg.record_issued(&dup, false, T0, audit("issue"))
            .unwrap_err(),
        Error::NicknameInUse(nickname.clone())
    );
    // A replacement may keep its predecessor's nickname.
    reg.record_replacement(a.serial, &dup, T0, audit("replace"))
        .unwrap();
    // Not a rule in DEV.
    reg.record_issued(
        &new_cert(&ca, Environment::Dev, op, None, "Certificat A"),
        false,
        T0,
        audit("i"),
    )
    .unwrap();
    reg.record_issued(
        &new_cert(&ca, Environment::Dev, op, None, "Certificat A"),
        false,
        T0,
        audit("i"),
    )
    .unwrap();
    // Once the certificate is no longer in force (deleted, or expired), the nickname is free.
    reg.record_deletion(dup.serial, T0, "api", audit("d"))
        .unwrap();
    assert!(
        !reg.nickname_in_force(op, Environment::Prod, &nickname, T0)
            .unwrap()
    );
    let b = new_cert(&ca, Environment::Prod, op, None, "Certificat A");
    reg.record_issued(&b, false, T0, audit("issue")).unwrap();
    let after_expiry = b.validity.not_after() + Duration::seconds(1);
    assert!(
        !reg.nickname_in_force(op, Environment::Prod, &nickname, after_expiry)
            .unwrap()
    );
    reg.record_issued(
        &new_cert(&ca, Environment::Prod, op, None, "Certificat A"),
        false,
        after_expiry,
        audit("i"),
    )
    .unwrap();
    // Another operator may use the same nickname.
    let mut other = NewOperator::new("1234567890".parse().unwrap(), "Express Taxe");
    other.qst_number = Some("1234567890TQ0001".parse().unwrap());
    let other = reg.add_operator(&other, T0, audit("op")).unwrap();
    reg.record_issued(
        &new_cert(&ca, Environment::Prod, other, None, "Certificat A"),
        false,
        T0,
        audit("i"),
    )
    .unwrap();
}

#[test]
fn the_audit_log_is_append_only_and_its_chain_detects_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let reg = open_registry(&path).unwrap();
    reg.add_operator(&michel(), T0, audit("add-operator"))
        .unwrap();
    for i in 0..10 {
        let refusal = NewAudit::new(
            T0,
            "enrolment",
            "refuse",
            MICHEL_UNTEL.identification_number,
            format!("attempt {i}"),
        )
        .with_error("JW00B999514E".parse().unwrap());
        reg.append_audit(refusal).unwrap();
    }
    assert_eq!(reg.verify_audit_chain().unwrap(), 11);
    let entries = reg.audit_entries(2).unwrap();
    assert_eq!(entries.len(), 10);
    assert_eq!(
        entries[0].entry.error_id.unwrap().to_string(),
        "JW00B999514E"
    );
    drop(reg);

    // The database itself refuses updates and deletes.
    assert!(raw_sql(&path, "UPDATE audit_log SET detail = 'x' WHERE seq = 3").is_err());
    assert!(raw_sql(&path, "DELETE FROM audit_log WHERE seq = 3").is_err());
    // Someone with the database drops the guard and rewrites an entry: the chain shows where.
    let drop_guard = if on_postgres() {
        "DROP TRIGGER audit_log_no_change ON audit_log;"
    } else {
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
    };
    raw_sql(
        &path,
        &format!("{drop_guard} UPDATE audit_log SET detail = 'attempt X' WHERE seq = 5;"),
    )
    .unwrap();
    assert_eq!(
        open_registry(&path)
            .unwrap()
            .verify_audit_chain()
            .unwrap_err(),
        Error::AuditChainBroken { seq: 5 }
    );

    // Removing an entry breaks the chain too.
    let dir2 = tempfile::tempdir().unwrap();
    let path2 = dir2.path().join("b.db");
    let reg = open_registry(&path2).unwrap();
    for i in 0..5 {
        reg.append_audit(NewAudit::new(T0, "t", "lookup", "x", i.to_string()))
            .unwrap();
    }
    drop(reg);
    raw_sql(
        &path2,
        &format!("{drop_guard} DELETE FROM audit_log WHERE seq = 2;"),
    )
    .unwrap();
    assert_eq!(
        open_registry(&path2)
            .unwrap()
            .verify_audit_chain()
            .unwrap_err(),
        Error::AuditChainBroken { seq: 3 }
    );
}

#[test]
fn lookups_done_on_every_request_use_indexes() {
    if on_postgres() {
        return; // SQLite's query plans; PostgreSQL's unique constraints are indexes.
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    open_registry(&path).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    for (query, index) in [
        (
            "SELECT * FROM certificates WHERE serial = 'x'",
            "sqlite_autoindex_certificates_1",
        ),
        (
            "SELECT * FROM certificates WHERE thumbprint = 'x'",
            "sqlite_autoindex_certificates_2",
        ),
        (
            "SELECT * FROM devices WHERE device_id = 'x'",
            "sqlite_autoindex_devices_1",
        ),
        (
            "SELECT * FROM operators WHERE identification_number = 'x'",
            "sqlite_autoindex_operators_1",
        ),
        (
            "SELECT * FROM authorization_codes WHERE code = 'x'",
            "sqlite_autoindex_authorization_codes_1",
        ),
        (
            "SELECT count(*) FROM certificates WHERE operator_id = 1 AND nickname = 'x'",
            "certificates_operator",
        ),
        // The repetition checks look a key up by its own index, not among the operator's
        // certificates (one operator may hold a million).
        (
            "SELECT serial FROM certificates WHERE key_id = 'x' AND +operator_id = 1 AND +nickname = 'x' AND status = 'active'",
            "certificates_key",
        ),
        (
            "SELECT serial FROM certificates WHERE key_id = 'x' AND +operator_id = 1 AND status = 'active' ORDER BY id DESC",
            "certificates_key",
        ),
    ] {
        let plan: String = raw
            .query_row(&format!("EXPLAIN QUERY PLAN {query}"), [], |r| {
                r.get::<_, String>(3)
            })
            .unwrap();
        assert!(plan.contains(index), "{query}: {plan}");
    }
}

/// Two registries on one database, as two authority processes share one on PostgreSQL (or two
/// handles one SQLite file): racing writes from both keep every rule.
#[test]
fn two_registries_on_one_database_keep_every_rule() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a = Arc::new(open_registry(&path).unwrap());
    let b = Arc::new(open_registry(&path).unwrap());
    let op = a.add_operator(&michel(), T0, audit("op")).unwrap();
    let ca = Arc::new(CertificateAuthority::generate(Environment::Prod, T0).unwrap());

    // The same request (same key and nickname) reaching both: one certificate.
    let same = new_cert(&ca, Environment::Prod, op, None, "Caisse 1").with_key_id(&[7; 20]);
    let mut copy = new_cert(&ca, Environment::Prod, op, None, "Caisse 1").with_key_id(&[7; 20]);
    copy.key_id.clone_from(&same.key_id);
    // Two different requests for one PROD nickname: one certificate.
    let left = new_cert(&ca, Environment::Prod, op, None, "Caisse 2");
    let right = new_cert(&ca, Environment::Prod, op, None, "Caisse 2");
    let outcomes: Vec<_> = [(&a, same), (&b, copy), (&a, left), (&b, right)]
        .into_iter()
        .map(|(reg, cert)| {
            let reg = Arc::clone(reg);
            std::thread::spawn(move || reg.record_issued(&cert, true, T0, audit("issue")))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        2,
        "{outcomes:?}"
    );
    assert!(
        outcomes[..2]
            .iter()
            .any(|o| matches!(o, Err(Error::KeyInUse(_)))),
        "{outcomes:?}"
    );
    assert!(
        outcomes[2..]
            .iter()
            .any(|o| matches!(o, Err(Error::NicknameInUse(_)))),
        "{outcomes:?}"
    );

    // Devices and failures from both at once.
    #[allow(clippy::needless_collect)] // Every thread starts before the first is joined.
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let reg = Arc::clone(if i % 2 == 0 { &a } else { &b });
            let ca = Arc::clone(&ca);
            std::thread::spawn(move || {
                let mut devices = Vec::new();
                for j in 0..10 {
                    let cert =
                        new_cert(&ca, Environment::Dev, op, None, &format!("Caisse {i}-{j}"));
                    devices.push(reg.record_issued(&cert, true, T0, audit("issue")).unwrap());
                    reg.count_failure(
                        op,
                        Credential::AuthorizationCode,
                        T0,
                        (1_000, Duration::hours(1), Duration::minutes(15)),
                        audit("refuse"),
                    )
                    .unwrap();
                }
                devices
            })
        })
        .collect();
    let devices: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .map(Option::unwrap)
        .collect();
    let unique: std::collections::HashSet<_> = devices.iter().collect();
    assert_eq!(unique.len(), 80);
    assert_eq!(
        b.attempt_state(op, Credential::AuthorizationCode)
            .unwrap()
            .failures,
        80
    );
    assert_eq!(a.certificate_count().unwrap(), 82);
    // One chain, no fork: the operator, the two issues that passed, 80 issues.
    assert_eq!(a.verify_audit_chain().unwrap(), 83);
    assert_eq!(b.verify_audit_chain().unwrap(), 83);
}

/// A database written by a newer websrm is refused, on either engine.
#[test]
fn a_registry_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let reg = open_registry(&path).unwrap();
    let current = reg.schema_version().unwrap();
    assert_eq!(current as usize, websrm_registry::MIGRATIONS.len());
    drop(reg);
    let bump = if on_postgres() {
        format!(
            "UPDATE websrm_schema SET version = {} WHERE kind = 'registry'",
            current + 1
        )
    } else {
        format!("PRAGMA user_version = {}", current + 1)
    };
    raw_sql(&path, &bump).unwrap();
    assert_eq!(
        open_registry(&path).unwrap_err(),
        Error::SchemaTooNew {
            found: current + 1,
            supported: current
        }
    );
}

/// A registry is bound to one authority's CA on first use; another is refused, on either engine,
/// and the binding is audited once.
#[test]
fn a_registry_is_bound_to_one_authority() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let reg = open_registry(&path).unwrap();
    assert_eq!(reg.binding("CA").unwrap(), None);
    reg.bind("CA", "AAAA", audit("bind-ca")).unwrap();
    reg.bind("CA", "AAAA", audit("bind-ca")).unwrap();
    drop(reg);
    let reg = open_registry(&path).unwrap();
    assert_eq!(reg.binding("CA").unwrap().as_deref(), Some("AAAA"));
    assert_eq!(
        reg.bind("CA", "BBBB", audit("bind-ca")).unwrap_err(),
        Error::BoundElsewhere {
            name: "CA".into(),
            recorded: "AAAA".into(),
            presented: "BBBB".into()
        }
    );
    assert_eq!(reg.binding("CA").unwrap().as_deref(), Some("AAAA"));
    assert_eq!(
        reg.verify_audit_chain().unwrap(),
        1,
        "bound once, audited once"
    );
}

/// After the database server drops every connection (a restart, a fail-over), the registry's
/// next reads and writes succeed on new connections: a read runs again once, a batch of writes
/// reconnects before it begins. SQLite has no connection to lose.
#[test]
fn connections_lost_by_the_server_are_reopened() {
    if !on_postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let reg = open_registry(&path).unwrap();
    let op = reg.add_operator(&michel(), T0, audit("op")).unwrap();
    // Every reader opens its connection.
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| reg.operator(op).unwrap());
        }
    });
    let websrm_registry::Database::Postgres(url) = registry_database(&path) else {
        unreachable!("on PostgreSQL");
    };
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let ended: i64 = admin
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()) t WHERE ended",
            &[],
        )
        .unwrap()
        .get(0);
    // The writer's connection and the readers' at least: a test that ended none would prove
    // nothing about reconnecting.
    assert!(ended >= 2, "only {ended} connections were ended");
    for _ in 0..8 {
        assert_eq!(reg.operator(op).unwrap().id, op);
    }
    reg.allocate_device_id(Some(op), None, T0, audit("device"))
        .unwrap();
    assert_eq!(reg.verify_audit_chain().unwrap(), 2);
}

/// SQLite: while writes go on, the log is copied into the database off the writer's thread and
/// starts over instead of growing, with readers reading all along; nothing is lost on the way.
#[test]
fn the_log_is_checkpointed_and_starts_over_while_writes_go_on() {
    if on_postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authority.db");
    let wal = dir.path().join("authority.db-wal");
    let reg = open_registry(&path).unwrap();
    let op = reg.add_operator(&michel(), T0, audit("op")).unwrap();
    let random = |len: usize| {
        let mut b = vec![0u8; len];
        getrandom::fill(&mut b).unwrap();
        b
    };
    let (batches, per_batch) = (60, 300);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut largest_log = 0;
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                reg.certificate_count().unwrap();
                reads += 1;
            }
            reads
        });
        // Made beforehand: the writes follow one another with no pause for a checkpoint to
        // finish in.
        let batches: Vec<Vec<NewCertificate>> = (0..batches)
            .map(|_| {
                (0..per_batch)
                    .map(|_| {
                        let mut serial: [u8; 20] = random(20).try_into().unwrap();
                        serial[0] = 0x10 + serial[0] % 0x70;
                        NewCertificate::new(
                            SerialNumber::from_bytes(serial),
                            Thumbprint::from_bytes(random(20).try_into().unwrap()),
                            Environment::Dev,
                            op,
                            None,
                            "Caisse du bar".parse().unwrap(),
                            "CN=5678912340".into(),
                            Validity::five_years_from(T0),
                            random(700),
                            "enrolment",
                        )
                        .with_key_id(&random(20))
                    })
                    .collect()
            })
            .collect();
        for batch in &batches {
            reg.record_issued_batch(batch, T0).unwrap();
            largest_log = largest_log.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    });
    let total = (batches * per_batch) as u64;
    // Never started over, the log would pass 128 MiB (where the writer checkpoints at every
    // commit); it starts over at about 32 MiB, and one batch is about 3 MiB. The bound leaves
    // room for a checkpointer thread the machine starves for a few batches (a busy CI runner),
    // and still fails a log that never starts over before the writer's own fallback.
    assert!(
        largest_log < 64 << 20,
        "the log grew to {largest_log} bytes"
    );
    assert!(largest_log > 0);
    assert_eq!(reg.certificate_count().unwrap(), total);
    reg.integrity_check().unwrap();
    assert_eq!(reg.verify_audit_chain().unwrap(), total + 1);
    drop(reg);
    let reg = open_registry(&path).unwrap();
    assert_eq!(reg.certificate_count().unwrap(), total);
    reg.integrity_check().unwrap();
}

/// Forty attempts at one credential race through two registries on one database (two
/// authority processes): each is reserved (checked and counted in one write) before it would be
/// verified, so exactly five are granted and the rest find the credential locked. The other
/// credential keeps its own count; a success gives the reservation back.
#[test]
fn racing_attempts_are_reserved_so_that_at_most_five_are_verified() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a = Arc::new(open_registry(&path).unwrap());
    let b = Arc::new(open_registry(&path).unwrap());
    let op = a.add_operator(&michel(), T0, audit("op")).unwrap();
    let policy = (5, Duration::minutes(15), Duration::minutes(15));
    let barrier = Arc::new(std::sync::Barrier::new(40));
    #[allow(clippy::needless_collect)] // Every thread starts before the first is joined.
    let threads: Vec<_> = (0..40)
        .map(|i| {
            let reg = Arc::clone(if i % 2 == 0 { &a } else { &b });
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                reg.reserve_attempt(op, Credential::Password, T0, policy, audit("lockout"))
                    .unwrap()
            })
        })
        .collect();
    let outcomes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let granted = outcomes
        .iter()
        .filter(|o| matches!(o, Reservation::Granted(_)))
        .count();
    assert_eq!(granted, 5, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Reservation::Granted(_) | Reservation::Locked(_))),
    );
    let state = b.attempt_state(op, Credential::Password).unwrap();
    assert_eq!(state.failures, 5);
    assert_eq!(state.locked_until, Some(T0 + Duration::minutes(15)));
    // The authorization code is another credential.
    assert_eq!(
        a.attempt_state(op, Credential::AuthorizationCode).unwrap(),
        AttemptState::default()
    );
    assert!(matches!(
        a.reserve_attempt(op, Credential::AuthorizationCode, T0, policy, audit("x"))
            .unwrap(),
        Reservation::Granted(_)
    ));
    // After the lockout, a reservation is granted again, and a success gives it back.
    let later = T0 + Duration::minutes(16);
    assert!(matches!(
        a.reserve_attempt(op, Credential::Password, later, policy, audit("x"))
            .unwrap(),
        Reservation::Granted(_)
    ));
    a.clear_attempts(op, Credential::Password, None).unwrap();
    assert_eq!(
        a.attempt_state(op, Credential::Password).unwrap(),
        AttemptState::default()
    );
}

/// A certificate whose authorization code was checked before its operator got locked out is
/// not recorded after the lockout: the write that records it checks again.
#[test]
fn a_certificate_is_not_recorded_for_an_operator_locked_out_since_its_check() {
    let dir = tempfile::tempdir().unwrap();
    let reg = open_registry(&dir.path().join("r.db")).unwrap();
    let op = reg.add_operator(&michel(), T0, audit("op")).unwrap();
    let ca = CertificateAuthority::generate(Environment::Dev, T0).unwrap();
    for _ in 0..5 {
        reg.count_failure(
            op,
            Credential::AuthorizationCode,
            T0,
            (5, Duration::minutes(15), Duration::minutes(15)),
            audit("refuse"),
        )
        .unwrap();
    }
    let cert = new_cert(&ca, Environment::Dev, op, None, "Caisse 1");
    assert!(matches!(
        reg.record_issued(&cert, true, T0, audit("issue")),
        Err(Error::LockedOut { .. })
    ));
    // A locked-out password does not stop it.
    reg.clear_attempts(op, Credential::AuthorizationCode, None)
        .unwrap();
    for _ in 0..5 {
        reg.count_failure(
            op,
            Credential::Password,
            T0,
            (5, Duration::minutes(15), Duration::minutes(15)),
            audit("refuse"),
        )
        .unwrap();
    }
    reg.record_issued(&cert, true, T0, audit("issue")).unwrap();
}

/// The CRL number is a counter that only grows, whichever registry handle takes the next one.
#[test]
fn the_next_counter_value_only_grows_and_is_never_given_twice() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a = Arc::new(open_registry(&path).unwrap());
    let b = Arc::new(open_registry(&path).unwrap());
    assert_eq!(a.next_counter("CRL number", 1_000).unwrap(), 1_000);
    assert_eq!(b.next_counter("CRL number", 10).unwrap(), 1_001);
    #[allow(clippy::needless_collect)] // Every thread starts before the first is joined.
    let threads: Vec<_> = (0..20)
        .map(|i| {
            let reg = Arc::clone(if i % 2 == 0 { &a } else { &b });
            std::thread::spawn(move || reg.next_counter("CRL number", 0).unwrap())
        })
        .collect();
    let mut values: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    values.sort_unstable();
    assert_eq!(values, (1_002..1_022).collect::<Vec<_>>());
    assert_eq!(a.next_counter("CRL number", 5_000).unwrap(), 5_000);
}

/// The unkeyed (v1) link, as anyone who reads the code can recompute it.
fn v1_link(prev: &[u8], e: &AuditEntry) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"websrm audit v1");
    h.update(prev);
    h.update(e.seq.to_be_bytes());
    h.update(e.entry.at.unix_timestamp().to_be_bytes());
    let error_id = e
        .entry
        .error_id
        .map(|id| id.to_string())
        .unwrap_or_default();
    for field in [
        e.entry.actor.as_str(),
        &e.entry.action,
        &e.entry.subject,
        &error_id,
        &e.entry.detail,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An earlier registry's unkeyed chain is verified and continued under the key from a marked
/// entry; from then on, someone who holds the database but not the folder's key can neither
/// rewrite an entry (even recomputing every link after it as the code says), nor cut entries
/// off the end (the checkpoint names the last one), nor continue the chain.
#[test]
fn a_keyed_audit_chain_resists_whoever_holds_the_database_but_not_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let checkpoint = dir.path().join("audit.checkpoint");
    let key = [9u8; 32];
    let reg = open_registry(&path).unwrap();
    for i in 0..3 {
        reg.append_audit(NewAudit::new(T0, "t", "lookup", "x", format!("v1 {i}")))
            .unwrap();
    }
    reg.key_audit_chain(key, Some(checkpoint.clone()), T0)
        .unwrap();
    // Keying twice (a restart, another process) marks the chain once.
    reg.key_audit_chain(key, Some(checkpoint.clone()), T0)
        .unwrap();
    for i in 0..5 {
        reg.append_audit(NewAudit::new(T0, "t", "lookup", "x", format!("v2 {i}")))
            .unwrap();
    }
    assert_eq!(reg.verify_audit_chain().unwrap(), 9);
    let entries = reg.audit_entries(1).unwrap();
    assert!(entries[..3].iter().all(|e| !e.keyed));
    assert!(entries[3..].iter().all(|e| e.keyed));
    assert_eq!(entries[3].entry.action, "audit-chain-keyed");
    assert_eq!(
        std::fs::read_to_string(&checkpoint).unwrap().trim_end(),
        format!("websrm audit checkpoint\n9 {}", hex(&entries[8].hash))
    );
    drop(reg);

    // Without the key the chain can be neither verified nor continued.
    let plain = open_registry(&path).unwrap();
    assert_eq!(
        plain.verify_audit_chain().unwrap_err(),
        Error::AuditKeyRequired
    );
    assert_eq!(
        plain
            .append_audit(NewAudit::new(T0, "t", "lookup", "x", "forged"))
            .unwrap_err(),
        Error::AuditKeyRequired
    );
    drop(plain);

    let drop_guard = if on_postgres() {
        "DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log;"
    } else {
        "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;"
    };
    // Entry 6 rewritten, and every link from it recomputed as the unkeyed chain does.
    let mut prev = entries[4].hash.to_vec();
    let mut updates = String::from(drop_guard);
    for e in &entries[5..] {
        let mut e = e.clone();
        if e.seq == 6 {
            e.entry.detail = "rewritten".into();
        }
        let link = v1_link(&prev, &e);
        let blob = |b: &[u8]| {
            if on_postgres() {
                format!("'\\x{}'", hex(b))
            } else {
                format!("x'{}'", hex(b))
            }
        };
        updates.push_str(&format!(
            "UPDATE audit_log SET detail = '{}', prev_hash = {}, hash = {}, keyed = 0 WHERE seq = {};",
            e.entry.detail,
            blob(&prev),
            blob(&link),
            e.seq
        ));
        prev = link;
    }
    raw_sql(&path, &updates).unwrap();
    // Opened with the key, the registry refuses to go on, naming the first altered entry.
    let reg = open_registry(&path).unwrap();
    assert_eq!(
        reg.key_audit_chain(key, Some(checkpoint), T0).unwrap_err(),
        Error::AuditChainBroken { seq: 6 }
    );
    assert_eq!(
        reg.verify_audit_chain().unwrap_err(),
        Error::AuditChainBroken { seq: 6 }
    );
    drop(reg);

    // On a copy left as it was, the last two entries cut off: the checkpoint names what is
    // missing.
    let dir2 = tempfile::tempdir().unwrap();
    let path2 = dir2.path().join("b.db");
    let checkpoint2 = dir2.path().join("audit.checkpoint");
    let reg = open_registry(&path2).unwrap();
    reg.key_audit_chain(key, Some(checkpoint2.clone()), T0)
        .unwrap();
    for i in 0..5 {
        reg.append_audit(NewAudit::new(T0, "t", "lookup", "x", i.to_string()))
            .unwrap();
    }
    assert_eq!(reg.verify_audit_chain().unwrap(), 6);
    drop(reg);
    raw_sql(
        &path2,
        &format!("{drop_guard} DELETE FROM audit_log WHERE seq >= 5;"),
    )
    .unwrap();
    let reg = open_registry(&path2).unwrap();
    // The registry refuses to go on (a new entry at 5 would hide the cut behind a new
    // checkpoint), and verification names the cut.
    let cut = Error::AuditTruncated {
        last: 4,
        checkpoint: 6,
    };
    assert_eq!(
        reg.key_audit_chain(key, Some(checkpoint2.clone()), T0)
            .unwrap_err(),
        cut
    );
    assert_eq!(reg.verify_audit_chain().unwrap_err(), cut);
    assert_eq!(
        reg.append_audit(NewAudit::new(T0, "t", "lookup", "x", "after the cut"))
            .unwrap_err(),
        cut
    );
    let named = std::fs::read_to_string(&checkpoint2).unwrap();
    assert!(
        named.lines().nth(1).unwrap().starts_with("6 "),
        "the checkpoint still names the entry that was cut: {named}"
    );
}

/// Verification and export read the log a page at a time: a log of several pages is walked
/// whole, in order.
#[test]
fn the_audit_log_is_walked_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let reg = open_registry(&path).unwrap();
    reg.key_audit_chain([1; 32], Some(dir.path().join("audit.checkpoint")), T0)
        .unwrap();
    let entries: Vec<_> = (0..2_500)
        .map(|i| NewAudit::new(T0 + Duration::seconds(i), "t", "lookup", "x", i.to_string()))
        .collect();
    std::thread::scope(|scope| {
        for chunk in entries.chunks(625) {
            let reg = &reg;
            scope.spawn(move || {
                for e in chunk {
                    reg.append_audit(e.clone()).unwrap();
                }
            });
        }
    });
    assert_eq!(reg.verify_audit_chain().unwrap(), 2_501);
    let mut seen = Vec::new();
    reg.for_each_audit_entry(1, Some(T0 + Duration::seconds(2_000)), |e| {
        seen.push(e.seq);
        Ok(())
    })
    .unwrap();
    assert_eq!(seen.len(), 500);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
}

/// Codes an earlier registry kept as text become keyed digests when the authority gives the key:
/// they are still found by the code typed, no row holds a code's text any more, and a code
/// added afterwards is kept as a digest only.
#[test]
fn authorization_codes_are_kept_as_keyed_digests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let reg = open_registry(&path).unwrap();
    let id = reg.add_operator(&michel(), T0, audit("op")).unwrap();
    let first: AuthorizationCode = "D8T8-W8W8".parse().unwrap();
    reg.add_authorization_code(id, &first, Sector::Restaurant, T0, T0, audit("code"))
        .unwrap();
    drop(reg);

    let reg = open_registry(&path).unwrap();
    assert_eq!(reg.key_authorization_codes([5; 32], T0).unwrap(), 1);
    assert_eq!(reg.key_authorization_codes([5; 32], T0).unwrap(), 0, "once");
    let found = reg.find_authorization_code(&first).unwrap().unwrap();
    assert_eq!((found.operator, found.sector), (id, Sector::Restaurant));
    let second: AuthorizationCode = "W7V7-K8W9".parse().unwrap();
    reg.add_authorization_code(id, &second, Sector::Restaurant, T0, T0, audit("code"))
        .unwrap();
    assert!(reg.find_authorization_code(&second).unwrap().is_some());
    assert!(matches!(
        reg.add_authorization_code(id, &second, Sector::Restaurant, T0, T0, audit("c")),
        Err(Error::AuthorizationCodeExists)
    ));
    drop(reg);
    // No row holds a code's text: every one is a digest.
    let plain = "SELECT count(*) FROM authorization_codes \
                 WHERE code NOT LIKE 'k1:%' OR code LIKE '%W8W8%' OR code LIKE '%K8W9%'";
    let rows = match registry_database(&path) {
        websrm_registry::Database::Sqlite(p) => rusqlite::Connection::open(p)
            .unwrap()
            .query_row(plain, [], |r| r.get::<_, i64>(0))
            .unwrap(),
        websrm_registry::Database::Postgres(url) => {
            postgres::Client::connect(&url, postgres::NoTls)
                .unwrap()
                .query_one(plain, &[])
                .unwrap()
                .get::<_, i64>(0)
        }
        _ => unreachable!(),
    };
    assert_eq!(rows, 0, "a code's text is in the registry");
    // Without the key, a code is not found (the registry never compares text to a digest).
    assert_eq!(
        open_registry(&path)
            .unwrap()
            .find_authorization_code(&first)
            .unwrap(),
        None
    );
}

/// User accounts are added, kept once, removed and added again; documents are recorded once by
/// their signature, the same number coming back for the same document; both survive reopening.
#[test]
fn user_accounts_and_documents_are_recorded_once() {
    use websrm_registry::{ReceivedDocument, UserChange};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let reg = open_registry(&path).unwrap();
    let op = reg.add_operator(&michel(), T0, audit("op")).unwrap();
    let device = reg
        .allocate_device_id(Some(op), None, T0, audit("device"))
        .unwrap();
    let change = |name: &str, add| UserChange::new(Environment::Dev, op, device, name, add);
    assert!(
        reg.record_user_change(change("Michel Untel", true), audit("u"))
            .unwrap()
    );
    assert!(
        !reg.record_user_change(change("Michel Untel", true), audit("u"))
            .unwrap()
    );
    assert!(
        reg.record_user_change(change("John Smith", true), audit("u"))
            .unwrap()
    );
    assert!(
        reg.record_user_change(change("Michel Untel", false), audit("u"))
            .unwrap()
    );
    assert!(
        !reg.record_user_change(change("Michel Untel", false), audit("u"))
            .unwrap()
    );
    assert_eq!(
        reg.users_of(Environment::Dev, op, device).unwrap(),
        ["John Smith"]
    );
    assert!(
        reg.record_user_change(change("Michel Untel", true), audit("u"))
            .unwrap()
    );
    assert!(
        reg.users_of(Environment::Essai, op, device)
            .unwrap()
            .is_empty()
    );

    let doc = |si: &str| ReceivedDocument::new(Environment::Dev, "RUT", si, device, op, "RT=…");
    let (_, first) = reg.record_document(doc("A"), audit("d")).unwrap();
    let (_, second) = reg.record_document(doc("B"), audit("d")).unwrap();
    let (_, again) = reg.record_document(doc("A"), audit("d")).unwrap();
    assert!(first.new && second.new && !again.new);
    assert_eq!(again.id, first.id);
    assert_ne!(second.id, first.id);
    let reg = open_registry(&path).unwrap();
    assert_eq!(reg.document_count(Environment::Dev).unwrap(), 2);
    assert_eq!(
        reg.users_of(Environment::Dev, op, device).unwrap(),
        ["John Smith", "Michel Untel"]
    );
}

/// A certification run: started, moved by compare-and-set (a run moved by someone else is not
/// moved twice), started over, and every exchange kept with its run.
#[test]
fn essai_runs_move_once_and_keep_their_exchanges() {
    use websrm_domain::TestCase;
    use websrm_registry::{EssaiExchange, EssaiMove, ProductKey};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let reg = open_registry(&path).unwrap();
    let key = ProductKey::new(
        "0000000000000001".parse().unwrap(),
        "0000000000000002".parse().unwrap(),
        "0000000000000003".parse().unwrap(),
    );
    let tc = |s: &str| s.parse::<TestCase>().unwrap();
    let at = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let exchange = |step: &str, verdict: &str, next: &str| {
        EssaiExchange::new(
            at,
            tc(step),
            "enrolement",
            verdict,
            tc(next),
            "{}",
            201,
            "{}",
        )
    };
    assert!(reg.essai_session(&key).unwrap().is_none());
    let run = reg
        .record_essai(
            &key,
            EssaiMove::Start,
            exchange("500.001", "passed", "500.002"),
        )
        .unwrap();
    assert_eq!((run.run, run.expected), (1, tc("500.002")));
    let from = EssaiMove::From {
        run: 1,
        expected: tc("500.002"),
    };
    let run = reg
        .record_essai(&key, from, exchange("500.002", "passed", "500.003"))
        .unwrap();
    assert_eq!(run.expected, tc("500.003"));
    // The same move again: the run has moved on, nothing changes and nothing is kept.
    assert!(matches!(
        reg.record_essai(&key, from, exchange("500.002", "passed", "500.003")),
        Err(Error::EssaiMoved)
    ));
    let run = reg
        .record_essai(
            &key,
            EssaiMove::Stay { run: 1 },
            exchange("500.004", "out-of-order", "500.003"),
        )
        .unwrap();
    assert_eq!(run.expected, tc("500.003"));
    // Started over: run 2; run 1's exchanges stay.
    let run = reg
        .record_essai(
            &key,
            EssaiMove::Start,
            exchange("500.001", "passed", "500.002"),
        )
        .unwrap();
    assert_eq!((run.run, run.expected), (2, tc("500.002")));
    drop(reg);
    let reg = open_registry(&path).unwrap();
    let first: Vec<String> = reg
        .essai_exchanges(&key, Some(1))
        .unwrap()
        .iter()
        .map(|e| format!("{} {} {}", e.test_case, e.verdict, e.next))
        .collect();
    assert_eq!(
        first,
        [
            "500.001 passed 500.002",
            "500.002 passed 500.003",
            "500.004 out-of-order 500.003"
        ]
    );
    assert_eq!(reg.essai_exchanges(&key, None).unwrap().len(), 1);
    assert_eq!(reg.essai_sessions().unwrap().len(), 1);
    assert_eq!(reg.essai_session(&key).unwrap().unwrap().run, 2);
}
