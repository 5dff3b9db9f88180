//! Helpers of the command-line tests: the `websrm` binary run, an authority served by it, a
//! point of sale driven through it, and an ESSAI product registered with it.

pub(crate) use std::io::{BufRead, BufReader};
pub(crate) use std::process::{Child, Command, Output, Stdio};
pub(crate) use websrm::domain::published::MICHEL_UNTEL;

pub(crate) const WEBSRM: &str = env!("CARGO_BIN_EXE_websrm");

pub(crate) fn run(args: &[&str]) -> Output {
    Command::new(WEBSRM)
        .args(args)
        .output()
        .expect("the websrm binary runs")
}

pub(crate) fn ok(args: &[&str]) -> String {
    let out = run(args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "websrm {args:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

pub(crate) struct Authority {
    pub(crate) child: Child,
    pub(crate) enrolment: String,
    pub(crate) api: String,
}

impl Authority {
    pub(crate) fn start(dir: &std::path::Path) -> Self {
        Self::start_in(dir, "DEV")
    }

    pub(crate) fn start_in(dir: &std::path::Path, env: &str) -> Self {
        Self::start_with(dir, env, &[])
    }

    /// With more arguments for `serve`.
    pub(crate) fn start_with(dir: &std::path::Path, env: &str, extra: &[&str]) -> Self {
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

/// An SRS driven through the `websrm` binary against an authority served by another process.
pub(crate) struct Pos<'a> {
    pub(crate) authority: &'a Authority,
    pub(crate) store: std::path::PathBuf,
    pub(crate) trust: std::path::PathBuf,
}

impl Pos<'_> {
    pub(crate) fn command(&self, env: &str, extra: &[&str]) -> Command {
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
    pub(crate) fn code(&self, extra: &[&str]) -> Option<i32> {
        self.command("DEV", extra).output().unwrap().status.code()
    }

    pub(crate) fn run(&self, extra: &[&str]) -> (bool, String, String) {
        let out = self.command("DEV", extra).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub(crate) fn ok(&self, extra: &[&str]) -> String {
        let (success, stdout, stderr) = self.run(extra);
        assert!(success, "websrm srs {extra:?} failed:\n{stdout}\n{stderr}");
        stdout
    }

    /// Enrols "Caisse du bar", the authorization code taken from the environment.
    pub(crate) fn enrol(&self, extra: &[&str]) -> String {
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

    pub(crate) fn device_id(&self) -> String {
        let text = self.ok(&["--json", "device-id"]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["device_id"].as_str().unwrap().to_owned()
    }

    pub(crate) fn serial(&self) -> String {
        let text = self.ok(&["--json", "status", "--offline"]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["certificates"][0]["serial"].as_str().unwrap().to_owned()
    }
}

pub(crate) fn pos<'a>(
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

/// The certificate an authority's TLS presents to `name` (SNI) at `base` (`https://IP:PORT`),
/// as OpenSSL reads it: its subject and subjectAltName.
#[cfg(unix)]
pub(crate) fn presented(base: &str, name: &str) -> String {
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

/// Registers a version of the test product (`authority product add`, certification code
/// `FOB201999999`, parent `1.0.0`) with `mode` and `sector`, and writes the file `--product`
/// reads for it.
pub(crate) fn essai_product(
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
