//! The readiness board: one row per planned room of a meeting, from its
//! latest check (judged now), whether it is connected, and who to call.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{AUTO_CHECK_LEAD_MS, CheckReport, CheckRun, StoredCheck, judge};
use crate::control::meetings::{Meeting, ResolvedParticipant};

/// Where a room stands before the meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Every check passed and the technician confirmed.
    Ready,
    /// It can take part, but something will show (a lossy link, no answer
    /// about the loudspeaker, no technician's word yet).
    Warning,
    /// It cannot take part as it is (no camera, a silent microphone, a link
    /// that does not carry).
    Failed,
    /// No check and not connected.
    NotChecked,
    /// Connected now, but not checked yet.
    ConnectedUnchecked,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ready => "ready",
            CheckStatus::Warning => "warning",
            CheckStatus::Failed => "failed",
            CheckStatus::NotChecked => "not_checked",
            CheckStatus::ConnectedUnchecked => "connected_unchecked",
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            CheckStatus::Ready => "Sẵn sàng",
            CheckStatus::Warning => "Cảnh báo",
            CheckStatus::Failed => "Không đạt",
            CheckStatus::NotChecked => "Chưa kiểm tra",
            CheckStatus::ConnectedUnchecked => "Đã kết nối, chưa kiểm tra",
        }
    }
}

/// A check that failed (`severe`) or gave a warning, named for the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Failing {
    /// `link`, `camera`, `microphone`, `speaker` or `technician`.
    pub check: &'static str,
    pub severe: bool,
    /// In Vietnamese, for the board and its exports.
    pub reason: String,
}

/// One planned room on the board.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReadinessRow {
    pub endpoint_id: String,
    pub name: String,
    pub unit_id: Option<String>,
    pub unit_name: Option<String>,
    /// The hub (chủ trì).
    pub hub: bool,
    pub status: CheckStatus,
    pub status_label: &'static str,
    /// Connected to the meeting's room now.
    pub connected: bool,
    pub technician_name: String,
    pub technician_phone: String,
    pub checked_at_ms: Option<i64>,
    /// The figures of its latest check.
    pub figures: Option<CheckReport>,
    /// Failing checks first, then warnings.
    pub failing: Vec<Failing>,
}

/// Who to call, per endpoint: technician name and phone.
pub type Technicians = HashMap<String, (String, String)>;

/// The whole board of a meeting.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReadinessBoard {
    pub meeting_id: String,
    pub title: String,
    pub starts_at_ms: i64,
    /// When the check opens by itself (an hour before the start).
    pub auto_check_from_ms: i64,
    /// An operator's start of the check, if any.
    pub started: Option<CheckRun>,
    /// How many rooms stand where, by status name.
    pub counts: HashMap<String, u32>,
    /// Failed first, then warnings, unchecked, ready; by name within each.
    pub rows: Vec<ReadinessRow>,
}

/// Build the board from the meeting's planned rooms (and its hub), their
/// technicians, their latest checks and who is connected now.
pub fn build_board(
    m: &Meeting,
    planned: &[ResolvedParticipant],
    technicians: &Technicians,
    checks: &HashMap<String, StoredCheck>,
    connected: &HashSet<String>,
    started: Option<CheckRun>,
) -> ReadinessBoard {
    let mut rows: Vec<ReadinessRow> = planned
        .iter()
        .map(|p| {
            let check = checks.get(&p.endpoint_id);
            let is_connected = connected.contains(&p.endpoint_id);
            let (status, failing) = match check {
                Some(c) => judge(&c.report),
                None if is_connected => (CheckStatus::ConnectedUnchecked, Vec::new()),
                None => (CheckStatus::NotChecked, Vec::new()),
            };
            let (tn, tp) = technicians.get(&p.endpoint_id).cloned().unwrap_or_default();
            ReadinessRow {
                endpoint_id: p.endpoint_id.clone(),
                name: p.endpoint_name.clone(),
                unit_id: p.unit_id.clone(),
                unit_name: p.unit_name.clone(),
                hub: m.hub_endpoint_id.as_deref() == Some(p.endpoint_id.as_str()),
                status,
                status_label: status.label_vi(),
                connected: is_connected,
                technician_name: tn,
                technician_phone: tp,
                checked_at_ms: check.map(|c| c.checked_at_ms),
                figures: check.map(|c| c.report.clone()),
                failing,
            }
        })
        .collect();
    let rank = |s: CheckStatus| match s {
        CheckStatus::Failed => 0,
        CheckStatus::Warning => 1,
        CheckStatus::ConnectedUnchecked => 2,
        CheckStatus::NotChecked => 3,
        CheckStatus::Ready => 4,
    };
    rows.sort_by(|a, b| {
        (rank(a.status), &a.name, &a.endpoint_id).cmp(&(rank(b.status), &b.name, &b.endpoint_id))
    });
    let mut counts: HashMap<String, u32> = HashMap::new();
    for r in &rows {
        *counts.entry(r.status.as_str().to_string()).or_default() += 1;
    }
    ReadinessBoard {
        meeting_id: m.id.clone(),
        title: m.title.clone(),
        starts_at_ms: m.starts_at_ms,
        auto_check_from_ms: m.starts_at_ms - AUTO_CHECK_LEAD_MS,
        started,
        counts,
        rows,
    }
}
