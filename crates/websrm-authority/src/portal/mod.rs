//! The online services ("My Account for businesses"): an operator signs in, sees its
//! certificates and device identifiers, and revokes a certificate it can no longer delete from
//! its SRS. Server-rendered HTML that works without JavaScript, in French and English, written
//! with maud: every value is escaped, none marked otherwise; one same-origin style sheet, no script.
//!
//! Security: passwords checked against argon2id hashes, and an unknown identification number
//! costs the same verification (no timing oracle); failures are counted in the registry with the
//! authority's one `LockoutPolicy` (by default five in 15 minutes lock the number out for 15
//! minutes), so that nothing is kept per unknown text typed; the session is a random token in a
//! `Secure; HttpOnly; SameSite=Strict` cookie, created anew at sign-in (no fixation); every form
//! carries a CSRF token bound to the session, and the sign-in form to a pre-session cookie that
//! the authority signs (no server-side state for clients not signed in); no page reflects query
//! text (the message after a revocation is kept in the session); a failing random generator or
//! audit log fails closed; an operator can only see and revoke its own certificates.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use maud::html as markup;
use time::{Duration, OffsetDateTime};
use websrm_domain::{
    CertificateState, IdentificationNumber, RevocationChannel, RevocationReason, SerialNumber,
};
use websrm_store::NewAudit;
use websrm_store::registry::{Credential, OperatorId, Reservation};

use crate::Authority;

mod console;
mod pages;

use pages::{
    Frame, Lang, SignedIn, certificate_table, form_expired, html, locked_out, page, page_in,
    redirect, revocation_form, sign_in_refused, unavailable,
};
pub use pages::{STYLE_PATH, STYLESHEET};

/// Where the online services live on the enrolment host.
pub const PREFIX: &str = "/services";
const COOKIE: &str = "websrm_session";
const PRE_COOKIE: &str = "websrm_presession";
const SESSION_LIFETIME: Duration = Duration::minutes(30);

#[derive(Debug, Clone)]
struct Session {
    operator: OperatorId,
    number: IdentificationNumber,
    csrf: String,
}

impl Session {
    /// The frame of a page seen in this session: the operator named, sign-out in the banner.
    fn frame(&self, lang: Lang) -> Frame<'_> {
        Frame::operator(
            lang,
            Some(SignedIn {
                who: format!("{} {}", lang.t("Exploitant", "Operator"), self.number),
                sign_out: "/deconnexion",
                csrf: &self.csrf,
            }),
        )
    }
}

/// The key that signs pre-session cookies. Sessions themselves are in the registry (they
/// survive a restart and are shared by the processes of an authority); nothing is kept for
/// clients that have not signed in.
pub(crate) struct Portal {
    /// The key signing pre-session cookies, the same in every process of the authority.
    signing_key: websrm_store::Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal").finish_non_exhaustive()
    }
}

/// What the registry keeps of a session token: its SHA-256, so that the file gives no live
/// session.
fn token_hash(token: &str) -> String {
    websrm_crypto::sha256(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Portal {
    pub(crate) fn new(signing_key: [u8; 32]) -> Self {
        Self {
            signing_key: websrm_store::Zeroizing::new(signing_key),
        }
    }

    fn key(&self) -> Option<&[u8; 32]> {
        Some(&self.signing_key)
    }

    /// A signed pre-session: `expiry.nonce.mac`, and the CSRF token of the sign-in form bound
    /// to it.
    fn pre_session(&self, expires: OffsetDateTime) -> Option<(String, String)> {
        let key = self.key()?;
        let nonce = random_token()?;
        let value = format!("{}.{nonce}", expires.unix_timestamp());
        let mac = URL_SAFE_NO_PAD.encode(websrm_crypto::hmac_sha256(key, value.as_bytes()));
        let cookie = format!("{value}.{mac}");
        let csrf = URL_SAFE_NO_PAD.encode(websrm_crypto::hmac_sha256(
            key,
            format!("csrf:{cookie}").as_bytes(),
        ));
        Some((cookie, csrf))
    }

    /// Whether `cookie` is a pre-session this authority signed, not expired at `now`, and
    /// `csrf` the token bound to it.
    fn check_pre_session(&self, cookie: &str, csrf: &str, now: OffsetDateTime) -> bool {
        let Some(key) = self.key() else {
            return false;
        };
        let Some((value, mac)) = cookie.rsplit_once('.') else {
            return false;
        };
        let signed = URL_SAFE_NO_PAD
            .decode(mac)
            .is_ok_and(|mac| websrm_crypto::hmac_sha256_verify(key, value.as_bytes(), &mac));
        let fresh = value
            .split_once('.')
            .and_then(|(t, _)| t.parse::<i64>().ok())
            .is_some_and(|t| now.unix_timestamp() < t);
        let expected = URL_SAFE_NO_PAD.encode(websrm_crypto::hmac_sha256(
            key,
            format!("csrf:{cookie}").as_bytes(),
        ));
        signed && fresh && constant_time_eq(expected.as_bytes(), csrf.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the form's `csrf` field is the session's token, compared in constant time.
fn csrf_matches(form: &HashMap<String, String>, expected: &str) -> bool {
    form.get("csrf")
        .is_some_and(|csrf| constant_time_eq(csrf.as_bytes(), expected.as_bytes()))
}

/// A request to the portal, as the HTTP layer extracted it: its query, cookies and form fields,
/// already decoded (axum's `Query` and `Form`, axum-extra's `CookieJar`).
#[derive(Debug, Clone, Default)]
pub struct PortalRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The path.
    pub path: String,
    /// The query's fields (`lang`, `serie`).
    pub query: HashMap<String, String>,
    /// The request's cookies, by name.
    pub cookies: HashMap<String, String>,
    /// The form's fields (POST).
    pub form: HashMap<String, String>,
    /// The client's network address, for the sign-in's rate per address.
    pub peer: Option<std::net::IpAddr>,
}

/// A cookie an answer sets (`Some` value) or removes (`None`). The HTTP layer sends every one
/// `Secure; HttpOnly; SameSite=Strict` on the services' path ([`PREFIX`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PortalCookie {
    /// Its name.
    pub name: &'static str,
    /// Its value, or `None` to remove it.
    pub value: Option<String>,
}

/// The portal's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PortalResponse {
    /// The HTTP status.
    pub status: u16,
    /// Where a redirection (303) goes.
    pub location: Option<String>,
    /// The cookies to set or remove.
    pub cookies: Vec<PortalCookie>,
    /// The HTML.
    pub body: String,
    /// Seconds after which to try again (`Retry-After`), when the answer is 429 or 503.
    pub retry_after: Option<u64>,
}

impl PortalResponse {
    /// The value the answer gives the cookie `name`, if it sets it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.value.as_deref())
    }

    fn set(mut self, name: &'static str, value: Option<String>) -> Self {
        self.cookies.push(PortalCookie { name, value });
        self
    }
}

/// 32 random bytes, URL-safe; `None` when the system's generator fails (the caller then fails
/// closed: no session, no form, rather than a guessable token).
fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

impl Authority {
    /// Answers a request to the online services.
    pub fn portal(&self, request: &PortalRequest) -> PortalResponse {
        let query = &request.query;
        let lang = if query.get("lang").map(String::as_str) == Some("en") {
            Lang::En
        } else {
            Lang::Fr
        };
        let now = self.now();
        let route = request.path.strip_prefix(PREFIX).unwrap_or("");
        if route == "/agent" || route.starts_with("/agent/") {
            return self.console(lang, request, route, now);
        }
        match (request.method.as_str(), route) {
            ("GET", "" | "/" | "/connexion") => self.sign_in_page(lang, None, now),
            ("POST", "/connexion") => self.sign_in(lang, request, now),
            ("GET", "/certificats") => match self.session(request, now) {
                Some((token, s)) => {
                    // The message of the last action, once; never text from the query.
                    let flash = self
                        .registry()
                        .take_portal_flash(&token_hash(&token))
                        .ok()
                        .flatten();
                    let message = flash.map(|(fr, en)| if lang == Lang::En { en } else { fr });
                    self.list_page(lang, &s, message.as_deref(), now)
                }
                None => redirect(&format!("{PREFIX}/connexion?lang={}", lang.code())),
            },
            ("GET", "/revoquer") => match self.session(request, now) {
                Some((_, s)) => self.confirm_page(
                    lang,
                    &s,
                    query.get("serie").map(String::as_str).unwrap_or_default(),
                    now,
                ),
                None => redirect(&format!("{PREFIX}/connexion?lang={}", lang.code())),
            },
            ("POST", "/revoquer") => self.revoke_form(lang, request, now),
            ("POST", "/deconnexion") => match self.session(request, now) {
                // The cookie is cleared only with the session it names: a sign-out never
                // leaves a live session behind a cleared cookie.
                Some((token, s)) => {
                    if !csrf_matches(&request.form, &s.csrf) {
                        return form_expired(lang);
                    }
                    if self
                        .registry()
                        .close_portal_session(&token_hash(&token))
                        .is_err()
                    {
                        return unavailable(lang);
                    }
                    redirect(&format!("{PREFIX}/connexion?lang={}", lang.code())).set(COOKIE, None)
                }
                // No live session: nothing to end but the cookie.
                None => {
                    redirect(&format!("{PREFIX}/connexion?lang={}", lang.code())).set(COOKIE, None)
                }
            },
            _ => html(
                404,
                page(lang, lang.t("Page introuvable", "Page not found"), ""),
            ),
        }
    }

    fn session(&self, request: &PortalRequest, now: OffsetDateTime) -> Option<(String, Session)> {
        let token = request.cookies.get(COOKIE)?;
        let (operator, csrf, _) = self
            .registry()
            .portal_session(&token_hash(token), now)
            .ok()
            .flatten()?;
        // A session of an operator disabled since it opened ends with it.
        let number = self
            .registry()
            .operator(operator)
            .ok()
            .filter(|op| op.disabled_at.is_none())?
            .identification_number;
        Some((
            token.to_owned(),
            Session {
                operator,
                number,
                csrf,
            },
        ))
    }

    fn sign_in_page(&self, lang: Lang, error: Option<&str>, now: OffsetDateTime) -> PortalResponse {
        let Some((pre, csrf)) = self.portal_state().pre_session(now + SESSION_LIFETIME) else {
            return unavailable(lang);
        };
        let body = markup! {
            @if let Some(e) = error {
                p class="alert" role="alert" id="error" { strong { (e) } }
            }
            p {
                (lang.t(
                    "Consultez les certificats numériques de vos SEV et révoquez celui d'un appareil perdu, volé ou brisé.",
                    "See your SRSs' digital certificates and revoke the one of a device lost, stolen or broken.",
                ))
            }
            form class="stack" method="post" action={ (PREFIX) "/connexion?lang=" (lang.code()) } {
                input type="hidden" name="csrf" value=(csrf);
                div class="field" {
                    label for="identification_number" {
                        (lang.t("Numéro d'identification", "Identification number"))
                    }
                    input id="identification_number" name="identification_number" type="text"
                        inputmode="numeric" autocomplete="username" required;
                }
                div class="field" {
                    label for="password" { (lang.t("Mot de passe", "Password")) }
                    input id="password" name="password" type="password"
                        autocomplete="current-password" required;
                }
                div class="actions" {
                    button id="sign-in" type="submit" { (lang.t("Se connecter", "Sign in")) }
                }
            }
        };
        html(
            if error.is_none() { 200 } else { 401 },
            page(lang, lang.t("Connexion", "Sign in"), body),
        )
        .set(PRE_COOKIE, Some(pre))
    }

    fn sign_in(&self, lang: Lang, request: &PortalRequest, now: OffsetDateTime) -> PortalResponse {
        let fields = &request.form;
        let pre = request
            .cookies
            .get(PRE_COOKIE)
            .map(String::as_str)
            .unwrap_or_default();
        let csrf = fields.get("csrf").map(String::as_str).unwrap_or_default();
        if !self.portal_state().check_pre_session(pre, csrf, now) {
            return form_expired(lang);
        }
        let number_text = fields
            .get("identification_number")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let number = number_text.parse::<IdentificationNumber>().ok();
        // Bounded before anything costs: a rate per address and per number typed, then a
        // verification slot (each verification holds argon2id's memory).
        let gate = self.sign_in_gate();
        if let Err(refused) = gate.admit(now, request.peer, number.as_ref().map(|n| n.as_str())) {
            return sign_in_refused(lang, refused);
        }
        let slot = match gate.slot() {
            Ok(slot) => slot,
            Err(refused) => return sign_in_refused(lang, refused),
        };
        let refused = lang.t(
            "Numéro d'identification ou mot de passe incorrect.",
            "Wrong identification number or password.",
        );
        // A disabled operator is refused as an unknown one, after the same verification.
        let operator = number.and_then(|n| {
            self.registry()
                .operator_by_identification(&n)
                .ok()
                .flatten()
                .filter(|op| op.disabled_at.is_none())
        });
        // The attempt is reserved (checked against the lockout and counted, in one write of
        // the registry) before the password is verified, and given back if it is right: however
        // many attempts race, at most the policy's number are ever verified.
        // Whether this attempt's reservation reached the limit and locked the credential out.
        let mut locked_by_this = false;
        if let Some(op) = &operator {
            let policy = self.lockout();
            let reserved = self.registry().reserve_attempt(
                op.id,
                Credential::Password,
                now,
                (policy.max_failures, policy.window, policy.lockout),
                NewAudit::new(
                    now,
                    "online-services",
                    "lockout",
                    op.identification_number.as_str(),
                    "",
                ),
            );
            match reserved {
                Ok(Reservation::Locked(until)) => {
                    self.metrics().sign_in("locked");
                    let message = locked_out(lang, until, now);
                    return self.sign_in_page(lang, Some(&message), now);
                }
                Ok(Reservation::Granted(state)) => locked_by_this = state.locked_until.is_some(),
                Ok(_) => {}
                Err(_) => return unavailable(lang),
            }
        }
        let password = fields
            .get("password")
            .map(String::as_str)
            .unwrap_or_default();
        // An unknown number, or one without a password, costs the same verification as a known
        // one: the time of the answer tells nothing.
        let hash = operator
            .as_ref()
            .and_then(|op| self.registry().operator_password_hash(op.id).ok().flatten());
        let matches = slot.verify_known(password, hash.as_deref());
        drop(slot);
        let verified = operator.filter(|_| matches);
        let Some(operator) = verified else {
            // Refusals are audited; if the audit log cannot be written, the portal stops.
            self.metrics().sign_in("refused");
            let audit = NewAudit::new(now, "online-services", "sign-in-refused", "-", "");
            if self.registry().append_audit(audit).is_err() {
                return unavailable(lang);
            }
            return self.sign_in_page(lang, Some(refused), now);
        };
        // The reservation given back: a right password clears the count, and the lockout its own
        // reservation set (the last attempt the policy allows was right: racing attempts after
        // it were refused unverified); a lockout that failures racing it set stands (this attempt
        // was one of those the policy allowed, so it goes on).
        let cleared = if locked_by_this {
            self.registry().clear_attempts(
                operator.id,
                Credential::Password,
                Some(NewAudit::new(
                    now,
                    "online-services",
                    "lockout-lifted",
                    operator.identification_number.as_str(),
                    "the attempt that reached the limit had the right password",
                )),
            )
        } else {
            self.registry()
                .clear_attempts_unless_locked(operator.id, Credential::Password, now, None)
                .map(|_| ())
        };
        if let Err(e) = cleared {
            tracing::error!(error = %e, "could not reset the failed attempts");
            return unavailable(lang);
        }
        let (Some(token), Some(csrf)) = (random_token(), random_token()) else {
            return unavailable(lang);
        };
        self.metrics().sign_in("accepted");
        // Audited before the session exists: no audit, no session.
        if self
            .registry()
            .append_audit(NewAudit::new(
                now,
                format!("operator:{}", operator.identification_number),
                "sign-in",
                operator.identification_number.as_str(),
                "online services",
            ))
            .is_err()
        {
            return unavailable(lang);
        }
        if self
            .registry()
            .open_portal_session(
                &token_hash(&token),
                operator.id,
                &csrf,
                now + SESSION_LIFETIME,
                now,
            )
            .is_err()
        {
            return unavailable(lang);
        }
        redirect(&format!("{PREFIX}/certificats?lang={}", lang.code()))
            .set(COOKIE, Some(token))
            .set(PRE_COOKIE, None)
    }

    fn list_page(
        &self,
        lang: Lang,
        s: &Session,
        message: Option<&str>,
        now: OffsetDateTime,
    ) -> PortalResponse {
        let Ok(certificates) = self.registry().certificates_of_operator(s.operator) else {
            return html(500, page(lang, lang.t("Erreur", "Error"), ""));
        };
        let mut devices: Vec<String> = certificates
            .iter()
            .filter_map(|c| c.device.map(|d| d.to_string()))
            .collect();
        devices.sort();
        devices.dedup();
        let body = markup! {
            @if let Some(m) = message {
                p class="notice" role="status" id="message" { (m) }
            }
            (certificate_table(
                lang,
                lang.t("Vos certificats numériques", "Your digital certificates"),
                &certificates,
                now,
                "/revoquer",
            ))
            h2 { (lang.t("Vos identifiants d'appareil", "Your device identifiers")) }
            @if devices.is_empty() {
                p { (lang.t("Aucun appareil.", "No device.")) }
            } @else {
                ul id="devices" {
                    @for d in &devices { li { (d) } }
                }
            }
        };
        html(
            200,
            page_in(
                &s.frame(lang),
                lang.t("Mes certificats", "My certificates"),
                body,
            ),
        )
    }

    fn own_active(
        &self,
        s: &Session,
        serial: &str,
    ) -> Option<websrm_store::registry::CertificateRecord> {
        let serial: SerialNumber = serial.parse().ok()?;
        let record = self
            .registry()
            .certificate_by_serial(serial)
            .ok()
            .flatten()?;
        (record.operator == s.operator && record.state == CertificateState::Active)
            .then_some(record)
    }

    fn confirm_page(
        &self,
        lang: Lang,
        s: &Session,
        serial: &str,
        _now: OffsetDateTime,
    ) -> PortalResponse {
        let Some(record) = self.own_active(s, serial) else {
            return html(
                404,
                page(
                    lang,
                    lang.t("Certificat introuvable", "Certificate not found"),
                    "",
                ),
            );
        };
        let body = revocation_form(lang, &s.csrf, &record, "/revoquer", "/certificats", false);
        html(
            200,
            page_in(
                &s.frame(lang).about(record.serial),
                lang.t("Révoquer un certificat", "Revoke a certificate"),
                body,
            ),
        )
    }

    fn revoke_form(
        &self,
        lang: Lang,
        request: &PortalRequest,
        now: OffsetDateTime,
    ) -> PortalResponse {
        let Some((_, s)) = self.session(request, now) else {
            return redirect(&format!("{PREFIX}/connexion?lang={}", lang.code()));
        };
        let fields = &request.form;
        if !csrf_matches(fields, &s.csrf) {
            return html(
                403,
                page(lang, lang.t("Requête refusée", "Request refused"), ""),
            );
        }
        let Some(record) = self.own_active(
            &s,
            fields.get("serie").map(String::as_str).unwrap_or_default(),
        ) else {
            return html(
                404,
                page(
                    lang,
                    lang.t("Certificat introuvable", "Certificate not found"),
                    "",
                ),
            );
        };
        if fields.get("confirm").map(String::as_str) != Some("yes") {
            return self.confirm_page(lang, &s, &record.serial.to_string(), now);
        }
        let reason = fields
            .get("reason")
            .and_then(|r| r.parse().ok())
            .unwrap_or(RevocationReason::Unspecified);
        let actor = format!("operator:{}", s.number);
        match self.revoke(
            record.serial,
            reason,
            RevocationChannel::OnlineServices,
            &actor,
            "online services",
        ) {
            Ok(_) => {
                if let Some((token, _)) = self.session(request, now) {
                    let _ = self.registry().set_portal_flash(
                        &token_hash(&token),
                        &format!("Le certificat {} a été révoqué.", record.nickname),
                        &format!("The certificate {} was revoked.", record.nickname),
                    );
                }
                redirect(&format!("{PREFIX}/certificats?lang={}", lang.code()))
            }
            Err(_) => html(500, page(lang, lang.t("Erreur", "Error"), "")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every CSRF comparison goes through the constant-time one: the same answers as `==` on
    /// the token's text, with no early exit on the first differing byte.
    #[test]
    fn csrf_tokens_are_compared_in_constant_time() {
        let form = |v: &str| HashMap::from([("csrf".to_owned(), v.to_owned())]);
        let token = "a".repeat(43);
        assert!(csrf_matches(&form(&token), &token));
        assert!(!csrf_matches(&form(&"b".repeat(43)), &token));
        assert!(!csrf_matches(
            &form(&format!("{}b", "a".repeat(42))),
            &token
        ));
        assert!(!csrf_matches(&form(&"a".repeat(42)), &token));
        assert!(!csrf_matches(&HashMap::new(), &token));
        assert!(constant_time_eq(b"", b""));
    }
}
