//! Console login over HTTP and the [`Principal`] extractor every people-
//! facing route takes: a user from the session cookie or from an
//! `Authorization: Bearer` API token, with CSRF checked on cookie writes.
//!
//! Owns the cookie and header conventions only; who may log in, and how
//! secrets are kept, is `control::people`. The meeting/WHIP bearer tokens
//! are a different credential and are not read here.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::access::Action;
use super::openapi::{Api, Op};
use super::{ApiError, JsonBody, bearer};
use crate::control::people::{
    ApiToken, AuthError, People, PeopleError, TokenCheck, User, csrf_for, csrf_matches,
};
use crate::store::StoreError;

pub const SESSION_COOKIE: &str = "diemcau_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The auth operations. They find [`People`] in the request extensions,
/// which [`super::router`] layers over every route.
pub fn add_routes<S: Clone + Send + Sync + 'static>(api: Api<S>) -> Api<S> {
    use Action::{Own, Public};
    api.add(
        Op::post("/api/v1/auth/login", Public, "auth")
            .summary("Log in: sets the HttpOnly session cookie and returns the CSRF token")
            .body::<LoginBody>()
            .returns::<LoginAnswer>(),
        post(login),
    )
    .add(
        Op::post("/api/v1/auth/logout", Own, "auth").summary("End this session"),
        post(logout),
    )
    .add(
        Op::get("/api/v1/auth/me", Own, "auth")
            .summary("Who am I, and the CSRF token for this session")
            .returns::<MeAnswer>(),
        get(me),
    )
    .add(
        Op::post("/api/v1/auth/password", Own, "auth")
            .summary("Change my own password (needs the current one); ends my sessions and revokes my API tokens")
            .body::<PasswordChange>(),
        post(change_password),
    )
    .add(
        Op::post("/api/v1/auth/tokens", Own, "auth")
            .summary("Issue an API token for automation; the secret is shown once")
            .body::<TokenBody>()
            .returns_with::<TokenCreated>(StatusCode::CREATED),
        post(create_token),
    )
    .add(
        Op::get("/api/v1/auth/tokens", Own, "auth")
            .summary("My API tokens")
            .returns::<TokenList>(),
        get(list_tokens),
    )
    .add(
        Op::delete("/api/v1/auth/tokens/{id}", Own, "auth").summary("Revoke one of my API tokens"),
        delete(revoke_token),
    )
}

pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Unavailable { .. } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            e.to_string(),
        ),
        StoreError::NotFound { .. } => ApiError::not_found("not_found", e.to_string()),
        StoreError::Conflict { .. } => {
            ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
        }
        other => {
            tracing::error!(error = ?other, "storage failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "storage",
                "the database failed; see the server log",
            )
        }
    }
}

impl From<PeopleError> for ApiError {
    fn from(e: PeopleError) -> Self {
        match e {
            PeopleError::Store(s) => store_error(s),
            PeopleError::Unknown(_) => ApiError::not_found("unknown_user", e.to_string()),
            PeopleError::NameTaken(_) => {
                ApiError::new(StatusCode::CONFLICT, "name_taken", e.to_string())
            }
            PeopleError::Invalid { field, .. } => ApiError::invalid(field, e.to_string()),
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        match self {
            AuthError::BadCredentials => ApiError::unauthorized(self.to_string()).into_response(),
            AuthError::RateLimited { retry_after_secs } | AuthError::Busy { retry_after_secs } => (
                [(header::RETRY_AFTER, retry_after_secs.to_string())],
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    self.to_string(),
                ),
            )
                .into_response(),
            AuthError::Store(e) => store_error(e).into_response(),
        }
    }
}

fn people(parts: &Parts) -> Result<People, ApiError> {
    parts.extensions.get::<People>().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "misconfigured",
            "people are not wired into this router",
        )
    })
}

fn client_addr(parts: &Parts) -> Option<SocketAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

/// The client's address, when the listener knows it (never a rejection).
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(parts).map(|a| a.ip())))
    }
}

/// The session token from the `Cookie` header(s).
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (name, value) = c.trim().split_once('=')?;
            (name == SESSION_COOKIE && !value.is_empty()).then(|| value.to_string())
        })
}

/// How the principal proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    /// The session cookie (the token itself, for logout and CSRF).
    Session(String),
    /// An API token, by its id.
    ApiToken(String),
}

/// The authenticated user of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub via: Via,
    pub address: Option<IpAddr>,
}

impl Principal {
    pub fn actor(&self) -> crate::store::Actor {
        self.user.actor(self.address)
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let people = people(parts)?;
        let address = client_addr(parts).map(|a| a.ip());
        // A bearer API token wins: automation sends no cookie, and a bearer
        // header is never sent by a browser on its own, so no CSRF check.
        if let Some(token) = bearer(&parts.headers) {
            return match people.check_api_token(&token).await.map_err(store_error)? {
                TokenCheck::Valid(user, id) => Ok(Principal {
                    user,
                    via: Via::ApiToken(id),
                    address,
                }),
                TokenCheck::Expired { expired_at_ms } => Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "token_expired",
                    format!(
                        "this API token expired at {} (UTC); issue a new one at POST /api/v1/auth/tokens",
                        utc_text(expired_at_ms)
                    ),
                )),
                TokenCheck::Refused => Err(ApiError::unauthorized("unknown or revoked API token")),
            };
        }
        let Some(token) = session_cookie(&parts.headers) else {
            return Err(ApiError::unauthorized("log in first"));
        };
        let Some(user) = people
            .authenticate_session(&token)
            .await
            .map_err(store_error)?
        else {
            return Err(ApiError::unauthorized(
                "the session has ended; log in again",
            ));
        };
        if !is_safe(&parts.method) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !csrf_matches(&token, sent) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "a cookie-authenticated write needs the X-CSRF-Token header from login or /api/v1/auth/me",
                ));
            }
        }
        Ok(Principal {
            user,
            via: Via::Session(token),
            address,
        })
    }
}

/// Whether the cookie may go without `Secure`: only for a browser on this
/// very machine (loopback peer, loopback Host, no proxy headers), which is
/// how plain-HTTP development and tests reach the server. Behind a local
/// reverse proxy the Host is the public name, so the cookie stays Secure.
fn local_plain_client(addr: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    let loopback_peer = addr.is_some_and(|a| a.ip().is_loopback());
    let proxied = headers.contains_key("forwarded") || headers.contains_key("x-forwarded-for");
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let host_name = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    let loopback_host = host_name == "localhost"
        || host_name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback_peer && !proxied && loopback_host
}

fn session_cookie_header(value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&cookie).expect("a session cookie is ASCII")
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    name: String,
    password: String,
}

#[derive(Serialize, JsonSchema)]
pub struct LoginAnswer {
    user: User,
    /// Send it back as `X-CSRF-Token` on every cookie-authenticated write.
    csrf: String,
    expires_at_ms: i64,
}

#[derive(Serialize, JsonSchema)]
pub struct MeAnswer {
    user: User,
    /// Present for a cookie session; absent for an API token.
    csrf: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current: String,
    new: String,
}

#[derive(Serialize, JsonSchema)]
pub struct TokenCreated {
    token: ApiToken,
    /// The bearer secret; shown in this answer only.
    secret: String,
}

#[derive(Serialize, JsonSchema)]
pub struct TokenList {
    tokens: Vec<ApiToken>,
}

async fn login(
    Extension(people): Extension<People>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginBody>,
) -> Response {
    let addr = connect.map(|Extension(ConnectInfo(a))| a);
    let login = match people
        .login(&body.name, &body.password, addr.map(|a| a.ip()))
        .await
    {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    // The cookie lives as long as the session could (its absolute limit);
    // the server decides earlier idle expiry.
    let max_age = 7 * 24 * 3600;
    let cookie = session_cookie_header(
        login.session.expose(),
        max_age,
        !local_plain_client(addr, &headers),
    );
    (
        [(header::SET_COOKIE, cookie)],
        Json(LoginAnswer {
            user: login.user,
            csrf: login.csrf,
            expires_at_ms: login.expires_at_ms,
        }),
    )
        .into_response()
}

async fn logout(
    Extension(people): Extension<People>,
    principal: Principal,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Via::Session(token) = &principal.via else {
        return Err(ApiError::bad_request(
            "not_a_session",
            "an API token has no session to end; revoke the token instead",
        ));
    };
    people
        .logout(token, principal.address)
        .await
        .map_err(store_error)?;
    let secure = !local_plain_client(connect.map(|Extension(ConnectInfo(a))| a), &headers);
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session_cookie_header("", 0, secure))],
    )
        .into_response())
}

async fn me(principal: Principal) -> Json<MeAnswer> {
    let csrf = match &principal.via {
        Via::Session(token) => Some(csrf_for(token)),
        Via::ApiToken(_) => None,
    };
    Json(MeAnswer {
        user: principal.user,
        csrf,
    })
}

/// Changing one's own password proves the current one first (a session
/// left open on a console must not be enough to take the account over);
/// that proof is throttled like a login. The new password ends every
/// session and revokes every API token of the user, this one included.
async fn change_password(
    Extension(people): Extension<People>,
    principal: Principal,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<Response, ApiError> {
    let ok = match people
        .check_password(&principal.user.id, &body.current, principal.address)
        .await
    {
        Ok(ok) => ok,
        Err(e) => return Ok(e.into_response()),
    };
    if !ok {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_password",
            "the current password is not right",
        )
        .with_field("current"));
    }
    people
        .set_password(&principal.actor(), &principal.user.id, &body.new)
        .await
        .map_err(|e| match e {
            PeopleError::Invalid { .. } => ApiError::from(e).with_field("new"),
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `2025-03-01 08:00` for a time in ms since the epoch.
fn utc_text(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_else(|_| ms.to_string())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    label: String,
}

/// Issue an API token for the caller; the token is in this answer only.
async fn create_token(
    Extension(people): Extension<People>,
    principal: Principal,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<Response, ApiError> {
    let (token, secret) = people
        .create_api_token(&principal.actor(), &principal.user.id, &body.label)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            token,
            secret: secret.expose().to_string(),
        }),
    )
        .into_response())
}

async fn list_tokens(
    Extension(people): Extension<People>,
    principal: Principal,
) -> Result<Json<TokenList>, ApiError> {
    let tokens = people
        .api_tokens(&principal.user.id)
        .await
        .map_err(store_error)?;
    Ok(Json(TokenList { tokens }))
}

/// Revoke one of the caller's own API tokens.
async fn revoke_token(
    Extension(people): Extension<People>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let own = people
        .api_tokens(&principal.user.id)
        .await
        .map_err(store_error)?
        .into_iter()
        .any(|t| t.id == id && t.revoked_at_ms.is_none());
    if !own {
        return Err(ApiError::not_found(
            "unknown_token",
            format!("you have no live API token {id:?}"),
        ));
    }
    people.revoke_api_token(&principal.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; diemcau_session=dcs_x; b=2")]);
        assert_eq!(session_cookie(&h).as_deref(), Some("dcs_x"));
        assert_eq!(session_cookie(&headers(&[("cookie", "a=1")])), None);
    }

    #[test]
    fn secure_is_dropped_only_for_a_local_browser() {
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let remote: SocketAddr = "10.0.0.5:5000".parse().unwrap();
        let h = headers(&[("host", "127.0.0.1:8080")]);
        assert!(local_plain_client(Some(local), &h));
        assert!(local_plain_client(
            Some(local),
            &headers(&[("host", "[::1]:80")])
        ));
        assert!(!local_plain_client(Some(remote), &h));
        assert!(!local_plain_client(
            Some(local),
            &headers(&[("host", "hop.tinh.vn")])
        ));
        assert!(!local_plain_client(
            Some(local),
            &headers(&[("host", "localhost"), ("x-forwarded-for", "1.2.3.4")])
        ));
    }
}
