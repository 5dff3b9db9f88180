//! The operators' pages of the online services: sign-in, their certificates and devices, the
//! revocation of one, sign-out. Each is a route of its own (`routes.rs`); this is what they do.

use std::net::IpAddr;

use maud::html as markup;
use serde::Deserialize;
use time::OffsetDateTime;
use websrm_domain::{
    CertificateState, IdentificationNumber, RevocationChannel, RevocationReason, SerialNumber,
};
use websrm_registry::NewAudit;
use websrm_registry::{Credential, OperatorId, Reservation};

use super::OnlineServices;
use super::pages::{
    Frame, Lang, SignedIn, certificate_table, form_expired, html, locked_out, page, page_in,
    redirect, revocation_form, sign_in_refused, unavailable,
};
use super::{
    Answer, COOKIE, PRE_COOKIE, PREFIX, SESSION_LIFETIME, csrf_matches, random_token, token_hash,
};

/// The sign-in form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SignInForm {
    pub(super) csrf: String,
    pub(super) identification_number: String,
    pub(super) password: String,
}

/// A form that carries only its CSRF token (sign-out).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CsrfForm {
    pub(super) csrf: String,
}

/// The revocation form, the operators' and the console's (which adds a note of the call).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RevocationForm {
    pub(super) csrf: String,
    pub(super) serie: String,
    pub(super) reason: String,
    pub(super) confirm: String,
    pub(super) note: String,
}

/// Back to the sign-in page.
fn to_sign_in(lang: Lang) -> Answer {
    redirect(&format!("{PREFIX}/connexion?lang={}", lang.code()))
}

/// The answer for a path of the online services that is no page.
pub(super) fn not_found(lang: Lang) -> Answer {
    html(
        404,
        page(lang, lang.t("Page introuvable", "Page not found"), ""),
    )
}

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

impl OnlineServices<'_> {
    /// The operator's certificates and devices, with the message of the last action (once;
    /// never text from the query); the sign-in page without a session.
    pub(super) fn certificates_page(
        &self,
        lang: Lang,
        cookie: Option<&str>,
        now: OffsetDateTime,
    ) -> Answer {
        let Some((token, s)) = self.session(cookie, now) else {
            return to_sign_in(lang);
        };
        let flash = self
            .core
            .registry
            .take_portal_flash(&token_hash(&token))
            .ok()
            .flatten();
        let message = flash.map(|(fr, en)| if lang == Lang::En { en } else { fr });
        self.list_page(lang, &s, message.as_deref(), now)
    }

    /// The confirmation before revoking `serial`.
    pub(super) fn revocation_page(
        &self,
        lang: Lang,
        cookie: Option<&str>,
        serial: &str,
        now: OffsetDateTime,
    ) -> Answer {
        match self.session(cookie, now) {
            Some((_, s)) => self.confirm_page(lang, &s, serial, now),
            None => to_sign_in(lang),
        }
    }

    /// Signs out: the cookie is cleared only with the session it names, so that a sign-out
    /// never leaves a live session behind a cleared cookie.
    pub(super) fn sign_out(
        &self,
        lang: Lang,
        cookie: Option<&str>,
        form: &CsrfForm,
        now: OffsetDateTime,
    ) -> Answer {
        let Some((token, s)) = self.session(cookie, now) else {
            // No live session: nothing to end but the cookie.
            return to_sign_in(lang).set(COOKIE, None);
        };
        if !csrf_matches(&form.csrf, &s.csrf) {
            return form_expired(lang);
        }
        if self
            .core
            .registry
            .close_portal_session(&token_hash(&token))
            .is_err()
        {
            return unavailable(lang);
        }
        to_sign_in(lang).set(COOKIE, None)
    }

    /// The operator's session the cookie names, with its token.
    fn session(&self, cookie: Option<&str>, now: OffsetDateTime) -> Option<(String, Session)> {
        let token = cookie?;
        let (operator, csrf, _) = self
            .core
            .registry
            .portal_session(&token_hash(token), now)
            .ok()
            .flatten()?;
        // A session of an operator disabled since it opened ends with it.
        let number = self
            .core
            .registry
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

    /// The sign-in page, with a fresh pre-session and its CSRF token.
    pub(super) fn sign_in_page(
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

    /// Checks the sign-in form and opens a session.
    pub(super) fn sign_in(
        &self,
        lang: Lang,
        pre: Option<&str>,
        form: &SignInForm,
        peer: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Answer {
        let pre = pre.unwrap_or_default();
        if !self.portal.check_pre_session(pre, &form.csrf, now) {
            return form_expired(lang);
        }
        let number = form
            .identification_number
            .trim()
            .parse::<IdentificationNumber>()
            .ok();
        // Bounded before anything costs: a rate per address and per number typed, then a
        // verification slot (each verification holds argon2id's memory).
        let gate = self.sign_in;
        if let Err(refused) = gate.admit(now, peer, number.as_ref().map(|n| n.as_str())) {
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
            self.core
                .registry
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
            let policy = self.core.lockout();
            let reserved = self.core.registry.reserve_attempt(
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
                    self.metrics.sign_in("locked");
                    let message = locked_out(lang, until, now);
                    return self.sign_in_page(lang, Some(&message), now);
                }
                Ok(Reservation::Granted(state)) => locked_by_this = state.locked_until.is_some(),
                Ok(_) => {}
                Err(_) => return unavailable(lang),
            }
        }
        let password = form.password.as_str();
        // An unknown number, or one without a password, costs the same verification as a known
        // one: the time of the answer tells nothing.
        let hash = operator.as_ref().and_then(|op| {
            self.core
                .registry
                .operator_password_hash(op.id)
                .ok()
                .flatten()
        });
        let matches = slot.verify_known(password, hash.as_deref());
        drop(slot);
        let verified = operator.filter(|_| matches);
        let Some(operator) = verified else {
            // Refusals are audited; if the audit log cannot be written, the portal stops.
            self.metrics.sign_in("refused");
            let audit = NewAudit::new(now, "online-services", "sign-in-refused", "-", "");
            if self.core.registry.append_audit(audit).is_err() {
                return unavailable(lang);
            }
            return self.sign_in_page(lang, Some(refused), now);
        };
        // The reservation given back: a right password clears the count, and the lockout its own
        // reservation set (the last attempt the policy allows was right: racing attempts after
        // it were refused unverified); a lockout that failures racing it set stands (this attempt
        // was one of those the policy allowed, so it goes on).
        let cleared = if locked_by_this {
            self.core.registry.clear_attempts(
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
            self.core
                .registry
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
        self.metrics.sign_in("accepted");
        // Audited before the session exists: no audit, no session.
        if self
            .core
            .registry
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
            .core
            .registry
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
    ) -> Answer {
        let Ok(certificates) = self.core.registry.certificates_of_operator(s.operator) else {
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

    fn own_active(&self, s: &Session, serial: &str) -> Option<websrm_registry::CertificateRecord> {
        let serial: SerialNumber = serial.parse().ok()?;
        let record = self
            .core
            .registry
            .certificate_by_serial(serial)
            .ok()
            .flatten()?;
        (record.operator == s.operator && record.state == CertificateState::Active)
            .then_some(record)
    }

    fn confirm_page(&self, lang: Lang, s: &Session, serial: &str, _now: OffsetDateTime) -> Answer {
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

    /// Revokes the certificate the confirmed form names.
    pub(super) fn revoke_form(
        &self,
        lang: Lang,
        cookie: Option<&str>,
        form: &RevocationForm,
        now: OffsetDateTime,
    ) -> Answer {
        let Some((token, s)) = self.session(cookie, now) else {
            return to_sign_in(lang);
        };
        if !csrf_matches(&form.csrf, &s.csrf) {
            return html(
                403,
                page(lang, lang.t("Requête refusée", "Request refused"), ""),
            );
        }
        let Some(record) = self.own_active(&s, &form.serie) else {
            return html(
                404,
                page(
                    lang,
                    lang.t("Certificat introuvable", "Certificate not found"),
                    "",
                ),
            );
        };
        if form.confirm != "yes" {
            return self.confirm_page(lang, &s, &record.serial.to_string(), now);
        }
        let reason = form.reason.parse().unwrap_or(RevocationReason::Unspecified);
        let actor = format!("operator:{}", s.number);
        match self.revocation.revoke(
            record.serial,
            reason,
            RevocationChannel::OnlineServices,
            &actor,
            "online services",
        ) {
            Ok(_) => {
                let _ = self.core.registry.set_portal_flash(
                    &token_hash(&token),
                    &format!("Le certificat {} a été révoqué.", record.nickname),
                    &format!("The certificate {} was revoked.", record.nickname),
                );
                redirect(&format!("{PREFIX}/certificats?lang={}", lang.code()))
            }
            Err(_) => html(500, page(lang, lang.t("Erreur", "Error"), "")),
        }
    }
}
