//! The customer-service console: pages of the online services for the authority's agents. An
//! agent signs in with its id and password, verifies a caller's identity with the three numbers
//! (identification, QST, file), sees that operator's certificates and devices, and revokes one
//! with a reason and a note of the call.
//!
//! The same protections as the operators' pages: argon2id with the same cost for an unknown
//! agent, the rate per address and the verification slots, the authority's lockout policy
//! counted in the registry per agent, a random session token in its own `Secure; HttpOnly;
//! SameSite=Strict` cookie (sessions in the registry, created anew at sign-in), CSRF tokens on
//! every form, no query text reflected, and every identity check, look-up and revocation in the
//! audit log under the agent's id. An agent sees only the operator whose identity it verified in
//! this session.

use std::net::IpAddr;

use maud::{display, html as markup};
use serde::Deserialize;
use time::OffsetDateTime;
use websrm_domain::{
    CertificateState, FileNumber, IdentificationNumber, QstNumber, RevocationChannel,
    RevocationReason, SerialNumber,
};
use websrm_registry::NewAudit;
use websrm_registry::{AgentSession, CertificateRecord, Reservation};

use super::OnlineServices;
use super::operator::{CsrfForm, RevocationForm};
use super::pages::{
    Frame, Lang, SignedIn, certificate_table, form_expired, html, locked_out, page_in, redirect,
    revocation_form, sign_in_refused, unavailable,
};
use super::{Answer, PRE_COOKIE, PREFIX, SESSION_LIFETIME, csrf_matches, random_token, token_hash};
use crate::Error;

/// The console's sign-in form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct AgentSignInForm {
    pub(super) csrf: String,
    pub(super) agent_id: String,
    pub(super) password: String,
}

/// The identity check: the caller's three numbers.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct IdentityForm {
    pub(super) csrf: String,
    pub(super) identification_number: String,
    pub(super) qst: String,
    pub(super) file_number: String,
}

/// The console's session cookie: apart from the operators', so that neither stands for the
/// other.
pub(super) const AGENT_COOKIE: &str = "websrm_agent_session";
/// The console's home: the identity check and the operator's file.
pub(super) const FILE: &str = "/agent/dossier";
pub(super) const SIGN_IN: &str = "/agent/connexion";
pub(super) const SIGN_OUT: &str = "/agent/deconnexion";
pub(super) const REVOKE: &str = "/agent/revoquer";

fn frame<'a>(lang: Lang, session: Option<&'a AgentSession>) -> Frame<'a> {
    Frame {
        lang,
        service: (
            "Console du service à la clientèle",
            "Customer service console",
        ),
        home: FILE,
        signed_in: session.map(|s| SignedIn {
            who: format!("Agent {}", s.agent_id),
            sign_out: SIGN_OUT,
            csrf: &s.csrf,
        }),
        query: String::new(),
    }
}

fn to_sign_in(lang: Lang) -> Answer {
    redirect(&format!("{PREFIX}{SIGN_IN}?lang={}", lang.code()))
}

impl OnlineServices<'_> {
    /// The operator's file the session verified, with the message of the last action.
    pub(super) fn agent_file(
        &self,
        lang: Lang,
        cookie: Option<&str>,
        now: OffsetDateTime,
    ) -> Answer {
        let Some((token, s)) = self.agent_session(cookie, now) else {
            return to_sign_in(lang);
        };
        let flash = self
            .core
            .registry
            .take_agent_flash(&token_hash(&token))
            .ok()
            .flatten();
        let message = flash.map(|(fr, en)| if lang == Lang::En { en } else { fr });
        self.file_page(lang, &s, 200, message.as_deref(), None, now)
    }

    /// The identity check's form, sent.
    pub(super) fn agent_identity_check(
        &self,
        lang: Lang,
        cookie: Option<&str>,
        form: &IdentityForm,
        now: OffsetDateTime,
    ) -> Answer {
        self.agent_form(lang, cookie, &form.csrf, now, |token, s| {
            self.identity_check(lang, form, token, s, now)
        })
    }

    /// The confirmation before revoking `serial`, a certificate of the verified operator.
    pub(super) fn agent_revocation_page(
        &self,
        lang: Lang,
        cookie: Option<&str>,
        serial: &str,
        now: OffsetDateTime,
    ) -> Answer {
        let Some((_, s)) = self.agent_session(cookie, now) else {
            return to_sign_in(lang);
        };
        match self.file_certificate(&s, serial) {
            Some(record) => self.agent_confirm_page(lang, &s, &record),
            None => not_found(lang, &s),
        }
    }

    /// The revocation form, sent.
    pub(super) fn agent_revocation(
        &self,
        lang: Lang,
        cookie: Option<&str>,
        form: &RevocationForm,
        now: OffsetDateTime,
    ) -> Answer {
        self.agent_form(lang, cookie, &form.csrf, now, |token, s| {
            self.agent_revoke(lang, form, token, s)
        })
    }

    /// Signs the agent out, ending the session the cookie names.
    pub(super) fn agent_sign_out(
        &self,
        lang: Lang,
        cookie: Option<&str>,
        form: &CsrfForm,
        now: OffsetDateTime,
    ) -> Answer {
        self.agent_form(lang, cookie, &form.csrf, now, |token, _| {
            if self
                .core
                .registry
                .close_agent_session(&token_hash(token))
                .is_err()
            {
                return unavailable(lang);
            }
            to_sign_in(lang).set(AGENT_COOKIE, None)
        })
    }

    /// A form sent in a console session: `then` runs with the session's token when the form's
    /// CSRF token is the session's; without a session, the sign-in page.
    fn agent_form(
        &self,
        lang: Lang,
        cookie: Option<&str>,
        csrf: &str,
        now: OffsetDateTime,
        then: impl FnOnce(&str, &AgentSession) -> Answer,
    ) -> Answer {
        let Some((token, s)) = self.agent_session(cookie, now) else {
            return to_sign_in(lang);
        };
        if !csrf_matches(csrf, &s.csrf) {
            return form_expired(lang);
        }
        then(&token, &s)
    }

    /// A path of the console that is no page: the sign-in page without a session.
    pub(super) fn agent_not_found(
        &self,
        lang: Lang,
        cookie: Option<&str>,
        now: OffsetDateTime,
    ) -> Answer {
        match self.agent_session(cookie, now) {
            Some((_, s)) => not_found(lang, &s),
            None => to_sign_in(lang),
        }
    }

    /// The console session the request's cookie names, with its token.
    fn agent_session(
        &self,
        cookie: Option<&str>,
        now: OffsetDateTime,
    ) -> Option<(String, AgentSession)> {
        let token = cookie?;
        let session = self
            .core
            .registry
            .agent_session(&token_hash(token), now)
            .ok()
            .flatten()?;
        Some((token.to_owned(), session))
    }

    pub(super) fn agent_sign_in_page(
        &self,
        lang: Lang,
        error: Option<&str>,
        now: OffsetDateTime,
    ) -> Answer {
        let Some((pre, csrf)) = self.portal.pre_session(now + SESSION_LIFETIME) else {
            return unavailable(lang);
        };
        let body = markup! {
            @if let Some(e) = error {
                p class="alert" role="alert" id="error" { strong { (e) } }
            }
            p {
                (lang.t(
                    "Réservé aux agents du service à la clientèle. Chaque consultation est journalisée.",
                    "For customer service agents only. Every look-up is logged.",
                ))
            }
            form class="stack" method="post" action={ (PREFIX) (SIGN_IN) "?lang=" (lang.code()) } {
                input type="hidden" name="csrf" value=(csrf);
                div class="field" {
                    label for="agent_id" { (lang.t("Code d'agent", "Agent id")) }
                    input id="agent_id" name="agent_id" type="text" autocomplete="username" required;
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
            page_in(
                &frame(lang, None),
                lang.t("Connexion des agents", "Agent sign-in"),
                body,
            ),
        )
        .set(PRE_COOKIE, Some(pre))
    }

    pub(super) fn agent_sign_in(
        &self,
        lang: Lang,
        pre: Option<&str>,
        form: &AgentSignInForm,
        peer: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Answer {
        if !self
            .portal
            .check_pre_session(pre.unwrap_or_default(), &form.csrf, now)
        {
            return form_expired(lang);
        }
        // An id no agent can have is refused as an unknown one, and neither kept in the rates
        // nor written into the audit log as typed.
        let typed = form.agent_id.trim();
        let agent_id = is_agent_id(typed).then_some(typed);
        // The same gates as the operators' sign-in; the rate per name is kept apart from theirs.
        let gate = self.sign_in;
        let rate_key = format!("agent:{}", agent_id.unwrap_or("?"));
        if let Err(refused) = gate.admit(now, peer, Some(&rate_key)) {
            return sign_in_refused(lang, refused);
        }
        let slot = match gate.slot() {
            Ok(slot) => slot,
            Err(refused) => return sign_in_refused(lang, refused),
        };
        let hash = match agent_id.map(|id| self.core.registry.agent_password_hash(id)) {
            Some(Ok(hash)) => hash,
            Some(Err(_)) => return unavailable(lang),
            None => None,
        };
        let agent_id = agent_id.unwrap_or("-");
        let refused = |detail: &str| {
            NewAudit::new(
                now,
                format!("agent:{agent_id}"),
                "agent-sign-in-refused",
                agent_id,
                format!("console{detail}"),
            )
        };
        // Whether this attempt's reservation reached the limit and locked the agent out.
        let mut locked_by_this = false;
        if hash.is_some() {
            let policy = self.core.lockout();
            let reserved = self.core.registry.reserve_agent_attempt(
                agent_id,
                now,
                (policy.max_failures, policy.window, policy.lockout),
                NewAudit::new(now, "customer-service", "agent-lockout", agent_id, ""),
            );
            match reserved {
                Ok(Reservation::Locked(until)) => {
                    self.metrics.sign_in("locked");
                    if self
                        .core
                        .registry
                        .append_audit(refused(", locked out"))
                        .is_err()
                    {
                        return unavailable(lang);
                    }
                    let message = locked_out(lang, until, now);
                    return self.agent_sign_in_page(lang, Some(&message), now);
                }
                Ok(Reservation::Granted(state)) => locked_by_this = state.locked_until.is_some(),
                Ok(_) => {}
                Err(_) => return unavailable(lang),
            }
        }
        // An unknown agent costs the same verification as a known one.
        let matches = slot.verify_known(&form.password, hash.as_deref());
        drop(slot);
        if !matches {
            self.metrics.sign_in("refused");
            if self.core.registry.append_audit(refused("")).is_err() {
                return unavailable(lang);
            }
            return self.agent_sign_in_page(
                lang,
                Some(lang.t(
                    "Code d'agent ou mot de passe incorrect.",
                    "Wrong agent id or password.",
                )),
                now,
            );
        }
        // The reservation given back: a right password clears the count, and the lockout its own
        // reservation set (the last attempt the policy allows was right); a lockout that failures
        // racing it set stands (this attempt was one of those the policy allowed, so it goes on).
        let lifted = locked_by_this.then(|| {
            NewAudit::new(
                now,
                "customer-service",
                "agent-lockout-lifted",
                agent_id,
                "the attempt that reached the limit had the right password",
            )
        });
        if self
            .core
            .registry
            .clear_agent_attempts_unless_locked(agent_id, now, lifted)
            .is_err()
        {
            return unavailable(lang);
        }
        let (Some(token), Some(csrf)) = (random_token(), random_token()) else {
            return unavailable(lang);
        };
        self.metrics.sign_in("accepted");
        let audit = NewAudit::new(
            now,
            format!("agent:{agent_id}"),
            "agent-sign-in",
            agent_id,
            "console",
        );
        if self.core.registry.append_audit(audit).is_err()
            || self
                .core
                .registry
                .open_agent_session(
                    &token_hash(&token),
                    agent_id,
                    &csrf,
                    now + SESSION_LIFETIME,
                    now,
                )
                .is_err()
        {
            return unavailable(lang);
        }
        redirect(&format!("{PREFIX}{FILE}?lang={}", lang.code()))
            .set(AGENT_COOKIE, Some(token))
            .set(PRE_COOKIE, None)
    }

    /// Verifies the caller's identity with the form's three numbers; the operator found is the
    /// session's from then on (none when they do not match).
    fn identity_check(
        &self,
        lang: Lang,
        form: &IdentityForm,
        token: &str,
        s: &AgentSession,
        now: OffsetDateTime,
    ) -> Answer {
        let numbers = (
            form.identification_number
                .trim()
                .parse::<IdentificationNumber>(),
            form.qst.trim().parse::<QstNumber>(),
            form.file_number.trim().parse::<FileNumber>(),
        );
        let found = match numbers {
            (Ok(number), Ok(qst), Ok(file)) => {
                match self
                    .revocation
                    .agent_find_operator(&s.agent_id, &number, &qst, &file)
                {
                    Ok(found) => Some(found.operator.id),
                    Err(Error::Invalid(_)) => None,
                    Err(_) => return unavailable(lang),
                }
            }
            // Not three numbers: refused and audited too, without the text typed.
            _ => {
                let audit = NewAudit::new(
                    now,
                    format!("agent:{}", s.agent_id),
                    "identity-check-failed",
                    "-",
                    "the numbers given are not an identification, QST and file number",
                );
                if self.core.registry.append_audit(audit).is_err() {
                    return unavailable(lang);
                }
                None
            }
        };
        if self
            .core
            .registry
            .set_agent_session_operator(&token_hash(token), found)
            .is_err()
        {
            return unavailable(lang);
        }
        match found {
            Some(_) => redirect(&format!("{PREFIX}{FILE}?lang={}", lang.code())),
            None => {
                let mut cleared = s.clone();
                cleared.operator = None;
                let message = lang.t(
                    "L'identité n'a pas pu être vérifiée : les trois numéros ne correspondent à aucun exploitant.",
                    "The identity could not be verified: the three numbers match no operator.",
                );
                self.file_page(lang, &cleared, 404, None, Some(message), now)
            }
        }
    }

    /// The identity check, and the file of the operator the session verified, if any.
    fn file_page(
        &self,
        lang: Lang,
        s: &AgentSession,
        status: u16,
        message: Option<&str>,
        error: Option<&str>,
        now: OffsetDateTime,
    ) -> Answer {
        let file = match s.operator.map(|id| self.core.registry.operator(id)) {
            Some(Ok(operator)) => match self.core.operator_file(operator) {
                Ok(file) => Some(file),
                Err(_) => return unavailable(lang),
            },
            Some(Err(_)) => return unavailable(lang),
            None => None,
        };
        let body = markup! {
            @if let Some(m) = message {
                p class="notice" role="status" id="message" { (m) }
            }
            @if let Some(e) = error {
                p class="alert" role="alert" id="error" { strong { (e) } }
            }
            h2 { (lang.t("Vérifier l'identité de l'appelant", "Verify the caller's identity")) }
            form class="stack" method="post" action={ (PREFIX) (FILE) "?lang=" (lang.code()) } {
                input type="hidden" name="csrf" value=(s.csrf);
                div class="field" {
                    label for="identification_number" {
                        (lang.t("Numéro d'identification (10 chiffres)", "Identification number (10 digits)"))
                    }
                    input id="identification_number" name="identification_number" type="text"
                        inputmode="numeric" autocomplete="off" required;
                }
                div class="field" {
                    label for="qst" { (lang.t("Numéro de TVQ", "QST number")) }
                    input id="qst" name="qst" type="text" autocomplete="off" required;
                }
                div class="field" {
                    label for="file_number" { (lang.t("Numéro de dossier", "File number")) }
                    input id="file_number" name="file_number" type="text" autocomplete="off" required;
                }
                div class="actions" {
                    button id="find" type="submit" { (lang.t("Vérifier", "Verify")) }
                }
            }
            @if let Some(file) = &file {
                h2 id="operator" { (file.operator.legal_name) }
                dl class="facts" {
                    dt { (lang.t("Numéro d'identification", "Identification number")) }
                    dd id="operator-number" { (display(&file.operator.identification_number)) }
                    dt { (lang.t("Numéro de TVQ", "QST number")) }
                    dd { (file.operator.qst_number.as_ref().map_or_else(|| "—".to_owned(), ToString::to_string)) }
                    dt { (lang.t("Dossiers", "Files")) }
                    dd {
                        @for (i, (number, sector)) in file.operator.file_numbers.iter().enumerate() {
                            @if i > 0 { ", " }
                            (display(number)) " (" (display(sector)) ")"
                        }
                    }
                    @if let Some(at) = file.operator.disabled_at {
                        dt { (lang.t("Désactivé le", "Disabled on")) }
                        dd { (display(at.date())) }
                    }
                }
                (certificate_table(
                    lang,
                    lang.t("Certificats de l'exploitant", "The operator's certificates"),
                    &file.certificates,
                    now,
                    REVOKE,
                ))
                h2 { (lang.t("Identifiants d'appareil", "Device identifiers")) }
                @if file.devices.is_empty() {
                    p { (lang.t("Aucun appareil.", "No device.")) }
                } @else {
                    ul id="devices" {
                        @for d in &file.devices { li { (display(d)) } }
                    }
                }
            }
        };
        html(
            status,
            page_in(
                &frame(lang, Some(s)),
                lang.t("Dossier d'un exploitant", "An operator's file"),
                body,
            ),
        )
    }

    /// The certificate in force `serial` of the operator the session verified.
    fn file_certificate(&self, s: &AgentSession, serial: &str) -> Option<CertificateRecord> {
        let operator = s.operator?;
        let serial: SerialNumber = serial.parse().ok()?;
        self.core
            .registry
            .certificate_by_serial(serial)
            .ok()
            .flatten()
            .filter(|c| c.operator == operator && c.state == CertificateState::Active)
    }

    fn agent_confirm_page(
        &self,
        lang: Lang,
        s: &AgentSession,
        record: &CertificateRecord,
    ) -> Answer {
        html(
            200,
            page_in(
                &frame(lang, Some(s)).about(record.serial),
                lang.t("Révoquer un certificat", "Revoke a certificate"),
                revocation_form(lang, &s.csrf, record, REVOKE, FILE, true),
            ),
        )
    }

    fn agent_revoke(
        &self,
        lang: Lang,
        form: &RevocationForm,
        token: &str,
        s: &AgentSession,
    ) -> Answer {
        let Some(record) = self.file_certificate(s, &form.serie) else {
            return not_found(lang, s);
        };
        let note = form.note.trim();
        if form.confirm != "yes" || note.is_empty() || note.chars().count() > 500 {
            return self.agent_confirm_page(lang, s, &record);
        }
        let reason = form.reason.parse().unwrap_or(RevocationReason::Unspecified);
        match self.revocation.revoke(
            record.serial,
            reason,
            RevocationChannel::CustomerService,
            &format!("agent:{}", s.agent_id),
            note,
        ) {
            Ok(_) => {
                let _ = self.core.registry.set_agent_flash(
                    &token_hash(token),
                    &format!("Le certificat {} a été révoqué.", record.nickname),
                    &format!("The certificate {} was revoked.", record.nickname),
                );
                redirect(&format!("{PREFIX}{FILE}?lang={}", lang.code()))
            }
            Err(_) => unavailable(lang),
        }
    }
}

/// Whether `id` can be an agent's id: 1 to 64 letters, digits, `-`, `_` or `.`.
fn is_agent_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn not_found(lang: Lang, s: &AgentSession) -> Answer {
    html(
        404,
        page_in(
            &frame(lang, Some(s)),
            lang.t("Page introuvable", "Page not found"),
            markup! {
                p {
                    a href={ (PREFIX) (FILE) "?lang=" (lang.code()) } {
                        (lang.t("Retour au dossier", "Back to the file"))
                    }
                }
            },
        ),
    )
}
