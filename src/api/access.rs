//! Who is calling ([`Caller`]: a person or a room endpoint) and what each
//! may do ([`Action`], [`permits`]): the one permission table every
//! `/api/v1` route is checked against before its handler runs.
//!
//! The table decides by role. Data-dependent limits — a sub-operator's unit
//! subtree, an endpoint acting only for itself and its own meetings — are
//! checked in the handlers, with [`Caller::scope_unit`] and
//! [`Caller::endpoint_id`].

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::auth::Principal;
pub use crate::conference::rights::{Action, endpoint_permits, role_permits, role_permits_any};
use crate::control::endpoints::{Endpoint, Endpoints};
use crate::control::people::Role;
use crate::store::Actor;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub enum Caller {
    Person(Principal),
    /// A room endpoint, by its own bearer token.
    Endpoint {
        endpoint: Endpoint,
        address: Option<std::net::IpAddr>,
    },
}

impl Caller {
    /// The caller as the conference layer sees it.
    pub fn who(&self) -> crate::conference::Who {
        match self {
            Caller::Person(p) => crate::conference::Who::person(p.user.clone(), p.address),
            Caller::Endpoint { endpoint, address } => {
                crate::conference::Who::room(endpoint.clone(), *address)
            }
        }
    }

    pub fn permits(&self, action: Action) -> bool {
        match self {
            Caller::Person(p) => {
                !p.user.disabled
                    && p.user
                        .details
                        .roles
                        .iter()
                        .any(|r| role_permits(*r, action))
            }
            Caller::Endpoint { .. } => endpoint_permits(action),
        }
    }

    /// The unit subtree this caller is confined to for `action`: `None` when
    /// a role without a scope already permits it (operator, admin, …).
    /// A person holding both operator and sub-operator roles is not confined.
    pub fn scope_unit(&self, action: Action) -> Option<&str> {
        match self {
            Caller::Person(p) => {
                let unscoped = p
                    .user
                    .details
                    .roles
                    .iter()
                    .any(|r| *r != Role::SubOperator && role_permits(*r, action));
                if unscoped {
                    None
                } else {
                    p.user.details.scope_unit_id.as_deref()
                }
            }
            Caller::Endpoint { .. } => None,
        }
    }

    /// The endpoint itself, when the caller is a room.
    pub fn endpoint_id(&self) -> Option<&str> {
        match self {
            Caller::Endpoint { endpoint, .. } => Some(&endpoint.id),
            Caller::Person(_) => None,
        }
    }

    pub fn person(&self) -> Option<&Principal> {
        match self {
            Caller::Person(p) => Some(p),
            Caller::Endpoint { .. } => None,
        }
    }

    /// Who to write into the audit log.
    pub fn actor(&self) -> Actor {
        match self {
            Caller::Person(p) => p.actor(),
            Caller::Endpoint { endpoint, address } => Actor {
                id: endpoint.id.clone(),
                name: format!("endpoint:{}", endpoint.details.name),
                address: *address,
            },
        }
    }

    /// A short name for live events ("who muted").
    pub fn label(&self) -> String {
        match self {
            Caller::Person(p) => p.user.login.clone(),
            Caller::Endpoint { endpoint, .. } => endpoint.details.name.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // The permission layer already authenticated this request.
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(c.clone());
        }
        let person = Principal::from_request_parts(parts, state).await;
        match person {
            Ok(p) => Ok(Caller::Person(p)),
            Err(e) => {
                // Not a person's token: perhaps a room's. A person's token
                // past its lifetime says so instead.
                let Some(token) = super::bearer(&parts.headers) else {
                    return Err(e);
                };
                if e.code == "token_expired" {
                    return Err(e);
                }
                let endpoints = parts
                    .extensions
                    .get::<Endpoints>()
                    .cloned()
                    .ok_or_else(|| {
                        ApiError::new(
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            "misconfigured",
                            "endpoints are not wired into this router",
                        )
                    })?;
                match endpoints
                    .authenticate(&token)
                    .await
                    .map_err(super::auth::store_error)?
                {
                    Some(endpoint) => Ok(Caller::Endpoint {
                        endpoint,
                        address: parts
                            .extensions
                            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                            .map(|c| c.0.ip()),
                    }),
                    None => Err(ApiError::unauthorized(
                        "unknown or revoked token (neither an API token nor a room endpoint's)",
                    )),
                }
            }
        }
    }
}

/// The middleware every documented route runs behind: authenticate, check
/// the table, hand the [`Caller`] on to the handler. Runs before the body
/// is read, so a refused request is refused whatever it carries.
pub async fn enforce(action: Action, request: Request, next: Next) -> Response {
    // A node route authenticates the node in its handler.
    if matches!(action, Action::Public | Action::Node) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &()).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if !caller.permits(action) {
        return ApiError::forbidden(
            "forbidden",
            format!(
                "{} may not do this ({})",
                match &caller {
                    Caller::Person(p) => format!("user {:?}", p.user.login),
                    Caller::Endpoint { endpoint, .. } =>
                        format!("endpoint {:?}", endpoint.details.name),
                },
                serde_json::to_value(action)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
        )
        .into_response();
    }
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}
