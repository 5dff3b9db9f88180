//! `websrm srs`: an SRS driven from the command line against a served authority, through its
//! whole lifecycle, its terminals and transmissions; the demo, `websrm explain` and the exit statuses.

use crate::support::*;

#[test]
fn the_demo_walks_the_whole_lifecycle_and_exits_zero() {
    let text = ok(&["demo"]);
    for expected in [
        "the authority issued certificate",
        "issued under the same device identifier",
        "valid, replacement recommended (past half-life)",
        "expiring soon (30 days left)",
        "billing blocked; a bill printed anyway must bear *** CERTIFICAT INVALIDE *** and NE PAS REMETTRE AU CLIENT",
        "deleted; the device keeps identifier",
        "revoked, billing blocked before any request failed",
        "obtained a new certificate",
        "Every step behaved as the protocol says",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn an_srs_driven_from_the_command_line_against_a_served_authority() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start(&authority_dir);
    let store = dir.path().join("pos.db");
    let trust = authority_dir.join("tls-root.pem");
    let common = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "srs",
            "--store",
            store.to_str().unwrap(),
            "--authority",
            &authority.enrolment,
            "--api",
            &authority.api,
            "--trust",
            trust.to_str().unwrap(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let call = |extra: &[&str]| {
        let args = common(extra);
        ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // A store that does not exist is not read as an empty one.
    let out = run(&common(&["device-id"])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no store at"),
        "{out:?}"
    );
    // Without the answer to the device question, enrolment stops and says why.
    let args = common(&[
        "enrol",
        "--identification-number",
        MICHEL_UNTEL.identification_number,
        "--authorization-code",
        "D8T8-W8W8",
        "--qst",
        "5678912340TQ0001",
        "--file-number",
        "ER0001",
        "--nickname",
        "Caisse du bar",
    ]);
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no identifier yet"));

    let text = call(&[
        "enrol",
        "--identification-number",
        MICHEL_UNTEL.identification_number,
        "--authorization-code",
        "D8T8-W8W8",
        "--qst",
        "5678912340TQ0001",
        "--file-number",
        "ER0001",
        "--nickname",
        "Caisse du bar",
        "--new-device-id",
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let device = json["device_id"].as_str().unwrap().to_owned();
    assert_eq!(json["certificate"]["health"], "valid");

    // A wrong code: the authority's error, with its id, codRetour and both languages.
    let args = common(&[
        "--installation",
        "other",
        "enrol",
        "--identification-number",
        MICHEL_UNTEL.identification_number,
        "--authorization-code",
        "A1A1-A1A1",
        "--qst",
        "5678912340TQ0001",
        "--file-number",
        "ER0001",
        "--nickname",
        "Autre caisse",
    ]);
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("JW00B999514E (codRetour 14)") && err.contains("does not belong"),
        "{err}"
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "a refusal has its own exit status"
    );

    let status = call(&["status", "--at", "2030-01-01T00:00:00Z", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(json["device_id"], device.as_str());
    // The agent's shape: the health's name, and whether it may be used.
    assert_eq!(json["certificates"][0]["health"], "replacement_recommended");
    assert_eq!(json["certificates"][0]["usable"], true);
    assert_eq!(json["certificates"][0]["installation"], "main");

    let out = run(&common(&["replace", "--nickname", "Caisse du bar"])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert!(!out.status.success(), "replacement needs --yes");
    assert!(call(&["replace", "--nickname", "Caisse du bar", "--yes"]).contains("Caisse du bar"));
    assert!(call(&["delete", "--nickname", "Caisse du bar", "--yes"]).contains("deleted"));
    assert!(call(&["status"]).contains(&format!("device identifier: {device}")));
    assert!(call(&["status"]).contains("no certificate"));
}

#[test]
fn terminals_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start(&authority_dir);
    let pos = pos(&authority, dir.path(), &authority_dir);
    let srs = |extra: &[&str]| pos.ok(extra);
    srs(&[
        "enrol",
        "--identification-number",
        MICHEL_UNTEL.identification_number,
        "--authorization-code",
        "D8T8-W8W8",
        "--qst",
        "5678912340TQ0001",
        "--file-number",
        "ER0001",
        "--nickname",
        "Caisse du bar",
        "--new-device-id",
    ]);
    let added: serde_json::Value = serde_json::from_str(&srs(&[
        "terminal",
        "add",
        "--label",
        "Terrasse",
        "--identification-number",
        MICHEL_UNTEL.identification_number,
        "--json",
    ]))
    .unwrap();
    let terminal = added["device_id"].as_str().unwrap().to_owned();
    let list = srs(&["terminal", "list"]);
    assert!(
        list.contains(&format!("terminal Terrasse: device identifier {terminal}")),
        "{list}"
    );
    assert!(srs(&["status"]).contains("terminal Terrasse"));

    // An agent's look-up of the terminal's identifier shows its host.
    let d = authority_dir.to_str().unwrap();
    let added = ok(&["authority", "--dir", d, "agent", "--agent-id", "A9", "add"]);
    let password = added.trim().rsplit(' ').next().unwrap().to_owned();
    let out = Command::new(WEBSRM)
        .args([
            "authority",
            "--dir",
            d,
            "agent",
            "--agent-id",
            "A9",
            "device",
            "--device-id",
            &terminal,
        ])
        .env("WEBSRM_AGENT_PASSWORD", &password)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("terminal of device"),
        "{text}"
    );
}

#[test]
fn revoked_by_an_agent_the_status_shows_it_and_enrol_gives_a_new_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start(&authority_dir);
    let pos = pos(&authority, dir.path(), &authority_dir);
    pos.enrol(&["--new-device-id"]);
    let device = pos.device_id();
    let first = pos.serial();
    let status = pos.ok(&["status"]);
    assert!(
        status.contains(", valid") && !status.contains("no CRL"),
        "{status}"
    );

    // An agent revokes it through the customer-service console.
    let d = authority_dir.to_str().unwrap();
    let added = ok(&["authority", "--dir", d, "agent", "--agent-id", "A7", "add"]);
    let password = added.trim().rsplit(' ').next().unwrap().to_owned();
    let out = Command::new(WEBSRM)
        .args([
            "authority",
            "--dir",
            d,
            "agent",
            "--agent-id",
            "A7",
            "revoke",
            "--nickname",
            "Caisse du bar",
            "--identification-number",
            MICHEL_UNTEL.identification_number,
            "--qst",
            "5678912340TQ0001",
            "--file-number",
            "ER0001",
            "--reason",
            "keyCompromise",
            "--note",
            "stolen tablet",
        ])
        .env("WEBSRM_AGENT_PASSWORD", &password)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The status consults the CRL its certificate names: revoked, before any request failed.
    assert!(
        pos.ok(&["status", "--offline"]).contains(", valid"),
        "offline: what the device knew"
    );
    let status = pos.ok(&["status"]);
    assert!(status.contains(", revoked"), "{status}");
    assert!(
        status.contains("a été révoqué") && status.contains("was revoked"),
        "{status}"
    );
    // Replace says what to do instead, in both languages.
    let (success, _, stderr) = pos.run(&["replace", "--nickname", "Caisse du bar", "--yes"]);
    assert!(!success);
    assert!(
        stderr.contains("was revoked on")
            && stderr.contains("a été révoqué le")
            && stderr.contains("enrol"),
        "{stderr}"
    );
    // A new certificate, on the same device identifier.
    pos.enrol(&[]);
    assert_ne!(pos.serial(), first);
    assert_eq!(pos.device_id(), device);
    assert!(pos.ok(&["status"]).contains(", valid"));
}

#[test]
fn expired_then_a_new_certificate_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start(&authority_dir);
    let pos = pos(&authority, dir.path(), &authority_dir);
    pos.enrol(&["--new-device-id"]);
    let device = pos.device_id();
    let first = pos.serial();
    let later = (time::OffsetDateTime::now_utc() + time::Duration::days(5 * 366))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let status = pos.ok(&["--now", &later, "status", "--offline"]);
    assert!(status.contains(", expired"), "{status}");
    let (success, _, stderr) = pos.run(&[
        "--now",
        &later,
        "delete",
        "--nickname",
        "Caisse du bar",
        "--yes",
    ]);
    assert!(!success && stderr.contains("expired on"), "{stderr}");
    assert_eq!(
        pos.code(&[
            "--now",
            &later,
            "delete",
            "--nickname",
            "Caisse du bar",
            "--yes"
        ]),
        Some(5),
        "an unusable certificate has its own exit status"
    );
    pos.enrol(&["--now", &later]);
    assert_ne!(pos.serial(), first);
    assert_eq!(pos.device_id(), device);
}

#[test]
fn deleted_at_the_authority_the_restored_device_is_refused_then_enrols_again() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start(&authority_dir);
    let pos = pos(&authority, dir.path(), &authority_dir);
    pos.enrol(&["--new-device-id"]);
    let device = pos.device_id();
    let first = pos.serial();
    let backup = dir.path().join("backup");
    std::fs::create_dir(&backup).unwrap();
    for name in ["pos.db", "pos.db.kek"] {
        std::fs::copy(dir.path().join(name), backup.join(name)).unwrap();
    }
    pos.ok(&["delete", "--nickname", "Caisse du bar", "--yes"]);

    let restored = Pos {
        store: backup.join("pos.db"),
        ..pos
    };
    let (success, _, stderr) = restored.run(&["replace", "--nickname", "Caisse du bar", "--yes"]);
    assert!(!success);
    assert!(stderr.contains("JW00B999011E (codRetour 12)"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "The certificate {first} used for authentication is revoked."
        )),
        "the English text has its value: {stderr}"
    );
    assert!(!stderr.contains("{0}"), "{stderr}");
    let status = restored.ok(&["status"]);
    assert!(status.contains(", refused by the authority"), "{status}");
    // Removed locally with confirmation, then a new certificate.
    let (success, _, stderr) = restored.run(&["remove", "--nickname", "Caisse du bar"]);
    assert!(!success && stderr.contains("confirmed"), "{stderr}");
    restored.ok(&["remove", "--nickname", "Caisse du bar", "--yes"]);
    assert!(restored.ok(&["status"]).contains("no certificate"));
    restored.enrol(&[]);
    assert_ne!(restored.serial(), first);
    assert_eq!(restored.device_id(), device);
}

#[test]
fn the_authorization_code_from_standard_input_and_a_store_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start(&authority_dir);
    let pos = pos(&authority, dir.path(), &authority_dir);
    for command in [
        &["status"][..],
        &["device-id"],
        &["replace", "--nickname", "Caisse du bar", "--yes"],
        &["delete", "--nickname", "Caisse du bar", "--yes"],
    ] {
        let (success, _, stderr) = pos.run(command);
        assert!(
            !success && stderr.contains("no store at"),
            "{command:?}: {stderr}"
        );
        assert!(!pos.store.exists(), "{command:?} created no store");
    }
    let mut child = pos
        .command(
            "DEV",
            &[
                "enrol",
                "--identification-number",
                MICHEL_UNTEL.identification_number,
                "--authorization-code",
                "-",
                "--qst",
                "5678912340TQ0001",
                "--file-number",
                "ER0001",
                "--nickname",
                "Caisse du bar",
                "--new-device-id",
            ],
        )
        .env_remove("WEBSRM_AUTHORIZATION_CODE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "D8T8-W8W8").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(pos.ok(&["status"]).contains("Caisse du bar"));
}

#[test]
fn transactions_from_the_command_line_online_then_kept_offline_then_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start(&authority_dir);
    let pos = pos(&authority, dir.path(), &authority_dir);
    pos.enrol(&["--new-device-id"]);
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/examples/transactions/restaurant-closing-receipt.json"
    );
    let json = |text: &str| -> serde_json::Value { serde_json::from_str(text).unwrap() };
    let sent = json(&pos.ok(&["--json", "transmit", "--file", example]));
    assert_eq!(sent["outcome"], "transmitted", "{sent}");
    assert_eq!(
        sent["psiNoTrans"].as_str().map(str::len),
        Some(19),
        "{sent}"
    );
    assert_eq!(sent["mention"], serde_json::Value::Null);

    // The next one, numbered after it, while the authority cannot be reached: kept, exit 0.
    let mut next = json(&std::fs::read_to_string(example).unwrap());
    next["noTrans"] = "0000000124".into();
    next["datTrans"] = "20261203121600".into();
    let next_file = dir.path().join("next.json");
    std::fs::write(&next_file, next.to_string()).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unreachable = format!("https://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut offline = pos.command("DEV", &[]);
    let args: Vec<String> = offline
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let api_at = args.iter().position(|a| a == "--api").unwrap() + 1;
    let mut args = args;
    args[api_at] = unreachable;
    offline = Command::new(WEBSRM);
    offline
        .args(&args)
        .args(["--json", "transmit", "--file", next_file.to_str().unwrap()]);
    let out = offline.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let kept = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(kept["outcome"], "offline", "{kept}");
    assert_eq!(kept["mention"], "PROBLÈME DE COMMUNICATION");
    let outbox = json(&pos.ok(&["--json", "outbox"]));
    assert_eq!(outbox["pending"], 1, "{outbox}");
    assert_eq!(outbox["transactions"][0]["noTrans"], "0000000124");
    assert!(outbox["offline"]["reason"].is_string(), "{outbox}");
    // The agent's shape, from the facade: RFC 3339 moments, the operator's number by name.
    assert_eq!(
        outbox["transactions"][0]["identification_number"],
        MICHEL_UNTEL.identification_number
    );
    assert!(
        outbox["offline"]["since"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{outbox}"
    );

    // The authority is back: the flush delivers it as a batch.
    let flushed = json(&pos.ok(&["--json", "outbox", "--flush"]));
    assert_eq!(flushed["flushed"]["sent"], 1, "{flushed}");
    assert_eq!(flushed["pending"], 0, "{flushed}");
    assert_eq!(flushed["offline"], serde_json::Value::Null, "{flushed}");

    // A transaction the authority would refuse is refused before anything is signed or sent.
    let mut bad = next;
    bad["noTrans"] = "00000001250".into();
    let bad_file = dir.path().join("bad.json");
    std::fs::write(&bad_file, bad.to_string()).unwrap();
    let (success, _, stderr) = pos.run(&["transmit", "--file", bad_file.to_str().unwrap()]);
    assert!(!success && stderr.contains("JW00B999406E"), "{stderr}");
}

/// `websrm explain` reads an id in any of its forms and says who can fix it and whether to send
/// again; an unknown id is an error; `--all --markdown` is docs/ERRORS.md exactly (regenerate
/// it with `websrm explain --all --markdown > docs/ERRORS.md`).
#[test]
fn explain_says_what_an_error_means_and_errors_md_is_current() {
    for id in ["JW00B999514E", "514E", "514"] {
        let text = ok(&["explain", id]);
        assert!(text.starts_with("JW00B999514E  codRetour 14"), "{text}");
        assert!(text.contains("who can fix it: the user"), "{text}");
        assert!(text.contains("send again: no"), "{text}");
    }
    let text = ok(&["explain", "305"]);
    assert!(text.contains("send again: yes"), "{text}");
    assert!(text.contains("followed by JW00B999999E"), "{text}");
    let out = run(&["explain", "123"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not an error websrm knows"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!run(&["explain", "abc"]).status.success());
    let generated = ok(&["explain", "--all", "--markdown"]);
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ERRORS.md"))
            .expect("docs/ERRORS.md");
    assert!(
        generated == committed,
        "docs/ERRORS.md is stale: run `websrm explain --all --markdown > docs/ERRORS.md`"
    );
}

/// A script tells a usage error (2) from an authority that cannot be reached (4), the other
/// statuses being checked where they arise (3 refused, 5 unusable).
#[test]
fn exit_statuses_tell_usage_from_communication() {
    assert_eq!(run(&["srs", "--no-such-flag"]).status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start(&authority_dir);
    let (enrolment, api) = (authority.enrolment.clone(), authority.api.clone());
    drop(authority);
    let store = dir.path().join("pos.db");
    let trust = authority_dir.join("tls-root.pem");
    let out = run(&[
        "srs",
        "--store",
        store.to_str().unwrap(),
        "--authority",
        &enrolment,
        "--api",
        &api,
        "--trust",
        trust.to_str().unwrap(),
        "enrol",
        "--identification-number",
        MICHEL_UNTEL.identification_number,
        "--authorization-code",
        "D8T8-W8W8",
        "--qst",
        "5678912340TQ0001",
        "--file-number",
        "ER0001",
        "--nickname",
        "Caisse du bar",
        "--new-device-id",
    ]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
}
