//! The `websrm` command end to end: the demo, and an authority served by one process with an SRS
//! driven by another.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

const WEBSRM: &str = env!("CARGO_BIN_EXE_websrm");

fn run(args: &[&str]) -> Output {
    Command::new(WEBSRM)
        .args(args)
        .output()
        .expect("the websrm binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "websrm {args:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

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
        "Every step behaved as the protocol says",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

struct Authority {
    child: Child,
    enrolment: String,
    api: String,
}

impl Authority {
    fn start(dir: &std::path::Path) -> Self {
        let mut child = Command::new(WEBSRM)
            .args([
                "authority",
                "--dir",
                dir.to_str().unwrap(),
                "serve",
                "--seed-test-data",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let enrolment = lines.next().unwrap().unwrap();
        let api = lines.next().unwrap().unwrap();
        let enrolment = enrolment
            .strip_prefix("listening on ")
            .expect("the enrolment line")
            .to_owned();
        let api = api
            .strip_prefix("api listening on ")
            .expect("the api line")
            .to_owned();
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            enrolment,
            api,
        }
    }
}

impl Drop for Authority {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

    assert!(call(&["device-id"]).contains("no device identifier yet"));
    // Without the answer to the device question, enrolment stops and says why.
    let args = common(&[
        "enrol",
        "--identification-number",
        "5678912340",
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
        "5678912340",
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
        "5678912340",
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

    let status = call(&["status", "--at", "2030-01-01T00:00:00Z", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(json["device_id"], device.as_str());
    assert_eq!(
        json["certificates"][0]["health"],
        "valid, replacement recommended (past half-life)"
    );

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
    let store = dir.path().join("pos.db");
    let trust = authority_dir.join("tls-root.pem");
    let srs = |extra: &[&str]| {
        let mut args = vec![
            "srs",
            "--store",
            store.to_str().unwrap(),
            "--authority",
            &authority.enrolment,
            "--api",
            &authority.api,
            "--trust",
            trust.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let out = srs(&[
        "enrol",
        "--identification-number",
        "5678912340",
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
        "5678912340",
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
        "5678912340",
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

    let revoke = [
        "revoke",
        "--nickname",
        "Tablette volée",
        "--identification-number",
        "5678912340",
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

#[test]
fn terminals_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start(&authority_dir);
    let store = dir.path().join("pos.db");
    let trust = authority_dir.join("tls-root.pem");
    let srs = |extra: &[&str]| {
        let mut args = vec![
            "srs",
            "--store",
            store.to_str().unwrap(),
            "--authority",
            &authority.enrolment,
            "--api",
            &authority.api,
            "--trust",
            trust.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ok(&args)
    };
    srs(&[
        "enrol",
        "--identification-number",
        "5678912340",
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
        "5678912340",
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
