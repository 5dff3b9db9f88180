//! The online services' pages: the frame every page shares (header, title, style), the two
//! languages, and the answers that are the same whatever the page (form expired, sign-in
//! refused for now, service unavailable, redirections).

use maud::{DOCTYPE, PreEscaped, Render, html as markup};
use websrm_domain::{CertificateState, Health};

use super::{PREFIX, PortalResponse};

/// The answer to a form whose CSRF token does not match (403).
pub(super) fn form_expired(lang: Lang) -> PortalResponse {
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
pub(super) fn sign_in_refused(lang: Lang, refused: crate::password::Refused) -> PortalResponse {
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
            markup! { p role="alert" id="error" { strong { (message) } } },
        ),
    );
    answer.retry_after = Some(seconds);
    answer
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

const STYLE: &str = "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}\
    table{border-collapse:collapse}th,td{border:1px solid #888;padding:.3rem .6rem;text-align:left}\
    :focus{outline:3px solid #1a5fb4}";

/// A whole page: the services' header (a link to the certificates, one to the other language),
/// the title, and `body`.
pub(super) fn page(lang: Lang, title: &str, body: impl Render) -> String {
    let other = if lang == Lang::En { "fr" } else { "en" };
    markup! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width";
                title {
                    (title) " — "
                    (lang.t("Mon dossier pour les entreprises", "My Account for businesses"))
                }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    p {
                        a href={ (PREFIX) "/certificats?lang=" (lang.code()) } {
                            (lang.t("Mes certificats", "My certificates"))
                        }
                        " · "
                        a href={ "?lang=" (other) } lang=(other) { (lang.t("English", "Français")) }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
    .into_string()
}

pub(super) fn html(status: u16, body: String) -> PortalResponse {
    PortalResponse {
        status,
        location: None,
        cookies: Vec::new(),
        body,
        retry_after: None,
    }
}

pub(super) fn redirect(to: &str) -> PortalResponse {
    PortalResponse {
        status: 303,
        location: Some(to.into()),
        cookies: Vec::new(),
        body: String::new(),
        retry_after: None,
    }
}

/// The answer when the portal cannot do what it must safely (random generator, audit log).
pub(super) fn unavailable(lang: Lang) -> PortalResponse {
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

pub(super) fn status_text(lang: Lang, state: CertificateState, health: Health) -> &'static str {
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
