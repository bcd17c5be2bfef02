//! What kind of meeting a province holds: the one enum the schedule, the
//! live meeting (mute on entry), the calendars and the configuration
//! (`[recording] automatic_kinds`) share.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What kind of meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeetingKind {
    /// Hội nghị Ban Chấp hành (Executive Committee plenum).
    Bch,
    /// Hội nghị Ban Thường vụ (Standing Committee).
    Btv,
    /// Giao ban (regular briefing).
    GiaoBan,
    /// Hội nghị quán triệt, triển khai nghị quyết (studying and carrying out a resolution).
    QuanTriet,
    /// Hội nghị chuyên đề (thematic conference).
    ChuyenDe,
    Other,
}

impl MeetingKind {
    pub const ALL: [MeetingKind; 6] = [
        MeetingKind::Bch,
        MeetingKind::Btv,
        MeetingKind::GiaoBan,
        MeetingKind::QuanTriet,
        MeetingKind::ChuyenDe,
        MeetingKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MeetingKind::Bch => "bch",
            MeetingKind::Btv => "btv",
            MeetingKind::GiaoBan => "giao_ban",
            MeetingKind::QuanTriet => "quan_triet",
            MeetingKind::ChuyenDe => "chuyen_de",
            MeetingKind::Other => "other",
        }
    }

    /// Whether rooms other than the hub join with their microphone muted:
    /// a conference (hội nghị: BCH, BTV, quán triệt, chuyên đề) is run from
    /// the hub, whose chair gives the floor; a briefing (giao ban, where
    /// each unit reports in turn) and "other" working sessions start with
    /// open microphones. An operator changes it live.
    pub fn mutes_on_entry(self) -> bool {
        matches!(
            self,
            MeetingKind::Bch | MeetingKind::Btv | MeetingKind::QuanTriet | MeetingKind::ChuyenDe
        )
    }

    /// The name the console and calendars show.
    pub fn label_vi(self) -> &'static str {
        match self {
            MeetingKind::Bch => "Hội nghị Ban Chấp hành",
            MeetingKind::Btv => "Hội nghị Ban Thường vụ",
            MeetingKind::GiaoBan => "Giao ban",
            MeetingKind::QuanTriet => "Hội nghị quán triệt, triển khai nghị quyết",
            MeetingKind::ChuyenDe => "Hội nghị chuyên đề",
            MeetingKind::Other => "Khác",
        }
    }
}

impl FromStr for MeetingKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        MeetingKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a meeting kind; use bch, btv, giao_ban, quan_triet, chuyen_de or other"
                )
            })
    }
}
