//! The online services' routes: one per page, each with its typed inputs (the query's `lang`
//! and `serie`, the form, the cookies, the client's address); what a page does runs off the
//! async threads (it reads the registry and verifies passwords).

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Form, Query, State};
use axum::routing::{any, get, post};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use time::OffsetDateTime;

use super::console::{
    AGENT_COOKIE, AgentSignInForm, FILE, IdentityForm, REVOKE, SIGN_IN, SIGN_OUT,
};
use super::operator::{CsrfForm, RevocationForm, SignInForm, not_found};
use super::pages::Lang;
use super::{Answer, COOKIE, PRE_COOKIE, PREFIX};
use crate::Authority;

/// The client's network address, when the server knows it (a request extension), for the
/// sign-in's rate per address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddress(pub(crate) IpAddr);

/// What a page's query may carry: the language, and the certificate a revocation is about.
/// Nothing else is read, and nothing of it is shown back.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PageQuery {
    lang: Option<String>,
    serie: Option<String>,
}

impl PageQuery {
    fn lang(&self) -> Lang {
        if self.lang.as_deref() == Some("en") {
            Lang::En
        } else {
            Lang::Fr
        }
    }
}

/// The routes of the online services, under [`PREFIX`].
pub(crate) fn routes() -> Router<Arc<Authority>> {
    let at = |path: &str| format!("{PREFIX}{path}");
    Router::new()
        .route(PREFIX, get(sign_in_page))
        .route(&at("/"), get(sign_in_page))
        .route(&at("/connexion"), get(sign_in_page).post(sign_in))
        .route(&at("/certificats"), get(certificates))
        .route(&at("/revoquer"), get(revocation_page).post(revocation))
        .route(&at("/deconnexion"), post(sign_out))
        .route(&at("/agent"), get(agent_sign_in_page))
        .route(&at("/agent/"), get(agent_sign_in_page))
        .route(&at(SIGN_IN), get(agent_sign_in_page).post(agent_sign_in))
        .route(&at(FILE), get(agent_file).post(agent_identity_check))
        .route(
            &at(REVOKE),
            get(agent_revocation_page).post(agent_revocation),
        )
        .route(&at(SIGN_OUT), post(agent_sign_out))
        .route(&at("/agent/{*rest}"), any(agent_not_found))
        .route(&at("/{*rest}"), any(page_not_found))
}

/// Runs `page` off the async threads, with the authority's clock.
async fn blocking(
    authority: Arc<Authority>,
    page: impl FnOnce(&Authority, OffsetDateTime) -> Answer + Send + 'static,
) -> Answer {
    tokio::task::spawn_blocking(move || {
        let now = authority.now();
        page(&authority, now)
    })
    .await
    .unwrap_or_else(|_| super::pages::html(500, String::new()))
}

fn cookie(jar: &CookieJar, name: &str) -> Option<String> {
    jar.get(name).map(|c| c.value().to_owned())
}

fn peer(address: Option<Extension<ClientAddress>>) -> Option<IpAddr> {
    address.map(|Extension(ClientAddress(ip))| ip)
}

async fn sign_in_page(State(a): State<Arc<Authority>>, Query(q): Query<PageQuery>) -> Answer {
    blocking(a, move |a, now| {
        a.online().sign_in_page(q.lang(), None, now)
    })
    .await
}

async fn sign_in(
    State(a): State<Arc<Authority>>,
    address: Option<Extension<ClientAddress>>,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
    Form(form): Form<SignInForm>,
) -> Answer {
    let pre = cookie(&jar, PRE_COOKIE);
    let peer = peer(address);
    blocking(a, move |a, now| {
        a.online()
            .sign_in(q.lang(), pre.as_deref(), &form, peer, now)
    })
    .await
}

async fn certificates(
    State(a): State<Arc<Authority>>,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
) -> Answer {
    let session = cookie(&jar, COOKIE);
    blocking(a, move |a, now| {
        a.online()
            .certificates_page(q.lang(), session.as_deref(), now)
    })
    .await
}

async fn revocation_page(
    State(a): State<Arc<Authority>>,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
) -> Answer {
    let session = cookie(&jar, COOKIE);
    blocking(a, move |a, now| {
        let serial = q.serie.as_deref().unwrap_or_default();
        a.online()
            .revocation_page(q.lang(), session.as_deref(), serial, now)
    })
    .await
}

async fn revocation(
    State(a): State<Arc<Authority>>,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
    Form(form): Form<RevocationForm>,
) -> Answer {
    let session = cookie(&jar, COOKIE);
    blocking(a, move |a, now| {
        a.online()
            .revoke_form(q.lang(), session.as_deref(), &form, now)
    })
    .await
}

async fn sign_out(
    State(a): State<Arc<Authority>>,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Answer {
    let session = cookie(&jar, COOKIE);
    blocking(a, move |a, now| {
        a.online()
            .sign_out(q.lang(), session.as_deref(), &form, now)
    })
    .await
}

async fn page_not_found(Query(q): Query<PageQuery>) -> Answer {
    not_found(q.lang())
}

async fn agent_sign_in_page(State(a): State<Arc<Authority>>, Query(q): Query<PageQuery>) -> Answer {
    blocking(a, move |a, now| {
        a.online().agent_sign_in_page(q.lang(), None, now)
    })
    .await
}

async fn agent_sign_in(
    State(a): State<Arc<Authority>>,
    address: Option<Extension<ClientAddress>>,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
    Form(form): Form<AgentSignInForm>,
) -> Answer {
    let pre = cookie(&jar, PRE_COOKIE);
    let peer = peer(address);
    blocking(a, move |a, now| {
        a.online()
            .agent_sign_in(q.lang(), pre.as_deref(), &form, peer, now)
    })
    .await
}

async fn agent_file(
    State(a): State<Arc<Authority>>,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
) -> Answer {
    let session = cookie(&jar, AGENT_COOKIE);
    blocking(a, move |a, now| {
        a.online().agent_file(q.lang(), session.as_deref(), now)
    })
    .await
}

async fn agent_identity_check(
    State(a): State<Arc<Authority>>,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
    Form(form): Form<IdentityForm>,
) -> Answer {
    let session = cookie(&jar, AGENT_COOKIE);
    blocking(a, move |a, now| {
        a.online()
            .agent_identity_check(q.lang(), session.as_deref(), &form, now)
    })
    .await
}

async fn agent_revocation_page(
    State(a): State<Arc<Authority>>,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
) -> Answer {
    let session = cookie(&jar, AGENT_COOKIE);
    blocking(a, move |a, now| {
        let serial = q.serie.as_deref().unwrap_or_default();
        a.online()
            .agent_revocation_page(q.lang(), session.as_deref(), serial, now)
    })
    .await
}

async fn agent_revocation(
    State(a): State<Arc<Authority>>,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
    Form(form): Form<RevocationForm>,
) -> Answer {
    let session = cookie(&jar, AGENT_COOKIE);
    blocking(a, move |a, now| {
        a.online()
            .agent_revocation(q.lang(), session.as_deref(), &form, now)
    })
    .await
}

async fn agent_sign_out(
    State(a): State<Arc<Authority>>,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
    Form(form): Form<CsrfForm>,
) -> Answer {
    let session = cookie(&jar, AGENT_COOKIE);
    blocking(a, move |a, now| {
        a.online()
            .agent_sign_out(q.lang(), session.as_deref(), &form, now)
    })
    .await
}

async fn agent_not_found(
    State(a): State<Arc<Authority>>,
    Query(q): Query<PageQuery>,
    jar: CookieJar,
) -> Answer {
    let session = cookie(&jar, AGENT_COOKIE);
    blocking(a, move |a, now| {
        a.online()
            .agent_not_found(q.lang(), session.as_deref(), now)
    })
    .await
}

/// How many of the pages' typed forms read `bytes` (as axum's `Form` reads a body), for the
/// fuzz targets.
#[cfg(feature = "fuzzing")]
pub(crate) fn read_forms(bytes: &[u8]) -> usize {
    fn reads<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> bool {
        serde_urlencoded::from_bytes::<T>(bytes).is_ok()
    }
    [
        reads::<SignInForm>(bytes),
        reads::<CsrfForm>(bytes),
        reads::<RevocationForm>(bytes),
        reads::<AgentSignInForm>(bytes),
        reads::<IdentityForm>(bytes),
        reads::<PageQuery>(bytes),
    ]
    .into_iter()
    .filter(|read| *read)
    .count()
}
