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

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::{Duration, OffsetDateTime};

mod console;
mod operator;
mod pages;
mod routes;

pub use pages::{STYLE_PATH, STYLESHEET};
#[cfg(feature = "fuzzing")]
pub(crate) use routes::read_forms;
pub(crate) use routes::{ClientAddress, routes};

/// Where the online services live on the enrolment host.
pub const PREFIX: &str = "/services";
const COOKIE: &str = "websrm_session";
const PRE_COOKIE: &str = "websrm_presession";
const SESSION_LIFETIME: Duration = Duration::minutes(30);

/// The key that signs pre-session cookies. Sessions themselves are in the registry (they
/// survive a restart and are shared by the processes of an authority); nothing is kept for
/// clients that have not signed in.
/// The online services ("My Account for businesses") and the customer-service console in them:
/// a part of the authority over the shared core, the pages' signing key, the sign-in gate, the
/// metrics it counts in, and revocation. Through [`crate::Authority::online`].
#[derive(Clone, Copy)]
pub struct OnlineServices<'a> {
    pub(crate) core: &'a crate::core::Core,
    pub(crate) portal: &'a Portal,
    pub(crate) sign_in: &'a crate::password::SignInGate,
    pub(crate) metrics: &'a crate::metrics::Metrics,
    pub(crate) revocation: crate::revocation::Revocation<'a>,
}

impl std::fmt::Debug for OnlineServices<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineServices")
            .field("environment", &self.core.environment)
            .finish_non_exhaustive()
    }
}

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

/// Whether `a` and `b` are the same bytes, compared in constant time for equal lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    bool::from(a.ct_eq(b))
}

/// Whether a form's `csrf` field is the session's token, compared in constant time.
fn csrf_matches(csrf: &str, expected: &str) -> bool {
    constant_time_eq(csrf.as_bytes(), expected.as_bytes())
}

/// A cookie an answer sets (`Some` value) or removes (`None`): sent `Secure; HttpOnly;
/// SameSite=Strict` on the services' path ([`PREFIX`]).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SetCookie {
    name: &'static str,
    value: Option<String>,
}

/// A page's answer: its status, where a redirection (303) goes, the cookies it sets or removes,
/// the HTML, and `Retry-After` for 429 and 503. The security headers are the router's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    status: u16,
    location: Option<String>,
    cookies: Vec<SetCookie>,
    body: String,
    retry_after: Option<u64>,
}

impl Answer {
    fn set(mut self, name: &'static str, value: Option<String>) -> Self {
        self.cookies.push(SetCookie { name, value });
        self
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut jar = CookieJar::new();
        for set in self.cookies {
            let removed = set.value.is_none();
            let mut cookie = Cookie::build((set.name, set.value.unwrap_or_default()))
                .path(PREFIX)
                .secure(true)
                .http_only(true)
                .same_site(SameSite::Strict)
                .build();
            if removed {
                cookie.make_removal();
            }
            jar = jar.add(cookie);
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut out = (status, jar, self.body).into_response();
        if let Some(location) = self.location
            && let Ok(location) = HeaderValue::from_str(&location)
        {
            out.headers_mut().insert(header::LOCATION, location);
        }
        if let Some(seconds) = self.retry_after {
            out.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        out
    }
}

/// 32 random bytes, URL-safe; `None` when the system's generator fails (the caller then fails
/// closed: no session, no form, rather than a guessable token).
fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every CSRF comparison goes through the constant-time one: the same answers as `==` on
    /// the token's text, with no early exit on the first differing byte.
    #[test]
    fn csrf_tokens_are_compared_in_constant_time() {
        let token = "a".repeat(43);
        assert!(csrf_matches(&token, &token));
        assert!(!csrf_matches(&"b".repeat(43), &token));
        assert!(!csrf_matches(&format!("{}b", "a".repeat(42)), &token));
        assert!(!csrf_matches(&"a".repeat(42), &token));
        assert!(!csrf_matches("", &token));
        assert!(constant_time_eq(b"", b""));
    }

    /// The CSRF token of `cookie` as the key would bind it: lets a test hold a token that
    /// matches an altered or expired cookie, so that the signature and the expiry are what
    /// refuse it, not the token.
    fn csrf_for(portal: &Portal, cookie: &str) -> String {
        URL_SAFE_NO_PAD.encode(websrm_crypto::hmac_sha256(
            portal.key().unwrap(),
            format!("csrf:{cookie}").as_bytes(),
        ))
    }

    /// A pre-session is taken when the authority signed it, it has not expired and the form's
    /// token is bound to it; each of the three alone refuses it, the others holding.
    #[test]
    fn a_pre_session_needs_its_signature_its_expiry_and_its_token() {
        let portal = Portal::new([7; 32]);
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let (cookie, csrf) = portal.pre_session(now + Duration::minutes(10)).unwrap();
        assert!(portal.check_pre_session(&cookie, &csrf, now));

        // Its expiry moved a day later, with a token bound to the altered cookie: the signature
        // alone refuses it.
        let (value, mac) = cookie.rsplit_once('.').unwrap();
        let (expiry, nonce) = value.split_once('.').unwrap();
        let later = format!("{}.{nonce}.{mac}", expiry.parse::<i64>().unwrap() + 86_400);
        assert!(!portal.check_pre_session(&later, &csrf_for(&portal, &later), now));
        // Signed by another key, with a token bound to it: refused.
        let other = Portal::new([8; 32]);
        let (foreign, _) = other.pre_session(now + Duration::minutes(10)).unwrap();
        assert!(!portal.check_pre_session(&foreign, &csrf_for(&portal, &foreign), now));
        // Signed and bound, but expired: refused at its expiry and after.
        let expiry = now + Duration::minutes(10);
        assert!(!portal.check_pre_session(&cookie, &csrf, expiry));
        assert!(!portal.check_pre_session(&cookie, &csrf, expiry + Duration::days(1)));
        // Signed and fresh, but the token of another pre-session: refused.
        let (_, other_csrf) = portal.pre_session(now + Duration::minutes(10)).unwrap();
        assert!(!portal.check_pre_session(&cookie, &other_csrf, now));
    }
}
