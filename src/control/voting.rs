//! Voting (biểu quyết): motions of a meeting, each draft → open → closed →
//! published, cast by delegates (one vote each) or by rooms (one vote each,
//! weighted by the headcount the room states).
//!
//! Owns `motions`, `motion_ballots_cast`, `motion_tallies` and
//! `motion_open_votes`. Every change runs in one `begin_write` transaction
//! with its audit record; a refused step changes nothing.
//!
//! **Secret ballots.** No link between a voter and a choice is stored
//! anywhere, at any moment:
//! - `motion_ballots_cast` holds only (motion, voter): enough to refuse a
//!   second vote, with no choice and no time;
//! - while the vote is open each choice is sealed to the vote's key
//!   (`control::ballot_box`, the private half only in the memory of the
//!   node that opened it) into `motion_sealed_ballots`, and no tally is
//!   written: a copy of the database files — WAL, journal, PostgreSQL's dead
//!   row versions and WAL included — taken after any ballot shows who voted
//!   and unreadable ballots, and consecutive copies show no count moving;
//! - at close the box is opened in memory, only the totals are written to
//!   `motion_tallies` and the sealed ballots are deleted, in one
//!   transaction;
//! - the audit record of a secret ballot is `motion.ballot_cast` naming the
//!   voter (who took part is a public fact of the meeting, and an auditor
//!   must be able to check that only eligible voters voted) with empty
//!   details: no choice, no weight (a room's stated headcount could match a
//!   tally and betray its choice);
//! - nothing here logs or traces a choice, and errors never echo one.
//!
//! What no storage design can hide: a result where every voter chose the
//! same, or a room whose weight alone explains a tally, tells its own story.
//! That is why managers see only the number of ballots of a secret vote
//! until it is closed (see `api::v1::voting`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::control::ballot_box::{Ballot, BallotBox, BallotError};
use crate::store::{Actor, SqlxResultExt, Store, StoreError, audit, new_id, now_ms};

/// Open a closing secret vote's sealed ballots in memory, write only the
/// totals, and delete the sealed ballots — in the caller's transaction.
async fn count_sealed(
    tx: &mut AnyConnection,
    ballots: &BallotBox,
    motion: &str,
) -> Result<(), VotingError> {
    const DOING: &str = "counting a secret vote";
    let sealed: Vec<String> =
        sqlx::query_scalar("SELECT sealed FROM motion_sealed_ballots WHERE motion_id = $1")
            .bind(motion)
            .fetch_all(&mut *tx)
            .await
            .ctx(DOING)?;
    let opened = ballots
        .unseal_all(motion, &sealed)
        .map_err(VotingError::Ballot)?;
    let mut totals: std::collections::BTreeMap<u32, (i64, i64)> = Default::default();
    for b in opened {
        let t = totals.entry(b.option).or_default();
        t.0 += i64::from(b.weight);
        t.1 += 1;
    }
    for (option, (votes, count)) in totals {
        sqlx::query(
            "UPDATE motion_tallies SET votes = $3, ballots = $4
             WHERE motion_id = $1 AND option_index = $2",
        )
        .bind(motion)
        .bind(i64::from(option))
        .bind(votes)
        .bind(count)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
    }
    sqlx::query("DELETE FROM motion_sealed_ballots WHERE motion_id = $1")
        .bind(motion)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
    sqlx::query("UPDATE motions SET seal_key = NULL WHERE id = $1")
        .bind(motion)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
    Ok(())
}

/// Longest motion title, in characters.
pub const TITLE_MAX_CHARS: usize = 500;
/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 5000;
/// Longest option label, in characters.
pub const OPTION_MAX_CHARS: usize = 200;
/// Options per motion.
pub const MIN_OPTIONS: usize = 2;
pub const MAX_OPTIONS: usize = 20;
/// The largest headcount a room may vote with.
pub const MAX_HEADCOUNT: u32 = 10_000;
/// The options when none are given.
pub const DEFAULT_OPTIONS: [&str; 3] = ["Tán thành", "Không tán thành", "Không biểu quyết"];

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s { $($s => Ok($name::$variant),)+
                    _ => Err(format!("{s:?} is not a {}", stringify!($name))) }
            }
        }
    };
}

text_enum! {
    /// `open`: who chose what is recorded; `secret`: only the counts.
    MotionMode { Open => "open", Secret => "secret" }
}

text_enum! {
    /// Who votes: each delegate (a user holding the delegate or chair role)
    /// once, or each room of the meeting once, weighted by its headcount.
    Electorate { Delegates => "delegates", Rooms => "rooms" }
}

text_enum! {
    /// draft → open → closed → published.
    MotionState { Draft => "draft", Open => "open", Closed => "closed", Published => "published" }
}

impl MotionState {
    pub fn can_become(self, to: MotionState) -> bool {
        use MotionState::*;
        matches!(
            (self, to),
            (Draft, Open) | (Open, Closed) | (Closed, Published)
        )
    }
}

/// What a client sends to create a motion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MotionDraft {
    /// 1 to 500 characters; surrounding spaces are dropped.
    pub title: String,
    /// At most 5000 characters.
    #[serde(default)]
    pub description: String,
    /// 2 to 20 distinct, non-empty labels; "Tán thành", "Không tán thành",
    /// "Không biểu quyết" when not given.
    #[serde(default)]
    pub options: Option<Vec<String>>,
    pub mode: MotionMode,
    pub electorate: Electorate,
}

/// One option's count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OptionCount {
    pub index: u32,
    pub label: String,
    /// Weighted: a room counts its headcount, a person 1.
    pub votes: u64,
    pub ballots: u64,
}

/// One recorded vote of an open (not secret) motion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OpenVote {
    /// A user id, or a room endpoint id.
    pub voter_id: String,
    pub option_index: u32,
    pub weight: u32,
    pub at_ms: i64,
}

/// The counts of a motion, and for an open motion who chose what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Results {
    pub options: Vec<OptionCount>,
    pub total_votes: u64,
    /// Empty for a secret motion.
    pub votes: Vec<OpenVote>,
}

/// A motion, with its results when the reader may see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Motion {
    pub id: String,
    pub meeting_id: String,
    pub position: u32,
    pub title: String,
    pub description: String,
    pub options: Vec<String>,
    pub mode: MotionMode,
    pub electorate: Electorate,
    pub state: MotionState,
    pub created_at_ms: i64,
    pub opened_at_ms: Option<i64>,
    pub closed_at_ms: Option<i64>,
    pub published_at_ms: Option<i64>,
    /// How many voters have voted.
    pub ballots_cast: u64,
    /// `None` when the reader may not see the counts yet.
    pub results: Option<Results>,
    /// Whether the caller (a voter) has voted on it; `None` for callers
    /// who do not vote.
    pub you_voted: Option<bool>,
}

/// Who casts a vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Voter {
    /// A user (delegate or chair), weight 1.
    Person { user_id: String },
    /// A room endpoint of the meeting, weighted by the headcount it states.
    Room { endpoint_id: String, headcount: u32 },
}

impl Voter {
    fn id(&self) -> &str {
        match self {
            Voter::Person { user_id } => user_id,
            Voter::Room { endpoint_id, .. } => endpoint_id,
        }
    }
    fn weight(&self) -> u32 {
        match self {
            Voter::Person { .. } => 1,
            Voter::Room { headcount, .. } => *headcount,
        }
    }
}

/// An option by its 0-based index or by its label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Choice {
    Index(u32),
    Label(String),
}

/// Why a voting operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum VotingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no meeting {0:?}")]
    UnknownMeeting(String),
    #[error("no motion {0:?} in this meeting")]
    UnknownMotion(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("motion {id} is {from}; it cannot become {to}")]
    IllegalTransition {
        id: String,
        from: MotionState,
        to: MotionState,
    },
    #[error("meeting {id} is {state}; votes are opened and cast only while it is open or live")]
    MeetingNotOpen { id: String, state: String },
    #[error("motion {0} is not open for voting yet")]
    NotOpen(String),
    #[error("voting on motion {0} is closed")]
    Closed(String),
    #[error("you have already voted on motion {0}; a vote cannot be changed")]
    AlreadyVoted(String),
    #[error("{0}")]
    NotEligible(String),
    /// A secret vote's sealed ballots cannot be opened here.
    #[error("the secret ballots cannot be counted: {0}; hold the vote again")]
    Ballot(BallotError),
}

fn invalid<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, VotingError> {
    Err(VotingError::Invalid {
        field: field.into(),
        message: message.into(),
    })
}

fn target(id: &str) -> String {
    format!("motion:{id}")
}

fn decode(doing: &'static str) -> impl Fn(String) -> StoreError {
    move |message| StoreError::Invalid {
        what: format!("stored data while {doing}"),
        message,
    }
}

/// The checks that need no database; the draft normalised, with its options.
fn check_draft(draft: &MotionDraft) -> Result<(String, String, Vec<String>), VotingError> {
    let title = draft.title.trim().to_string();
    let n = title.chars().count();
    if n == 0 || n > TITLE_MAX_CHARS {
        return invalid(
            "title",
            format!("a title is 1 to {TITLE_MAX_CHARS} characters (this one has {n})"),
        );
    }
    let description = draft.description.trim().to_string();
    if description.chars().count() > DESCRIPTION_MAX_CHARS {
        return invalid(
            "description",
            format!("a description is at most {DESCRIPTION_MAX_CHARS} characters"),
        );
    }
    let options: Vec<String> = match &draft.options {
        None => DEFAULT_OPTIONS.iter().map(|s| s.to_string()).collect(),
        Some(o) => o.iter().map(|s| s.trim().to_string()).collect(),
    };
    if options.len() < MIN_OPTIONS || options.len() > MAX_OPTIONS {
        return invalid(
            "options",
            format!(
                "a motion has {MIN_OPTIONS} to {MAX_OPTIONS} options (this one has {})",
                options.len()
            ),
        );
    }
    for (i, label) in options.iter().enumerate() {
        let n = label.chars().count();
        if n == 0 || n > OPTION_MAX_CHARS {
            return invalid(
                format!("options[{i}]"),
                format!("an option is 1 to {OPTION_MAX_CHARS} characters"),
            );
        }
        if options[..i]
            .iter()
            .any(|o| o.to_lowercase() == label.to_lowercase())
        {
            return invalid(
                format!("options[{i}]"),
                "options must differ from each other",
            );
        }
    }
    Ok((title, description, options))
}

/// The meeting's state as the transaction sees it.
async fn meeting_state(conn: &mut AnyConnection, meeting: &str) -> Result<String, VotingError> {
    let s: Option<String> = sqlx::query_scalar("SELECT state FROM meetings WHERE id = $1")
        .bind(meeting)
        .fetch_optional(&mut *conn)
        .await
        .ctx("reading a meeting's state")?;
    s.ok_or_else(|| VotingError::UnknownMeeting(meeting.to_string()))
}

fn meeting_is_running(state: &str) -> bool {
    matches!(state, "open" | "live")
}

const MOTION_COLUMNS: &str = "id, meeting_id, position, title, description, options, mode, \
     electorate, state, created_at, opened_at, closed_at, published_at";

fn motion_from_row(row: &sqlx::any::AnyRow) -> Result<Motion, StoreError> {
    const DOING: &str = "reading a motion";
    let options: String = row.try_get(5).ctx(DOING)?;
    let mode: String = row.try_get(6).ctx(DOING)?;
    let electorate: String = row.try_get(7).ctx(DOING)?;
    let state: String = row.try_get(8).ctx(DOING)?;
    let position: i64 = row.try_get(2).ctx(DOING)?;
    Ok(Motion {
        id: row.try_get(0).ctx(DOING)?,
        meeting_id: row.try_get(1).ctx(DOING)?,
        position: u32::try_from(position).unwrap_or(0),
        title: row.try_get(3).ctx(DOING)?,
        description: row.try_get(4).ctx(DOING)?,
        options: serde_json::from_str(&options).map_err(|e| decode(DOING)(e.to_string()))?,
        mode: mode.parse().map_err(decode(DOING))?,
        electorate: electorate.parse().map_err(decode(DOING))?,
        state: state.parse().map_err(decode(DOING))?,
        created_at_ms: row.try_get(9).ctx(DOING)?,
        opened_at_ms: row.try_get(10).ctx(DOING)?,
        closed_at_ms: row.try_get(11).ctx(DOING)?,
        published_at_ms: row.try_get(12).ctx(DOING)?,
        ballots_cast: 0,
        results: None,
        you_voted: None,
    })
}

/// Motions over a store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Voting {
    store: Store,
    ballots: std::sync::Arc<crate::control::ballot_box::BallotBox>,
}

impl Voting {
    /// Voting with a ballot box of its own (secret votes it opens can be
    /// closed only through it).
    pub fn new(store: Store) -> Voting {
        Voting::with_ballot_box(store, Default::default())
    }

    /// Voting with the server's one ballot box.
    pub fn with_ballot_box(
        store: Store,
        ballots: std::sync::Arc<crate::control::ballot_box::BallotBox>,
    ) -> Voting {
        Voting { store, ballots }
    }

    /// Create a draft motion in `meeting` (not one that ended or was cancelled).
    pub async fn create(
        &self,
        actor: &Actor,
        meeting: &str,
        draft: &MotionDraft,
    ) -> Result<Motion, VotingError> {
        const DOING: &str = "creating a motion";
        let (title, description, options) = check_draft(draft)?;
        let mut tx = self.store.begin_write().await?;
        let state = meeting_state(&mut tx, meeting).await?;
        if matches!(state.as_str(), "ended" | "cancelled") {
            return Err(VotingError::MeetingNotOpen {
                id: meeting.into(),
                state,
            });
        }
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(position) FROM motions WHERE meeting_id = $1")
                .bind(meeting)
                .fetch_one(&mut *tx)
                .await
                .ctx(DOING)?;
        let position = last.unwrap_or(0) + 1;
        let id = new_id("mot_");
        let now = now_ms();
        let options_json = serde_json::to_string(&options).expect("strings serialise");
        sqlx::query(
            "INSERT INTO motions (id, meeting_id, position, title, description, options, mode,
                                  electorate, state, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'draft', $9)",
        )
        .bind(&id)
        .bind(meeting)
        .bind(position)
        .bind(&title)
        .bind(&description)
        .bind(&options_json)
        .bind(draft.mode.as_str())
        .bind(draft.electorate.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        for i in 0..options.len() {
            sqlx::query(
                "INSERT INTO motion_tallies (motion_id, option_index, votes, ballots)
                 VALUES ($1, $2, 0, 0)",
            )
            .bind(&id)
            .bind(i as i64)
            .execute(&mut *tx)
            .await
            .ctx(DOING)?;
        }
        // The labels of a secret motion stay out of the audit record: the
        // creator (often the chair) may vote on it too, and no record
        // should hold a voter's id beside an option label. The motion row
        // itself holds the labels and no user id.
        let mut details = json!({
            "meeting_id": meeting, "title": title, "mode": draft.mode.as_str(),
            "electorate": draft.electorate.as_str(), "option_count": options.len(),
        });
        if draft.mode == MotionMode::Open {
            details["options"] = json!(options);
        }
        audit::append(&mut tx, actor, "motion.create", &target(&id), &details).await?;
        tx.commit().await.ctx(DOING)?;
        self.get(meeting, &id).await
    }

    /// One motion of `meeting`, with its ballot count and full results
    /// (the API decides who sees them).
    pub async fn get(&self, meeting: &str, id: &str) -> Result<Motion, VotingError> {
        let row = sqlx::query(&format!(
            "SELECT {MOTION_COLUMNS} FROM motions WHERE id = $1 AND meeting_id = $2"
        ))
        .bind(id)
        .bind(meeting)
        .fetch_optional(self.store.pool())
        .await
        .ctx("reading a motion")?
        .ok_or_else(|| VotingError::UnknownMotion(id.to_string()))?;
        let mut m = motion_from_row(&row)?;
        self.fill(&mut m).await?;
        Ok(m)
    }

    /// The motions of `meeting`, in order, with counts and results.
    pub async fn list(&self, meeting: &str) -> Result<Vec<Motion>, VotingError> {
        let rows = sqlx::query(&format!(
            "SELECT {MOTION_COLUMNS} FROM motions WHERE meeting_id = $1 ORDER BY position"
        ))
        .bind(meeting)
        .fetch_all(self.store.pool())
        .await
        .ctx("listing motions")?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut m = motion_from_row(row)?;
            self.fill(&mut m).await?;
            out.push(m);
        }
        Ok(out)
    }

    async fn fill(&self, m: &mut Motion) -> Result<(), VotingError> {
        const DOING: &str = "reading a motion's counts";
        let pool = self.store.pool();
        let cast: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM motion_ballots_cast WHERE motion_id = $1")
                .bind(&m.id)
                .fetch_one(pool)
                .await
                .ctx(DOING)?;
        m.ballots_cast = u64::try_from(cast).unwrap_or(0);
        let rows = sqlx::query(
            "SELECT option_index, votes, ballots FROM motion_tallies
             WHERE motion_id = $1 ORDER BY option_index",
        )
        .bind(&m.id)
        .fetch_all(pool)
        .await
        .ctx(DOING)?;
        let mut options = Vec::with_capacity(rows.len());
        let mut total = 0u64;
        for row in rows {
            let index: i64 = row.try_get(0).ctx(DOING)?;
            let votes: i64 = row.try_get(1).ctx(DOING)?;
            let ballots: i64 = row.try_get(2).ctx(DOING)?;
            let votes = u64::try_from(votes).unwrap_or(0);
            total += votes;
            options.push(OptionCount {
                index: u32::try_from(index).unwrap_or(0),
                label: m
                    .options
                    .get(usize::try_from(index).unwrap_or(usize::MAX))
                    .cloned()
                    .unwrap_or_default(),
                votes,
                ballots: u64::try_from(ballots).unwrap_or(0),
            });
        }
        let mut votes = Vec::new();
        if m.mode == MotionMode::Open {
            let rows = sqlx::query(
                "SELECT voter_id, option_index, weight, at_ms FROM motion_open_votes
                 WHERE motion_id = $1 ORDER BY at_ms, voter_id",
            )
            .bind(&m.id)
            .fetch_all(pool)
            .await
            .ctx(DOING)?;
            for row in rows {
                let index: i64 = row.try_get(1).ctx(DOING)?;
                let weight: i64 = row.try_get(2).ctx(DOING)?;
                votes.push(OpenVote {
                    voter_id: row.try_get(0).ctx(DOING)?,
                    option_index: u32::try_from(index).unwrap_or(0),
                    weight: u32::try_from(weight).unwrap_or(0),
                    at_ms: row.try_get(3).ctx(DOING)?,
                });
            }
        }
        m.results = Some(Results {
            options,
            total_votes: total,
            votes,
        });
        Ok(())
    }

    /// Whether `voter_id` has voted on motion `id`.
    pub async fn has_voted(&self, id: &str, voter_id: &str) -> Result<bool, VotingError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM motion_ballots_cast WHERE motion_id = $1 AND voter_id = $2",
        )
        .bind(id)
        .bind(voter_id)
        .fetch_one(self.store.pool())
        .await
        .ctx("checking a ballot")?;
        Ok(n > 0)
    }

    /// One step of a motion; opening needs the meeting open or live.
    async fn transition(
        &self,
        actor: &Actor,
        meeting: &str,
        id: &str,
        to: MotionState,
    ) -> Result<Motion, VotingError> {
        const DOING: &str = "changing a motion's state";
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query("SELECT state, mode FROM motions WHERE id = $1 AND meeting_id = $2")
            .bind(id)
            .bind(meeting)
            .fetch_optional(&mut *tx)
            .await
            .ctx(DOING)?
            .ok_or_else(|| VotingError::UnknownMotion(id.to_string()))?;
        let from: String = row.try_get(0).ctx(DOING)?;
        let mode: String = row.try_get(1).ctx(DOING)?;
        let from: MotionState = from.parse().map_err(decode(DOING))?;
        let secret = mode.parse::<MotionMode>().map_err(decode(DOING))? == MotionMode::Secret;
        if !from.can_become(to) {
            return Err(VotingError::IllegalTransition {
                id: id.to_string(),
                from,
                to,
            });
        }
        if to == MotionState::Open {
            let state = meeting_state(&mut tx, meeting).await?;
            if !meeting_is_running(&state) {
                return Err(VotingError::MeetingNotOpen {
                    id: meeting.into(),
                    state,
                });
            }
        }
        let column = match to {
            MotionState::Open => "opened_at",
            MotionState::Closed => "closed_at",
            MotionState::Published => "published_at",
            MotionState::Draft => "created_at",
        };
        sqlx::query(&format!(
            "UPDATE motions SET state = $1, {column} = $2 WHERE id = $3 AND state = $4"
        ))
        .bind(to.as_str())
        .bind(now_ms())
        .bind(id)
        .bind(from.as_str())
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        if secret && to == MotionState::Open {
            let key = self.ballots.open(id).map_err(VotingError::Ballot)?;
            sqlx::query("UPDATE motions SET seal_key = $1 WHERE id = $2")
                .bind(key)
                .bind(id)
                .execute(&mut *tx)
                .await
                .ctx(DOING)?;
        }
        if secret && to == MotionState::Closed {
            count_sealed(&mut tx, &self.ballots, id).await?;
        }
        let mut details = json!({"meeting_id": meeting, "from": from.as_str(), "to": to.as_str()});
        if to == MotionState::Published {
            // Counts by option index (not label): the publisher may be a voter.
            let counts: Vec<i64> = sqlx::query_scalar(
                "SELECT votes FROM motion_tallies WHERE motion_id = $1 ORDER BY option_index",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await
            .ctx(DOING)?;
            details["votes_by_option_index"] = json!(counts);
        }
        let action = match to {
            MotionState::Open => "motion.open",
            MotionState::Closed => "motion.close",
            MotionState::Published => "motion.publish",
            MotionState::Draft => "motion.draft",
        };
        audit::append(&mut tx, actor, action, &target(id), &details).await?;
        tx.commit().await.ctx(DOING)?;
        if secret && to == MotionState::Closed {
            self.ballots.forget(id);
        }
        self.get(meeting, id).await
    }

    pub async fn open(
        &self,
        actor: &Actor,
        meeting: &str,
        id: &str,
    ) -> Result<Motion, VotingError> {
        self.transition(actor, meeting, id, MotionState::Open).await
    }

    pub async fn close(
        &self,
        actor: &Actor,
        meeting: &str,
        id: &str,
    ) -> Result<Motion, VotingError> {
        let m = self
            .transition(actor, meeting, id, MotionState::Closed)
            .await?;
        if m.mode == MotionMode::Secret {
            self.scrub_history().await;
        }
        Ok(m)
    }

    /// A secret ballot's tallies were rewritten once per vote; the older
    /// versions of those rows, in write order, could be matched against
    /// the order of `motion_ballots_cast`. Once the vote closes, drop what
    /// the database still keeps of them: SQLite zeroes freed pages
    /// (`secure_delete`, set on every connection) and here truncates its
    /// WAL; PostgreSQL rewrites the small tallies table (its own WAL
    /// segments are recycled on its schedule — see ARCHITECTURE.md).
    /// Best effort: a failure is logged and the vote stands.
    async fn scrub_history(&self) {
        let sql = match self.store.backend() {
            crate::store::Backend::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)",
            crate::store::Backend::Postgres => "VACUUM FULL motion_sealed_ballots",
        };
        if let Err(e) = sqlx::query(sql).execute(self.store.pool()).await {
            tracing::warn!(error = %e, "scrubbing old tally versions after a secret vote failed");
        }
    }

    pub async fn publish(
        &self,
        actor: &Actor,
        meeting: &str,
        id: &str,
    ) -> Result<Motion, VotingError> {
        self.transition(actor, meeting, id, MotionState::Published)
            .await
    }

    /// Cast `voter`'s vote for `choice` on motion `id` of `meeting`. The
    /// caller has checked that the voter may act (a person for themselves,
    /// a room for itself); this checks the electorate, the states, the
    /// choice and that the voter has not voted yet — all under the writers'
    /// lock, so two concurrent votes of one voter count once.
    pub async fn cast(
        &self,
        actor: &Actor,
        meeting: &str,
        id: &str,
        voter: &Voter,
        choice: &Choice,
    ) -> Result<(), VotingError> {
        const DOING: &str = "casting a vote";
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query(&format!(
            "SELECT {MOTION_COLUMNS} FROM motions WHERE id = $1 AND meeting_id = $2"
        ))
        .bind(id)
        .bind(meeting)
        .fetch_optional(&mut *tx)
        .await
        .ctx(DOING)?
        .ok_or_else(|| VotingError::UnknownMotion(id.to_string()))?;
        let m = motion_from_row(&row)?;
        let state = meeting_state(&mut tx, meeting).await?;
        if !meeting_is_running(&state) {
            return Err(VotingError::MeetingNotOpen {
                id: meeting.into(),
                state,
            });
        }
        match m.state {
            MotionState::Draft => return Err(VotingError::NotOpen(id.to_string())),
            MotionState::Closed | MotionState::Published => {
                return Err(VotingError::Closed(id.to_string()));
            }
            MotionState::Open => {}
        }
        match (m.electorate, voter) {
            (Electorate::Delegates, Voter::Person { .. })
            | (Electorate::Rooms, Voter::Room { .. }) => {}
            (Electorate::Delegates, Voter::Room { .. }) => {
                return Err(VotingError::NotEligible(format!(
                    "motion {id} is voted by delegates, not by rooms"
                )));
            }
            (Electorate::Rooms, Voter::Person { .. }) => {
                return Err(VotingError::NotEligible(format!(
                    "motion {id} is voted by the rooms of the meeting, each with its headcount"
                )));
            }
        }
        if let Voter::Room { headcount, .. } = voter
            && !(1..=MAX_HEADCOUNT).contains(headcount)
        {
            return invalid(
                "headcount",
                format!("a room votes with its headcount, 1 to {MAX_HEADCOUNT}"),
            );
        }
        let index = match choice {
            Choice::Index(i) if (*i as usize) < m.options.len() => *i as usize,
            Choice::Index(_) => {
                return invalid(
                    "option",
                    format!("an option index is 0 to {}", m.options.len() - 1),
                );
            }
            Choice::Label(l) => match m.options.iter().position(|o| o == l.trim()) {
                Some(i) => i,
                None => return invalid("option", "not one of this motion's options"),
            },
        };
        let voted: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM motion_ballots_cast WHERE motion_id = $1 AND voter_id = $2",
        )
        .bind(id)
        .bind(voter.id())
        .fetch_one(&mut *tx)
        .await
        .ctx(DOING)?;
        if voted > 0 {
            return Err(VotingError::AlreadyVoted(id.to_string()));
        }
        sqlx::query("INSERT INTO motion_ballots_cast (motion_id, voter_id) VALUES ($1, $2)")
            .bind(id)
            .bind(voter.id())
            .execute(&mut *tx)
            .await
            .ctx(DOING)?;
        match m.mode {
            MotionMode::Open => {
                sqlx::query(
                    "UPDATE motion_tallies
                     SET votes = votes + $3, ballots = ballots + 1
                     WHERE motion_id = $1 AND option_index = $2",
                )
                .bind(id)
                .bind(index as i64)
                .bind(i64::from(voter.weight()))
                .execute(&mut *tx)
                .await
                .ctx(DOING)?;
                let now = now_ms();
                sqlx::query(
                    "INSERT INTO motion_open_votes (motion_id, voter_id, option_index, weight, at_ms)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(voter.id())
                .bind(index as i64)
                .bind(i64::from(voter.weight()))
                .bind(now)
                .execute(&mut *tx)
                .await
                .ctx(DOING)?;
                let details = json!({
                    "meeting_id": meeting, "voter_id": voter.id(), "option_index": index,
                    "option": m.options[index], "weight": voter.weight(),
                });
                audit::append(&mut tx, actor, "motion.vote", &target(id), &details).await?;
            }
            MotionMode::Secret => {
                // Sealed to the vote's key; no tally moves until it closes.
                let key: Option<String> =
                    sqlx::query_scalar("SELECT seal_key FROM motions WHERE id = $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await
                        .ctx(DOING)?;
                let key = key.ok_or(VotingError::Ballot(BallotError::KeyLost))?;
                let sealed = crate::control::ballot_box::seal(
                    &key,
                    id,
                    Ballot {
                        option: index as u32,
                        weight: voter.weight(),
                    },
                )
                .map_err(VotingError::Ballot)?;
                sqlx::query(
                    "INSERT INTO motion_sealed_ballots (id, motion_id, sealed) VALUES ($1, $2, $3)",
                )
                .bind(new_id("bal_"))
                .bind(id)
                .bind(sealed)
                .execute(&mut *tx)
                .await
                .ctx(DOING)?;
                // That the voter took part, nothing about the choice (see the module doc).
                let details = json!({"meeting_id": meeting, "voter_id": voter.id()});
                audit::append(&mut tx, actor, "motion.ballot_cast", &target(id), &details).await?;
            }
        }
        tx.commit().await.ctx(DOING)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(options: Option<Vec<&str>>) -> MotionDraft {
        MotionDraft {
            title: "  Thông qua nghị quyết  ".into(),
            description: String::new(),
            options: options.map(|o| o.into_iter().map(String::from).collect()),
            mode: MotionMode::Secret,
            electorate: Electorate::Delegates,
        }
    }

    #[test]
    fn voting_drafts_default_options_and_refuse_bad_ones() {
        let (title, _, options) = check_draft(&draft(None)).unwrap();
        assert_eq!(title, "Thông qua nghị quyết");
        assert_eq!(options, DEFAULT_OPTIONS);
        for (bad, field) in [
            (vec!["Có"], "options"),
            (vec!["Có", " "], "options[1]"),
            (vec!["Có", "có"], "options[1]"),
        ] {
            match check_draft(&draft(Some(bad))) {
                Err(VotingError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{other:?}"),
            }
        }
        let mut long = draft(None);
        long.title = "x".repeat(501);
        assert!(
            matches!(check_draft(&long), Err(VotingError::Invalid { field, .. }) if field == "title")
        );
    }

    #[test]
    fn voting_states_move_forward_only() {
        use MotionState::*;
        assert!(Draft.can_become(Open) && Open.can_become(Closed) && Closed.can_become(Published));
        assert!(
            !Draft.can_become(Closed) && !Published.can_become(Open) && !Closed.can_become(Open)
        );
    }

    #[test]
    fn voting_choice_is_an_index_or_a_label() {
        assert_eq!(
            serde_json::from_str::<Choice>("2").unwrap(),
            Choice::Index(2)
        );
        assert_eq!(
            serde_json::from_str::<Choice>("\"Tán thành\"").unwrap(),
            Choice::Label("Tán thành".into())
        );
    }
}
