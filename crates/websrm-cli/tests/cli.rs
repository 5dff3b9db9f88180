//! The `websrm` command end to end: the demo, and an authority served by one process with an SRS
//! driven by another.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use websrm::domain::published::MICHEL_UNTEL;

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
        "revoked, billing blocked before any request failed",
        "obtained a new certificate",
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
        Self::start_in(dir, "DEV")
    }

    fn start_in(dir: &std::path::Path, env: &str) -> Self {
        Self::start_with(dir, env, &[])
    }

    /// With more arguments for `serve`.
    fn start_with(dir: &std::path::Path, env: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(WEBSRM)
            .args([
                "authority",
                "--dir",
                dir.to_str().unwrap(),
                "serve",
                "--env",
                env,
                "--seed-test-data",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap())
            .lines()
            .map_while(Result::ok)
            .skip_while(|l| !l.starts_with("listening on "));
        let enrolment = lines.next().unwrap();
        let api = lines.next().unwrap();
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

/// An SRS driven through the `websrm` binary against an authority served by another process.
struct Pos<'a> {
    authority: &'a Authority,
    store: std::path::PathBuf,
    trust: std::path::PathBuf,
}

impl Pos<'_> {
    fn command(&self, env: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(WEBSRM);
        command
            .args([
                "srs",
                "--env",
                env,
                "--store",
                self.store.to_str().unwrap(),
                "--authority",
                &self.authority.enrolment,
                "--api",
                &self.authority.api,
                "--trust",
                self.trust.to_str().unwrap(),
            ])
            .args(extra);
        command
    }

    /// The exit status of the command.
    fn code(&self, extra: &[&str]) -> Option<i32> {
        self.command("DEV", extra).output().unwrap().status.code()
    }

    fn run(&self, extra: &[&str]) -> (bool, String, String) {
        let out = self.command("DEV", extra).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, extra: &[&str]) -> String {
        let (success, stdout, stderr) = self.run(extra);
        assert!(success, "websrm srs {extra:?} failed:\n{stdout}\n{stderr}");
        stdout
    }

    /// Enrols "Caisse du bar", the authorization code taken from the environment.
    fn enrol(&self, extra: &[&str]) -> String {
        let mut args = vec![
            "enrol",
            "--identification-number",
            MICHEL_UNTEL.identification_number,
            "--qst",
            "5678912340TQ0001",
            "--file-number",
            "ER0001",
            "--nickname",
            "Caisse du bar",
        ];
        args.extend_from_slice(extra);
        let out = self
            .command("DEV", &args)
            .env("WEBSRM_AUTHORIZATION_CODE", "D8T8-W8W8")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "enrol failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    fn device_id(&self) -> String {
        let text = self.ok(&["--json", "device-id"]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["device_id"].as_str().unwrap().to_owned()
    }

    fn serial(&self) -> String {
        let text = self.ok(&["--json", "status", "--offline"]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["certificates"][0]["serial"].as_str().unwrap().to_owned()
    }
}

fn pos<'a>(
    authority: &'a Authority,
    dir: &std::path::Path,
    authority_dir: &std::path::Path,
) -> Pos<'a> {
    Pos {
        authority,
        store: dir.join("pos.db"),
        trust: authority_dir.join("tls-root.pem"),
    }
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
fn essai_runs_the_certificate_block_of_each_product_in_its_order() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start_in(&authority_dir, "ESSAI");
    let pos = pos(&authority, dir.path(), &authority_dir);
    let runs = dir.path().join("runs");
    let runs = runs.to_str().unwrap();

    // The seeded product runs both modes in both sectors: 500, then 001 (001.007 in server
    // mode), then 501; then the users: 002, 570, 502.
    let out = pos
        .command(
            "ESSAI",
            &["essai", "--dir", runs, "--sector", "RBC", "--sector", "TRP"],
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let at = |step: &str| {
        text.find(&format!("{step}  "))
            .unwrap_or_else(|| panic!("{step} in {text}"))
    };
    assert!(at("500.001") < at("500.004") && at("500.004") < at("001.001"));
    assert!(at("001.008") < at("501.001") && at("501.001") < at("501.008"));
    assert!(
        text[at("001.007")..].starts_with("001.007  device 1  AJO /enrolement SRV"),
        "{text}"
    );
    assert!(text.contains("Certificat A avec serveur"), "{text}");
    assert!(at("501.008") < at("002.001") && at("002.007") < at("570.001"));
    assert!(at("570.001") < at("502.001") && at("502.001") < at("502.007"));
    assert!(
        text[at("002.002")..].starts_with("002.002  device 1  SUP /utilisateur"),
        "{text}"
    );
    assert!(
        text[at("570.001")..].starts_with("570.001  server    VAL /utilisateur SRV"),
        "{text}"
    );
    assert!(text.contains("35 of 35 step(s) passed"), "{text}");
    assert!(text.contains("casEssai 003.001"), "{text}");

    // The authority knows where the run stands.
    let admin = |args: &[&str]| -> Vec<u8> {
        let out = Command::new(WEBSRM)
            .args(["authority", "--dir", authority_dir.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let version = [
        "--partner",
        "0000000000000001",
        "--srs",
        "0000000000000002",
        "--version-id",
        "0000000000000003",
    ];
    let status = admin(&[&["essai", "status", "--json"][..], &version].concat());
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
    assert_eq!(status["expected"], "003.001");
    assert_eq!(status["done"], 35);
    assert_eq!(status["expected_step"]["block"], "transactions");

    // Its evidence: every request and answer, in a new folder.
    let evidence = dir.path().join("evidence");
    let out = evidence.to_str().unwrap();
    admin(&[&["essai", "evidence", "--out", out][..], &version].concat());
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(evidence.join("run.json")).unwrap()).unwrap();
    assert_eq!(index["exchanges"].as_array().unwrap().len(), 35);
    let first: serde_json::Value =
        serde_json::from_slice(&std::fs::read(evidence.join("0001-500.001-passed.json")).unwrap())
            .unwrap();
    assert_eq!(first["request"]["headers"]["APPRLINIT"], "SRV");
    assert_eq!(first["answer"]["retourCertif"]["casEssai"], "500.002");

    // A step out of order: the authority's 014E, and the block starts over at its first step.
    let out = pos
        .command(
            "ESSAI",
            &[
                "--json",
                "essai",
                "--dir",
                runs,
                "--steps",
                "500.001,500.003",
            ],
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["failed_step"], "500.003");
    assert_eq!(report["redo_from"], "500.001");
    assert_eq!(report["steps"][1]["errors"][0]["id"], "JW00B999014E");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("step 500.003 failed; its block starts over from step 500.001"),
        "{stderr}"
    );

    // A server-mode transportation product: 500 and 501 without the restaurants' step 008,
    // with the transportation codes.
    let product = essai_product(
        &authority_dir,
        dir.path(),
        "server",
        "TRP",
        "0000000000000031",
        "3.1.0",
    );
    let out = pos
        .command(
            "ESSAI",
            &[
                "--product",
                product.to_str().unwrap(),
                "--json",
                "essai",
                "--dir",
                runs,
                "--mode",
                "server",
                "--sector",
                "TRP",
            ],
        )
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(out.status.success(), "{report}");
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    // 500 (4), 501 without 008 (7), 570 (1), 502 (7).
    assert_eq!(steps.len(), 19, "{steps:?}");
    assert!(steps.iter().all(|s| {
        ["500.", "501.", "570.", "502."]
            .iter()
            .any(|c| s.starts_with(c))
    }));
    assert!(steps.contains(&"502.005") && !steps.contains(&"501.008"));
    assert_eq!(report["steps"][18]["casEssai"], "503.001");

    // Never against Revenu Québec.
    let out = Command::new(WEBSRM)
        .args([
            "srs",
            "--env",
            "ESSAI",
            "--store",
            dir.path().join("x.db").to_str().unwrap(),
        ])
        .args(["essai", "--dir", runs])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("local authority only"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A program in another language (Python, standard library only) does the whole walkthrough of
/// docs/AGENT.md against `websrm agent serve`, which stops cleanly on SIGTERM.
#[test]
fn a_python_point_of_sale_drives_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start(&authority_dir);
    let store = dir.path().join("pos.db");
    let socket = dir.path().join("agent.sock");
    let mut agent = Command::new(WEBSRM)
        .args([
            "agent",
            "serve",
            "--store",
            store.to_str().unwrap(),
            "--socket",
            socket.to_str().unwrap(),
            "--authority",
            &authority.enrolment,
            "--api",
            &authority.api,
            "--trust",
            authority_dir.join("tls-root.pem").to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(agent.stdout.take().unwrap()).lines();
    let url = lines
        .next()
        .unwrap()
        .unwrap()
        .strip_prefix("agent listening on ")
        .expect("the listening line")
        .to_owned();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        format!("agent listening on unix:{}", socket.display())
    );
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/agent_client.py");
    let token = format!("{}.agent-token", store.display());
    let out = Command::new("python3")
        .arg(&script)
        .args([&url, &token])
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(" passed, 0 failed"), "{text}");
    assert!(socket.exists(), "the Unix socket is served");
    {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let meta = std::fs::symlink_metadata(&socket).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "owner-only socket"
        );
    }
    // A second agent told to use a path that is not a socket refuses, and leaves it as it was.
    let not_a_socket = dir.path().join("notes.txt");
    std::fs::write(&not_a_socket, "keep me").unwrap();
    let refused = Command::new(WEBSRM)
        .args([
            "agent",
            "serve",
            "--store",
            dir.path().join("other.db").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--socket",
            not_a_socket.to_str().unwrap(),
            "--authority",
            &authority.enrolment,
            "--api",
            &authority.api,
            "--trust",
            authority_dir.join("tls-root.pem").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is not a socket"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(std::fs::read_to_string(&not_a_socket).unwrap(), "keep me");

    let killed = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(agent.wait().unwrap().success());
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
    assert!(!socket.exists(), "the socket is removed on stop");
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

/// The certificate an authority's TLS presents to `name` (SNI) at `base` (`https://IP:PORT`),
/// as OpenSSL reads it: its subject and subjectAltName.
#[cfg(unix)]
fn presented(base: &str, name: &str) -> String {
    let address = base.trim_start_matches("https://");
    let mut client = Command::new("openssl")
        .args(["s_client", "-connect", address, "-servername", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl runs");
    drop(client.stdin.take());
    let pem = client.wait_with_output().unwrap().stdout;
    let mut x509 = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-serial",
            "-subject",
            "-ext",
            "subjectAltName",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    x509.stdin.take().unwrap().write_all(&pem).unwrap();
    String::from_utf8_lossy(&x509.wait_with_output().unwrap().stdout).into_owned()
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

/// Products in the SRS mode (restaurants, transportation), in the server mode (transportation)
/// and in both modes (restaurants), rehearsed to the end of their runs: the certificate and
/// user blocks, then every transaction and document step with websrm's sample bills and
/// documents (offline batches included; in the server mode signed by the device and sent by the
/// remote server), until the authority names `999.999`.
#[test]
fn essai_rehearses_products_of_each_mode_to_the_end_of_their_runs() {
    let dir = tempfile::tempdir().unwrap();
    let authority_dir = dir.path().join("authority");
    let authority = Authority::start_in(&authority_dir, "ESSAI");
    let pos = pos(&authority, dir.path(), &authority_dir);
    for (mode, sector, version_id, version, last) in [
        ("srs", "RBC", "0000000000000041", "4.1.0", "105.001"),
        ("srs", "TRP", "0000000000000042", "4.2.0", "103.005"),
        ("server", "TRP", "0000000000000043", "4.3.0", "603.005"),
        ("both", "RBC", "0000000000000044", "4.4.0", "605.001"),
    ] {
        let product = essai_product(
            &authority_dir,
            dir.path(),
            mode,
            sector,
            version_id,
            version,
        );
        let runs = dir.path().join("runs");
        let out = pos
            .command(
                "ESSAI",
                &[
                    "--product",
                    product.to_str().unwrap(),
                    "--json",
                    "essai",
                    "--dir",
                    runs.to_str().unwrap(),
                    "--mode",
                    mode,
                    "--sector",
                    sector,
                    "--rehearse",
                    "transactions,documents",
                ],
            )
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert!(
            out.status.success(),
            "{mode} {sector}: {report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let steps = report["steps"].as_array().unwrap();
        let end = steps.last().unwrap();
        assert_eq!(end["step"], last, "{mode} {sector}: {end}");
        assert_eq!(end["casEssai"], "999.999", "{mode} {sector}: {end}");
        assert_eq!(report["passed"], serde_json::json!(steps.len()));
        let has = |tc: &str| steps.iter().any(|s| s["step"] == tc);
        let (srs, server) = (mode != "server", mode != "srs");
        let rbc = sector == "RBC";
        assert!(has("003.001") == srs && has("009.005") == srs);
        assert!(has("503.001") == server && has("512.001") == server);
        assert!(has("037.004") == (srs && rbc) && has("537.004") == (server && rbc));
        assert!(has("017.003") == (srs && !rbc) && has("103.001") == (srs && !rbc));
        assert!(has("603.001") == (server && !rbc) && has("605.001") == (server && rbc));
        // In both modes, each block runs its SRS-mode cases before its server-mode cases.
        let at = |tc: &str| steps.iter().position(|s| s["step"] == tc).unwrap();
        if mode == "both" {
            assert!(at("500.001") < at("001.001") && at("037.004") < at("503.001"));
            assert!(at("105.001") < at("605.001"));
        }
    }
}

/// Registers a version of the test product (`authority product add`, certification code
/// `FOB201999999`, parent `1.0.0`) with `mode` and `sector`, and writes the file `--product`
/// reads for it.
fn essai_product(
    authority_dir: &std::path::Path,
    dir: &std::path::Path,
    mode: &str,
    sector: &str,
    version_id: &str,
    version: &str,
) -> std::path::PathBuf {
    let out = Command::new(WEBSRM)
        .args(["authority", "--dir", authority_dir.to_str().unwrap()])
        .args(["product", "add", "--partner", "0000000000000001", "--srs"])
        .args(["0000000000000002", "--version-id", version_id])
        .args(["--code", "FOB201999999", "--version", version])
        .args(["--parent", "1.0.0", "--mode", mode, "--sector", sector])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let product = dir.join(format!("product-{version_id}.txt"));
    std::fs::write(
        &product,
        format!(
            "0000000000000001\n0000000000000002\n{version_id}\nFOB201999999\n{version}\n1.0.0\n"
        ),
    )
    .unwrap();
    product
}
