//! The online services ("My Account for businesses"): an operator signs in, sees its
//! certificates and device identifiers, and revokes a certificate it can no longer delete from
//! its SRS. Server-rendered HTML that works without JavaScript, in French and English.
//!
//! Security: passwords checked against argon2id hashes; five failures in 15 minutes lock the
//! identification number for 15 minutes; the session is a random token in a `Secure; HttpOnly;
//! SameSite=Strict` cookie, created anew at sign-in (no fixation); every form carries a CSRF
//! token bound to the session (the sign-in form to a pre-session cookie); an operator can only
//! see and revoke its own certificates.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::{Duration, OffsetDateTime};
use websrm_domain::{
    CertificateState, Health, IdentificationNumber, RevocationChannel, RevocationReason,
    SerialNumber, WarningPolicy,
};
use websrm_store::NewAudit;
use websrm_store::registry::OperatorId;

use crate::Authority;
use crate::revocation::verify_password;

/// Where the online services live on the enrolment host.
pub const PREFIX: &str = "/services";
const COOKIE: &str = "websrm_session";
const PRE_COOKIE: &str = "websrm_presession";
const SESSION_LIFETIME: Duration = Duration::minutes(30);
const MAX_FAILURES: u32 = 5;
const LOCKOUT: Duration = Duration::minutes(15);

#[derive(Debug, Clone)]
struct Session {
    operator: OperatorId,
    number: IdentificationNumber,
    csrf: String,
    expires: OffsetDateTime,
}

/// The portal's sessions and sign-in counters (in memory: signing in again after a restart is
/// the only cost).
#[derive(Debug, Default)]
pub(crate) struct Portal {
    sessions: Mutex<HashMap<String, Session>>,
    /// Pre-session token → CSRF token of the sign-in form.
    pre_sessions: Mutex<HashMap<String, (String, OffsetDateTime)>>,
    failures: Mutex<HashMap<String, (u32, OffsetDateTime)>>,
}

/// A request to the portal, as the HTTP layer read it.
#[derive(Debug, Clone)]
pub struct PortalRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The path.
    pub path: String,
    /// The query string.
    pub query: String,
    /// The `Cookie` header.
    pub cookies: String,
    /// The form body (POST).
    pub body: Vec<u8>,
}

/// The portal's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PortalResponse {
    /// The HTTP status.
    pub status: u16,
    /// Extra headers (`Location`, `Set-Cookie`).
    pub headers: Vec<(String, String)>,
    /// The HTML.
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Fr,
    En,
}

impl Lang {
    fn t(self, fr: &'static str, en: &'static str) -> &'static str {
        if self == Self::En { en } else { fr }
    }

    fn code(self) -> &'static str {
        if self == Self::En { "en" } else { "fr" }
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // A failing system generator leaves zeros; the token is then refused as too weak below.
    let _ = getrandom::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

pub(crate) fn form(bytes: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

pub(crate) fn cookie<'a>(cookies: &'a str, name: &str) -> Option<&'a str> {
    cookies
        .split(';')
        .map(str::trim)
        .find_map(|c| c.strip_prefix(name)?.strip_prefix('='))
}

fn page(lang: Lang, title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{} — {}</title>\
         <style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}table{{border-collapse:collapse}}\
         th,td{{border:1px solid #888;padding:.3rem .6rem;text-align:left}}:focus{{outline:3px solid #1a5fb4}}</style></head>\n\
         <body>\n<header><p><a href=\"{PREFIX}/certificats?lang={}\">{}</a> · <a href=\"?lang={}\" lang=\"{}\">{}</a></p></header>\n<main>\n<h1>{}</h1>\n{}\n</main>\n</body>\n</html>\n",
        lang.code(),
        escape(title),
        lang.t(
            "Mon dossier pour les entreprises",
            "My Account for businesses"
        ),
        lang.code(),
        lang.t("Mes certificats", "My certificates"),
        if lang == Lang::En { "fr" } else { "en" },
        if lang == Lang::En { "fr" } else { "en" },
        lang.t("English", "Français"),
        escape(title),
        body
    )
}

fn html(status: u16, body: String) -> PortalResponse {
    PortalResponse {
        status,
        headers: Vec::new(),
        body,
    }
}

fn redirect(to: &str) -> PortalResponse {
    PortalResponse {
        status: 303,
        headers: vec![("Location".into(), to.into())],
        body: String::new(),
    }
}

impl Authority {
    /// Answers a request to the online services.
    pub fn portal(&self, request: &PortalRequest) -> PortalResponse {
        let query = form(request.query.as_bytes());
        let lang = if query.get("lang").map(String::as_str) == Some("en") {
            Lang::En
        } else {
            Lang::Fr
        };
        let now = self.now();
        let route = request.path.strip_prefix(PREFIX).unwrap_or("");
        match (request.method.as_str(), route) {
            ("GET", "" | "/" | "/connexion") => self.sign_in_page(lang, None, now),
            ("POST", "/connexion") => self.sign_in(lang, request, now),
            ("GET", "/certificats") => match self.session(request, now) {
                Some((_, s)) => {
                    self.list_page(lang, &s, query.get("message").map(String::as_str), now)
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
            ("POST", "/deconnexion") => {
                if let Some((token, s)) = self.session(request, now)
                    && form(&request.body).get("csrf") == Some(&s.csrf)
                {
                    self.portal_state()
                        .sessions
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(&token);
                }
                let mut r = redirect(&format!("{PREFIX}/connexion?lang={}", lang.code()));
                r.headers.push((
                    "Set-Cookie".into(),
                    format!(
                        "{COOKIE}=; Path={PREFIX}; Max-Age=0; Secure; HttpOnly; SameSite=Strict"
                    ),
                ));
                r
            }
            _ => html(
                404,
                page(lang, lang.t("Page introuvable", "Page not found"), ""),
            ),
        }
    }

    fn session(&self, request: &PortalRequest, now: OffsetDateTime) -> Option<(String, Session)> {
        let token = cookie(&request.cookies, COOKIE)?;
        let mut sessions = self
            .portal_state()
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sessions.retain(|_, s| s.expires > now);
        sessions.get(token).map(|s| (token.to_owned(), s.clone()))
    }

    fn sign_in_page(&self, lang: Lang, error: Option<&str>, now: OffsetDateTime) -> PortalResponse {
        let pre = random_token();
        let csrf = random_token();
        {
            let mut pres = self
                .portal_state()
                .pre_sessions
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            pres.retain(|_, (_, t)| *t > now);
            pres.insert(pre.clone(), (csrf.clone(), now + SESSION_LIFETIME));
        }
        let error = error
            .map(|e| {
                format!(
                    "<p role=\"alert\" id=\"error\"><strong>{}</strong></p>",
                    escape(e)
                )
            })
            .unwrap_or_default();
        let body = format!(
            "{error}<form method=\"post\" action=\"{PREFIX}/connexion?lang={l}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <p><label for=\"identification_number\">{id}</label><br>\
             <input id=\"identification_number\" name=\"identification_number\" inputmode=\"numeric\" autocomplete=\"username\" required></p>\
             <p><label for=\"password\">{pw}</label><br>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></p>\
             <p><button id=\"sign-in\" type=\"submit\">{go}</button></p></form>",
            l = lang.code(),
            id = lang.t("Numéro d'identification", "Identification number"),
            pw = lang.t("Mot de passe", "Password"),
            go = lang.t("Se connecter", "Sign in"),
        );
        let mut r = html(
            if error.is_empty() { 200 } else { 401 },
            page(lang, lang.t("Connexion", "Sign in"), &body),
        );
        r.headers.push((
            "Set-Cookie".into(),
            format!("{PRE_COOKIE}={pre}; Path={PREFIX}; Secure; HttpOnly; SameSite=Strict"),
        ));
        r
    }

    fn sign_in(&self, lang: Lang, request: &PortalRequest, now: OffsetDateTime) -> PortalResponse {
        let fields = form(&request.body);
        let pre = cookie(&request.cookies, PRE_COOKIE)
            .unwrap_or_default()
            .to_owned();
        let expected = self
            .portal_state()
            .pre_sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&pre);
        if expected.is_none_or(|(csrf, t)| t <= now || fields.get("csrf") != Some(&csrf)) {
            return html(
                403,
                page(
                    lang,
                    lang.t("Requête refusée", "Request refused"),
                    lang.t(
                        "<p>Le formulaire a expiré. Recommencez.</p>",
                        "<p>The form expired. Please try again.</p>",
                    ),
                ),
            );
        }
        let number_text = fields
            .get("identification_number")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let refused = lang.t(
            "Numéro d'identification ou mot de passe incorrect.",
            "Wrong identification number or password.",
        );
        {
            let failures = self
                .portal_state()
                .failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((count, until)) = failures.get(&number_text)
                && *count >= MAX_FAILURES
                && *until > now
            {
                return self.sign_in_page(
                    lang,
                    Some(lang.t(
                        "Trop d'essais. Réessayez dans 15 minutes.",
                        "Too many attempts. Try again in 15 minutes.",
                    )),
                    now,
                );
            }
        }
        let operator = number_text
            .parse::<IdentificationNumber>()
            .ok()
            .and_then(|n| {
                self.registry()
                    .operator_by_identification(&n)
                    .ok()
                    .flatten()
            });
        let password = fields
            .get("password")
            .map(String::as_str)
            .unwrap_or_default();
        let verified = operator.filter(|op| {
            self.registry()
                .operator_password_hash(op.id)
                .ok()
                .flatten()
                .is_some_and(|h| verify_password(password, &h))
        });
        let Some(operator) = verified else {
            let mut failures = self
                .portal_state()
                .failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let entry = failures.entry(number_text.clone()).or_insert((0, now));
            if entry.1 <= now && entry.0 >= MAX_FAILURES {
                *entry = (0, now);
            }
            entry.0 += 1;
            entry.1 = now + LOCKOUT;
            drop(failures);
            let _ = self.registry().append_audit(NewAudit::new(
                now,
                "online-services",
                "sign-in-refused",
                number_text,
                "",
            ));
            return self.sign_in_page(lang, Some(refused), now);
        };
        self.portal_state()
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&number_text);
        let token = random_token();
        let session = Session {
            operator: operator.id,
            number: operator.identification_number.clone(),
            csrf: random_token(),
            expires: now + SESSION_LIFETIME,
        };
        self.portal_state()
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(token.clone(), session);
        let _ = self.registry().append_audit(NewAudit::new(
            now,
            format!("operator:{}", operator.identification_number),
            "sign-in",
            operator.identification_number.as_str(),
            "online services",
        ));
        let mut r = redirect(&format!("{PREFIX}/certificats?lang={}", lang.code()));
        r.headers.push((
            "Set-Cookie".into(),
            format!("{COOKIE}={token}; Path={PREFIX}; Secure; HttpOnly; SameSite=Strict"),
        ));
        r.headers.push((
            "Set-Cookie".into(),
            format!("{PRE_COOKIE}=; Path={PREFIX}; Max-Age=0; Secure; HttpOnly; SameSite=Strict"),
        ));
        r
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
        let mut rows = String::new();
        let mut devices: Vec<String> = Vec::new();
        for c in &certificates {
            if let Some(d) = c.device {
                devices.push(d.to_string());
            }
            let health = Health::classify(c.state, &c.validity, now, WarningPolicy::default());
            let status = status_text(lang, c.state, health);
            let action = if c.state == CertificateState::Active {
                format!(
                    "<a href=\"{PREFIX}/revoquer?serie={serial}&amp;lang={l}\" aria-label=\"{label} {nick}\">{label}</a>",
                    serial = c.serial,
                    l = lang.code(),
                    label = lang.t("Révoquer", "Revoke"),
                    nick = escape(c.nickname.as_str())
                )
            } else {
                String::new()
            };
            rows.push_str(&format!(
                "<tr data-serial=\"{serial}\"><th scope=\"row\">{nick}</th><td>{device}</td><td>{env}</td><td class=\"status\">{status}</td><td>{from}</td><td>{to}</td><td>{action}</td></tr>\n",
                serial = c.serial,
                nick = escape(c.nickname.as_str()),
                device = c.device.map_or_else(|| "—".to_owned(), |d| d.to_string()),
                env = c.environment,
                from = c.validity.not_before().date(),
                to = c.validity.not_after().date(),
            ));
        }
        devices.sort();
        devices.dedup();
        let message = message
            .map(|m| format!("<p role=\"status\" id=\"message\">{}</p>", escape(m)))
            .unwrap_or_default();
        let body = format!(
            "{message}<p>{who} {number}</p>\
             <table id=\"certificates\"><caption>{caption}</caption><thead><tr><th scope=\"col\">{nick}</th><th scope=\"col\">{device}</th>\
             <th scope=\"col\">{env}</th><th scope=\"col\">{status}</th><th scope=\"col\">{from}</th><th scope=\"col\">{to}</th><th scope=\"col\">{action}</th></tr></thead>\
             <tbody>{rows}</tbody></table>\
             <h2>{devices_title}</h2><ul id=\"devices\">{devices}</ul>\
             <form method=\"post\" action=\"{PREFIX}/deconnexion?lang={l}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\">{out}</button></form>",
            who = lang.t("Exploitant", "Operator"),
            number = s.number,
            caption = lang.t("Vos certificats numériques", "Your digital certificates"),
            nick = lang.t("Nom du certificat", "Certificate name"),
            device = lang.t("Identifiant de l'appareil", "Device identifier"),
            env = lang.t("Environnement", "Environment"),
            status = lang.t("État", "Status"),
            from = lang.t("Délivré le", "Issued"),
            to = lang.t("Expire le", "Expires"),
            action = lang.t("Action", "Action"),
            devices_title = lang.t("Vos identifiants d'appareil", "Your device identifiers"),
            devices = devices
                .iter()
                .map(|d| format!("<li>{d}</li>"))
                .collect::<String>(),
            l = lang.code(),
            csrf = s.csrf,
            out = lang.t("Se déconnecter", "Sign out"),
        );
        html(
            200,
            page(lang, lang.t("Mes certificats", "My certificates"), &body),
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
        let options = [
            (
                RevocationReason::KeyCompromise,
                lang.t("Appareil perdu ou volé", "Device lost or stolen"),
            ),
            (
                RevocationReason::CessationOfOperation,
                lang.t(
                    "Appareil brisé ou qui n'est plus utilisé",
                    "Device broken or no longer used",
                ),
            ),
            (
                RevocationReason::AffiliationChanged,
                lang.t("Changement d'exploitant", "Change of operator"),
            ),
            (
                RevocationReason::Unspecified,
                lang.t("Autre raison", "Other reason"),
            ),
        ];
        let options: String = options
            .iter()
            .map(|(r, label)| format!("<option value=\"{r}\">{label}</option>"))
            .collect();
        let body = format!(
            "<p>{intro} <strong id=\"nickname\">{nick}</strong> ({serial}).</p>\
             <form method=\"post\" action=\"{PREFIX}/revoquer?lang={l}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"serie\" value=\"{serial}\">\
             <p><label for=\"reason\">{reason}</label><br><select id=\"reason\" name=\"reason\">{options}</select></p>\
             <p><input type=\"checkbox\" id=\"confirm\" name=\"confirm\" value=\"yes\" required> <label for=\"confirm\">{confirm}</label></p>\
             <p><button id=\"revoke\" type=\"submit\">{go}</button> <a href=\"{PREFIX}/certificats?lang={l}\">{cancel}</a></p></form>",
            intro = lang.t("Vous allez révoquer le certificat", "You are about to revoke the certificate"),
            nick = escape(record.nickname.as_str()),
            serial = record.serial,
            l = lang.code(),
            csrf = s.csrf,
            reason = lang.t("Raison", "Reason"),
            confirm = lang.t(
                "Je confirme : le SEV ne pourra plus utiliser ce certificat, et c'est définitif.",
                "I confirm: the SRS will no longer be able to use this certificate, and this is final."
            ),
            go = lang.t("Révoquer le certificat", "Revoke the certificate"),
            cancel = lang.t("Annuler", "Cancel"),
        );
        html(
            200,
            page(
                lang,
                lang.t("Révoquer un certificat", "Revoke a certificate"),
                &body,
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
        let fields = form(&request.body);
        if fields.get("csrf") != Some(&s.csrf) {
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
                let message = match lang {
                    Lang::En => format!("The certificate {} was revoked.", record.nickname),
                    Lang::Fr => format!("Le certificat {} a été révoqué.", record.nickname),
                };
                let encoded: String = form_urlencoded::byte_serialize(message.as_bytes()).collect();
                redirect(&format!(
                    "{PREFIX}/certificats?lang={}&message={encoded}",
                    lang.code()
                ))
            }
            Err(_) => html(500, page(lang, lang.t("Erreur", "Error"), "")),
        }
    }
}

fn status_text(lang: Lang, state: CertificateState, health: Health) -> &'static str {
    match (state, health) {
        (CertificateState::Revoked { .. }, _) => lang.t("Révoqué", "Revoked"),
        (CertificateState::Deleted, _) => lang.t("Supprimé", "Deleted"),
        (CertificateState::Replaced, _) => lang.t("Remplacé", "Replaced"),
        (_, Health::Expired) => lang.t("Expiré", "Expired"),
        (_, Health::ExpiringSoon { .. }) => {
            lang.t("En vigueur, expire bientôt", "In force, expiring soon")
        }
        (_, Health::ReplacementRecommended) => lang.t(
            "En vigueur, remplacement recommandé",
            "In force, replacement recommended",
        ),
        _ => lang.t("En vigueur", "In force"),
    }
}
