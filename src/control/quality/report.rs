//! The monthly report per unit (báo cáo tháng theo đơn vị): for each unit
//! whose rooms were planned in a meeting that month — how many times, how
//! many they attended, how many connected before the start, their links'
//! loss and RTT (the mean of each meeting's 95th percentile), drops, and
//! their technical checks' results. An empty month is an empty report.

use std::collections::BTreeMap;

use rust_xlsxwriter::{Format, Workbook, XlsxError};
use serde::Serialize;

use super::Quality;
use crate::control::checks::{CheckStatus, Checks, judge};
use crate::control::meetings::{MeetingFilter, MeetingState, Meetings};
use crate::store::Store;

/// Province time, UTC+07:00, ms.
const VN_OFFSET_MS: i64 = 7 * 3_600_000;

/// One unit's month.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct UnitRow {
    pub unit_id: String,
    pub unit_name: String,
    /// Rooms of the unit planned in a meeting (one per room and meeting).
    pub planned: u32,
    /// Of those, connected at some time during the meeting.
    pub attended: u32,
    /// Of those, connected by the planned start.
    pub on_time: u32,
    pub drops: u32,
    /// Mean over attended meetings of the 95th-percentile loss, %.
    pub loss_p95_mean_pct: Option<f64>,
    /// Mean over attended meetings of the 95th-percentile RTT, ms.
    pub rtt_p95_mean_ms: Option<u32>,
    /// Share of the unit's audio frames that reached the server (after
    /// RED's refills) over the month, % (`None`: nothing measured).
    pub audio_continuity_pct: Option<f64>,
    /// Video freezes per minute connected over the month.
    pub freezes_per_minute: Option<f64>,
    pub checks_ready: u32,
    pub checks_warning: u32,
    pub checks_failed: u32,
    pub checks_missing: u32,
}

/// The report of one month.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct UnitReport {
    /// `YYYY-MM`.
    pub month: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub meetings: u32,
    /// By unit name.
    pub rows: Vec<UnitRow>,
}

/// `YYYY-MM` → [start, end) of that month in province time, unix ms.
pub fn month_bounds(month: &str) -> Result<(i64, i64), String> {
    let bad = || format!("{month:?} is not a month; use YYYY-MM, e.g. 2026-12");
    let (y, m) = month.split_once('-').ok_or_else(bad)?;
    let (y, m): (i32, u8) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(2000..=2100).contains(&y) || y.to_string().len() != 4 {
        return Err(bad());
    }
    let month_of = |m: u8| time::Month::try_from(m).map_err(|_| bad());
    let start = time::Date::from_calendar_date(y, month_of(m)?, 1).map_err(|_| bad())?;
    let end = if m == 12 {
        time::Date::from_calendar_date(y + 1, time::Month::January, 1)
    } else {
        time::Date::from_calendar_date(y, month_of(m + 1)?, 1)
    }
    .map_err(|_| bad())?;
    let ms = |d: time::Date| d.midnight().assume_utc().unix_timestamp() * 1000 - VN_OFFSET_MS;
    Ok((ms(start), ms(end)))
}

#[derive(Default)]
struct Sums {
    row: UnitRow,
    loss_sum: f64,
    rtt_sum: u64,
    measured: u32,
    audio_expected: u64,
    audio_received: u64,
    freezes: u64,
    connected_ms: i64,
}

/// Build the month's report from the stored meetings, quality and checks.
pub async fn build(
    store: &Store,
    month: &str,
) -> Result<Result<UnitReport, String>, crate::control::meetings::MeetingError> {
    let (from_ms, to_ms) = match month_bounds(month) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let meetings = Meetings::new(store.clone());
    let quality = Quality::new(store.clone());
    let checks = Checks::new(store.clone());
    let listed = meetings
        .list(&MeetingFilter {
            from_ms: Some(from_ms),
            to_ms: Some(to_ms),
            state: None,
            series_id: None,
            limit: None,
        })
        .await?;
    let mut units: BTreeMap<String, Sums> = BTreeMap::new();
    let mut count = 0;
    for m in listed
        .iter()
        .filter(|m| m.starts_at_ms >= from_ms && m.state != MeetingState::Cancelled)
    {
        count += 1;
        let planned = meetings.participants_of(m).await?;
        let q: BTreeMap<String, _> = quality
            .of_meeting(&m.id)
            .await?
            .into_iter()
            .map(|s| (s.endpoint_id.clone(), s))
            .collect();
        let c = checks.of_meeting(&m.id).await?;
        for p in &planned {
            let Some(unit) = &p.unit_id else { continue };
            let s = units.entry(unit.clone()).or_default();
            s.row.unit_id = unit.clone();
            s.row.unit_name = p.unit_name.clone().unwrap_or_else(|| unit.clone());
            s.row.planned += 1;
            if let Some(qs) = q.get(&p.endpoint_id).filter(|qs| qs.samples > 0) {
                s.row.attended += 1;
                if qs.first_connected_ms <= m.starts_at_ms {
                    s.row.on_time += 1;
                }
                s.row.drops += qs.drops;
                s.loss_sum += qs.loss_p95_pct;
                s.rtt_sum += u64::from(qs.rtt_p95_ms);
                s.measured += 1;
                s.audio_expected += qs.audio_frames_expected;
                s.audio_received += qs.audio_frames_received;
                s.freezes += u64::from(qs.video_freezes);
                s.connected_ms += qs.connected_ms;
            }
            match c.get(&p.endpoint_id).map(|c| judge(&c.report).0) {
                Some(CheckStatus::Ready) => s.row.checks_ready += 1,
                Some(CheckStatus::Warning) => s.row.checks_warning += 1,
                Some(_) => s.row.checks_failed += 1,
                None => s.row.checks_missing += 1,
            }
        }
    }
    let mut rows: Vec<UnitRow> = units
        .into_values()
        .map(|s| {
            let mut r = s.row;
            if s.measured > 0 {
                r.loss_p95_mean_pct =
                    Some((s.loss_sum / f64::from(s.measured) * 10.0).round() / 10.0);
                r.rtt_p95_mean_ms = u32::try_from(s.rtt_sum / u64::from(s.measured)).ok();
            }
            if s.audio_expected > 0 {
                let pct = 100.0 * s.audio_received as f64 / s.audio_expected as f64;
                r.audio_continuity_pct = Some((pct * 100.0).round() / 100.0);
            }
            if s.connected_ms > 0 {
                let per_min = s.freezes as f64 / (s.connected_ms as f64 / 60_000.0);
                r.freezes_per_minute = Some((per_min * 100.0).round() / 100.0);
            }
            r
        })
        .collect();
    rows.sort_by(|a, b| (&a.unit_name, &a.unit_id).cmp(&(&b.unit_name, &b.unit_id)));
    Ok(Ok(UnitReport {
        month: month.to_string(),
        from_ms,
        to_ms,
        meetings: count,
        rows,
    }))
}

pub const HEADER: [&str; 13] = [
    "Đơn vị",
    "Lượt dự kiến",
    "Lượt tham dự",
    "Kết nối đúng giờ",
    "Rớt kết nối",
    "Mất gói p95 TB (%)",
    "RTT p95 TB (ms)",
    "Âm thanh liên tục (%)",
    "Đứng hình / phút",
    "Kiểm tra: đạt",
    "Cảnh báo",
    "Không đạt",
    "Chưa kiểm tra",
];

fn cells(r: &UnitRow) -> Vec<String> {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "—".into());
    vec![
        r.unit_name.clone(),
        r.planned.to_string(),
        r.attended.to_string(),
        r.on_time.to_string(),
        r.drops.to_string(),
        opt(r.loss_p95_mean_pct.map(|l| format!("{l:.1}"))),
        opt(r.rtt_p95_mean_ms.map(|v| v.to_string())),
        opt(r.audio_continuity_pct.map(|v| format!("{v:.2}"))),
        opt(r.freezes_per_minute.map(|v| format!("{v:.2}"))),
        r.checks_ready.to_string(),
        r.checks_warning.to_string(),
        r.checks_failed.to_string(),
        r.checks_missing.to_string(),
    ]
}

fn title(r: &UnitReport) -> String {
    format!("Báo cáo chất lượng kết nối theo đơn vị — tháng {}", r.month)
}

fn summary(r: &UnitReport) -> Vec<String> {
    vec![format!(
        "{} hội nghị trong tháng; {} đơn vị.",
        r.meetings,
        r.rows.len()
    )]
}

/// The report as an XLSX workbook (one sheet, "Báo cáo"; numbers as numbers).
pub fn xlsx(r: &UnitReport) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet();
    ws.set_name("Báo cáo")?;
    ws.write_string_with_format(0, 0, title(r), &bold)?;
    ws.write_string(1, 0, summary(r).join(" "))?;
    let top = 3u32;
    for (c, h) in HEADER.iter().enumerate() {
        ws.write_string_with_format(top, c as u16, *h, &bold)?;
    }
    for (i, u) in r.rows.iter().enumerate() {
        let row = top + 1 + i as u32;
        ws.write_string(row, 0, &u.unit_name)?;
        let nums = [u.planned, u.attended, u.on_time, u.drops];
        for (c, n) in nums.iter().enumerate() {
            ws.write_number(row, 1 + c as u16, f64::from(*n))?;
        }
        if let Some(l) = u.loss_p95_mean_pct {
            ws.write_number(row, 5, l)?;
        }
        if let Some(t) = u.rtt_p95_mean_ms {
            ws.write_number(row, 6, f64::from(t))?;
        }
        if let Some(v) = u.audio_continuity_pct {
            ws.write_number(row, 7, v)?;
        }
        if let Some(v) = u.freezes_per_minute {
            ws.write_number(row, 8, v)?;
        }
        for (c, n) in [
            u.checks_ready,
            u.checks_warning,
            u.checks_failed,
            u.checks_missing,
        ]
        .iter()
        .enumerate()
        {
            ws.write_number(row, 9 + c as u16, f64::from(*n))?;
        }
    }
    ws.set_column_width(0, 32)?;
    for c in 1..HEADER.len() as u16 {
        ws.set_column_width(c, 14)?;
    }
    wb.save_to_buffer()
}

/// The report as a PDF (A4 landscape).
pub fn pdf(r: &UnitReport) -> Result<Vec<u8>, String> {
    let rows: Vec<Vec<String>> = r.rows.iter().map(cells).collect();
    crate::pdf::table::render(&crate::pdf::table::Table {
        title: &title(r),
        lines: &summary(r),
        header: &HEADER,
        widths: &[
            0.17, 0.06, 0.06, 0.07, 0.06, 0.08, 0.07, 0.08, 0.08, 0.07, 0.06, 0.07, 0.07,
        ],
        rows: &rows,
        empty: "Không có hội nghị nào trong tháng.",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_its_days_in_province_time_and_a_bad_one_is_named() {
        let (from, to) = month_bounds("2026-12").unwrap();
        // 2026-12-01T00:00+07:00 and 2027-01-01T00:00+07:00.
        assert_eq!(from, 1_796_058_000_000);
        assert_eq!(to, 1_798_736_400_000);
        for bad in ["2026-13", "2026", "26-01", "abcd-01", "2026-00"] {
            assert!(month_bounds(bad).unwrap_err().contains(bad), "{bad}");
        }
    }
}
