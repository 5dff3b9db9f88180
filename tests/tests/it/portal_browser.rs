//! The online services in a real browser: headless Chromium driven over WebDriver (the W3C
//! protocol, spoken directly with an HTTP client). An operator signs in, finds the certificate
//! by its nickname, revokes it, and sees the status change; an agent does the same through the
//! customer-service console. Every page is checked with axe-core (no serious or critical
//! violation; axe-core is installed by `cargo xtask ci` in `tests/browser/`), its style sheet is
//! seen applied under the pages' CSP, and a screenshot of it in French and in English is kept in
//! `target/test-artifacts/`.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use websrm_tests::websrm::domain::{
    CertificateState, DeviceIdState, Environment, RevocationChannel, RevocationReason,
};
use websrm_tests::websrm_protocol::wire::Modification;
use websrm_tests::{Served, websrm_crypto};

use crate::portal::set_password;
use crate::support::*;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    process: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // A process group of its own: the browser it starts is ended with it, even when the
        // test fails.
        let process = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver is installed (Debian packages chromium and chromium-driver; cargo xtask ci installs them)");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--window-size=1200,900", format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {answer}"))
            .to_owned();
        Self {
            process,
            base,
            session,
            http,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        assert!(
            answer["value"].get("error").is_none(),
            "WebDriver {path}: {answer}"
        );
        answer["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The element matching `css`, waiting up to 10 s for a navigation to bring it.
    async fn find(&self, css: &str) -> String {
        let url = format!("{}/session/{}/element", self.base, self.session);
        let query = json!({ "using": "css selector", "value": css });
        for _ in 0..100 {
            let answer: Value = self
                .http
                .post(&url)
                .json(&query)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(id) = answer["value"][ELEMENT].as_str() {
                return id.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no element {css} within 10 s")
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn execute(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Checks the page shown: axe-core finds no serious or critical violation of WCAG 2.1 A/AA
    /// or its best practices, and the services' style sheet is applied (the banner in its
    /// blue); then keeps its screenshot as `portal-{name}.png`.
    async fn check_page(&self, name: &str) {
        let axe = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("browser/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&axe).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; `cargo xtask ci` installs axe-core (or run `npm ci` in tests/browser)",
                axe.display()
            )
        });
        self.execute(&source).await;
        let violations = self
            .call(
                reqwest::Method::POST,
                "/execute/async",
                Some(json!({ "args": [], "script": r"
                    const done = arguments[arguments.length - 1];
                    axe.run(document, {
                        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
                    }).then(r => done({
                        passed: r.passes.length,
                        violations: r.violations
                            .filter(v => v.impact === 'serious' || v.impact === 'critical')
                            .map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                         nodes: v.nodes.map(n => n.target.join(' ')) })),
                    })).catch(e => done({ passed: 0, violations: [String(e)] }));
                " })),
            )
            .await;
        assert_eq!(violations["violations"], json!([]), "axe-core on {name}");
        // The rules that apply to a page like these (lang, title, labels, contrast, landmarks...)
        // were run and passed: axe did look at it.
        assert!(
            violations["passed"].as_u64().unwrap() >= 15,
            "axe-core on {name}: {violations}"
        );
        // Ids name one element each (axe-core reports duplicates only as minor).
        let duplicates = self
            .execute(
                "const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
                 return ids.filter((id, i) => ids.indexOf(id) !== i);",
            )
            .await;
        assert_eq!(duplicates, json!([]), "ids repeated on {name}");
        let banner = self
            .execute(
                "return getComputedStyle(document.querySelector('header.banner')).backgroundColor;",
            )
            .await;
        assert_eq!(
            banner,
            json!("rgb(9, 87, 151)"),
            "the style sheet on {name}"
        );
        let shot = self.screenshot(&format!("portal-{name}.png")).await;
        assert!(
            std::fs::metadata(&shot).unwrap().len() > 1000,
            "a real screenshot"
        );
    }

    /// Checks the page at `path` (under the enrolment host `base`) in French, then in English.
    async fn check_both(&self, base: &str, path: &str, name: &str) {
        let join = if path.contains('?') { '&' } else { '?' };
        for lang in ["fr", "en"] {
            self.goto(&format!("{base}{path}{join}lang={lang}")).await;
            self.check_page(&format!("{name}-{lang}")).await;
        }
    }

    async fn screenshot(&self, name: &str) -> std::path::PathBuf {
        use base64::Engine as _;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Driver {
    /// Ends the WebDriver session (the browser quits), then the driver's whole process group,
    /// then any process still naming this test's browser profile: nothing outlives the test,
    /// passed or failed.
    fn drop(&mut self) {
        let address = self.base.trim_start_matches("http://").to_owned();
        if let Ok(mut stream) = std::net::TcpStream::connect(&address) {
            use std::io::{Read, Write};
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(
                stream,
                "DELETE /session/{} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                self.session
            );
            let _ = stream.read_to_end(&mut Vec::new());
        }
        let group = format!("-{}", self.process.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", &self._profile.path().display().to_string()])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_revokes_a_certificate_in_a_real_browser() {
    let s = Served::start(Environment::Dev);
    set_password(&s, MICHEL_UNTEL.identification_number, "michel-secret-1");
    let c = client(&s, Environment::Dev);
    let (held, _) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse du bar"),
    )
    .await;
    let (_, _) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse terrasse"),
    )
    .await;

    let browser = Driver::start().await;
    let base = &s.enrolment_base;
    browser
        .check_both(base, "/services/connexion", "sign-in")
        .await;
    browser
        .check_both(base, "/services/introuvable", "not-found")
        .await;
    // A wrong password, in each language.
    for lang in ["en", "fr"] {
        browser
            .goto(&format!("{base}/services/connexion?lang={lang}"))
            .await;
        browser
            .type_into("#identification_number", MICHEL_UNTEL.identification_number)
            .await;
        browser.type_into("#password", "not-the-password").await;
        browser.click("#sign-in").await;
        browser.find("#error").await;
        browser.check_page(&format!("sign-in-refused-{lang}")).await;
    }
    browser.goto(&format!("{base}/services/connexion")).await;
    assert!(
        browser
            .source()
            .await
            .contains("<label for=\"identification_number\">")
    );
    browser
        .type_into("#identification_number", MICHEL_UNTEL.identification_number)
        .await;
    browser.type_into("#password", "michel-secret-1").await;
    browser.click("#sign-in").await;

    // The list: find the certificate by its nickname.
    let row = format!("tr[data-serial=\"{}\"]", held.info.serial);
    assert_eq!(browser.text(&format!("{row} th")).await, "Caisse du bar");
    assert_eq!(browser.text(&format!("{row} .status")).await, "En vigueur");
    assert_eq!(browser.text("#signed-in").await, "Exploitant 5678912340");
    browser
        .check_both(base, "/services/certificats", "list")
        .await;
    let confirm = format!("/services/revoquer?serie={}", held.info.serial);
    browser.check_both(base, &confirm, "revoke").await;

    browser.goto(&format!("{base}/services/certificats")).await;
    browser.click(&format!("{row} a")).await;
    assert_eq!(browser.text("#nickname").await, "Caisse du bar");
    browser
        .click("#reason option[value=\"keyCompromise\"]")
        .await;
    browser.click("#confirm").await;
    browser.click("#revoke").await;

    assert!(browser.text("#message").await.contains("a été révoqué"));
    assert_eq!(browser.text(&format!("{row} .status")).await, "Révoqué");
    browser.check_page("revoked-fr").await;
    let record = s
        .authority
        .registry()
        .certificate_by_serial(held.info.serial)
        .unwrap()
        .unwrap();
    assert_eq!(
        record.state,
        CertificateState::Revoked {
            reason: RevocationReason::KeyCompromise,
            channel: RevocationChannel::OnlineServices
        }
    );

    // Afterwards the SRS's requests with it get 011E, and the CRL lists it with its reason.
    let device = record.device.map(DeviceIdState::Assigned);
    let e = c
        .send(
            &headers(Environment::Dev, device),
            &Modification::Delete {
                serial: held.info.serial,
            },
            Some(held.identity()),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("JW00B999011E"), "{e}");
    let crl = s.authority.revocation().crl().unwrap();
    let info = websrm_crypto::verify_crl(&crl, &s.ca).unwrap();
    assert_eq!(
        info.revoked,
        [(held.info.serial, RevocationReason::KeyCompromise)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_revokes_through_the_console_in_a_real_browser() {
    let s = Served::start(Environment::Dev);
    let password = s.authority.admin().register_agent("A42", "test").unwrap();
    let c = client(&s, Environment::Dev);
    let (held, _) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse du bar"),
    )
    .await;

    let browser = Driver::start().await;
    let base = &s.enrolment_base;
    browser
        .check_both(base, "/services/agent/connexion", "console-sign-in")
        .await;
    browser
        .goto(&format!("{base}/services/agent/connexion"))
        .await;
    browser.type_into("#agent_id", "A42").await;
    browser.type_into("#password", &password).await;
    browser.click("#sign-in").await;
    assert_eq!(browser.text("#signed-in").await, "Agent A42");
    browser
        .check_both(base, "/services/agent/dossier", "console-empty")
        .await;

    // A caller whose numbers do not match, then the right ones.
    browser
        .goto(&format!("{base}/services/agent/dossier"))
        .await;
    browser
        .type_into("#identification_number", MICHEL_UNTEL.identification_number)
        .await;
    browser.type_into("#qst", "5678912340TQ0009").await;
    browser.type_into("#file_number", "ER0001").await;
    browser.click("#find").await;
    assert!(
        browser
            .text("#error")
            .await
            .contains("n'a pas pu être vérifiée")
    );
    browser.check_page("console-refused-fr").await;
    browser
        .type_into("#identification_number", MICHEL_UNTEL.identification_number)
        .await;
    browser.type_into("#qst", "5678912340TQ0001").await;
    browser.type_into("#file_number", "ER0001").await;
    browser.click("#find").await;
    assert_eq!(
        browser.text("#operator-number").await,
        MICHEL_UNTEL.identification_number
    );
    let row = format!("tr[data-serial=\"{}\"]", held.info.serial);
    assert_eq!(browser.text(&format!("{row} th")).await, "Caisse du bar");
    browser
        .check_both(base, "/services/agent/dossier", "console-file")
        .await;
    let confirm = format!("/services/agent/revoquer?serie={}", held.info.serial);
    browser.check_both(base, &confirm, "console-revoke").await;

    // The other language's link keeps the certificate.
    browser.goto(&format!("{base}{confirm}")).await;
    browser.click("a[hreflang=\"en\"]").await;
    browser.find("html[lang=\"en\"]").await;
    assert_eq!(browser.text("#nickname").await, "Caisse du bar");
    browser.click("a[hreflang=\"fr\"]").await;
    browser.find("html[lang=\"fr\"]").await;
    browser
        .click("#reason option[value=\"cessationOfOperation\"]")
        .await;
    browser.type_into("#note", "appel du 4 décembre").await;
    browser.click("#confirm").await;
    browser.click("#revoke").await;
    assert!(browser.text("#message").await.contains("a été révoqué"));
    assert_eq!(browser.text(&format!("{row} .status")).await, "Révoqué");
    browser.check_page("console-revoked-fr").await;
    let record = s
        .authority
        .registry()
        .certificate_by_serial(held.info.serial)
        .unwrap()
        .unwrap();
    assert_eq!(
        record.state,
        CertificateState::Revoked {
            reason: RevocationReason::CessationOfOperation,
            channel: RevocationChannel::CustomerService
        }
    );
    assert_eq!(record.ended_by.as_deref(), Some("agent:A42"));
}
