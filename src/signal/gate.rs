//! Who may connect to a meeting's room, and telling live control when they
//! do. Shared by the WebSocket room page, WHIP and WHEP.
//!
//! Three kinds of credential open a room:
//! - the demo meeting's join token (`diemcau demo --token`): a guest;
//! - a room endpoint's own token: that endpoint, with its link profile's
//!   bandwidth cap, in any meeting that is open or live (a room not
//!   planned for it joins as a guest, listed apart on the roll call);
//! - a person's API token with the right to watch live meetings: a
//!   console (or viewer).

use crate::api::access::{Action, Caller};
use crate::api::{ApiError, AppState};
use crate::control::endpoints::Endpoints;
use crate::control::live::ConnectionKind;
use crate::control::meetings::Meetings;
use crate::media::{Command, ParticipantId, Role};

/// What a join was allowed as.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The room endpoint, when the token was one.
    pub endpoint: Option<String>,
    /// The endpoint's name, used when the client sends none.
    pub name: Option<String>,
    /// The endpoint's link cap, kbit/s (the engine takes the lower of this
    /// and what the client asks for).
    pub max_kbps: Option<u32>,
    /// Is there a live room to tell (every real meeting; the demo too).
    pub live: bool,
}

/// Check a join's credential for `meeting`.
pub async fn admit(
    state: &AppState,
    meeting: &str,
    token: Option<&str>,
    role: Role,
) -> Result<Admission, ApiError> {
    // The demo meeting (and any other join-token meeting) first.
    if state.meetings.exists(meeting) {
        state.meetings.authorize(meeting, token)?;
        return Ok(Admission {
            endpoint: None,
            name: None,
            max_kbps: None,
            live: state.live.get(meeting).is_some(),
        });
    }
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("missing token: a room's token or an API token"))?;
    let m = Meetings::new(state.store.clone())
        .get(meeting)
        .await
        .map_err(ApiError::from)?;
    let endpoint = Endpoints::new(state.store.clone())
        .authenticate(token)
        .await
        .map_err(crate::api::auth::store_error)?;
    let admission = match endpoint {
        Some(ep) => Admission {
            max_kbps: Some(ep.details.link.max_kbps()),
            name: Some(ep.details.name.clone()),
            endpoint: Some(ep.id),
            live: true,
        },
        None => {
            let people = &state.people;
            let Some((user, _)) = people
                .authenticate_api_token(token)
                .await
                .map_err(crate::api::auth::store_error)?
            else {
                return Err(ApiError::unauthorized(
                    "unknown or revoked token for this meeting",
                ));
            };
            person(user, role)?
        }
    };
    // Rooms connect from the lobby (open) until the end.
    crate::api::v1::meetings::live_room(state, &m).await?;
    Ok(admission)
}

/// A person logged in to the console (their session cookie, sent with the
/// WebSocket upgrade): watches as a console or viewer, or publishes with
/// live-control rights — as with an API token.
pub async fn admit_session(
    state: &AppState,
    meeting: &str,
    session: &str,
    role: Role,
) -> Result<Admission, ApiError> {
    let m = Meetings::new(state.store.clone())
        .get(meeting)
        .await
        .map_err(ApiError::from)?;
    let user = state
        .people
        .authenticate_session(session)
        .await
        .map_err(crate::api::auth::store_error)?
        .ok_or_else(|| ApiError::unauthorized("the console session has expired; log in again"))?;
    let admission = person(user, role)?;
    crate::api::v1::meetings::live_room(state, &m).await?;
    Ok(admission)
}

/// What a person may join as.
fn person(user: crate::control::people::User, role: Role) -> Result<Admission, ApiError> {
    let caller = Caller::Person(crate::api::auth::Principal {
        user,
        via: crate::api::auth::Via::ApiToken(String::new()),
        address: None,
    });
    // A person watches (console, viewer) or, with live control rights, may
    // publish (a hub encoder run by an operator).
    let needed = match role {
        Role::Console | Role::Viewer => Action::LiveRead,
        Role::Room | Role::Publisher => Action::LiveControl,
        // Only a node's credential opens a relay (the cascade routes).
        Role::Relay => {
            return Err(ApiError::forbidden(
                "forbidden",
                "a relay link is opened by a diemcau node with its node credential",
            ));
        }
    };
    if !caller.permits(needed) {
        return Err(ApiError::forbidden(
            "forbidden",
            "this account may not join the meeting's room in that role",
        ));
    }
    Ok(Admission {
        endpoint: None,
        name: caller.person().map(|p| p.user.details.display_name.clone()),
        max_kbps: None,
        live: true,
    })
}

/// The engine admitted `participant`: tell live control, which may still
/// refuse (a locked meeting, a removed room) — then it is sent away.
pub async fn connected(
    state: &AppState,
    meeting: &str,
    admission: &Admission,
    participant: ParticipantId,
    name: &str,
    role: Role,
) -> Result<(), ApiError> {
    if !admission.live {
        return Ok(());
    }
    let Some(room) = state.live.get(meeting) else {
        return Ok(());
    };
    let kind = match role {
        Role::Room => ConnectionKind::Room,
        Role::Console => ConnectionKind::Console,
        Role::Viewer => ConnectionKind::Viewer,
        Role::Publisher => ConnectionKind::Publisher,
        Role::Relay => ConnectionKind::Relay,
    };
    let endpoint = admission.endpoint.clone();
    let name = name.to_string();
    let refused = state
        .live
        .apply(&room, |live, now| {
            Ok(
                match live.connected(endpoint.as_deref(), participant, &name, kind, now) {
                    Ok(effects) => (None, effects),
                    Err(refusal) => (Some(refusal), Vec::new()),
                },
            )
        })
        .await
        .map_err(ApiError::from)?;
    if let Some(refusal) = refused {
        let _ = state
            .media
            .participant_command(participant, Command::Leave { participant })
            .await;
        state.media.forget(participant);
        return Err(ApiError::forbidden(refusal.code(), refusal.to_string()));
    }
    Ok(())
}
