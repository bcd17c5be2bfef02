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
use serde::Serialize;

use super::ApiError;
use super::auth::Principal;
use crate::control::endpoints::{Endpoint, Endpoints};
use crate::control::people::Role;
use crate::store::Actor;

/// What a route does, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Anyone, even unauthenticated (login, the OpenAPI document).
    Public,
    /// Any logged-in person acting on themselves (me, logout, own tokens).
    Own,
    UsersRead,
    UsersWrite,
    OrgRead,
    OrgWrite,
    EndpointsRead,
    /// Create, edit and re-bind endpoints, rotate and revoke their tokens.
    EndpointsWrite,
    MeetingsRead,
    /// Create, edit, cancel meetings.
    MeetingsWrite,
    /// Open, start, end a meeting.
    MeetingLifecycle,
    /// The live state and its event stream.
    LiveRead,
    /// Mute, stage, lecture scan, lock, remove, scenes.
    LiveControl,
    /// Order the floor queue, grant and revoke the floor (the chair's job).
    FloorChair,
    /// Ask for or withdraw from the floor (a room, or an operator for it).
    FloorSelf,
    /// Confirm how many people sit in a room.
    Headcount,
    AuditRead,
    /// Plan a meeting's agenda (items, order, presenters).
    AgendaWrite,
    /// Drive the room: advance the current agenda item, page-sync a document.
    Present,
    /// Upload, version, recall a meeting's documents.
    DocumentsWrite,
    /// Create motions; open, close and publish votes (the chair decides).
    VoteManage,
    /// Cast a vote (a delegate, or a room voting with its headcount).
    VoteCast,
    /// Draft, edit and finalise the minutes (the secretary's job).
    MinutesWrite,
    /// Start and stop a meeting's recording.
    RecordControl,
    /// List, download and replay recordings.
    RecordingsRead,
    /// This node's place in the cascade, its parent link and its child nodes.
    CascadeRead,
    /// Register child nodes, rotate and revoke their credentials.
    CascadeWrite,
    /// A child cascade node, by its own credential: no person, no room. The
    /// handler authenticates the node (the table grants it to nobody).
    Node,
}

impl Action {
    pub const ALL: [Action; 28] = [
        Action::Public,
        Action::Own,
        Action::UsersRead,
        Action::UsersWrite,
        Action::OrgRead,
        Action::OrgWrite,
        Action::EndpointsRead,
        Action::EndpointsWrite,
        Action::MeetingsRead,
        Action::MeetingsWrite,
        Action::MeetingLifecycle,
        Action::LiveRead,
        Action::LiveControl,
        Action::FloorChair,
        Action::FloorSelf,
        Action::Headcount,
        Action::AuditRead,
        Action::AgendaWrite,
        Action::Present,
        Action::DocumentsWrite,
        Action::VoteManage,
        Action::VoteCast,
        Action::MinutesWrite,
        Action::RecordControl,
        Action::RecordingsRead,
        Action::CascadeRead,
        Action::CascadeWrite,
        Action::Node,
    ];
}

/// The permission table: may `role` do `action`? One line per role, read
/// across. Admin does everything; the auditor reads everything and changes
/// nothing; a sub-operator may do an operator's meeting work inside its
/// subtree but not reshape the org tree (that follows a decree, at province
/// level) or see the audit log.
pub fn role_permits(role: Role, action: Action) -> bool {
    use Action::*;
    let allowed: &[Action] = match role {
        Role::Admin => return true,
        Role::Operator => &[
            UsersRead,
            OrgRead,
            OrgWrite,
            EndpointsRead,
            EndpointsWrite,
            MeetingsRead,
            MeetingsWrite,
            MeetingLifecycle,
            LiveRead,
            LiveControl,
            FloorChair,
            FloorSelf,
            Headcount,
            AgendaWrite,
            Present,
            DocumentsWrite,
            VoteManage,
            RecordControl,
            RecordingsRead,
            CascadeRead,
        ],
        Role::SubOperator => &[
            UsersRead,
            OrgRead,
            EndpointsRead,
            EndpointsWrite,
            MeetingsRead,
            MeetingsWrite,
            MeetingLifecycle,
            LiveRead,
            LiveControl,
            FloorChair,
            FloorSelf,
            Headcount,
            AgendaWrite,
            Present,
            DocumentsWrite,
            VoteManage,
            RecordControl,
            RecordingsRead,
        ],
        Role::Secretary => &[
            UsersRead,
            OrgRead,
            EndpointsRead,
            MeetingsRead,
            MeetingsWrite,
            LiveRead,
            Headcount,
            AgendaWrite,
            Present,
            DocumentsWrite,
            VoteManage,
            MinutesWrite,
            RecordingsRead,
        ],
        Role::Chair => &[
            OrgRead,
            EndpointsRead,
            MeetingsRead,
            LiveRead,
            FloorChair,
            Present,
            VoteManage,
            VoteCast,
            RecordingsRead,
        ],
        Role::Delegate => &[OrgRead, MeetingsRead, LiveRead, VoteCast, FloorSelf],
        Role::Auditor => &[
            UsersRead,
            OrgRead,
            EndpointsRead,
            MeetingsRead,
            LiveRead,
            AuditRead,
            RecordingsRead,
            CascadeRead,
        ],
    };
    matches!(action, Public | Own) || allowed.contains(&action)
}

/// A room endpoint may read its meetings, ask for the floor, report its
/// headcount and vote with it — for itself only (checked by the handlers).
pub fn endpoint_permits(action: Action) -> bool {
    matches!(
        action,
        Action::Public
            | Action::MeetingsRead
            | Action::LiveRead
            | Action::FloorSelf
            | Action::Headcount
            | Action::VoteCast
    )
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auditor_changes_nothing_and_admin_does_everything() {
        for a in Action::ALL {
            assert!(role_permits(Role::Admin, a));
            let write = matches!(
                a,
                Action::UsersWrite
                    | Action::AgendaWrite
                    | Action::Present
                    | Action::DocumentsWrite
                    | Action::VoteManage
                    | Action::VoteCast
                    | Action::MinutesWrite
                    | Action::OrgWrite
                    | Action::EndpointsWrite
                    | Action::MeetingsWrite
                    | Action::MeetingLifecycle
                    | Action::LiveControl
                    | Action::FloorChair
                    | Action::FloorSelf
                    | Action::Headcount
                    | Action::CascadeWrite
            );
            if write {
                assert!(!role_permits(Role::Auditor, a), "{a:?}");
            }
        }
    }

    #[test]
    fn only_admin_and_auditor_read_the_audit_log() {
        let readers: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| role_permits(*r, Action::AuditRead))
            .collect();
        assert_eq!(readers, vec![Role::Admin, Role::Auditor]);
    }

    #[test]
    fn only_admin_changes_the_cascade_and_no_person_role_is_a_node() {
        let writers: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| role_permits(*r, Action::CascadeWrite))
            .collect();
        assert_eq!(writers, vec![Role::Admin]);
        for r in Role::ALL {
            assert!(r == Role::Admin || !role_permits(r, Action::Node), "{r:?}");
        }
        assert!(!endpoint_permits(Action::Node));
    }
}
