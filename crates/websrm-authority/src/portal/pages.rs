//! The online services' pages: the frame every page shares (banner, title, style sheet), the two
//! languages, and the answers that are the same whatever the page (form expired, sign-in
//! refused for now, service unavailable, redirections).

use maud::{DOCTYPE, Markup, Render, display, html as markup};
use time::OffsetDateTime;
use websrm_domain::{CertificateState, Health, RevocationReason, SerialNumber, WarningPolicy};
use websrm_registry::CertificateRecord;

use super::{Answer, PREFIX};

/// The answer to a form whose CSRF token does not match (403).
pub(super) fn form_expired(lang: Lang) -> Answer {
    html(
        403,
        page(
            lang,
            lang.t("Requête refusée", "Request refused"),
            markup! {
                p {
                    (lang.t(
                        "Le formulaire a expiré. Recommencez.",
                        "The form expired. Please try again.",
                    ))
                }
            },
        ),
    )
}

/// The answer to a sign-in that is not verified now: too many (429) or every verification slot
/// taken (503), with `Retry-After`.
pub(super) fn sign_in_refused(lang: Lang, refused: crate::password::Refused) -> Answer {
    let seconds = refused.retry_after();
    let (status, fr, en) = match refused {
        crate::password::Refused::TooMany(_) => (
            429,
            format!("Trop de tentatives de connexion. Réessayez dans {seconds} secondes."),
            format!("Too many sign-in attempts. Try again in {seconds} seconds."),
        ),
        crate::password::Refused::Busy(_) => (
            503,
            format!("Le service est très sollicité. Réessayez dans {seconds} secondes."),
            format!("The service is busy. Try again in {seconds} seconds."),
        ),
    };
    let message = if lang == Lang::En { en } else { fr };
    let mut answer = html(
        status,
        page(
            lang,
            lang.t("Connexion", "Sign in"),
            markup! { p class="alert" role="alert" id="error" { strong { (message) } } },
        ),
    );
    answer.retry_after = Some(seconds);
    answer
}

/// What a sign-in locked out until `until` says, in whole minutes from `now`, rounded up.
pub(super) fn locked_out(lang: Lang, until: OffsetDateTime, now: OffsetDateTime) -> String {
    let minutes = ((until - now).whole_seconds() + 59) / 60;
    match lang {
        Lang::Fr => format!("Trop d'essais. Réessayez dans {minutes} minutes."),
        Lang::En => format!("Too many attempts. Try again in {minutes} minutes."),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    Fr,
    En,
}

impl Lang {
    pub(super) fn t(self, fr: &'static str, en: &'static str) -> &'static str {
        if self == Self::En { en } else { fr }
    }

    pub(super) fn code(self) -> &'static str {
        if self == Self::En { "en" } else { "fr" }
    }
}

/// The style sheet every page links to, served at [`STYLE_PATH`] (the pages' CSP allows
/// same-origin styles only: no inline style, no script).
pub const STYLESHEET: &str = include_str!("style.css");
/// Where the style sheet is served.
pub const STYLE_PATH: &str = "/services/style.css";

/// Who is signed in, as the banner shows them, and the sign-out form's action and CSRF token.
pub(super) struct SignedIn<'a> {
    /// "Exploitant 5678912340", "Agent sc-0042".
    pub(super) who: String,
    /// The sign-out path under [`PREFIX`].
    pub(super) sign_out: &'static str,
    pub(super) csrf: &'a str,
}

/// The frame of a page: the language, which service it belongs to, and who is signed in.
pub(super) struct Frame<'a> {
    pub(super) lang: Lang,
    /// The service's name in the banner, in French and English, and its home under [`PREFIX`].
    pub(super) service: (&'static str, &'static str),
    pub(super) home: &'static str,
    pub(super) signed_in: Option<SignedIn<'a>>,
    /// The page's own query fields, kept by the link to the other language (`serie=…&`).
    pub(super) query: String,
}

impl<'a> Frame<'a> {
    /// The operators' online services.
    pub(super) fn operator(lang: Lang, signed_in: Option<SignedIn<'a>>) -> Self {
        Self {
            lang,
            service: (
                "Certificats numériques du MEV-WEB",
                "WEB-SRM digital certificates",
            ),
            home: "/certificats",
            signed_in,
            query: String::new(),
        }
    }

    /// The same frame on a page about the certificate `serial`.
    pub(super) fn about(mut self, serial: SerialNumber) -> Self {
        self.query = format!("serie={serial}&");
        self
    }
}

/// A whole page of the operators' services: [`page_in`] with no one named in the banner.
pub(super) fn page(lang: Lang, title: &str, body: impl Render) -> String {
    page_in(&Frame::operator(lang, None), title, body)
}

/// A whole page: a link past the banner, the banner (the service's name, the other language,
/// sign-out when signed in), who is signed in, the title, `body`, and the footer.
pub(super) fn page_in(frame: &Frame<'_>, title: &str, body: impl Render) -> String {
    let lang = frame.lang;
    let other = if lang == Lang::En { "fr" } else { "en" };
    let service = lang.t(frame.service.0, frame.service.1);
    markup! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title {
                    (title) " — " (service) " — "
                    (lang.t("Mon dossier pour les entreprises", "My Account for businesses"))
                }
                link rel="stylesheet" href=(STYLE_PATH);
            }
            body {
                a class="skip" href="#content" { (lang.t("Passer au contenu", "Skip to content")) }
                header class="banner" {
                    div class="banner-inner" {
                        p class="service" {
                            a href={ (PREFIX) (frame.home) "?lang=" (lang.code()) } {
                                (lang.t("Mon dossier pour les entreprises", "My Account for businesses"))
                                small { (service) }
                            }
                        }
                        nav aria-label=(lang.t("Navigation du compte", "Account navigation")) {
                            ul {
                                li {
                                    a href={ "?" (frame.query) "lang=" (other) } lang=(other) hreflang=(other) {
                                        (lang.t("English", "Français"))
                                    }
                                }
                                @if let Some(s) = &frame.signed_in {
                                    li {
                                        form method="post" action={ (PREFIX) (s.sign_out) "?lang=" (lang.code()) } {
                                            input type="hidden" name="csrf" value=(s.csrf);
                                            button class="link" type="submit" id="sign-out" {
                                                (lang.t("Se déconnecter", "Sign out"))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(s) = &frame.signed_in {
                    div class="bar" { div class="bar-inner" id="signed-in" { (s.who) } }
                }
                main id="content" {
                    h1 { (title) }
                    (body)
                }
                footer {
                    div class="footer-inner" {
                        p {
                            (lang.t(
                                "Autorité de certification websrm, compatible avec le WEB-SRM de Revenu Québec.",
                                "websrm certificate authority, compatible with Revenu Québec's WEB-SRM.",
                            ))
                        }
                    }
                }
            }
        }
    }
    .into_string()
}

/// The table of `certificates` (newest first), each in force with a link to revoke it at
/// `revoke` under [`PREFIX`].
pub(super) fn certificate_table(
    lang: Lang,
    caption: &str,
    certificates: &[CertificateRecord],
    now: OffsetDateTime,
    revoke: &str,
) -> Markup {
    markup! {
        div class="table-wrap" {
            table id="certificates" {
                caption { (caption) }
                thead {
                    tr {
                        th scope="col" { (lang.t("Nom du certificat", "Certificate name")) }
                        th scope="col" { (lang.t("Identifiant de l'appareil", "Device identifier")) }
                        th scope="col" { (lang.t("Environnement", "Environment")) }
                        th scope="col" { (lang.t("État", "Status")) }
                        th scope="col" { (lang.t("Délivré le", "Issued")) }
                        th scope="col" { (lang.t("Expire le", "Expires")) }
                        th scope="col" { (lang.t("Action", "Action")) }
                    }
                }
                tbody {
                    @for c in certificates {
                        @let health = Health::classify(c.state, &c.validity, now, WarningPolicy::default());
                        tr data-serial=(display(c.serial)) {
                            th scope="row" { (c.nickname.as_str()) }
                            td { (c.device.map_or_else(|| "—".to_owned(), |d| d.to_string())) }
                            td { (display(c.environment)) }
                            td class="status" { (status_badge(lang, c.state, health)) }
                            td { (display(c.validity.not_before().date())) }
                            td { (display(c.validity.not_after().date())) }
                            td {
                                @if c.state == CertificateState::Active {
                                    a href={ (PREFIX) (revoke) "?serie=" (display(c.serial)) "&lang=" (lang.code()) }
                                        aria-label={ (lang.t("Révoquer", "Revoke")) " " (c.nickname.as_str()) } {
                                        (lang.t("Révoquer", "Revoke"))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The form that revokes `record`: the reason, an explicit confirmation, and (for customer
/// service) a note of the call; posted to `action`, cancelled to `cancel`, under [`PREFIX`].
pub(super) fn revocation_form(
    lang: Lang,
    csrf: &str,
    record: &CertificateRecord,
    action: &str,
    cancel: &str,
    with_note: bool,
) -> Markup {
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
    markup! {
        p {
            (lang.t("Vous allez révoquer le certificat", "You are about to revoke the certificate"))
            " " strong id="nickname" { (record.nickname.as_str()) } " (" (display(record.serial)) ")."
        }
        form class="stack" method="post" action={ (PREFIX) (action) "?lang=" (lang.code()) } {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="serie" value=(display(record.serial));
            div class="field" {
                label for="reason" { (lang.t("Raison", "Reason")) }
                select id="reason" name="reason" {
                    @for (reason, label) in &options {
                        option value=(display(reason)) { (label) }
                    }
                }
            }
            @if with_note {
                div class="field" {
                    label for="note" { (lang.t("Note de l'appel", "Note of the call")) }
                    input id="note" name="note" type="text" maxlength="500" required;
                }
            }
            div class="check" {
                input type="checkbox" id="confirm" name="confirm" value="yes" required;
                label for="confirm" {
                    (lang.t(
                        "Je confirme : le SEV ne pourra plus utiliser ce certificat, et c'est définitif.",
                        "I confirm: the SRS will no longer be able to use this certificate, and this is final."
                    ))
                }
            }
            div class="actions" {
                button id="revoke" class="danger" type="submit" { (lang.t("Révoquer le certificat", "Revoke the certificate")) }
                a href={ (PREFIX) (cancel) "?lang=" (lang.code()) } { (lang.t("Annuler", "Cancel")) }
            }
        }
    }
}

pub(super) fn html(status: u16, body: String) -> Answer {
    Answer {
        status,
        location: None,
        cookies: Vec::new(),
        body,
        retry_after: None,
    }
}

pub(super) fn redirect(to: &str) -> Answer {
    Answer {
        status: 303,
        location: Some(to.into()),
        cookies: Vec::new(),
        body: String::new(),
        retry_after: None,
    }
}

/// The answer when the portal cannot do what it must safely (random generator, audit log).
pub(super) fn unavailable(lang: Lang) -> Answer {
    html(
        503,
        page(
            lang,
            lang.t("Service indisponible", "Service unavailable"),
            markup! {
                p {
                    (lang.t(
                        "Le service est momentanément indisponible. Réessayez plus tard.",
                        "The service is temporarily unavailable. Please try again later.",
                    ))
                }
            },
        ),
    )
}

/// A certificate's state as a badge: its text, and its class by what it means to the SRS (in
/// force, in force but to be replaced soon, ended, revoked).
fn status_badge(lang: Lang, state: CertificateState, health: Health) -> Markup {
    let class = match (state, health) {
        (CertificateState::Revoked { .. }, _) => "badge badge-revoked",
        (CertificateState::Deleted | CertificateState::Replaced, _) | (_, Health::Expired) => {
            "badge badge-ended"
        }
        (_, Health::ExpiringSoon { .. } | Health::ReplacementRecommended) => "badge badge-warning",
        _ => "badge badge-active",
    };
    markup! { span class=(class) { (status_text(lang, state, health)) } }
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
