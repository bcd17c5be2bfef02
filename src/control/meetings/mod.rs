//! Meetings: scheduling, recurrence, participants by unit query, lifecycle, ICS.
//!
//! A meeting (hội nghị trực tuyến) is planned from a [`MeetingDraft`]: when,
//! what kind, the provincial hub room, the rooms taking part — named one by
//! one or as unit queries ("all communes of unit X") — the chair, the
//! secretary and the quorum. A recurring draft makes a series: one meeting
//! per occurrence, each with its own lifecycle and its own participants.
//!
//! Participants are resolved when asked, as of the meeting's local date, so
//! a meeting before a reorganisation reaches the old communes and one after
//! it reaches the merged ones, without anyone editing the meeting.
//!
//! Owns the `meetings`, `meeting_endpoints` and `meeting_unit_queries`
//! tables. Reads units through `control::org` and endpoints through
//! `control::endpoints`; checks that referenced endpoints and users exist
//! with a read inside its own write transaction, like `endpoints` does for
//! units.
//!
//! Split by concept: `recurrence` (rules and their expansion in local time),
//! `lifecycle` (open, start, end, cancel, opening by the clock),
//! `participants` (resolution and sub-operator scope), `ics` (RFC 5545).

mod dial_in;
mod ics;
mod lifecycle;
pub mod members;
mod participants;
mod recurrence;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{AnyConnection, Row};
use time::Date;

use crate::control::endpoints::EndpointError;
use crate::control::org::{OrgError, OrgKind, OrgTree, decode_err};
use crate::store::{Actor, SqlxResultExt, Store, StoreError, audit, date, new_id, now_ms};

pub use ics::ics_for;
pub use members::{AccessPolicy, MeetingMember, MeetingPeople, MemberRole, PersonStanding};
pub use participants::{ParticipantVia, ResolvedParticipant, ScopeSubject};
pub use recurrence::{
    Freq, LOCAL_OFFSET, MAX_INTERVAL, MAX_OCCURRENCES, Recurrence, Weekday, local_date, occurrences,
};

/// Longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 300;
/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 5000;
/// The most rooms a meeting names one by one.
pub const MAX_ENDPOINTS: usize = 2000;
/// The most unit queries one meeting has.
pub const MAX_UNIT_QUERIES: usize = 50;
/// The largest expected attendance.
pub const MAX_EXPECTED_PEOPLE: u32 = 100_000;
/// The quorum when none is given: Party rules hold a plenum valid when at
/// least two thirds of its members attend.
pub const DEFAULT_QUORUM_PERCENT: u8 = 67;
/// Longest meeting: a conference day; anything longer is a typo.
pub const MAX_DURATION_MS: i64 = 24 * 3_600_000;
/// How far ahead a meeting may be planned: two years (731 days, a leap day
/// included), beyond any Party committee's working programme.
pub const MAX_AHEAD_MS: i64 = 731 * 86_400_000;
/// 2000-01-01T00:00Z. An earlier start is almost always seconds sent where
/// milliseconds were meant; refusing it says so.
const EARLIEST_START_MS: i64 = 946_684_800_000;
/// Rows per multi-row INSERT or `IN (…)` list: well under SQLite's and
/// PostgreSQL's bind-parameter limits.
const BATCH: usize = 300;

// The kind is pure and read by the config too: it lives in diemcau-live.
pub use crate::control::live::kind::MeetingKind;

/// Where a meeting is in its life: scheduled → open (the lobby: rooms may
/// connect) → live → ended; scheduled or open → cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeetingState {
    Scheduled,
    Open,
    Live,
    Ended,
    Cancelled,
}

impl MeetingState {
    pub const ALL: [MeetingState; 5] = [
        MeetingState::Scheduled,
        MeetingState::Open,
        MeetingState::Live,
        MeetingState::Ended,
        MeetingState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MeetingState::Scheduled => "scheduled",
            MeetingState::Open => "open",
            MeetingState::Live => "live",
            MeetingState::Ended => "ended",
            MeetingState::Cancelled => "cancelled",
        }
    }

    /// Whether a meeting in this state may move to `to`.
    pub fn can_become(self, to: MeetingState) -> bool {
        use MeetingState::*;
        matches!(
            (self, to),
            (Scheduled, Open) | (Open, Live) | (Live, Ended) | (Scheduled | Open, Cancelled)
        )
    }

    /// Whether its plan may still be edited: not once it is live or over.
    pub fn is_editable(self) -> bool {
        matches!(self, MeetingState::Scheduled | MeetingState::Open)
    }
}

impl fmt::Display for MeetingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MeetingState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        MeetingState::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a meeting state; use scheduled, open, live, ended or cancelled"
                )
            })
    }
}

/// "Every unit of these kinds under `unit_id`", resolved at the meeting's date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitQuery {
    pub unit_id: String,
    /// Empty: every kind.
    #[serde(default)]
    pub kinds: Vec<OrgKind>,
    /// Also the unit itself (whatever its kind): "the province and all its communes".
    #[serde(default)]
    pub include_self: bool,
}

/// What a client sends to plan (or re-plan) a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingDraft {
    /// 1 to 300 characters; surrounding spaces are dropped.
    pub title: String,
    pub kind: MeetingKind,
    /// At most 5000 characters.
    #[serde(default)]
    pub description: String,
    /// Unix milliseconds; at most two years ahead.
    pub starts_at_ms: i64,
    /// After the start, at most 24 hours later.
    pub ends_at_ms: i64,
    /// Makes a series: one meeting per occurrence.
    #[serde(default)]
    pub recurrence: Option<Recurrence>,
    /// The provincial hub room, which chairs.
    #[serde(default)]
    pub hub_endpoint_id: Option<String>,
    /// Rooms named one by one (at most 2000, no repeats).
    #[serde(default)]
    pub endpoint_ids: Vec<String>,
    /// Rooms named by unit (at most 50 queries).
    #[serde(default)]
    pub unit_queries: Vec<UnitQuery>,
    /// A user holding the chair role.
    #[serde(default)]
    pub chair_user_id: Option<String>,
    /// A user holding the secretary role.
    #[serde(default)]
    pub secretary_user_id: Option<String>,
    /// How many people should attend (1 to 100000); the quorum counts
    /// people when set, rooms otherwise.
    #[serde(default)]
    pub expected_people: Option<u32>,
    /// 1 to 100; 67 when not given.
    #[serde(default)]
    pub quorum_percent: Option<u8>,
    /// `closed` or `open`; when not given, BCH and BTV meetings are closed
    /// and the rest open.
    #[serde(default)]
    pub access_policy: Option<AccessPolicy>,
    /// A body (BCH, BTV of a term) whose members on the meeting's date
    /// belong to the meeting.
    #[serde(default)]
    pub body_id: Option<String>,
    /// Rooms other than the hub join with their microphone muted; when not
    /// given, conferences (BCH, BTV, quán triệt, chuyên đề) do and briefings
    /// and other meetings do not. An operator changes it live too.
    #[serde(default)]
    pub mute_on_entry: Option<bool>,
    /// People named one by one besides the chair and the secretary:
    /// voting members and invited attendees (at most 500).
    #[serde(default)]
    pub members: Vec<MeetingMember>,
}

/// A planned meeting (one occurrence of a series is one meeting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Meeting {
    pub id: String,
    /// Shared by every occurrence of a recurring meeting; `None` for a one-off.
    pub series_id: Option<String>,
    /// 1-based place in its series (1 for a one-off).
    pub occurrence: u32,
    pub state: MeetingState,
    pub title: String,
    pub kind: MeetingKind,
    pub description: String,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    /// The local (UTC+07:00) date of the start: participants and scope are
    /// resolved as of this date.
    #[schemars(with = "String")]
    pub local_date: Date,
    /// The rule of its series, the same on every occurrence.
    pub recurrence: Option<Recurrence>,
    pub hub_endpoint_id: Option<String>,
    pub endpoint_ids: Vec<String>,
    pub unit_queries: Vec<UnitQuery>,
    pub chair_user_id: Option<String>,
    pub secretary_user_id: Option<String>,
    pub expected_people: Option<u32>,
    pub quorum_percent: u8,
    pub access_policy: AccessPolicy,
    pub body_id: Option<String>,
    /// Rooms other than the hub join muted (the live room's rule as it opens).
    pub mute_on_entry: bool,
    /// The number a SIP room codec dials (`sip:<number>@<server>`) to join.
    pub sip_dial_in: Option<String>,
    pub members: Vec<MeetingMember>,
    /// Revision for calendars (iCalendar SEQUENCE): bumped by every edit
    /// and by cancellation.
    pub sequence: u32,
    /// The actor id that planned it.
    pub created_by: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub opened_at_ms: Option<i64>,
    pub started_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    pub cancelled_at_ms: Option<i64>,
}

impl Meeting {
    /// The plan as a draft, for editing (without the series rule, which an
    /// edit of one occurrence keeps as it is).
    pub fn draft(&self) -> MeetingDraft {
        MeetingDraft {
            title: self.title.clone(),
            kind: self.kind,
            description: self.description.clone(),
            starts_at_ms: self.starts_at_ms,
            ends_at_ms: self.ends_at_ms,
            recurrence: None,
            hub_endpoint_id: self.hub_endpoint_id.clone(),
            endpoint_ids: self.endpoint_ids.clone(),
            unit_queries: self.unit_queries.clone(),
            chair_user_id: self.chair_user_id.clone(),
            secretary_user_id: self.secretary_user_id.clone(),
            expected_people: self.expected_people,
            quorum_percent: Some(self.quorum_percent),
            access_policy: Some(self.access_policy),
            mute_on_entry: Some(self.mute_on_entry),
            body_id: self.body_id.clone(),
            members: self.members.clone(),
        }
    }
}

/// Which meetings to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingFilter {
    /// Meetings still running at or after this instant (ends after it).
    #[serde(default)]
    pub from_ms: Option<i64>,
    /// Meetings starting before this instant.
    #[serde(default)]
    pub to_ms: Option<i64>,
    #[serde(default)]
    pub state: Option<MeetingState>,
    #[serde(default)]
    pub series_id: Option<String>,
    /// 1 to 500; 500 when not given.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// The most meetings one listing returns.
pub const MAX_LIST: u32 = 500;

/// Why a meeting operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum MeetingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Org(#[from] OrgError),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error("no meeting {0:?}")]
    Unknown(String),
    /// A refused value; `field` is its path in the draft
    /// (`unit_queries[2].unit_id`, `recurrence.count`).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("meeting {id} is {from}; it cannot become {to}")]
    IllegalTransition {
        id: String,
        from: MeetingState,
        to: MeetingState,
    },
    #[error("meeting {id} is {state}; only a scheduled or open meeting can be edited")]
    NotEditable { id: String, state: MeetingState },
}

pub(crate) fn invalid<T>(
    field: impl Into<String>,
    message: impl Into<String>,
) -> Result<T, MeetingError> {
    Err(MeetingError::Invalid {
        field: field.into(),
        message: message.into(),
    })
}

fn target(id: &str) -> String {
    format!("meeting:{id}")
}

/// A draft that passed the checks that need no database, normalised.
struct Checked {
    draft: MeetingDraft,
    quorum_percent: u8,
    access_policy: AccessPolicy,
    /// (start, end) of each meeting to make: one, or a series.
    slots: Vec<(i64, i64)>,
}

/// The checks that need no database. `now` bounds how far ahead.
fn check_draft(draft: &MeetingDraft, now: i64) -> Result<Checked, MeetingError> {
    let mut d = draft.clone();
    d.title = d.title.trim().to_string();
    d.description = d.description.trim().to_string();
    let title_chars = d.title.chars().count();
    if title_chars == 0 || title_chars > TITLE_MAX_CHARS {
        return invalid(
            "title",
            format!("a title is 1 to {TITLE_MAX_CHARS} characters (this one has {title_chars})"),
        );
    }
    if d.description.chars().count() > DESCRIPTION_MAX_CHARS {
        return invalid(
            "description",
            format!("a description is at most {DESCRIPTION_MAX_CHARS} characters"),
        );
    }
    if d.starts_at_ms < EARLIEST_START_MS {
        return invalid(
            "starts_at_ms",
            format!(
                "{} is before the year 2000; times are unix milliseconds, not seconds",
                d.starts_at_ms
            ),
        );
    }
    let latest = now.saturating_add(MAX_AHEAD_MS);
    if d.starts_at_ms > latest {
        return invalid(
            "starts_at_ms",
            "a meeting can be planned at most two years ahead",
        );
    }
    if d.ends_at_ms <= d.starts_at_ms {
        return invalid("ends_at_ms", "a meeting must end after it starts");
    }
    if d.ends_at_ms - d.starts_at_ms > MAX_DURATION_MS {
        return invalid("ends_at_ms", "a meeting lasts at most 24 hours");
    }
    let slots = match &d.recurrence {
        None => vec![(d.starts_at_ms, d.ends_at_ms)],
        Some(rule) => {
            let slots = occurrences(d.starts_at_ms, d.ends_at_ms, rule)?;
            if slots.iter().any(|(s, _)| *s > latest) {
                let field = if rule.count.is_some() {
                    "recurrence.count"
                } else {
                    "recurrence.until"
                };
                return invalid(
                    field,
                    "the series runs more than two years ahead; plan fewer meetings",
                );
            }
            slots
        }
    };
    if d.endpoint_ids.len() > MAX_ENDPOINTS {
        return invalid(
            "endpoint_ids",
            format!("a meeting names at most {MAX_ENDPOINTS} rooms one by one; use unit queries"),
        );
    }
    let mut first_at: HashMap<&str, usize> = HashMap::with_capacity(d.endpoint_ids.len());
    for (i, id) in d.endpoint_ids.iter().enumerate() {
        if let Some(j) = first_at.insert(id.as_str(), i) {
            return invalid(
                format!("endpoint_ids[{i}]"),
                format!("endpoint {id:?} is already listed at endpoint_ids[{j}]"),
            );
        }
    }
    if d.unit_queries.len() > MAX_UNIT_QUERIES {
        return invalid(
            "unit_queries",
            format!("a meeting has at most {MAX_UNIT_QUERIES} unit queries"),
        );
    }
    if let Some(n) = d.expected_people
        && !(1..=MAX_EXPECTED_PEOPLE).contains(&n)
    {
        return invalid(
            "expected_people",
            format!("{n} is not an attendance; use 1 to {MAX_EXPECTED_PEOPLE}"),
        );
    }
    let quorum_percent = d.quorum_percent.unwrap_or(DEFAULT_QUORUM_PERCENT);
    if !(1..=100).contains(&quorum_percent) {
        return invalid(
            "quorum_percent",
            format!("{quorum_percent} is not a percentage; use 1 to 100"),
        );
    }
    d.quorum_percent = Some(quorum_percent);
    members::check_members(&d.members)?;
    let access_policy = d
        .access_policy
        .unwrap_or_else(|| AccessPolicy::default_for(d.kind));
    d.access_policy = Some(access_policy);
    d.mute_on_entry = Some(d.mute_on_entry.unwrap_or_else(|| d.kind.mutes_on_entry()));
    Ok(Checked {
        draft: d,
        quorum_percent,
        access_policy,
        slots,
    })
}

/// `$1, $2, …, $n` starting after `offset` placeholders.
fn placeholders(offset: usize, n: usize) -> String {
    (offset + 1..=offset + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which of `ids` exist in `table` (a name from this module, never input).
async fn existing(
    conn: &mut AnyConnection,
    table: &'static str,
    ids: &[&str],
    doing: &'static str,
) -> Result<HashSet<String>, StoreError> {
    let mut found = HashSet::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH) {
        let sql = format!(
            "SELECT id FROM {table} WHERE id IN ({})",
            placeholders(0, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.fetch_all(&mut *conn).await.ctx(doing)? {
            found.insert(row.try_get(0).ctx(doing)?);
        }
    }
    Ok(found)
}

/// The user `id` must exist, be enabled and hold `role`.
async fn check_user_role(
    conn: &mut AnyConnection,
    field: &'static str,
    id: &str,
    role: crate::control::people::Role,
) -> Result<(), MeetingError> {
    const DOING: &str = "checking a meeting's chair or secretary";
    let row = sqlx::query("SELECT roles, disabled_at FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .ctx(DOING)?;
    let Some(row) = row else {
        return invalid(field, format!("no user {id:?}"));
    };
    let roles: String = row.try_get(0).ctx(DOING)?;
    let disabled: Option<i64> = row.try_get(1).ctx(DOING)?;
    if disabled.is_some() {
        return invalid(field, format!("user {id:?} is disabled"));
    }
    if !roles.split_whitespace().any(|r| r == role.as_str()) {
        return invalid(field, format!("user {id:?} does not hold the {role} role"));
    }
    Ok(())
}

const SELECT_MEETING: &str = "SELECT id, series_id, occurrence, state, title, kind, description, \
     starts_at, ends_at, recurrence, hub_endpoint_id, chair_user_id, secretary_user_id, \
     expected_people, quorum_percent, sequence, created_by, created_at, updated_at, \
     opened_at, started_at, ended_at, cancelled_at, access_policy, body_id, mute_on_entry, sip_dial_in FROM meetings";

fn meeting_from_row(row: &sqlx::any::AnyRow) -> Result<Meeting, StoreError> {
    const DOING: &str = "reading a meeting";
    let bad = decode_err(DOING);
    let state: String = row.try_get(3).ctx(DOING)?;
    let kind: String = row.try_get(5).ctx(DOING)?;
    let starts_at_ms: i64 = row.try_get(7).ctx(DOING)?;
    let recurrence: Option<String> = row.try_get(9).ctx(DOING)?;
    let occurrence: i64 = row.try_get(2).ctx(DOING)?;
    let expected: Option<i64> = row.try_get(13).ctx(DOING)?;
    let quorum: i64 = row.try_get(14).ctx(DOING)?;
    let sequence: i64 = row.try_get(15).ctx(DOING)?;
    let policy: String = row.try_get(23).ctx(DOING)?;
    let mute_on_entry: i64 = row.try_get(25).ctx(DOING)?;
    let number = |what: &str, n: i64| format!("{what} {n} is out of range");
    Ok(Meeting {
        id: row.try_get(0).ctx(DOING)?,
        series_id: row.try_get(1).ctx(DOING)?,
        occurrence: u32::try_from(occurrence).map_err(|_| bad(number("occurrence", occurrence)))?,
        state: state.parse().map_err(&bad)?,
        title: row.try_get(4).ctx(DOING)?,
        kind: kind.parse().map_err(&bad)?,
        description: row.try_get(6).ctx(DOING)?,
        starts_at_ms,
        ends_at_ms: row.try_get(8).ctx(DOING)?,
        local_date: local_date(starts_at_ms).ok_or_else(|| bad(number("start", starts_at_ms)))?,
        recurrence: recurrence
            .map(|r| serde_json::from_str(&r).map_err(|e| bad(format!("recurrence: {e}"))))
            .transpose()?,
        hub_endpoint_id: row.try_get(10).ctx(DOING)?,
        endpoint_ids: Vec::new(),
        unit_queries: Vec::new(),
        chair_user_id: row.try_get(11).ctx(DOING)?,
        secretary_user_id: row.try_get(12).ctx(DOING)?,
        expected_people: expected
            .map(|n| u32::try_from(n).map_err(|_| bad(number("expected people", n))))
            .transpose()?,
        quorum_percent: u8::try_from(quorum).map_err(|_| bad(number("quorum", quorum)))?,
        access_policy: policy.parse().map_err(&bad)?,
        body_id: row.try_get(24).ctx(DOING)?,
        mute_on_entry: mute_on_entry != 0,
        sip_dial_in: row.try_get(26).ctx(DOING)?,
        members: Vec::new(),
        sequence: u32::try_from(sequence).map_err(|_| bad(number("sequence", sequence)))?,
        created_by: row.try_get(16).ctx(DOING)?,
        created_at_ms: row.try_get(17).ctx(DOING)?,
        updated_at_ms: row.try_get(18).ctx(DOING)?,
        opened_at_ms: row.try_get(19).ctx(DOING)?,
        started_at_ms: row.try_get(20).ctx(DOING)?,
        ended_at_ms: row.try_get(21).ctx(DOING)?,
        cancelled_at_ms: row.try_get(22).ctx(DOING)?,
    })
}

/// Meetings over a store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Meetings {
    store: Store,
}

impl Meetings {
    pub fn new(store: Store) -> Meetings {
        Meetings { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Checks against the org tree, outside the write transaction: units
    /// are never deleted, so a unit found here still exists at commit, and
    /// whether it exists on a date matters only when participants are
    /// resolved, which happens later anyway.
    async fn check_units(&self, d: &MeetingDraft, on: Date) -> Result<(), MeetingError> {
        let org = OrgTree::new(self.store.clone());
        for (i, q) in d.unit_queries.iter().enumerate() {
            let field = || format!("unit_queries[{i}].unit_id");
            match org.resolve(&q.unit_id, on).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    let unit = org.unit(&q.unit_id).await?;
                    return invalid(
                        field(),
                        format!("unit {} does not exist on {on}", unit.code),
                    );
                }
                Err(OrgError::UnknownUnit(_)) => {
                    return invalid(field(), format!("no org unit {:?}", q.unit_id));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Checks of endpoints and users, inside the write transaction so they
    /// still hold at commit (a user disabled meanwhile is seen).
    async fn check_references(
        conn: &mut AnyConnection,
        d: &MeetingDraft,
    ) -> Result<(), MeetingError> {
        let mut ids: Vec<&str> = d.endpoint_ids.iter().map(String::as_str).collect();
        if let Some(hub) = &d.hub_endpoint_id {
            ids.push(hub);
        }
        let found = existing(conn, "endpoints", &ids, "checking a meeting's endpoints").await?;
        if let Some(hub) = &d.hub_endpoint_id
            && !found.contains(hub)
        {
            return invalid("hub_endpoint_id", format!("no endpoint {hub:?}"));
        }
        for (i, id) in d.endpoint_ids.iter().enumerate() {
            if !found.contains(id) {
                return invalid(format!("endpoint_ids[{i}]"), format!("no endpoint {id:?}"));
            }
        }
        use crate::control::people::Role;
        if let Some(chair) = &d.chair_user_id {
            check_user_role(conn, "chair_user_id", chair, Role::Chair).await?;
        }
        if let Some(secretary) = &d.secretary_user_id {
            check_user_role(conn, "secretary_user_id", secretary, Role::Secretary).await?;
        }
        members::check_member_references(conn, &d.members, d.body_id.as_deref()).await?;
        Ok(())
    }

    /// Write a meeting's participant lists (after removing the old ones on edit).
    async fn write_lists(
        conn: &mut AnyConnection,
        id: &str,
        d: &MeetingDraft,
    ) -> Result<(), StoreError> {
        const DOING: &str = "saving a meeting's participants";
        let indexed: Vec<(usize, &String)> = d.endpoint_ids.iter().enumerate().collect();
        for chunk in indexed.chunks(BATCH) {
            let values = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO meeting_endpoints (meeting_id, position, endpoint_id) VALUES {values}"
            );
            let mut q = sqlx::query(&sql);
            for (pos, ep) in chunk {
                q = q.bind(id).bind(*pos as i64).bind(ep.as_str());
            }
            q.execute(&mut *conn).await.ctx(DOING)?;
        }
        for (pos, uq) in d.unit_queries.iter().enumerate() {
            let kinds = uq
                .kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            sqlx::query(
                "INSERT INTO meeting_unit_queries (meeting_id, position, unit_id, kinds, include_self)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(pos as i64)
            .bind(&uq.unit_id)
            .bind(kinds)
            .bind(i64::from(uq.include_self))
            .execute(&mut *conn)
            .await
            .ctx(DOING)?;
        }
        members::write_members(conn, id, &d.members).await?;
        Ok(())
    }

    /// Plan a meeting, or a series when the draft recurs: one meeting per
    /// occurrence, first to last, all in one transaction (all or none).
    pub async fn create(
        &self,
        actor: &Actor,
        draft: MeetingDraft,
    ) -> Result<Vec<Meeting>, MeetingError> {
        let now = now_ms();
        let checked = check_draft(&draft, now)?;
        let d = &checked.draft;
        let first_day = local_date(checked.slots[0].0).ok_or_else(|| MeetingError::Invalid {
            field: "starts_at_ms".into(),
            message: "out of range".into(),
        })?;
        self.check_units(d, first_day).await?;
        let mut tx = self.store.begin_write().await?;
        Self::check_references(&mut tx, d).await?;
        let series_id = d.recurrence.as_ref().map(|_| new_id("ser_"));
        let recurrence = d
            .recurrence
            .as_ref()
            .map(|r| serde_json::to_string(r).unwrap_or_default());
        let mut ids = Vec::with_capacity(checked.slots.len());
        for (i, (start, end)) in checked.slots.iter().enumerate() {
            let id = new_id("mtg_");
            let occurrence = i as i64 + 1;
            let local = local_date(*start).map(date::to_text).unwrap_or_default();
            sqlx::query(
                "INSERT INTO meetings (id, series_id, occurrence, state, title, kind, description,
                     starts_at, ends_at, local_date, recurrence, hub_endpoint_id, chair_user_id,
                     secretary_user_id, expected_people, quorum_percent, sequence, created_by,
                     created_at, updated_at, access_policy, body_id, mute_on_entry, sip_dial_in)
                 VALUES ($1, $2, $3, 'scheduled', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                     $15, 0, $16, $17, $17, $18, $19, $20, $21)",
            )
            .bind(&id)
            .bind(series_id.clone())
            .bind(occurrence)
            .bind(&d.title)
            .bind(d.kind.as_str())
            .bind(&d.description)
            .bind(*start)
            .bind(*end)
            .bind(local)
            .bind(recurrence.clone())
            .bind(d.hub_endpoint_id.clone())
            .bind(d.chair_user_id.clone())
            .bind(d.secretary_user_id.clone())
            .bind(d.expected_people.map(i64::from))
            .bind(i64::from(checked.quorum_percent))
            .bind(&actor.id)
            .bind(now)
            .bind(checked.access_policy.as_str())
            .bind(d.body_id.clone())
            .bind(i64::from(d.mute_on_entry.unwrap_or(false)))
            .bind(Self::next_dial_in(&mut tx).await?)
            .execute(&mut *tx)
            .await
            .ctx("creating a meeting")?;
            Self::write_lists(&mut tx, &id, d).await?;
            let mut details = serde_json::to_value(d).unwrap_or_default();
            details["starts_at_ms"] = json!(start);
            details["ends_at_ms"] = json!(end);
            details["series_id"] = json!(series_id);
            details["occurrence"] = json!(occurrence);
            audit::append(&mut tx, actor, "meeting.create", &target(&id), &details).await?;
            ids.push(id);
        }
        tx.commit().await.ctx("creating a meeting")?;
        self.get_many(&ids).await
    }

    pub async fn get(&self, id: &str) -> Result<Meeting, MeetingError> {
        self.get_many(&[id.to_string()])
            .await?
            .pop()
            .ok_or_else(|| MeetingError::Unknown(id.to_string()))
    }

    /// Meetings by id, in the order given (missing ids are left out).
    async fn get_many(&self, ids: &[String]) -> Result<Vec<Meeting>, MeetingError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            let sql = format!(
                "{SELECT_MEETING} WHERE id IN ({})",
                placeholders(0, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            let rows = q
                .fetch_all(self.store.pool())
                .await
                .ctx("reading a meeting")?;
            let mut by_id: HashMap<String, Meeting> = rows
                .iter()
                .map(|r| meeting_from_row(r).map(|m| (m.id.clone(), m)))
                .collect::<Result<_, _>>()?;
            out.extend(chunk.iter().filter_map(|id| by_id.remove(id)));
        }
        self.fill_lists(&mut out).await?;
        Ok(out)
    }

    /// Load the endpoint lists and unit queries of `meetings`.
    async fn fill_lists(&self, meetings: &mut [Meeting]) -> Result<(), MeetingError> {
        const DOING: &str = "reading a meeting's participants";
        let index: HashMap<String, usize> = meetings
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.clone(), i))
            .collect();
        let ids: Vec<&String> = index.keys().collect();
        for chunk in ids.chunks(BATCH) {
            let list = placeholders(0, chunk.len());
            let sql = format!(
                "SELECT meeting_id, endpoint_id FROM meeting_endpoints
                 WHERE meeting_id IN ({list}) ORDER BY meeting_id, position"
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            for row in q.fetch_all(self.store.pool()).await.ctx(DOING)? {
                let m: String = row.try_get(0).ctx(DOING)?;
                if let Some(&i) = index.get(&m) {
                    meetings[i].endpoint_ids.push(row.try_get(1).ctx(DOING)?);
                }
            }
            let sql = format!(
                "SELECT meeting_id, unit_id, kinds, include_self FROM meeting_unit_queries
                 WHERE meeting_id IN ({list}) ORDER BY meeting_id, position"
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            for row in q.fetch_all(self.store.pool()).await.ctx(DOING)? {
                let m: String = row.try_get(0).ctx(DOING)?;
                let kinds: String = row.try_get(2).ctx(DOING)?;
                let include_self: i64 = row.try_get(3).ctx(DOING)?;
                let query = UnitQuery {
                    unit_id: row.try_get(1).ctx(DOING)?,
                    kinds: kinds
                        .split_whitespace()
                        .map(OrgKind::from_str)
                        .collect::<Result<_, _>>()
                        .map_err(decode_err(DOING))?,
                    include_self: include_self != 0,
                };
                if let Some(&i) = index.get(&m) {
                    meetings[i].unit_queries.push(query);
                }
            }
            let sql = format!(
                "SELECT meeting_id, user_id, role FROM meeting_people
                 WHERE meeting_id IN ({list}) ORDER BY meeting_id, user_id"
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            for row in q.fetch_all(self.store.pool()).await.ctx(DOING)? {
                let m: String = row.try_get(0).ctx(DOING)?;
                let role: String = row.try_get(2).ctx(DOING)?;
                let member = MeetingMember {
                    user_id: row.try_get(1).ctx(DOING)?,
                    role: role.parse().map_err(decode_err(DOING))?,
                };
                if let Some(&i) = index.get(&m) {
                    meetings[i].members.push(member);
                }
            }
        }
        Ok(())
    }

    /// Meetings overlapping `[from_ms, to_ms)` (either bound optional), in
    /// one state or any, in one series or any, by start.
    pub async fn list(&self, filter: &MeetingFilter) -> Result<Vec<Meeting>, MeetingError> {
        let limit = filter.limit.unwrap_or(MAX_LIST);
        if !(1..=MAX_LIST).contains(&limit) {
            return invalid(
                "limit",
                format!("{limit} is not a limit; use 1 to {MAX_LIST}"),
            );
        }
        if let (Some(from), Some(to)) = (filter.from_ms, filter.to_ms)
            && to < from
        {
            return invalid("to_ms", "the end of the range is before its start");
        }
        let mut conditions = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        if filter.from_ms.is_some() {
            conditions.push(format!("ends_at > ${}", next()));
        }
        if filter.to_ms.is_some() {
            conditions.push(format!("starts_at < ${}", next()));
        }
        if filter.state.is_some() {
            conditions.push(format!("state = ${}", next()));
        }
        if filter.series_id.is_some() {
            conditions.push(format!("series_id = ${}", next()));
        }
        let limit_at = next();
        let mut sql = SELECT_MEETING.to_string();
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(&format!(
            " ORDER BY starts_at, series_id, occurrence, id LIMIT ${limit_at}"
        ));
        let mut q = sqlx::query(&sql);
        if let Some(from) = filter.from_ms {
            q = q.bind(from);
        }
        if let Some(to) = filter.to_ms {
            q = q.bind(to);
        }
        if let Some(state) = filter.state {
            q = q.bind(state.as_str());
        }
        if let Some(series) = &filter.series_id {
            q = q.bind(series.as_str());
        }
        let rows = q
            .bind(i64::from(limit))
            .fetch_all(self.store.pool())
            .await
            .ctx("listing meetings")?;
        let mut out = rows
            .iter()
            .map(meeting_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.fill_lists(&mut out).await?;
        Ok(out)
    }

    /// Re-plan one meeting (one occurrence, for a series) while it is
    /// scheduled or open. The draft is checked like a new one; its
    /// `recurrence` must be absent or the series' own rule, which an edit
    /// never changes.
    pub async fn update(
        &self,
        actor: &Actor,
        id: &str,
        draft: MeetingDraft,
    ) -> Result<Meeting, MeetingError> {
        let current = self.get(id).await?;
        if draft
            .recurrence
            .as_ref()
            .is_some_and(|r| Some(r) != current.recurrence.as_ref())
        {
            return invalid(
                "recurrence",
                "a series' rule is set when it is created; edit or cancel its meetings one by one",
            );
        }
        let mut plain = draft;
        plain.recurrence = None;
        let checked = check_draft(&plain, now_ms())?;
        let d = &checked.draft;
        let on = local_date(d.starts_at_ms).ok_or_else(|| MeetingError::Invalid {
            field: "starts_at_ms".into(),
            message: "out of range".into(),
        })?;
        self.check_units(d, on).await?;
        let mut tx = self.store.begin_write().await?;
        // Read again under the write lock: the state may have moved on.
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM meetings WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .ctx("updating a meeting")?;
        let state: MeetingState = state
            .ok_or_else(|| MeetingError::Unknown(id.to_string()))?
            .parse()
            .map_err(decode_err("updating a meeting"))?;
        if !state.is_editable() {
            return Err(MeetingError::NotEditable {
                id: id.to_string(),
                state,
            });
        }
        Self::check_references(&mut tx, d).await?;
        let now = now_ms();
        sqlx::query(
            "UPDATE meetings SET title = $1, kind = $2, description = $3, starts_at = $4,
                 ends_at = $5, local_date = $6, hub_endpoint_id = $7, chair_user_id = $8,
                 secretary_user_id = $9, expected_people = $10, quorum_percent = $11,
                 sequence = sequence + 1, updated_at = $12, access_policy = $14, body_id = $15,
                 mute_on_entry = $16
             WHERE id = $13",
        )
        .bind(&d.title)
        .bind(d.kind.as_str())
        .bind(&d.description)
        .bind(d.starts_at_ms)
        .bind(d.ends_at_ms)
        .bind(date::to_text(on))
        .bind(d.hub_endpoint_id.clone())
        .bind(d.chair_user_id.clone())
        .bind(d.secretary_user_id.clone())
        .bind(d.expected_people.map(i64::from))
        .bind(i64::from(checked.quorum_percent))
        .bind(now)
        .bind(id)
        .bind(checked.access_policy.as_str())
        .bind(d.body_id.clone())
        .bind(i64::from(checked.draft.mute_on_entry.unwrap_or(false)))
        .execute(&mut *tx)
        .await
        .ctx("updating a meeting")?;
        for table in ["meeting_endpoints", "meeting_unit_queries"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE meeting_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await
                .ctx("updating a meeting")?;
        }
        Self::write_lists(&mut tx, id, d).await?;
        let details = serde_json::to_value(d).unwrap_or_default();
        audit::append(&mut tx, actor, "meeting.update", &target(id), &details).await?;
        tx.commit().await.ctx("updating a meeting")?;
        self.get(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_760_000_000_000; // 2025-10-09

    fn draft() -> MeetingDraft {
        MeetingDraft {
            title: "  Hội nghị Ban Chấp hành Đảng bộ tỉnh lần thứ 5  ".into(),
            kind: MeetingKind::Bch,
            description: String::new(),
            starts_at_ms: NOW + 86_400_000,
            ends_at_ms: NOW + 86_400_000 + 4 * 3_600_000,
            recurrence: None,
            hub_endpoint_id: None,
            endpoint_ids: Vec::new(),
            unit_queries: Vec::new(),
            chair_user_id: None,
            secretary_user_id: None,
            expected_people: None,
            quorum_percent: None,
            access_policy: None,
            mute_on_entry: None,
            body_id: None,
            members: Vec::new(),
        }
    }

    fn field(d: MeetingDraft) -> String {
        match check_draft(&d, NOW) {
            Err(MeetingError::Invalid { field, .. }) => field,
            other => panic!("expected a field error, got {:?}", other.map(|c| c.slots)),
        }
    }

    #[test]
    fn a_good_draft_is_trimmed_and_gets_the_two_thirds_quorum() {
        let c = check_draft(&draft(), NOW).unwrap();
        assert_eq!(
            c.draft.title,
            "Hội nghị Ban Chấp hành Đảng bộ tỉnh lần thứ 5"
        );
        assert_eq!(c.quorum_percent, 67);
        assert_eq!(c.slots.len(), 1);
    }

    #[test]
    fn each_refusal_names_its_field() {
        let mut d = draft();
        d.title = "   ".into();
        assert_eq!(field(d), "title");
        let mut d = draft();
        d.title = "đ".repeat(301);
        assert_eq!(field(d), "title");
        let mut d = draft();
        d.description = "x".repeat(5001);
        assert_eq!(field(d), "description");
        let mut d = draft();
        d.ends_at_ms = d.starts_at_ms;
        assert_eq!(field(d), "ends_at_ms");
        let mut d = draft();
        d.ends_at_ms = d.starts_at_ms + MAX_DURATION_MS + 1;
        assert_eq!(field(d), "ends_at_ms");
        let mut d = draft();
        d.starts_at_ms = NOW + MAX_AHEAD_MS + 1;
        d.ends_at_ms = d.starts_at_ms + 1;
        assert_eq!(field(d), "starts_at_ms");
        let mut d = draft();
        d.starts_at_ms = 1_760_000_000; // seconds, not milliseconds
        d.ends_at_ms = d.starts_at_ms + 1;
        assert_eq!(field(d), "starts_at_ms");
        let mut d = draft();
        d.endpoint_ids = vec!["ep_a".into(), "ep_b".into(), "ep_a".into()];
        assert_eq!(field(d), "endpoint_ids[2]");
        let mut d = draft();
        d.unit_queries = (0..51)
            .map(|i| UnitQuery {
                unit_id: format!("ou_{i}"),
                kinds: Vec::new(),
                include_self: false,
            })
            .collect();
        assert_eq!(field(d), "unit_queries");
        let mut d = draft();
        d.expected_people = Some(100_001);
        assert_eq!(field(d), "expected_people");
        let mut d = draft();
        d.quorum_percent = Some(0);
        assert_eq!(field(d), "quorum_percent");
        let mut d = draft();
        d.quorum_percent = Some(101);
        assert_eq!(field(d), "quorum_percent");
    }

    #[test]
    fn a_series_may_not_run_past_two_years_ahead() {
        let mut d = draft();
        d.starts_at_ms = NOW + MAX_AHEAD_MS - 30 * 86_400_000;
        d.ends_at_ms = d.starts_at_ms + 3_600_000;
        d.recurrence = Some(Recurrence {
            freq: Freq::Weekly,
            interval: 1,
            by_weekday: Vec::new(),
            count: Some(10),
            until: None,
        });
        assert_eq!(field(d), "recurrence.count");
    }

    #[test]
    fn transitions_follow_the_lifecycle() {
        use MeetingState::*;
        let legal: Vec<(MeetingState, MeetingState)> = MeetingState::ALL
            .into_iter()
            .flat_map(|a| MeetingState::ALL.into_iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            legal,
            [
                (Scheduled, Open),
                (Scheduled, Cancelled),
                (Open, Live),
                (Open, Cancelled),
                (Live, Ended)
            ]
        );
    }

    #[test]
    fn kinds_and_states_read_back_from_their_names() {
        for k in MeetingKind::ALL {
            assert_eq!(k.as_str().parse::<MeetingKind>().unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
        }
        for s in MeetingState::ALL {
            assert_eq!(s.as_str().parse::<MeetingState>().unwrap(), s);
        }
        assert_eq!(MeetingKind::GiaoBan.label_vi(), "Giao ban");
        let d: MeetingDraft = serde_json::from_str(
            r#"{"title":"Giao ban","kind":"giao_ban","starts_at_ms":1,"ends_at_ms":2}"#,
        )
        .unwrap();
        assert!(d.endpoint_ids.is_empty() && d.quorum_percent.is_none());
        assert!(
            serde_json::from_str::<MeetingDraft>(
                r#"{"title":"x","kind":"giao_ban","starts_at_ms":1,"ends_at_ms":2,"room":"x"}"#
            )
            .is_err(),
            "unknown fields are refused"
        );
    }
}
