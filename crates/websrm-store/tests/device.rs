//! The device store, on real files, reopened after every write.

mod common;

use std::path::Path;

use common::*;
use time::Duration;
use websrm_crypto::{KeyEncryptionKey, PrivateKey, SealedKey, inspect_certificate};
use websrm_domain::{DeviceId, ErrorId, ReturnCode};
use websrm_store::device::{HistoryEvent, PendingKind, SlotStatus};
use websrm_store::{DeviceStore, Error, FileKeyProtector, KeyProtector};

fn reopen(path: &Path) -> DeviceStore {
    DeviceStore::open(path).unwrap()
}

fn device_id(text: &str) -> DeviceId {
    text.parse().unwrap()
}

#[test]
fn enrolment_replacement_and_deletion_reopening_after_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let (ca, kek) = (ca(), KeyEncryptionKey::generate().unwrap());
    let main = slot("pos-main");

    let first = issue(&ca, &kek, "pos-main", "Caisse principale");
    let pending = reopen(&path)
        .begin_enrolment(
            &main,
            &"Caisse principale".parse().unwrap(),
            &first.sealed,
            &first.csr,
            T0,
        )
        .unwrap();
    let store = reopen(&path);
    let [p] = store.pending().unwrap().try_into().unwrap();
    assert_eq!(p.id, pending);
    assert!(matches!(p.kind, PendingKind::Enrol { .. }));
    assert_eq!(p.sealed_key.as_deref(), Some(first.sealed.as_slice()));
    assert_eq!(
        store.slot(&main).unwrap(),
        None,
        "no slot before the certificate arrives"
    );
    assert_eq!(store.device_id().unwrap(), None);

    reopen(&path)
        .complete_enrolment(
            pending,
            &first.material,
            Some(device_id("7654-0955-8558")),
            T0,
        )
        .unwrap();
    let store = reopen(&path);
    assert_eq!(
        store.device_id().unwrap(),
        Some(device_id("7654-0955-8558"))
    );
    assert!(store.pending().unwrap().is_empty());
    let s = store.slot(&main).unwrap().unwrap();
    assert_eq!(s.material, first.material);
    assert_eq!(s.status, SlotStatus::Active);
    let key = PrivateKey::open(
        &SealedKey::from_bytes(s.sealed_key.clone()),
        &kek,
        "pos-main",
    )
    .unwrap();
    assert!(
        inspect_certificate(&s.material.certificate_der)
            .unwrap()
            .matches_key(&key),
        "the slot's key matches its certificate"
    );

    // Replacement: the slot keeps the old pair until the new one is complete.
    let second = issue(&ca, &kek, "pos-main", "Caisse principale");
    let pending = reopen(&path)
        .begin_replacement(
            &main,
            &"Caisse principale".parse().unwrap(),
            &second.sealed,
            &second.csr,
            T0,
        )
        .unwrap();
    assert_eq!(
        reopen(&path).slot(&main).unwrap().unwrap().material.serial,
        first.material.serial
    );
    assert!(
        matches!(&reopen(&path).pending().unwrap()[0].kind, PendingKind::Replace { serial, .. } if *serial == first.material.serial)
    );
    reopen(&path)
        .complete_replacement(pending, &second.material, T0 + Duration::days(900))
        .unwrap();
    let s = reopen(&path).slot(&main).unwrap().unwrap();
    assert_eq!(s.material.serial, second.material.serial);
    let key = PrivateKey::open(
        &SealedKey::from_bytes(s.sealed_key.clone()),
        &kek,
        "pos-main",
    )
    .unwrap();
    assert!(
        inspect_certificate(&s.material.certificate_der)
            .unwrap()
            .matches_key(&key)
    );

    // Deletion removes key and certificate together; the history keeps a tombstone.
    let pending = reopen(&path).begin_deletion(&main, T0).unwrap();
    assert!(
        reopen(&path).slot(&main).unwrap().is_some(),
        "nothing is removed before the authority confirms"
    );
    reopen(&path)
        .complete_deletion(pending, T0 + Duration::days(901))
        .unwrap();
    let store = reopen(&path);
    assert_eq!(store.slot(&main).unwrap(), None);
    assert_eq!(
        store.device_id().unwrap(),
        Some(device_id("7654-0955-8558")),
        "the device id outlives every certificate"
    );
    let events: Vec<HistoryEvent> = store
        .history()
        .unwrap()
        .into_iter()
        .map(|h| h.event)
        .collect();
    assert!(events.contains(&HistoryEvent::DeviceIdAssigned(device_id("7654-0955-8558"))));
    assert!(events.contains(&HistoryEvent::Enrolled {
        serial: first.material.serial
    }));
    assert!(events.contains(&HistoryEvent::Replaced {
        old: first.material.serial,
        new: second.material.serial
    }));
    assert!(events.contains(&HistoryEvent::Deleted {
        serial: second.material.serial
    }));
    store.integrity_check().unwrap();
}

#[test]
fn the_device_id_is_never_silently_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let (ca, kek) = (ca(), KeyEncryptionKey::generate().unwrap());
    // Entered by hand before a first enrolment.
    reopen(&path)
        .enter_device_id(device_id("1717-0955-5555"), T0)
        .unwrap();
    reopen(&path)
        .enter_device_id(device_id("1717-0955-5555"), T0)
        .unwrap();
    let e = reopen(&path)
        .enter_device_id(device_id("9999-0955-1717"), T0)
        .unwrap_err();
    assert_eq!(
        e,
        Error::DeviceIdConflict {
            existing: device_id("1717-0955-5555"),
            offered: device_id("9999-0955-1717")
        }
    );

    // An enrolment answer carrying another id is refused as a whole: no slot, the request stays pending.
    let a = issue(&ca, &kek, "a", "Caisse A du bar");
    let pending = reopen(&path)
        .begin_enrolment(
            &slot("a"),
            &"Caisse A du bar".parse().unwrap(),
            &a.sealed,
            &a.csr,
            T0,
        )
        .unwrap();
    let e = reopen(&path)
        .complete_enrolment(pending, &a.material, Some(device_id("9999-0955-1717")), T0)
        .unwrap_err();
    assert!(matches!(e, Error::DeviceIdConflict { .. }));
    let store = reopen(&path);
    assert_eq!(store.slot(&slot("a")).unwrap(), None);
    assert_eq!(store.pending().unwrap().len(), 1);
    assert_eq!(
        store.device_id().unwrap(),
        Some(device_id("1717-0955-5555"))
    );
    // The same id, or none, completes it.
    reopen(&path)
        .complete_enrolment(pending, &a.material, None, T0)
        .unwrap();
    assert!(reopen(&path).slot(&slot("a")).unwrap().is_some());
}

#[test]
fn several_slots_on_one_device_and_a_reset_keeps_the_device_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let (ca, kek) = (ca(), KeyEncryptionKey::generate().unwrap());
    let mut other_operator = slot("pos-main");
    other_operator.operator = "1234567890".parse().unwrap();
    let slots = [slot("pos-main"), slot("back-office"), other_operator];
    for (i, s) in slots.iter().enumerate() {
        let name = format!("Certificat numéro {i}");
        let issued = issue(&ca, &kek, &s.to_string(), &name);
        let mut store = reopen(&path);
        let pending = store
            .begin_enrolment(s, &name.parse().unwrap(), &issued.sealed, &issued.csr, T0)
            .unwrap();
        let assigned = (i == 0).then(|| device_id("7654-0955-8558"));
        store
            .complete_enrolment(pending, &issued.material, assigned, T0)
            .unwrap();
    }
    assert_eq!(reopen(&path).slots().unwrap().len(), 3);

    // Enrolling again into an occupied slot is refused; so is a second pending request.
    let extra = issue(&ca, &kek, "x", "Caisse supplémentaire");
    let e = reopen(&path)
        .begin_enrolment(
            &slots[0],
            &"Caisse supplémentaire".parse().unwrap(),
            &extra.sealed,
            &extra.csr,
            T0,
        )
        .unwrap_err();
    assert!(matches!(e, Error::SlotOccupied { .. }));
    reopen(&path).begin_deletion(&slots[1], T0).unwrap();
    assert!(matches!(
        reopen(&path).begin_deletion(&slots[1], T0).unwrap_err(),
        Error::PendingExists { .. }
    ));

    // Resetting the pos-main installation (an SRS that wipes its data) keeps the device id and
    // the other installation's slot.
    assert_eq!(reopen(&path).reset_installation("pos-main", T0).unwrap(), 2);
    let store = reopen(&path);
    assert_eq!(
        store.device_id().unwrap(),
        Some(device_id("7654-0955-8558"))
    );
    let left: Vec<String> = store
        .slots()
        .unwrap()
        .iter()
        .map(|s| s.key.installation.clone())
        .collect();
    assert_eq!(left, ["back-office"]);
    assert_eq!(
        store.pending().unwrap().len(),
        1,
        "the back-office deletion is still pending"
    );
}

#[test]
fn abandoning_a_pending_request_leaves_no_key_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let (ca, kek) = (ca(), KeyEncryptionKey::generate().unwrap());
    let issued = issue(&ca, &kek, "s", "Caisse du bar");
    let pending = reopen(&path)
        .begin_enrolment(
            &slot("s"),
            &"Caisse du bar".parse().unwrap(),
            &issued.sealed,
            &issued.csr,
            T0,
        )
        .unwrap();
    reopen(&path)
        .abandon(pending, "the authority refused the request", T0)
        .unwrap();
    let store = reopen(&path);
    assert!(store.pending().unwrap().is_empty());
    assert_eq!(store.slot(&slot("s")).unwrap(), None);
    assert!(matches!(
        store.history().unwrap().last().unwrap().event,
        HistoryEvent::Abandoned { ref kind, ref reason } if kind == "enrol" && reason == "the authority refused the request"
    ));
    assert!(matches!(
        reopen(&path).complete_enrolment(pending, &issued.material, None, T0),
        Err(Error::PendingNotFound { .. })
    ));
}

#[test]
fn authority_errors_and_revocation_are_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let (ca, kek) = (ca(), KeyEncryptionKey::generate().unwrap());
    let issued = issue(&ca, &kek, "s", "Caisse du bar");
    let mut store = reopen(&path);
    let pending = store
        .begin_enrolment(
            &slot("s"),
            &"Caisse du bar".parse().unwrap(),
            &issued.sealed,
            &issued.csr,
            T0,
        )
        .unwrap();
    store
        .complete_enrolment(
            pending,
            &issued.material,
            Some(device_id("0000-0000-0001")),
            T0,
        )
        .unwrap();
    let id: ErrorId = "JW00B999011E".parse().unwrap();
    let code: ReturnCode = "12".parse().unwrap();
    reopen(&path)
        .record_authority_error(Some(&slot("s")), id, Some(code), "certificat révoqué", T0)
        .unwrap();
    reopen(&path).mark_revoked(&slot("s"), T0).unwrap();
    let store = reopen(&path);
    assert_eq!(
        store.slot(&slot("s")).unwrap().unwrap().status,
        SlotStatus::Revoked
    );
    let history = store.history().unwrap();
    let n = history.len();
    assert_eq!(
        history[n - 2].event,
        HistoryEvent::AuthorityError {
            error_id: id,
            return_code: Some(code),
            message: "certificat révoqué".into()
        }
    );
    assert_eq!(
        history[n - 1].event,
        HistoryEvent::RevokedSeen {
            serial: issued.material.serial
        }
    );
    assert_eq!(history[n - 1].slot, Some(slot("s")));
}

#[test]
fn no_plaintext_private_key_is_in_the_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let (ca, kek) = (ca(), KeyEncryptionKey::generate().unwrap());
    let mut plaintexts = Vec::new();
    {
        let mut store = reopen(&path);
        for i in 0..5 {
            let name = format!("Caisse numéro {i}");
            let issued = issue(&ca, &kek, &format!("s{i}"), &name);
            let pkcs8 = issued.key.danger_pkcs8_for_tests();
            // The 32-byte private scalar sits in the PKCS#8 as OCTET STRING 04 20.
            let at = pkcs8.windows(2).position(|w| w == [0x04, 0x20]).unwrap() + 2;
            plaintexts.push(pkcs8[at..at + 32].to_vec());
            plaintexts.push(pkcs8);
            let pending = store
                .begin_enrolment(
                    &slot(&format!("s{i}")),
                    &name.parse().unwrap(),
                    &issued.sealed,
                    &issued.csr,
                    T0,
                )
                .unwrap();
            if i % 2 == 0 {
                store
                    .complete_enrolment(pending, &issued.material, None, T0)
                    .unwrap();
            }
        }
    }
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(bytes.len() > 10_000);
    for secret in &plaintexts {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_slice()),
            "a plaintext key was found in the files"
        );
    }
}

#[test]
fn the_file_protector_keeps_an_owner_only_key_beside_the_database() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("device.db");
    let protector = FileKeyProtector::beside(&db);
    assert_eq!(protector.path(), dir.path().join("device.db.kek"));
    let k1 = protector.key_encryption_key().unwrap();
    let k2 = FileKeyProtector::beside(&db).key_encryption_key().unwrap();
    assert_eq!(*k1, *k2, "the same key on every start");
    let mode = std::fs::metadata(protector.path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        std::fs::read_dir(dir.path()).unwrap().count() == 1,
        "no temporary file left"
    );

    // A database copied elsewhere without its key file opens nothing: a new key is made there.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = FileKeyProtector::beside(&elsewhere.path().join("device.db"))
        .key_encryption_key()
        .unwrap();
    assert_ne!(*other, *k1);

    // A key file others can read, or of the wrong size, is refused.
    std::fs::set_permissions(protector.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        protector.key_encryption_key(),
        Err(Error::KeyProtector { .. })
    ));
    std::fs::set_permissions(protector.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(protector.path(), [1u8; 31]).unwrap();
    assert!(matches!(
        protector.key_encryption_key(),
        Err(Error::KeyProtector { .. })
    ));
}

/// An answer remembered under a key survives a reopening, keeps its first version, and is
/// forgotten after its time; a link extended once per key is signed once, and a second call
/// with the key gets what was remembered, with no second link.
#[test]
fn answers_are_remembered_by_key_and_a_keyed_link_is_made_once() {
    use websrm_store::device::{ChainKey, Extension, RememberedAnswer};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let first = RememberedAnswer::new("POST /v1/enrolments", "d1", 201, "{\"a\":1}", T0);
    assert!(reopen(&path).remember_answer("k1", &first).unwrap());
    let other = RememberedAnswer::new("POST /v1/enrolments", "d2", 201, "{\"a\":2}", T0);
    assert!(
        !reopen(&path).remember_answer("k1", &other).unwrap(),
        "the first stays"
    );
    assert_eq!(reopen(&path).remembered_answer("k1").unwrap(), Some(first));
    assert_eq!(reopen(&path).remembered_answer("k2").unwrap(), None);
    assert_eq!(
        reopen(&path)
            .forget_answers_before(T0 + Duration::seconds(1))
            .unwrap(),
        1
    );
    assert_eq!(reopen(&path).remembered_answer("k1").unwrap(), None);

    let chain = ChainKey::new(
        websrm_domain::Environment::Dev,
        device_id("7654-0955-8558"),
        "0000000000000000".parse().unwrap(),
        "5678912340TQ0001".parse().unwrap(),
    );
    let answer = |link: &websrm_store::device::ChainLink| {
        RememberedAnswer::new("sign", "d", 200, format!("{}", link.position), T0)
    };
    let made = reopen(&path)
        .extend_chain_once(&chain, "s1", |_| Ok("actu-1".into()), answer)
        .unwrap();
    let Extension::Extended(link) = made else {
        panic!("{made:?}")
    };
    assert_eq!((link.position, link.actu.as_str()), (1, "actu-1"));
    let again = reopen(&path)
        .extend_chain_once(&chain, "s1", |_| panic!("not signed again"), answer)
        .unwrap();
    let Extension::Remembered(remembered) = again else {
        panic!("{again:?}")
    };
    assert_eq!(remembered.body, "1");
    assert_eq!(
        reopen(&path).chain_head(&chain).unwrap(),
        Some(("actu-1".into(), 1))
    );
    // A signing that fails leaves neither a link nor an answer.
    let failed = reopen(&path).extend_chain_once(
        &chain,
        "s2",
        |_| Err(Error::Signing(websrm_domain::Source::text("no key"))),
        answer,
    );
    assert!(failed.is_err());
    assert_eq!(reopen(&path).remembered_answer("s2").unwrap(), None);
    assert_eq!(
        reopen(&path).chain_head(&chain).unwrap(),
        Some(("actu-1".into(), 1))
    );
}

#[test]
fn a_relayed_transaction_is_written_once_under_the_server_and_its_device() {
    use websrm_store::device::{NewTransaction, OutboxState};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    let server = slot("server");
    let device = device_id("7654-0955-8558");
    let new = || NewTransaction::new("0000000001", "567891234RT0001", "{\"noTrans\":\"1\"}");
    let (entry, written) = reopen(&path)
        .relay_transaction(&server, device, T0, "actu-1", new())
        .unwrap();
    assert!(written);
    assert_eq!((entry.slot.clone(), entry.device), (server.clone(), device));
    assert_eq!(entry.state, OutboxState::Pending);
    // Handed over again (the device did not hear back): the same entry, nothing more.
    let (again, written) = reopen(&path)
        .relay_transaction(&server, device, T0, "actu-1", new())
        .unwrap();
    assert!(!written);
    assert_eq!(again, entry);
    let part = reopen(&path)
        .pending_part(&server, device, 0, None, usize::MAX)
        .unwrap();
    assert_eq!(part, vec![entry]);
    assert_eq!(
        reopen(&path)
            .pending_groups(websrm_domain::Environment::Dev)
            .unwrap(),
        vec![(server, device)]
    );
}
