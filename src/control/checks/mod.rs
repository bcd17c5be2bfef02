//! The technical check (kiểm tra kỹ thuật) before a meeting, and the
//! readiness board built from it.
//!
//! Each planned room's page measures what it can — its link to the SFU over
//! ~10 s (RTT, loss, jitter, up- and downstream throughput), its camera
//! (frames, resolution), its microphone (level), whether the room heard the
//! test tone, and its technician's word — and reports the figures
//! ([`CheckReport`]). The server checks them for range (a figure out of range
//! is refused, nothing stored), keeps the latest per meeting and room
//! (`store`), and judges them here, purely ([`judge`]): the thresholds live
//! in one place and a stored check is judged again by today's rules.
//!
//! A check runs when an operator starts it for every connected room, and
//! by itself for a planned room that joins from [`AUTO_CHECK_LEAD_MS`]
//! before the start without a result yet.

mod board;
pub mod export;
mod store;

use serde::{Deserialize, Serialize};

pub use board::{CheckStatus, Failing, ReadinessBoard, ReadinessRow, build_board};
pub use store::{CheckRun, Checks, StoredCheck};

/// The check opens by itself this long before a meeting's start: an hour
/// leaves time to call a technician and fix a camera before the chair opens.
pub const AUTO_CHECK_LEAD_MS: i64 = 60 * 60_000;
/// How long a room measures its link, seconds: long enough for loss and
/// jitter to mean something on a 3G link, short enough not to hold the room.
pub const CHECK_SECONDS: u32 = 10;

/// What a room's page measured. Absent figures were not measured (a camera
/// that is missing reports no resolution).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckReport {
    /// Round-trip time to the SFU, ms (0 to 60 000).
    #[serde(default)]
    pub rtt_ms: Option<u32>,
    /// Packets lost on the way in, percent (0 to 100).
    #[serde(default)]
    pub loss_percent: Option<f64>,
    /// Inbound jitter, ms (0 to 60 000).
    #[serde(default)]
    pub jitter_ms: Option<u32>,
    /// What the room sent to the SFU during the check, kbit/s (0 to 1 000 000).
    #[serde(default)]
    pub up_kbps: Option<u32>,
    /// What it received from the SFU, kbit/s (0 to 1 000 000).
    #[serde(default)]
    pub down_kbps: Option<u32>,
    /// Whether the link went over TCP (UDP blocked on the way).
    #[serde(default)]
    pub tcp: bool,
    /// Video frames the camera gave during the check (0 to 100 000).
    #[serde(default)]
    pub camera_frames: Option<u32>,
    /// The camera's resolution, pixels (1 to 8 192 each).
    #[serde(default)]
    pub camera_width: Option<u32>,
    #[serde(default)]
    pub camera_height: Option<u32>,
    /// The loudest the microphone heard, 0 (silence) to 1 (full scale).
    #[serde(default)]
    pub mic_level: Option<f64>,
    /// The room heard the test tone (`None`: not answered yet).
    #[serde(default)]
    pub speaker_heard: Option<bool>,
    /// The room's technician confirmed the room is ready.
    #[serde(default)]
    pub technician_confirmed: bool,
    /// What the page could not do, in its own words (at most 300 characters):
    /// "no camera", "UDP blocked".
    #[serde(default)]
    pub problems: Vec<String>,
}

/// A figure out of range: refused, nothing stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct OutOfRange {
    pub field: &'static str,
    pub message: String,
}

fn range<T: PartialOrd + std::fmt::Display + Copy>(
    field: &'static str,
    v: Option<T>,
    lo: T,
    hi: T,
) -> Result<(), OutOfRange> {
    match v {
        Some(x) if !(x >= lo && x <= hi) => Err(OutOfRange {
            field,
            message: format!("{x} is out of range; expected {lo} to {hi}"),
        }),
        _ => Ok(()),
    }
}

impl CheckReport {
    /// Every figure within what a real room can measure.
    pub fn validate(&self) -> Result<(), OutOfRange> {
        range("rtt_ms", self.rtt_ms, 0, 60_000)?;
        range("loss_percent", self.loss_percent, 0.0, 100.0)?;
        range("jitter_ms", self.jitter_ms, 0, 60_000)?;
        range("up_kbps", self.up_kbps, 0, 1_000_000)?;
        range("down_kbps", self.down_kbps, 0, 1_000_000)?;
        range("camera_frames", self.camera_frames, 0, 100_000)?;
        range("camera_width", self.camera_width, 1, 8_192)?;
        range("camera_height", self.camera_height, 1, 8_192)?;
        range("mic_level", self.mic_level, 0.0, 1.0)?;
        if self.problems.len() > 10 {
            return Err(OutOfRange {
                field: "problems",
                message: format!("{} problems; at most 10", self.problems.len()),
            });
        }
        if let Some(p) = self.problems.iter().find(|p| p.chars().count() > 300) {
            return Err(OutOfRange {
                field: "problems",
                message: format!("a problem of {} characters; at most 300", p.chars().count()),
            });
        }
        Ok(())
    }
}

/// Thresholds. Failing: the room cannot take part as it is. Warning: it
/// can, but the meeting will notice (the link's degrade mark is 5 % loss or
/// 400 ms, `control::live::links`).
pub const FAIL_LOSS_PERCENT: f64 = 10.0;
pub const WARN_LOSS_PERCENT: f64 = 3.0;
pub const FAIL_RTT_MS: u32 = 1_000;
pub const WARN_RTT_MS: u32 = 400;
pub const WARN_JITTER_MS: u32 = 50;
/// Below this upstream the room's picture drops to its lowest layer.
pub const WARN_UP_KBPS: u32 = 300;
/// A microphone quieter than this over a few seconds hears nothing (about
/// −50 dBFS: a room's background noise is louder).
pub const FAIL_MIC_LEVEL: f64 = 0.003;
/// Below 640×360 the room is hard to see on the hall's wall.
pub const WARN_MIN_HEIGHT_PX: u32 = 360;

/// The verdict on one report: its status and each failing or doubtful
/// check, named in Vietnamese for the board.
pub fn judge(r: &CheckReport) -> (CheckStatus, Vec<Failing>) {
    let mut out = Vec::new();
    let mut fail = |check: &'static str, reason: String| {
        out.push(Failing {
            check,
            severe: true,
            reason,
        })
    };
    match r.camera_frames {
        None | Some(0) => fail("camera", "Không có hình từ camera".into()),
        _ => {}
    }
    match r.mic_level {
        None => fail("microphone", "Không có micrô".into()),
        Some(l) if l < FAIL_MIC_LEVEL => fail("microphone", "Micrô không thu được tiếng".into()),
        _ => {}
    }
    if r.rtt_ms.is_none() && r.loss_percent.is_none() {
        fail(
            "link",
            if r.problems.iter().any(|p| p.contains("udp")) {
                "Không kết nối được máy chủ: mạng chặn UDP".into()
            } else {
                "Không đo được đường truyền tới máy chủ".into()
            },
        );
    }
    if let Some(l) = r.loss_percent.filter(|l| *l > FAIL_LOSS_PERCENT) {
        fail("link", format!("Mất gói quá cao ({l:.1} %)"));
    }
    if let Some(t) = r.rtt_ms.filter(|t| *t > FAIL_RTT_MS) {
        fail("link", format!("Độ trễ quá lớn ({t} ms)"));
    }
    if r.speaker_heard == Some(false) {
        fail("speaker", "Loa: không nghe thấy tiếng thử".into());
    }
    let mut warn = |check: &'static str, reason: String| {
        out.push(Failing {
            check,
            severe: false,
            reason,
        })
    };
    if let Some(l) = r
        .loss_percent
        .filter(|l| *l > WARN_LOSS_PERCENT && *l <= FAIL_LOSS_PERCENT)
    {
        warn("link", format!("Mất gói {l:.1} %"));
    }
    if let Some(t) = r.rtt_ms.filter(|t| *t > WARN_RTT_MS && *t <= FAIL_RTT_MS) {
        warn("link", format!("Độ trễ cao ({t} ms)"));
    }
    if let Some(j) = r.jitter_ms.filter(|j| *j > WARN_JITTER_MS) {
        warn("link", format!("Độ rung trễ cao ({j} ms)"));
    }
    if let Some(u) = r.up_kbps.filter(|u| *u < WARN_UP_KBPS) {
        warn("link", format!("Băng thông gửi thấp ({u} kbit/s)"));
    }
    if r.tcp {
        warn("link", "Kết nối qua TCP (mạng chặn UDP)".into());
    }
    if let Some(h) = r.camera_height.filter(|h| *h < WARN_MIN_HEIGHT_PX)
        && r.camera_frames.is_some_and(|f| f > 0)
    {
        warn("camera", format!("Độ phân giải camera thấp ({h} dòng)"));
    }
    if r.speaker_heard.is_none() {
        warn("speaker", "Loa: chưa xác nhận nghe tiếng thử".into());
    }
    if !r.technician_confirmed {
        warn("technician", "Kỹ thuật viên chưa xác nhận".into());
    }
    let status = if out.iter().any(|f| f.severe) {
        CheckStatus::Failed
    } else if out.is_empty() {
        CheckStatus::Ready
    } else {
        CheckStatus::Warning
    };
    (status, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> CheckReport {
        CheckReport {
            rtt_ms: Some(40),
            loss_percent: Some(0.2),
            jitter_ms: Some(8),
            up_kbps: Some(1200),
            down_kbps: Some(1500),
            tcp: false,
            camera_frames: Some(290),
            camera_width: Some(1280),
            camera_height: Some(720),
            mic_level: Some(0.2),
            speaker_heard: Some(true),
            technician_confirmed: true,
            problems: vec![],
        }
    }

    #[test]
    fn a_room_that_passes_everything_is_ready() {
        assert_eq!(judge(&good()), (CheckStatus::Ready, vec![]));
    }

    #[test]
    fn a_missing_camera_fails_and_says_so_in_vietnamese() {
        let r = CheckReport {
            camera_frames: None,
            camera_width: None,
            camera_height: None,
            ..good()
        };
        let (status, why) = judge(&r);
        assert_eq!(status, CheckStatus::Failed);
        assert_eq!(why[0].check, "camera");
        assert_eq!(why[0].reason, "Không có hình từ camera");
    }

    #[test]
    fn a_lossy_link_or_an_unconfirmed_room_is_a_warning_a_broken_one_fails() {
        let (s, why) = judge(&CheckReport {
            loss_percent: Some(5.0),
            ..good()
        });
        assert_eq!(s, CheckStatus::Warning);
        assert_eq!(why[0].reason, "Mất gói 5.0 %");
        let (s, _) = judge(&CheckReport {
            technician_confirmed: false,
            ..good()
        });
        assert_eq!(s, CheckStatus::Warning);
        let (s, why) = judge(&CheckReport {
            loss_percent: Some(25.0),
            ..good()
        });
        assert_eq!((s, why[0].check), (CheckStatus::Failed, "link"));
        let (s, why) = judge(&CheckReport {
            rtt_ms: None,
            loss_percent: None,
            problems: vec!["udp blocked".into()],
            ..good()
        });
        assert_eq!(s, CheckStatus::Failed);
        assert_eq!(why[0].reason, "Không kết nối được máy chủ: mạng chặn UDP");
    }

    #[test]
    fn figures_out_of_range_are_refused_naming_the_field() {
        for (r, field) in [
            (
                CheckReport {
                    loss_percent: Some(101.0),
                    ..good()
                },
                "loss_percent",
            ),
            (
                CheckReport {
                    loss_percent: Some(f64::NAN),
                    ..good()
                },
                "loss_percent",
            ),
            (
                CheckReport {
                    rtt_ms: Some(70_000),
                    ..good()
                },
                "rtt_ms",
            ),
            (
                CheckReport {
                    mic_level: Some(-0.1),
                    ..good()
                },
                "mic_level",
            ),
            (
                CheckReport {
                    camera_width: Some(0),
                    ..good()
                },
                "camera_width",
            ),
        ] {
            assert_eq!(r.validate().unwrap_err().field, field);
        }
        assert_eq!(good().validate(), Ok(()));
    }
}
