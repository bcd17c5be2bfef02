//! Who may connect media to a meeting — the room page, WHIP, WHEP — and
//! telling live control when they do.
//!
//! - a **room endpoint's token** opens only the meetings the room is
//!   planned for, with its link profile's cap; at an **open** meeting an
//!   unplanned room waits in the lobby until an operator lets it in; at a
//!   **closed** one it is refused as if the meeting did not exist;
//! - a **person** (API token or console session) watches as a console or
//!   player with read rights on the meeting (a member, its operators, an
//!   auditor), and publishes only with live-control rights (its operators);
//!   consoles and players are listed, obey the lock unless they run the
//!   meeting, and can be sent away;
//! - the demo's **join token** opens only its own meeting, as a guest.
//!
//! Every admission and every refusal is audited (refusals rate-limited).

use super::{Conference, ConferenceError, Identity, Refusal, Who, access};
use crate::control::AccessError;
use crate::control::endpoints::Endpoints;
use crate::control::live::ConnectionKind;
use crate::control::live::Knock;
use crate::control::meetings::{AccessPolicy, Meeting};
use crate::media::{Command, ParticipantId, Role};

/// The credential a media join brought.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// A room's token, a person's API token, or the demo's join token.
    Token(&'a str),
    /// A console's session cookie.
    Session(&'a str),
    /// A SIP room system, already authenticated by digest (`sip`): its
    /// endpoint id. Admitted exactly as the room's token would be.
    SipEndpoint(&'a str),
}

/// What a join was allowed as.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The room endpoint, when the token was one.
    pub endpoint: Option<String>,
    /// The person, when it was one.
    pub user: Option<String>,
    /// That person runs the meeting (its operators): a locked meeting
    /// still takes their console.
    pub runs: bool,
    /// The endpoint's or person's name, used when the client sends none.
    pub name: Option<String>,
    /// The endpoint's link cap, kbit/s (the engine takes the lower of this
    /// and what the client asks for).
    pub max_kbps: Option<u32>,
    /// Is there a live room to tell (every real meeting; the demo too).
    pub live: bool,
}

impl Conference {
    /// Who a credential is: a room endpoint or a person.
    pub async fn authenticate(
        &self,
        credential: Credential<'_>,
        address: Option<std::net::IpAddr>,
    ) -> Result<Who, ConferenceError> {
        let people = &self.people;
        match credential {
            Credential::Token("") => Err(ConferenceError::Unauthorized(
                "missing token: a room's token or an API token".into(),
            )),
            Credential::Token(t) => {
                if let Some(ep) = Endpoints::new(self.store.clone()).authenticate(t).await? {
                    return Ok(Who::room(ep, address));
                }
                match people.authenticate_api_token(t).await? {
                    Some((user, _)) => Ok(Who::person(user, address)),
                    None => Err(ConferenceError::Unauthorized(
                        "unknown or revoked token for this meeting".into(),
                    )),
                }
            }
            Credential::SipEndpoint(id) => match Endpoints::new(self.store.clone()).get(id).await {
                Ok(ep) if ep.revoked_at_ms.is_none() => Ok(Who::room(ep, address)),
                _ => Err(ConferenceError::Unauthorized(
                    "unknown or revoked sip room for this meeting".into(),
                )),
            },
            Credential::Session(s) => match people.authenticate_session(s).await? {
                Some(user) => Ok(Who::person(user, address)),
                None => Err(ConferenceError::Unauthorized(
                    "the console session has expired; log in again".into(),
                )),
            },
        }
    }

    /// Check a media join's credential for `meeting` in `role`.
    pub async fn admit(
        &self,
        meeting: &str,
        credential: Credential<'_>,
        role: Role,
        address: Option<std::net::IpAddr>,
    ) -> Result<Admission, ConferenceError> {
        // The demo meeting (and any other join-token meeting) first.
        if self.demo.exists(meeting) {
            let token = match credential {
                Credential::Token(t) => Some(t),
                Credential::Session(_) | Credential::SipEndpoint(_) => None,
            };
            self.demo.authorize(meeting, token).map_err(|e| match e {
                AccessError::UnknownMeeting(m) => ConferenceError::Hidden(m),
                other => ConferenceError::Unauthorized(other.to_string()),
            })?;
            return Ok(Admission {
                endpoint: None,
                user: None,
                runs: false,
                name: None,
                max_kbps: None,
                live: self.live.get(meeting).is_some(),
            });
        }
        let who = self.authenticate(credential, address).await?;
        let m = self.meetings().get(meeting).await?;
        let admission = match self.decide_join(&who, &m, role).await {
            Ok(a) => a,
            Err(e) => {
                let code = match &e {
                    ConferenceError::Hidden(_) => "unknown_meeting",
                    ConferenceError::Forbidden { code, .. } => code,
                    ConferenceError::InLobby => "in_lobby",
                    _ => "refused",
                };
                self.audit_refusal(&who, &m.id, &format!("join_{}", role.as_str()), code)
                    .await;
                return Err(e);
            }
        };
        let details = serde_json::json!({
            "role": role.as_str(),
            "endpoint_id": admission.endpoint,
            "user_id": admission.user,
        });
        self.audit(&who.actor, "media.admitted", &m.id, &details)
            .await
            .map_err(ConferenceError::NotAudited)?;
        Ok(admission)
    }

    async fn decide_join(
        &self,
        who: &Who,
        m: &Meeting,
        role: Role,
    ) -> Result<Admission, ConferenceError> {
        let s = self.standing(who, m).await?;
        let forbidden = |code: &'static str, message: &str| ConferenceError::Forbidden {
            code,
            message: message.to_string(),
        };
        match (&who.identity, role) {
            // Only a node's credential opens a relay (the cascade routes).
            (_, Role::Relay) => Err(forbidden(
                "forbidden",
                "a relay link is opened by a diemcau node with its node credential",
            )),
            (Identity::Room(_), Role::Console) => Err(forbidden(
                "forbidden",
                "a room endpoint joins as a room or a player, not as a console",
            )),
            (Identity::Room(ep), _) => {
                if !s.planned_room {
                    if m.access_policy == AccessPolicy::Closed {
                        return Err(ConferenceError::Hidden(m.id.clone()));
                    }
                    let room = self.live_room(m).await?;
                    let (id, name) = (ep.id.clone(), ep.details.name.clone());
                    let knock = self
                        .live
                        .apply(&room, |live, now| Ok(live.knock(&id, &name, now)))
                        .await?;
                    if knock == Knock::Waiting {
                        return Err(ConferenceError::InLobby);
                    }
                }
                // A child node serves the rooms of its own subtree; a room
                // of another joins through its own node (its parent would
                // ignore its presence from here anyway).
                if let Some(rooms) = self.local_rooms(m).await?
                    && !rooms.contains(&ep.id)
                {
                    return Err(forbidden(
                        "wrong_node",
                        "this room belongs to another part of the tree; it joins the meeting through its own node",
                    ));
                }
                self.live_room(m).await?;
                Ok(Admission {
                    max_kbps: Some(ep.details.link.max_kbps()),
                    name: Some(ep.details.name.clone()),
                    endpoint: Some(ep.id.clone()),
                    user: None,
                    runs: false,
                    live: true,
                })
            }
            (Identity::Person(user), _) => {
                // A person watches (console, player) with read rights, and
                // publishes (a hub encoder run by an operator) only with
                // live control.
                let needed = match role {
                    Role::Console | Role::Viewer | Role::Screen => super::Action::LiveRead,
                    _ => super::Action::LiveControl,
                };
                let decided = if who.permits(needed) {
                    access::decide(&s, needed, m.access_policy)
                } else if s.visible() {
                    Err(Refusal::Forbidden("forbidden"))
                } else {
                    Err(Refusal::Hidden)
                };
                decided.map_err(|r| match r {
                    Refusal::Hidden => ConferenceError::Hidden(m.id.clone()),
                    Refusal::Forbidden(_) => forbidden(
                        "forbidden",
                        "this account may not join the meeting's room in that role",
                    ),
                })?;
                self.live_room(m).await?;
                Ok(Admission {
                    endpoint: None,
                    user: Some(user.id.clone()),
                    runs: s.runs(),
                    name: Some(user.details.display_name.clone()),
                    max_kbps: None,
                    live: true,
                })
            }
        }
    }

    /// The engine admitted `participant`: tell live control, which may
    /// still refuse (a locked meeting, a removed room or person) — then it
    /// is sent away.
    pub async fn connected(
        &self,
        meeting: &str,
        admission: &Admission,
        participant: ParticipantId,
        name: &str,
        role: Role,
    ) -> Result<(), ConferenceError> {
        if !admission.live {
            return Ok(());
        }
        let Some(room) = self.live.get(meeting) else {
            return Ok(());
        };
        let kind = match role {
            Role::Room => ConnectionKind::Room,
            Role::Console => ConnectionKind::Console,
            Role::Viewer | Role::Screen => ConnectionKind::Viewer,
            Role::Publisher => ConnectionKind::Publisher,
            Role::Relay => ConnectionKind::Relay,
        };
        let endpoint = admission.endpoint.clone();
        let user = admission.user.clone();
        let runs = admission.runs;
        let name = name.to_string();
        let refused = self
            .live
            .apply(&room, |live, now| {
                let result = match &user {
                    Some(u) => live.person_connected(participant, &name, kind, Some(u), runs, now),
                    None => live.connected(endpoint.as_deref(), participant, &name, kind, now),
                };
                Ok(match result {
                    Ok(effects) => (None, effects),
                    Err(refusal) => (Some(refusal), Vec::new()),
                })
            })
            .await?;
        if let Some(refusal) = refused {
            let _ = self
                .media
                .participant_command(participant, Command::Leave { participant })
                .await;
            self.media.forget(participant);
            return Err(ConferenceError::Forbidden {
                code: refusal.code(),
                message: refusal.to_string(),
            });
        }
        Ok(())
    }
}
