//! `websrm authority`: serving and stopping, the registry (SQLite and PostgreSQL), operators,
//! products, the customer-service console, the audit log, public names and TLS, rotations, logs and
//! the config file.

use crate::support::*;

#[test]
fn the_authority_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(WEBSRM)
        .args(["authority", "--dir", dir.path().to_str().unwrap(), "serve"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines
            .next()
            .unwrap()
            .unwrap()
            .starts_with("listening on https://127.0.0.1:")
    );
    assert!(
        lines
            .next()
            .unwrap()
            .unwrap()
            .starts_with("api listening on https://127.0.0.1:")
    );
    assert!(
        lines
            .next()
            .unwrap()
            .unwrap()
            .starts_with("admin listening on http://127.0.0.1:")
    );
    let _ = lines.next();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(lines.next().map(Result::unwrap).as_deref(), Some("stopped"));
}

#[test]
fn the_agent_console_verifies_identity_and_revokes() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start(&authority_dir);
    let pos = pos(&authority, dir.path(), &authority_dir);
    let srs = |extra: &[&str]| pos.command("DEV", extra).output().unwrap();
    let out = srs(&[
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
        "Tablette volée",
        "--new-device-id",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let d = authority_dir.to_str().unwrap();
    let added = ok(&["authority", "--dir", d, "agent", "--agent-id", "A7", "add"]);
    let password = added.trim().rsplit(' ').next().unwrap().to_owned();
    let agent = |extra: &[&str], password: &str| {
        let mut args = vec!["authority", "--dir", d, "agent", "--agent-id", "A7"];
        args.extend_from_slice(extra);
        Command::new(WEBSRM)
            .args(&args)
            .env("WEBSRM_AGENT_PASSWORD", password)
            .output()
            .unwrap()
    };
    let find = [
        "find-operator",
        "--identification-number",
        MICHEL_UNTEL.identification_number,
        "--qst",
        "5678912340TQ0001",
        "--file-number",
        "ER0001",
    ];
    assert!(
        !agent(&find, "not the password").status.success(),
        "a wrong password is refused"
    );
    let wrong = [
        "find-operator",
        "--identification-number",
        MICHEL_UNTEL.identification_number,
        "--qst",
        "5678912340TQ0009",
        "--file-number",
        "ER0001",
    ];
    assert!(
        !agent(&wrong, &password).status.success(),
        "an identity that does not match is refused"
    );
    let out = agent(&find, &password);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && text.contains("identity verified: Michel Untel enr.")
            && text.contains("Tablette volée"),
        "{text}"
    );

    // By name, the caller's identity is checked as find-operator does: all three numbers.
    let without_identity = [
        "revoke",
        "--nickname",
        "Tablette volée",
        "--identification-number",
        MICHEL_UNTEL.identification_number,
        "--reason",
        "keyCompromise",
    ];
    assert!(!agent(&without_identity, &password).status.success());
    let wrong_identity = [
        "revoke",
        "--nickname",
        "Tablette volée",
        "--identification-number",
        MICHEL_UNTEL.identification_number,
        "--qst",
        "5678912340TQ0009",
        "--file-number",
        "ER0001",
        "--reason",
        "keyCompromise",
    ];
    let out = agent(&wrong_identity, &password);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("identity could not be verified"));
    let revoke = [
        "revoke",
        "--nickname",
        "Tablette volée",
        "--identification-number",
        MICHEL_UNTEL.identification_number,
        "--qst",
        "5678912340TQ0001",
        "--file-number",
        "ER0001",
        "--reason",
        "keyCompromise",
        "--note",
        "stolen",
    ];
    let out = agent(&revoke, &password);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked: keyCompromise"));

    // The SRS's next request on that certificate gets 011E.
    let out = srs(&["replace", "--nickname", "Tablette volée", "--yes"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("JW00B999011E (codRetour 12)"));
}

/// The operator of the authority verifies the audit log's hash chain, which names the first
/// altered entry, and exports it as JSON lines.
#[test]
fn the_audit_log_verifies_names_an_altered_entry_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    drop(Authority::start(&authority_dir));
    let d = authority_dir.to_str().unwrap();
    let out = ok(&["authority", "--dir", d, "audit", "verify"]);
    assert!(out.contains("audit log verified"), "{out}");
    let lines = ok(&["authority", "--dir", d, "audit", "export"]);
    let entries: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(entries.len() >= 3, "{lines}");
    assert_eq!(entries[0]["seq"], 1);
    assert_eq!(entries[2]["seq"], 3);
    let later = ok(&[
        "authority",
        "--dir",
        d,
        "audit",
        "export",
        "--since",
        "2999-01-01T00:00:00Z",
    ]);
    assert!(later.is_empty());
    // Someone with the file alters entry 3 behind the authority's back.
    let altered = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('DROP TRIGGER audit_log_no_update'); \
             c.execute(\"UPDATE audit_log SET detail = 'forged' WHERE seq = 3\"); c.commit()",
            authority_dir.join("authority.db").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(altered.success());
    let out = run(&["authority", "--dir", d, "audit", "verify"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("breaks at entry 3"), "{stderr}");

    // Another authority: stopped, its guard dropped and its last two entries deleted. The
    // checkpoint in the folder names the entry that is gone.
    let other = dir.path().join("other");
    drop(Authority::start(&other));
    let o = other.to_str().unwrap();
    let entries = ok(&["authority", "--dir", o, "audit", "export"])
        .lines()
        .count();
    let cut = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('DROP TRIGGER audit_log_no_delete'); \
             c.execute('DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 2 FROM audit_log)'); c.commit()",
            other.join("authority.db").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(cut.success());
    let out = run(&["authority", "--dir", o, "audit", "verify"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "the audit log was cut: it ends at entry {}, but its checkpoint names entry {entries}",
            entries - 2
        )),
        "{stderr}"
    );
}

#[test]
fn an_operator_registered_from_the_command_line_is_audited_and_registered_once() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    drop(Authority::start(&authority_dir));
    let d = authority_dir.to_str().unwrap();
    let add = [
        "authority",
        "--dir",
        d,
        "operator",
        "add",
        "--identification-number",
        "2222222226",
        "--name",
        "Café du Nord",
        "--qst",
        "2222222226TQ0001",
        "--gst",
        "222222222RT0001",
        "--file-number",
        "ER0042:RBC",
    ];
    let out = ok(&add);
    let code = out
        .split("authorization code ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no code in {out}"));
    assert_eq!(code.len(), 9, "{out}"); // XXXX-XXXX
    assert!(out.contains("operator 2222222226 registered"), "{out}");
    assert!(!out.contains("active from"), "immediate by default: {out}");
    // With an activation delay, the new code says from when it works.
    let delayed = ok(&[
        "authority",
        "--dir",
        d,
        "--code-activation-minutes",
        "90",
        "operator",
        "new-code",
        "--identification-number",
        "2222222226",
    ]);
    let from = delayed
        .split("active from ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no activation time in {delayed}"));
    let from = time::OffsetDateTime::parse(from, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{from}: {e}"));
    let ahead = from - time::OffsetDateTime::now_utc();
    assert!(
        ahead > time::Duration::minutes(85) && ahead <= time::Duration::minutes(90),
        "{delayed}"
    );
    // The delay is the registry's: a later command without the flag honours it.
    let later = ok(&[
        "authority",
        "--dir",
        d,
        "operator",
        "new-code",
        "--identification-number",
        "2222222226",
    ]);
    assert!(later.contains("active from"), "{later}");
    ok(&[
        "authority",
        "--dir",
        d,
        "settings",
        "set",
        "--lockout-failures",
        "3",
        "--lockout-window-minutes",
        "10",
        "--lockout-minutes",
        "30",
    ]);
    let settings = ok(&["authority", "--dir", d, "settings", "show"]);
    assert!(
        settings.contains("code activation: 90 minutes")
            && settings.contains("3 failures within 10 minutes lock out for 30 minutes"),
        "{settings}"
    );

    // The same number again is refused, and nothing is written.
    let again = run(&add);
    assert!(!again.status.success());
    let before = ok(&["authority", "--dir", d, "audit", "export"])
        .lines()
        .count();
    assert!(!run(&add).status.success());
    let lines = ok(&["authority", "--dir", d, "audit", "export"]);
    assert_eq!(
        lines.lines().count(),
        before,
        "a refused registration is not audited"
    );
    let added: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["action"] == "add-operator" && e["subject"] == "2222222226")
        .collect();
    assert_eq!(added.len(), 1, "{lines}");
    assert_eq!(added[0]["detail"], "Café du Nord");
    assert_eq!(added[0]["actor"], "cli", "{}", added[0]);
    // A malformed number is named before anything is written.
    let bad = run(&[
        "authority",
        "--dir",
        d,
        "operator",
        "add",
        "--identification-number",
        "123",
        "--name",
        "X",
    ]);
    assert!(!bad.status.success());
    assert!(!String::from_utf8_lossy(&bad.stderr).is_empty());
}

/// The registry on PostgreSQL from the command line: `--database` (or `WEBSRM_DATABASE`) for
/// serving, administration and the audit log, nothing written in the folder's `authority.db`, and
/// the password never shown. Runs when `WEBSRM_TEST_POSTGRES` names a server (the PostgreSQL pass
/// of `cargo xtask ci`).
#[test]
fn the_registry_on_postgresql_from_the_command_line() {
    let Ok(server) = std::env::var("WEBSRM_TEST_POSTGRES") else {
        return;
    };
    let name = format!("websrm_cli_{}", std::process::id());
    postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls)
        .unwrap()
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let url = format!("{server}/{name}");
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let d = authority_dir.to_str().unwrap();

    // Served on PostgreSQL, with the URL from the environment.
    let mut child = Command::new(WEBSRM)
        .args(["authority", "--dir", d, "serve", "--seed-test-data"])
        .env("WEBSRM_DATABASE", &url)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let enrolment = lines.next().unwrap().unwrap();
    let api = lines.next().unwrap().unwrap();
    std::thread::spawn(move || lines.for_each(drop));
    let authority = Authority {
        child,
        enrolment: enrolment.strip_prefix("listening on ").unwrap().to_owned(),
        api: api.strip_prefix("api listening on ").unwrap().to_owned(),
    };
    let store = dir.path().join("pos.db");
    let trust = authority_dir.join("tls-root.pem");
    let out = ok(&[
        "srs",
        "--store",
        store.to_str().unwrap(),
        "--authority",
        &authority.enrolment,
        "--api",
        &authority.api,
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
        "Caisse sur PostgreSQL",
        "--new-device-id",
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["certificate"]["health"], "valid", "{out}");
    drop(authority);
    assert!(
        !authority_dir.join("authority.db").exists(),
        "the registry is in PostgreSQL, not in the folder"
    );

    // Administration and the audit log on the same database, with --database.
    let out = ok(&[
        "authority",
        "--dir",
        d,
        "--database",
        &url,
        "operator",
        "add",
        "--identification-number",
        "2222222226",
        "--name",
        "Café du Nord",
        "--qst",
        "2222222226TQ0001",
        "--file-number",
        "ER0042:RBC",
    ]);
    assert!(out.contains("operator 2222222226 registered"), "{out}");
    let verified = ok(&[
        "authority",
        "--dir",
        d,
        "--database",
        &url,
        "audit",
        "verify",
    ]);
    assert!(verified.contains("the hash chain is whole"), "{verified}");
    let exported = ok(&[
        "authority",
        "--dir",
        d,
        "--database",
        &url,
        "audit",
        "export",
    ]);
    assert!(
        exported.lines().any(|l| l.contains("\"action\":\"issue\"")),
        "the issuance made by the served process is in the audit log: {exported}"
    );

    // A database that cannot be reached is named without its password.
    let refused = run(&[
        "authority",
        "--dir",
        d,
        "--database",
        "postgres://websrm:hunter2@127.0.0.1:1/nowhere",
        "audit",
        "verify",
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("postgresql://websrm@127.0.0.1:1/nowhere"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// However the connection string carries its password (in the URL's user part, with a `/` in
/// it, as a query parameter, or as libpq `key=value` words), no message prints it, and a
/// `key=value` string is taken as PostgreSQL, never as an SQLite file name.
#[test]
fn no_form_of_a_database_connection_string_has_its_password_printed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let work = tempfile::tempdir().unwrap();
    for form in [
        "postgres://websrm:hunter2@127.0.0.1:1/nowhere",
        "postgresql://websrm:hunter2@127.0.0.1:1",
        "postgres://websrm:hun/ter2@127.0.0.1:1/nowhere",
        "postgres://websrm@127.0.0.1:1/nowhere?password=hunter2",
        "host=127.0.0.1 port=1 user=websrm password=hunter2 dbname=nowhere",
        "host = 127.0.0.1 port = 1 user = websrm password = hunter2 dbname = nowhere",
        "POSTGRES://websrm:hunter2@127.0.0.1:1/nowhere?sslmode=require",
    ] {
        let refused = Command::new(env!("CARGO_BIN_EXE_websrm"))
            .current_dir(work.path())
            .args([
                "authority",
                "--dir",
                d,
                "--database",
                form,
                "audit",
                "verify",
            ])
            .output()
            .unwrap();
        assert!(!refused.status.success(), "{form}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            !stderr.contains("hunter2") && !stderr.contains("ter2"),
            "{form}: {stderr}"
        );
        assert!(
            stderr.contains("PostgreSQL") || stderr.contains("postgresql://"),
            "{form}: {stderr}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "no file made of a connection string: {left:?}"
    );
}

/// A vendor's own product, registered from the command line while the authority serves: an
/// SRS with its identity enrols, the version's state and its developer's registration change
/// what the authority answers (002E withdrawn, 063E developer not registered), and the lists
/// say where each version stands.
#[test]
fn a_vendors_own_product_registered_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start(&authority_dir);
    let adir = authority_dir.to_str().unwrap();
    let admin = |extra: &[&str]| {
        let mut args = vec!["authority", "--dir", adir, "product"];
        args.extend_from_slice(extra);
        args.iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<String>>()
    };
    let admin_ok = |extra: &[&str]| {
        let args = admin(extra);
        ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let text = admin_ok(&[
        "add",
        "--partner",
        "00000000000000AB",
        "--srs",
        "00000000000000CD",
        "--code",
        "FOB201999999",
        "--version",
        "3.1",
        "--parent",
        "3.0",
        "--mode",
        "srs",
        "--sector",
        "RBC",
        "--json",
    ]);
    let added: serde_json::Value = serde_json::from_str(&text).unwrap();
    let version_id = added[0]["version_id"].as_str().unwrap().to_owned();
    assert_eq!(version_id.len(), 16, "an IDVERSI is generated: {added}");
    assert_eq!(added[0]["state"], "registered");
    assert_eq!(
        added[0]["environments"],
        serde_json::json!(["DEV", "ESSAI"])
    );
    assert_eq!(added[0]["sectors"], serde_json::json!(["RBC"]));
    // The same version again is refused, and nothing is added.
    let again = admin(&[
        "add",
        "--partner",
        "00000000000000AB",
        "--srs",
        "00000000000000CD",
        "--version-id",
        &version_id,
        "--code",
        "FOB201999999",
        "--version",
        "3.1",
    ]);
    let out = run(&again.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("already registered"),
        "{out:?}"
    );
    let list: serde_json::Value = serde_json::from_str(&admin_ok(&["list", "--json"])).unwrap();
    assert_eq!(
        list.as_array().unwrap().len(),
        2,
        "the test product and ours: {list}"
    );

    let product = dir.path().join("product.txt");
    std::fs::write(
        &product,
        format!("00000000000000AB\n00000000000000CD\n{version_id}\nFOB201999999\n3.1\n3.0\n"),
    )
    .unwrap();
    let trust = authority_dir.join("tls-root.pem");
    let enrol = |installation: &str, nickname: &str| {
        let store = dir.path().join(format!("{installation}.db"));
        let args = [
            "srs",
            "--store",
            store.to_str().unwrap(),
            "--authority",
            &authority.enrolment,
            "--api",
            &authority.api,
            "--trust",
            trust.to_str().unwrap(),
            "--product",
            product.to_str().unwrap(),
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
            nickname,
            "--new-device-id",
        ];
        run(&args)
    };
    let out = enrol("first", "Caisse 1");
    assert!(out.status.success(), "{out:?}");

    admin_ok(&[
        "partner",
        "--partner",
        "00000000000000AB",
        "--name",
        "Caisses AB",
        "--registered",
        "no",
    ]);
    let shown = admin_ok(&[
        "show",
        "--partner",
        "00000000000000AB",
        "--srs",
        "00000000000000CD",
    ]);
    assert!(
        shown.contains("Caisses AB") && shown.contains("not registered"),
        "{shown}"
    );
    let out = enrol("second", "Caisse 2");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("JW00B999063E"),
        "{out:?}"
    );
    admin_ok(&[
        "partner",
        "--partner",
        "00000000000000AB",
        "--registered",
        "yes",
    ]);
    let set_state = |id: &str, state: &str| {
        run(&admin(&[
            "set-state",
            "--partner",
            "00000000000000AB",
            "--srs",
            "00000000000000CD",
            "--version-id",
            id,
            state,
        ])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>())
    };
    let out = set_state(&version_id, "withdrawn");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("withdrawn"),
        "{out:?}"
    );
    let out = enrol("third", "Caisse 3");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("JW00B999002E"),
        "{out:?}"
    );
    // A version nobody registered, or a state that does not exist: a clear refusal.
    let out = set_state("00000000000000EE", "certified");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no version 00000000000000EE"),
        "{out:?}"
    );
    let out = set_state(&version_id, "approved");
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("awaiting-certification"),
        "{out:?}"
    );
}

/// What an administrator reads and does from the command line: certificates by expiry and
/// state, the report, an operator's file; a disabled operator's code is refused (514E, exit 3)
/// until it is enabled again.
#[test]
fn operators_and_certificates_read_and_an_operator_disabled_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start(&authority_dir);
    let d = authority_dir.to_str().unwrap();
    let pos = pos(&authority, dir.path(), &authority_dir);
    pos.enrol(&["--new-device-id"]);
    let serial = pos.serial();
    let admin = |extra: &[&str]| {
        let mut args = vec!["authority", "--dir", d];
        args.extend_from_slice(extra);
        ok(&args)
    };
    let lines = admin(&["certificate", "list", "--json"]);
    let listed: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 1, "{lines}");
    assert_eq!(listed[0]["serial"], serial.as_str());
    assert_eq!(listed[0]["state"], "active");
    assert_eq!(listed[0]["operator"], MICHEL_UNTEL.identification_number);
    assert!(admin(&["certificate", "list", "--state", "revoked"]).is_empty());
    assert!(admin(&["certificate", "list", "--expiring-within", "30"]).is_empty());
    assert!(admin(&["certificate", "list", "--expiring-within", "2000"]).contains(&serial));
    let report: serde_json::Value =
        serde_json::from_str(&admin(&["certificate", "report", "--json"])).unwrap();
    assert_eq!(report["by_state"]["active"], 1, "{report}");
    assert_eq!(report["active_expiring_within_days"]["365"], 0, "{report}");
    // The authority's clock moved past the five years: the certificate is expired.
    let later: serde_json::Value = serde_json::from_str(&admin(&[
        "--clock-offset",
        "+1830d",
        "certificate",
        "report",
        "--json",
    ]))
    .unwrap();
    assert_eq!(later["by_state"]["expired"], 1, "{later}");
    let out = run(&["authority", "--dir", d, "serve", "--faults", "lost=0.5"]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("is not a fault"),
        "{out:?}"
    );

    let file: serde_json::Value = serde_json::from_str(&admin(&[
        "operator",
        "show",
        "--identification-number",
        MICHEL_UNTEL.identification_number,
        "--json",
    ]))
    .unwrap();
    assert_eq!(file["certificates"][0]["serial"], serial.as_str(), "{file}");
    assert_eq!(file["devices"][0], pos.device_id().as_str(), "{file}");
    assert!(
        file["authorization_codes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["sector"] == "RBC")
    );
    assert!(admin(&["operator", "list"]).contains("Michel Untel enr."));

    admin(&[
        "operator",
        "disable",
        "--identification-number",
        MICHEL_UNTEL.identification_number,
        "--reason",
        "business closed",
    ]);
    assert!(admin(&["operator", "list"]).contains("disabled"));
    let other = Pos {
        authority: &authority,
        store: dir.path().join("other.db"),
        trust: authority_dir.join("tls-root.pem"),
    };
    let (success, _, stderr) = other.run(&[
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
        "Autre caisse",
        "--new-device-id",
    ]);
    assert!(!success && stderr.contains("JW00B999514E"), "{stderr}");
    admin(&[
        "operator",
        "enable",
        "--identification-number",
        MICHEL_UNTEL.identification_number,
    ]);
    other.enrol(&["--new-device-id"]);
    let audit = admin(&["audit", "export"]);
    assert!(
        audit.contains("disable-operator") && audit.contains("business closed"),
        "{audit}"
    );
}

/// An authority under a public name: a wildcard listener without one is refused; with one,
/// certificates name its CRL (an SRS's status fetches it from there) and the TLS certificate
/// covers its names. The operator's own certificate is presented instead, read again on
/// SIGHUP, and a bad file then leaves the one presented in place.
#[cfg(unix)]
#[test]
fn a_public_name_and_the_operators_own_tls_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "authority",
        "--dir",
        dir.path().join("wild").to_str().unwrap(),
        "serve",
        "--listen",
        "0.0.0.0:0",
    ]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--public-url"),
        "{out:?}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let authority_dir = dir.path().join("authority");
    let listen = format!("127.0.0.1:{port}");
    let public = format!("https://localhost:{port}");
    let authority = Authority::start_with(
        &authority_dir,
        "DEV",
        &[
            "--listen",
            &listen,
            "--public-url",
            &public,
            "--public-api-url",
            "https://api.websrm.test",
        ],
    );
    let san = presented(&authority.enrolment, "api.websrm.test");
    assert!(
        san.contains("DNS:api.websrm.test") && san.contains("DNS:localhost"),
        "{san}"
    );
    let pos = pos(&authority, dir.path(), &authority_dir);
    pos.enrol(&["--new-device-id"]);
    let status: serde_json::Value = serde_json::from_str(&pos.ok(&["status", "--json"])).unwrap();
    assert_eq!(
        status["revocation_check"]["consulted"],
        serde_json::json!([format!("{public}/crl")]),
        "the CRL is fetched where the certificate names it, the public name: {status}"
    );
    drop(authority);

    let own = dir.path().join("own");
    std::fs::create_dir(&own).unwrap();
    let (cert, key) = (own.join("cert.pem"), own.join("key.pem"));
    let make = |cn: &str| {
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                key.to_str().unwrap(),
                "-out",
                cert.to_str().unwrap(),
                "-subj",
                &format!("/CN={cn}"),
                "-days",
                "2",
                "-addext",
                "subjectAltName=DNS:localhost",
            ])
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    };
    make("own-1");
    let served = Authority::start_with(
        &dir.path().join("second"),
        "DEV",
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(presented(&served.enrolment, "localhost").contains("CN = own-1"));
    assert!(presented(&served.api, "localhost").contains("CN = own-1"));
    let hangup = || {
        let status = Command::new("kill")
            .args(["-HUP", &served.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let eventually = |cn: &str| {
        for _ in 0..100 {
            if presented(&served.enrolment, "localhost").contains(&format!("CN = {cn}")) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        false
    };
    make("own-2");
    hangup();
    assert!(eventually("own-2"), "reloaded on SIGHUP");
    std::fs::write(&cert, "not a certificate").unwrap();
    hangup();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        presented(&served.enrolment, "localhost").contains("CN = own-2"),
        "a bad file leaves the certificate presented in place"
    );
}

/// `authority rotate tls|ca|psi` beside a serving authority: the new TLS certificate is
/// presented after SIGHUP, from the same root; the CA and certifPSI rotations say their
/// generation, are audited, and an empty folder is refused rather than made an authority.
#[cfg(unix)]
#[test]
fn rotations_beside_a_serving_authority() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let folder = authority_dir.to_str().unwrap();
    let served = Authority::start_with(&authority_dir, "DEV", &[]);
    let serial = |base: &str| {
        presented(base, "localhost")
            .lines()
            .find_map(|l| l.strip_prefix("serial="))
            .unwrap_or_default()
            .to_owned()
    };
    let before = serial(&served.enrolment);
    assert!(!before.is_empty());
    let root = std::fs::read(authority_dir.join("tls-root.pem")).unwrap();

    let out = ok(&["authority", "--dir", folder, "rotate", "tls"]);
    assert!(out.contains("the TLS certificate was renewed"), "{out}");
    assert_eq!(
        std::fs::read(authority_dir.join("tls-root.pem")).unwrap(),
        root,
        "the same root"
    );
    let status = Command::new("kill")
        .args(["-HUP", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut after = before.clone();
    for _ in 0..100 {
        after = serial(&served.enrolment);
        if after != before {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_ne!(
        after, before,
        "the new certificate is presented after SIGHUP"
    );
    assert_eq!(serial(&served.api), after);

    let out = ok(&["authority", "--dir", folder, "rotate", "ca"]);
    assert!(out.contains("CA generation 2 issues from now on"), "{out}");
    assert!(authority_dir.join("ca-2.pem").exists());
    let out = ok(&["authority", "--dir", folder, "rotate", "psi"]);
    assert!(out.contains("certifPSI generation 2"), "{out}");
    drop(served);
    let audit = ok(&["authority", "--dir", folder, "audit", "export"]);
    for action in ["rotate-tls", "rotate-ca", "rotate-psi"] {
        assert!(audit.contains(action), "{action} audited");
    }
    ok(&["authority", "--dir", folder, "audit", "verify"]);

    let empty = dir.path().join("empty");
    let out = run(&[
        "authority",
        "--dir",
        empty.to_str().unwrap(),
        "rotate",
        "ca",
    ]);
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("holds no authority"),
        "{out:?}"
    );
    assert!(!empty.join("ca.pem").exists());
}

/// `--log-format json`: the diagnostic log is one JSON object a line (here a TLS handshake
/// refused, at `RUST_LOG=info`), for a log collector.
#[test]
fn the_log_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(WEBSRM)
        .args([
            "--log-format",
            "json",
            "authority",
            "--dir",
            dir.path().join("a").to_str().unwrap(),
            "serve",
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let address = first
        .strip_prefix("listening on https://")
        .unwrap()
        .to_owned();
    {
        use std::io::Write;
        let mut tcp = std::net::TcpStream::connect(&address).unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut tcp, &mut sink);
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logged: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        logged
            .iter()
            .any(|l| l["level"] == "INFO" && l["fields"]["message"] == "TLS handshake refused"),
        "{stderr}"
    );
}

/// A config file: its settings apply (folder, public name, faults off, the code activation
/// delay kept in the registry), a flag overrides its value, a `WEBSRM_*` variable too,
/// `config show` leaves the database's password out, and an unknown key is refused.
#[test]
fn a_config_file_with_flags_and_variables_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let file = dir.path().join("authority.toml");
    std::fs::write(
        &file,
        format!(
            "dir = {:?}\ncode_activation_minutes = 30\n\n[serve]\nlisten = \"{}\"\npublic_url = \"https://ca.example.org:8443\"\nseed_test_data = true\n",
            dir.path().join("authority").to_str().unwrap(),
            taken.local_addr().unwrap()
        ),
    )
    .unwrap();
    let config = file.to_str().unwrap();
    // The config's listen address is taken: the flag's is used instead.
    let mut child = Command::new(WEBSRM)
        .args([
            "authority",
            "--config",
            config,
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok);
    let mut seen: Vec<String> = Vec::new();
    for line in lines.by_ref() {
        let last = line.starts_with("certificates name");
        seen.push(line);
        if last {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.iter()
            .any(|l| l == "certificates name https://ca.example.org:8443/crl"),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|l| l.starts_with("listening on ")
            && !l.ends_with(&taken.local_addr().unwrap().to_string())),
        "{seen:?}"
    );
    drop(taken);
    let settings = ok(&["authority", "--config", config, "settings", "show"]);
    assert!(
        settings.contains("code activation: 30 minutes"),
        "{settings}"
    );
    let shown = Command::new(WEBSRM)
        .args(["authority", "--config", config, "config", "show"])
        .env(
            "WEBSRM_DATABASE",
            "postgres://websrm:s3cret@db.example:5432/websrm",
        )
        .env("WEBSRM_PUBLIC_URL", "https://other.example.org")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("websrm@db.example:5432/websrm") && !shown.contains("s3cret"),
        "{shown}"
    );
    assert!(
        shown.contains("public_url = \"https://other.example.org\""),
        "{shown}"
    );
    std::fs::write(&file, "dri = \"typo\"\n").unwrap();
    let out = run(&["authority", "--config", config, "config", "show"]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("unknown field"),
        "{out:?}"
    );
}
