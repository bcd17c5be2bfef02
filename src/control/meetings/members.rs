//! Who belongs to a meeting, as data: its access policy, the people named in
//! it besides the chair and the secretary (voting members and invited
//! attendees), and the body whose members — as of the meeting's date —
//! belong to it too.
//!
//! The rooms that belong to a meeting are its participants
//! (`participants.rs`); this module is about people. Whether a caller may do
//! something with a meeting is decided in `conference::access`, from what
//! [`MeetingPeople`] says here.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use time::Date;

use super::{Meeting, MeetingError, MeetingKind, invalid};
use crate::store::{SqlxResultExt, Store, StoreError, date};

/// The most people a meeting names one by one (a provincial BCH has about
/// 50–70 members; a plenum with invited guests stays well under this).
pub const MAX_MEMBERS: usize = 500;

/// Who may reach a meeting at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessPolicy {
    /// Only the planned rooms and the named people (BCH, BTV, and any
    /// meeting marked closed). A room not planned is refused.
    Closed,
    /// The planned rooms and named people; a room not planned waits in the
    /// lobby until an operator admits it (giao ban, quán triệt).
    Open,
}

impl AccessPolicy {
    /// Executive and Standing Committee meetings are closed unless the
    /// planner says otherwise; everything else is open.
    pub fn default_for(kind: MeetingKind) -> AccessPolicy {
        match kind {
            MeetingKind::Bch | MeetingKind::Btv => AccessPolicy::Closed,
            _ => AccessPolicy::Open,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccessPolicy::Closed => "closed",
            AccessPolicy::Open => "open",
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            AccessPolicy::Closed => "Họp kín",
            AccessPolicy::Open => "Họp mở rộng",
        }
    }
}

impl fmt::Display for AccessPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccessPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "closed" => Ok(AccessPolicy::Closed),
            "open" => Ok(AccessPolicy::Open),
            other => Err(format!("unknown access policy {other:?}")),
        }
    }
}

/// What a named person is in a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Đại biểu chính thức: attends and votes.
    Voting,
    /// Đại biểu mời: attends, reads, does not vote.
    Invited,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Voting => "voting",
            MemberRole::Invited => "invited",
        }
    }
}

impl FromStr for MemberRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "voting" => Ok(MemberRole::Voting),
            "invited" => Ok(MemberRole::Invited),
            other => Err(format!("unknown member role {other:?}")),
        }
    }
}

/// A person named in a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingMember {
    pub user_id: String,
    pub role: MemberRole,
}

/// What one person is in one meeting, all sources taken together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PersonStanding {
    pub chair: bool,
    pub secretary: bool,
    /// A voting member: named as one, or a voting member of the meeting's
    /// body on its date, or its chair.
    pub voting: bool,
    /// Named in any way (chair, secretary, member, invited, body member).
    pub member: bool,
}

/// Everyone a meeting names, resolved as of its date.
#[derive(Debug, Clone, Default)]
pub struct MeetingPeople {
    people: HashMap<String, PersonStanding>,
}

impl MeetingPeople {
    pub fn of(&self, user_id: &str) -> PersonStanding {
        self.people.get(user_id).copied().unwrap_or_default()
    }

    /// The voting members (the electorate of a vote by people), sorted.
    pub fn voters(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .people
            .iter()
            .filter(|(_, s)| s.voting)
            .map(|(u, _)| u.clone())
            .collect();
        v.sort();
        v
    }

    fn entry(&mut self, user: &str) -> &mut PersonStanding {
        let e = self.people.entry(user.to_string()).or_default();
        e.member = true;
        e
    }
}

/// Check a draft's people: at most [`MAX_MEMBERS`], no one twice, not the
/// chair or secretary again.
pub(super) fn check_members(members: &[MeetingMember]) -> Result<(), MeetingError> {
    if members.len() > MAX_MEMBERS {
        return invalid(
            "members",
            format!("a meeting names at most {MAX_MEMBERS} people one by one"),
        );
    }
    let mut seen = std::collections::HashSet::new();
    for (i, m) in members.iter().enumerate() {
        if !seen.insert(m.user_id.as_str()) {
            return invalid(
                format!("members[{i}].user_id"),
                format!("user {:?} is named twice", m.user_id),
            );
        }
    }
    Ok(())
}

/// Check that named users exist and are enabled, and the body exists.
pub(super) async fn check_member_references(
    conn: &mut AnyConnection,
    members: &[MeetingMember],
    body_id: Option<&str>,
) -> Result<(), MeetingError> {
    const DOING: &str = "checking a meeting's members";
    for (i, m) in members.iter().enumerate() {
        let row = sqlx::query("SELECT disabled_at FROM users WHERE id = $1")
            .bind(&m.user_id)
            .fetch_optional(&mut *conn)
            .await
            .ctx(DOING)?;
        let field = format!("members[{i}].user_id");
        match row {
            None => return invalid(field, format!("no user {:?}", m.user_id)),
            Some(r) => {
                let disabled: Option<i64> = r.try_get(0).ctx(DOING)?;
                if disabled.is_some() {
                    return invalid(field, format!("user {:?} is disabled", m.user_id));
                }
            }
        }
    }
    if let Some(body) = body_id {
        let found: Option<String> = sqlx::query_scalar("SELECT id FROM bodies WHERE id = $1")
            .bind(body)
            .fetch_optional(&mut *conn)
            .await
            .ctx(DOING)?;
        if found.is_none() {
            return invalid("body_id", format!("no body {body:?}"));
        }
    }
    Ok(())
}

/// Replace a meeting's named people (on create and edit).
pub(super) async fn write_members(
    conn: &mut AnyConnection,
    meeting_id: &str,
    members: &[MeetingMember],
) -> Result<(), StoreError> {
    const DOING: &str = "saving a meeting's members";
    sqlx::query("DELETE FROM meeting_people WHERE meeting_id = $1")
        .bind(meeting_id)
        .execute(&mut *conn)
        .await
        .ctx(DOING)?;
    for m in members {
        sqlx::query("INSERT INTO meeting_people (meeting_id, user_id, role) VALUES ($1, $2, $3)")
            .bind(meeting_id)
            .bind(&m.user_id)
            .bind(m.role.as_str())
            .execute(&mut *conn)
            .await
            .ctx(DOING)?;
    }
    Ok(())
}

/// Everyone `m` names: chair, secretary, its people, and its body's members
/// as of its date.
pub async fn people_of(store: &Store, m: &Meeting) -> Result<MeetingPeople, StoreError> {
    let mut out = MeetingPeople::default();
    if let Some(body) = &m.body_id {
        for (user, voting) in body_members_on(store, body, m.local_date).await? {
            let e = out.entry(&user);
            e.voting |= voting;
        }
    }
    for member in &m.members {
        let e = out.entry(&member.user_id);
        e.voting |= member.role == MemberRole::Voting;
    }
    if let Some(chair) = &m.chair_user_id {
        let e = out.entry(chair);
        e.chair = true;
        // The chair of a Party meeting is one of its voting members.
        e.voting = true;
    }
    if let Some(sec) = &m.secretary_user_id {
        out.entry(sec).secretary = true;
    }
    Ok(out)
}

/// The members of `body` on `on`: (user id, votes).
pub async fn body_members_on(
    store: &Store,
    body: &str,
    on: Date,
) -> Result<Vec<(String, bool)>, StoreError> {
    const DOING: &str = "reading a body's members";
    let day = date::to_text(on);
    let rows = sqlx::query(
        "SELECT user_id, voting FROM body_members
         WHERE body_id = $1 AND valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2)
         ORDER BY user_id",
    )
    .bind(body)
    .bind(&day)
    .fetch_all(store.pool())
    .await
    .ctx(DOING)?;
    rows.iter()
        .map(|r| {
            let voting: i64 = r.try_get(1).ctx(DOING)?;
            Ok((r.try_get(0).ctx(DOING)?, voting != 0))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executive_and_standing_committee_meetings_are_closed_by_default() {
        assert_eq!(
            AccessPolicy::default_for(MeetingKind::Bch),
            AccessPolicy::Closed
        );
        assert_eq!(
            AccessPolicy::default_for(MeetingKind::Btv),
            AccessPolicy::Closed
        );
        assert_eq!(
            AccessPolicy::default_for(MeetingKind::GiaoBan),
            AccessPolicy::Open
        );
        assert_eq!(
            AccessPolicy::default_for(MeetingKind::QuanTriet),
            AccessPolicy::Open
        );
    }

    #[test]
    fn a_person_named_twice_is_refused() {
        let m = |u: &str| MeetingMember {
            user_id: u.into(),
            role: MemberRole::Voting,
        };
        assert!(check_members(&[m("a"), m("b")]).is_ok());
        assert!(check_members(&[m("a"), m("a")]).is_err());
    }
}
