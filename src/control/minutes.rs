//! Biên bản (minutes) of a meeting: the document, its attendance snapshots
//! and its saved versions.
//!
//! The document is generated from the record (meeting header, latest
//! attendance snapshot, agenda timeline, floor timeline from the audit log,
//! published motion results) plus the secretary's conclusions. Saving stores
//! the whole document as JSON with its SHA-256 as a draft version; finalising
//! makes the latest version final. A final version never changes: the next
//! save creates version n+1.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::live::{Quorum, RollCall, RollCallSite};
use crate::store::{Actor, SqlxResultExt, Store, StoreError, audit, new_id, now_ms};

/// Longest conclusions text, in characters.
pub const MAX_CONCLUSIONS: usize = 50_000;

/// The meeting's header lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MinutesHeader {
    pub meeting_id: String,
    pub title: String,
    /// The kind's code (`bch`, `btv`, …).
    pub kind: String,
    /// The kind in Vietnamese ("Hội nghị Ban Thường vụ").
    pub kind_label: String,
    /// Planned start and end, unix ms.
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    /// Actual start (opened or started) and end, unix ms, when known.
    pub started_at_ms: Option<i64>,
    pub ended_at_ms: Option<i64>,
    /// The date and times in the province (UTC+07:00): `YYYY-MM-DD`, `HH:MM`.
    pub local_date: String,
    pub local_start: String,
    pub local_end: String,
    pub chair: Option<String>,
    pub secretary: Option<String>,
}

/// One room in an attendance snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AttendanceSite {
    pub endpoint_id: String,
    pub name: String,
    pub unit_name: Option<String>,
    pub hub: bool,
    /// Connected when the snapshot was taken.
    pub present: bool,
    /// The confirmed headcount, if any.
    pub headcount: Option<u32>,
    /// Joined without being expected.
    pub guest: bool,
}

/// The roll call at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attendance {
    pub taken_at_ms: i64,
    pub sites: Vec<AttendanceSite>,
    pub connected_sites: u32,
    pub expected_sites: u32,
    pub people_present: u32,
    pub quorum: Quorum,
}

impl Attendance {
    /// The parts of a live roll call the minutes keep.
    pub fn from_roll_call(rc: &RollCall, taken_at_ms: i64) -> Attendance {
        let site = |s: &RollCallSite, guest: bool| AttendanceSite {
            endpoint_id: s.endpoint_id.clone(),
            name: s.name.clone(),
            unit_name: s.unit_name.clone(),
            hub: s.hub,
            present: s.connected,
            headcount: s.headcount,
            guest,
        };
        Attendance {
            taken_at_ms,
            sites: rc
                .sites
                .iter()
                .map(|s| site(s, false))
                .chain(rc.guests.iter().map(|s| site(s, true)))
                .collect(),
            connected_sites: rc.connected_sites,
            expected_sites: rc.expected_sites,
            people_present: rc.people_present,
            quorum: rc.quorum,
        }
    }
}

/// One agenda item with when it was actually discussed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MinutesAgendaItem {
    pub item_id: String,
    pub position: u32,
    pub title: String,
    pub presenter: String,
    pub planned_minutes: u32,
    /// Each stretch of the meeting spent on it, in order (empty: not taken up).
    pub periods: Vec<MinutesPeriod>,
    /// The secretary's summary of the discussion of this item.
    #[serde(default)]
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MinutesPeriod {
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    /// `HH:MM` in the province.
    pub local_start: String,
    pub local_end: Option<String>,
}

/// One turn at the floor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FloorEntry {
    pub endpoint_id: String,
    /// The room's name (the id when the room is unknown).
    pub name: String,
    pub granted_at_ms: i64,
    /// `HH:MM:SS` in the province.
    pub local_time: String,
    /// Who gave the floor.
    pub granted_by: String,
    /// The speaking time the chair allowed, if any.
    pub limit_ms: Option<i64>,
    /// When the floor was taken back or passed on; `None` if still speaking
    /// when the minutes were generated.
    pub ended_at_ms: Option<i64>,
    pub spoke_for_ms: Option<i64>,
}

/// One option's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MinutesOption {
    pub label: String,
    pub votes: u64,
    pub ballots: u64,
}

/// A motion with its published result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MinutesMotion {
    pub motion_id: String,
    pub position: u32,
    pub title: String,
    /// `open` or `secret`.
    pub mode: String,
    pub published_at_ms: Option<i64>,
    pub total_votes: u64,
    pub options: Vec<MinutesOption>,
}

/// The minutes document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Minutes {
    pub header: MinutesHeader,
    /// The latest attendance snapshot, if one was taken.
    pub attendance: Option<Attendance>,
    pub agenda: Vec<MinutesAgendaItem>,
    pub floor: Vec<FloorEntry>,
    /// Only motions whose results were published.
    pub motions: Vec<MinutesMotion>,
    /// The secretary's account of the proceedings (diễn biến).
    #[serde(default)]
    pub notes: String,
    /// The secretary's conclusions (kết luận).
    pub conclusions: String,
    /// When this document was generated from the record, unix ms.
    pub generated_at_ms: i64,
}

/// Draft or final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    Draft,
    Final,
}

impl VersionStatus {
    fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Draft => "draft",
            VersionStatus::Final => "final",
        }
    }
    fn parse(s: &str) -> VersionStatus {
        if s == "final" {
            VersionStatus::Final
        } else {
            VersionStatus::Draft
        }
    }
}

/// A saved version without its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VersionInfo {
    pub version: u32,
    pub status: VersionStatus,
    pub sha256: String,
    pub saved_by: String,
    pub saved_at_ms: i64,
    pub finalised_by: Option<String>,
    pub finalised_at_ms: Option<i64>,
}

/// A saved version with its body exactly as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    pub info: VersionInfo,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MinutesError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("meeting {0:?} has no minutes version {1}")]
    UnknownVersion(String, u32),
    #[error("the latest minutes of meeting {0:?} are already final; save to start a new version")]
    AlreadyFinal(String),
    #[error("meeting {0:?} has no saved minutes to finalise")]
    NothingSaved(String),
    #[error("minutes version {1} of meeting {0:?} already carries the {2} signature")]
    AlreadySigned(String, u32, &'static str),
    #[error(
        "the PDF of minutes version {1} of meeting {0:?} changed since this signature was prepared; prepare again"
    )]
    PdfChanged(String, u32),
    #[error("{0}")]
    Objects(String),
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

fn target(meeting: &str) -> String {
    format!("minutes:{meeting}")
}

const VERSION_COLUMNS: &str =
    "version, status, sha256, saved_by, saved_at, finalised_by, finalised_at, body";

fn version_row(row: &sqlx::any::AnyRow) -> Result<StoredVersion, StoreError> {
    const DOING: &str = "reading a minutes version";
    let version: i64 = row.try_get(0).ctx(DOING)?;
    let status: String = row.try_get(1).ctx(DOING)?;
    Ok(StoredVersion {
        info: VersionInfo {
            version: u32::try_from(version).unwrap_or(0),
            status: VersionStatus::parse(&status),
            sha256: row.try_get(2).ctx(DOING)?,
            saved_by: row.try_get(3).ctx(DOING)?,
            saved_at_ms: row.try_get(4).ctx(DOING)?,
            finalised_by: row.try_get(5).ctx(DOING)?,
            finalised_at_ms: row.try_get(6).ctx(DOING)?,
        },
        body: row.try_get(7).ctx(DOING)?,
    })
}

async fn latest_in(
    conn: &mut AnyConnection,
    meeting: &str,
) -> Result<Option<StoredVersion>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM minutes_versions WHERE meeting_id = $1
         ORDER BY version DESC LIMIT 1"
    ))
    .bind(meeting)
    .fetch_optional(&mut *conn)
    .await
    .ctx("reading the latest minutes")?;
    row.as_ref().map(version_row).transpose()
}

/// The minutes store of every meeting.
pub struct MinutesStore {
    store: Store,
}

impl MinutesStore {
    pub fn new(store: Store) -> MinutesStore {
        MinutesStore { store }
    }

    /// Keep an attendance snapshot.
    pub async fn record_attendance(
        &self,
        actor: &Actor,
        meeting: &str,
        attendance: &Attendance,
    ) -> Result<(), MinutesError> {
        const DOING: &str = "recording attendance";
        let mut tx = self.store.begin_write().await?;
        let snapshot = serde_json::to_string(attendance).expect("attendance serialises");
        sqlx::query(
            "INSERT INTO minutes_attendance (id, meeting_id, taken_at, snapshot)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(new_id("att_"))
        .bind(meeting)
        .bind(attendance.taken_at_ms)
        .bind(&snapshot)
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        let details = json!({
            "meeting_id": meeting,
            "connected_sites": attendance.connected_sites,
            "expected_sites": attendance.expected_sites,
            "people_present": attendance.people_present,
            "quorum_met": attendance.quorum.met,
        });
        audit::append(
            &mut tx,
            actor,
            "minutes.attendance",
            &target(meeting),
            &details,
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        Ok(())
    }

    /// The latest attendance snapshot.
    pub async fn latest_attendance(
        &self,
        meeting: &str,
    ) -> Result<Option<Attendance>, MinutesError> {
        let row: Option<String> = sqlx::query_scalar(
            "SELECT snapshot FROM minutes_attendance WHERE meeting_id = $1
             ORDER BY taken_at DESC, id DESC LIMIT 1",
        )
        .bind(meeting)
        .fetch_optional(self.store.pool())
        .await
        .ctx("reading attendance")?;
        Ok(row.and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// A user's display name.
    pub async fn user_name(&self, user_id: &str) -> Result<Option<String>, MinutesError> {
        Ok(
            sqlx::query_scalar("SELECT display_name FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(self.store.pool())
                .await
                .ctx("reading a user's name")?,
        )
    }

    /// Who had the floor when, from the audit log's `live.floor_grant`,
    /// `live.floor_revoke` and `live.remove` records (see [`floor_turns`]);
    /// a turn still open when the meeting ended (`ended_at_ms`) ends then.
    pub async fn floor(
        &self,
        meeting: &str,
        ended_at_ms: Option<i64>,
    ) -> Result<Vec<FloorEntry>, MinutesError> {
        const DOING: &str = "reading the floor timeline";
        let rows = sqlx::query(
            "SELECT at_ms, action, details, actor_name FROM audit_log
             WHERE target = $1
               AND action IN ('live.floor_grant', 'live.floor_revoke', 'live.remove')
             ORDER BY seq",
        )
        .bind(format!("meeting:{meeting}"))
        .fetch_all(self.store.pool())
        .await
        .ctx(DOING)?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let details: String = row.try_get(2).ctx(DOING)?;
            records.push(FloorRecord {
                at_ms: row.try_get(0).ctx(DOING)?,
                action: row.try_get(1).ctx(DOING)?,
                details: serde_json::from_str(&details).unwrap_or_default(),
                actor_name: row.try_get(3).ctx(DOING)?,
            });
        }
        let mut out = floor_turns(&records, ended_at_ms);
        for e in &mut out {
            let name: Option<String> =
                sqlx::query_scalar("SELECT name FROM endpoints WHERE id = $1")
                    .bind(&e.endpoint_id)
                    .fetch_optional(self.store.pool())
                    .await
                    .ctx(DOING)?;
            if let Some(name) = name {
                e.name = name;
            }
        }
        Ok(out)
    }

    /// The latest saved version.
    pub async fn latest(&self, meeting: &str) -> Result<Option<StoredVersion>, MinutesError> {
        let mut conn = self
            .store
            .pool()
            .acquire()
            .await
            .ctx("reading the latest minutes")?;
        Ok(latest_in(&mut conn, meeting).await?)
    }

    /// Every version, oldest first.
    pub async fn versions(&self, meeting: &str) -> Result<Vec<VersionInfo>, MinutesError> {
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM minutes_versions WHERE meeting_id = $1 ORDER BY version"
        ))
        .bind(meeting)
        .fetch_all(self.store.pool())
        .await
        .ctx("listing minutes versions")?;
        Ok(rows
            .iter()
            .map(|r| version_row(r).map(|v| v.info))
            .collect::<Result<_, _>>()?)
    }

    /// One version.
    pub async fn version(&self, meeting: &str, n: u32) -> Result<StoredVersion, MinutesError> {
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM minutes_versions WHERE meeting_id = $1 AND version = $2"
        ))
        .bind(meeting)
        .bind(i64::from(n))
        .fetch_optional(self.store.pool())
        .await
        .ctx("reading a minutes version")?;
        match row {
            Some(r) => Ok(version_row(&r)?),
            None => Err(MinutesError::UnknownVersion(meeting.into(), n)),
        }
    }

    /// Save `minutes` as the draft: replaces the latest version if it is a
    /// draft, else (none yet, or the latest is final) creates the next one.
    pub async fn save(
        &self,
        actor: &Actor,
        meeting: &str,
        minutes: &Minutes,
    ) -> Result<StoredVersion, MinutesError> {
        const DOING: &str = "saving minutes";
        let body = serde_json::to_string(minutes).expect("minutes serialise");
        let sha = sha256_hex(&body);
        let now = now_ms();
        let mut tx = self.store.begin_write().await?;
        let latest = latest_in(&mut tx, meeting).await?;
        let version = match &latest {
            Some(v) if v.info.status == VersionStatus::Draft => {
                sqlx::query(
                    "UPDATE minutes_versions SET body = $1, sha256 = $2, saved_by = $3, saved_at = $4
                     WHERE meeting_id = $5 AND version = $6 AND status = 'draft'",
                )
                .bind(&body)
                .bind(&sha)
                .bind(&actor.id)
                .bind(now)
                .bind(meeting)
                .bind(i64::from(v.info.version))
                .execute(&mut *tx)
                .await
                .ctx(DOING)?;
                v.info.version
            }
            _ => {
                let n = latest.as_ref().map_or(1, |v| v.info.version + 1);
                sqlx::query(
                    "INSERT INTO minutes_versions (meeting_id, version, status, body, sha256, saved_by, saved_at)
                     VALUES ($1, $2, 'draft', $3, $4, $5, $6)",
                )
                .bind(meeting)
                .bind(i64::from(n))
                .bind(&body)
                .bind(&sha)
                .bind(&actor.id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .ctx(DOING)?;
                n
            }
        };
        let details = json!({
            "meeting_id": meeting, "version": version, "sha256": sha,
            "conclusions_chars": minutes.conclusions.chars().count(),
        });
        audit::append(&mut tx, actor, "minutes.save", &target(meeting), &details).await?;
        tx.commit().await.ctx(DOING)?;
        self.version(meeting, version).await
    }

    /// Make the latest version final, with its rendered (and perhaps
    /// sealed) PDF; `expect_version` guards against a save in between (the
    /// PDF was rendered from that version).
    pub async fn finalise(
        &self,
        actor: &Actor,
        meeting: &str,
        pdf: Option<(u32, &super::minutes_pdf::FinalPdf)>,
    ) -> Result<StoredVersion, MinutesError> {
        const DOING: &str = "finalising minutes";
        let mut tx = self.store.begin_write().await?;
        let Some(latest) = latest_in(&mut tx, meeting).await? else {
            return Err(MinutesError::NothingSaved(meeting.into()));
        };
        if latest.info.status == VersionStatus::Final {
            return Err(MinutesError::AlreadyFinal(meeting.into()));
        }
        if let Some((expected, pdf)) = pdf {
            if expected != latest.info.version {
                return Err(MinutesError::PdfChanged(
                    meeting.into(),
                    latest.info.version,
                ));
            }
            super::minutes_pdf::insert_final(&mut tx, meeting, expected, pdf).await?;
        }
        sqlx::query(
            "UPDATE minutes_versions SET status = $1, finalised_by = $2, finalised_at = $3
             WHERE meeting_id = $4 AND version = $5",
        )
        .bind(VersionStatus::Final.as_str())
        .bind(&actor.id)
        .bind(now_ms())
        .bind(meeting)
        .bind(i64::from(latest.info.version))
        .execute(&mut *tx)
        .await
        .ctx(DOING)?;
        let details = json!({
            "meeting_id": meeting, "version": latest.info.version, "sha256": latest.info.sha256,
        });
        audit::append(
            &mut tx,
            actor,
            "minutes.finalise",
            &target(meeting),
            &details,
        )
        .await?;
        tx.commit().await.ctx(DOING)?;
        self.version(meeting, latest.info.version).await
    }
}

/// One audit record that bears on the floor.
#[derive(Debug, Clone)]
pub struct FloorRecord {
    pub at_ms: i64,
    pub action: String,
    pub details: serde_json::Value,
    pub actor_name: String,
}

/// The turns at the floor: a grant opens one; it ends at the next revoke
/// or grant (a grant passes the floor on), when its room is removed, or at
/// the meeting's end. Names are the endpoint ids (the caller looks them up).
pub fn floor_turns(records: &[FloorRecord], ended_at_ms: Option<i64>) -> Vec<FloorEntry> {
    fn close(out: &mut [FloorEntry], at: i64) {
        if let Some(open) = out.last_mut().filter(|e| e.ended_at_ms.is_none()) {
            open.ended_at_ms = Some(at);
            open.spoke_for_ms = Some((at - open.granted_at_ms).max(0));
        }
    }
    let mut out: Vec<FloorEntry> = Vec::new();
    for r in records {
        let endpoint = r.details["endpoint_id"].as_str().unwrap_or("");
        match r.action.as_str() {
            "live.floor_grant" => {
                close(&mut out, r.at_ms);
                out.push(FloorEntry {
                    endpoint_id: endpoint.to_string(),
                    name: endpoint.to_string(),
                    granted_at_ms: r.at_ms,
                    local_time: local_hms(r.at_ms),
                    granted_by: r.actor_name.clone(),
                    limit_ms: r.details["limit_ms"].as_i64(),
                    ended_at_ms: None,
                    spoke_for_ms: None,
                });
            }
            "live.floor_revoke" => close(&mut out, r.at_ms),
            "live.remove"
                if out
                    .last()
                    .is_some_and(|e| e.ended_at_ms.is_none() && e.endpoint_id == endpoint) =>
            {
                close(&mut out, r.at_ms);
            }
            _ => {}
        }
    }
    if let Some(end) = ended_at_ms {
        close(&mut out, end);
    }
    out
}

/// The province's local time of `ms` as `fmt`.
fn local(ms: i64, fmt: &[time::format_description::FormatItem<'_>]) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| t.to_offset(time::macros::offset!(+7)))
        .ok()
        .and_then(|t| t.format(fmt).ok())
        .unwrap_or_default()
}

/// `YYYY-MM-DD` in the province.
pub fn local_date(ms: i64) -> String {
    local(
        ms,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
}

/// `HH:MM` in the province.
pub fn local_hm(ms: i64) -> String {
    local(ms, time::macros::format_description!("[hour]:[minute]"))
}

/// `HH:MM:SS` in the province.
pub fn local_hms(ms: i64) -> String {
    local(
        ms,
        time::macros::format_description!("[hour]:[minute]:[second]"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_local_times_are_utc_plus_7() {
        // 2026-01-01T00:00:00Z
        let ms = 1_767_225_600_000;
        assert_eq!(local_date(ms), "2026-01-01");
        assert_eq!(local_hm(ms), "07:00");
        assert_eq!(local_hms(ms + 5_000), "07:00:05");
        assert_eq!(sha256_hex("").len(), 64);
    }

    fn rec(at_ms: i64, action: &str, details: serde_json::Value) -> FloorRecord {
        FloorRecord {
            at_ms,
            action: action.into(),
            details,
            actor_name: "Chủ tọa".into(),
        }
    }

    #[test]
    fn minutes_floor_turns_end_at_revoke_next_grant_removal_or_meeting_end() {
        let turns = floor_turns(
            &[
                rec(
                    1_000,
                    "live.floor_grant",
                    json!({"endpoint_id": "a", "limit_ms": 60000}),
                ),
                rec(5_000, "live.floor_grant", json!({"endpoint_id": "b"})),
                rec(9_000, "live.floor_revoke", json!({})),
                rec(10_000, "live.floor_revoke", json!({})),
                rec(11_000, "live.floor_grant", json!({"endpoint_id": "c"})),
                rec(12_000, "live.remove", json!({"endpoint_id": "x"})),
                rec(13_000, "live.remove", json!({"endpoint_id": "c"})),
                rec(20_000, "live.floor_grant", json!({"endpoint_id": "a"})),
            ],
            Some(30_000),
        );
        let got: Vec<_> = turns
            .iter()
            .map(|t| (t.endpoint_id.as_str(), t.granted_at_ms, t.spoke_for_ms))
            .collect();
        assert_eq!(
            got,
            [
                ("a", 1_000, Some(4_000)),
                ("b", 5_000, Some(4_000)),
                ("c", 11_000, Some(2_000)),
                ("a", 20_000, Some(10_000)),
            ]
        );
        assert_eq!(turns[0].limit_ms, Some(60_000));
        let open = floor_turns(
            &[rec(1, "live.floor_grant", json!({"endpoint_id": "a"}))],
            None,
        );
        assert_eq!(open[0].ended_at_ms, None);
    }
}
