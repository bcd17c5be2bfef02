//! The readiness board as a spreadsheet (XLSX, for the technicians' office)
//! and as a PDF (to print and sign): one row per planned room, its status
//! and failing checks in Vietnamese, the figures, the technician to call.

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::{CheckReport, ReadinessBoard};

/// Column headings, shared by both exports.
pub const HEADER: [&str; 12] = [
    "Điểm cầu",
    "Đơn vị",
    "Trạng thái",
    "Lý do",
    "RTT (ms)",
    "Mất gói (%)",
    "Rung trễ (ms)",
    "Gửi / nhận (kbit/s)",
    "Camera",
    "Micrô",
    "Kỹ thuật viên",
    "Kiểm tra lúc",
];

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "—".into())
}

/// `ms` as "HH:MM DD/MM/YYYY" in province time (UTC+07:00).
pub fn vn_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(time::UtcOffset::from_hms(7, 0, 0).unwrap_or(time::UtcOffset::UTC));
    format!(
        "{:02}:{:02} {:02}/{:02}/{}",
        t.hour(),
        t.minute(),
        t.day(),
        u8::from(t.month()),
        t.year()
    )
}

fn figures(f: Option<&CheckReport>) -> [String; 6] {
    let Some(f) = f else {
        return std::array::from_fn(|_| "—".to_string());
    };
    [
        opt(f.rtt_ms),
        opt(f.loss_percent.map(|l| format!("{l:.1}"))),
        opt(f.jitter_ms),
        format!("{} / {}", opt(f.up_kbps), opt(f.down_kbps)),
        match (f.camera_frames, f.camera_width, f.camera_height) {
            (Some(n), Some(w), Some(h)) if n > 0 => format!("{w}×{h}, {n} khung"),
            _ => "không có".into(),
        },
        opt(f.mic_level.map(|l| format!("{l:.3}"))),
    ]
}

/// The board's rows as text cells, in [`HEADER`] order.
pub fn rows(b: &ReadinessBoard) -> Vec<Vec<String>> {
    b.rows
        .iter()
        .map(|r| {
            let [rtt, loss, jitter, rate, camera, mic] = figures(r.figures.as_ref());
            let reasons: Vec<&str> = r.failing.iter().map(|f| f.reason.as_str()).collect();
            let name = if r.hub {
                format!("{} (chủ trì)", r.name)
            } else {
                r.name.clone()
            };
            vec![
                name,
                r.unit_name.clone().unwrap_or_default(),
                r.status_label.to_string(),
                reasons.join("; "),
                rtt,
                loss,
                jitter,
                rate,
                camera,
                mic,
                // Name over phone: a phone number is never cut in two.
                format!("{}\n{}", r.technician_name, r.technician_phone)
                    .trim()
                    .to_string(),
                r.checked_at_ms.map(vn_time).unwrap_or_else(|| "—".into()),
            ]
        })
        .collect()
}

fn summary(b: &ReadinessBoard) -> Vec<String> {
    let n = |k: &str| b.counts.get(k).copied().unwrap_or(0);
    vec![
        format!(
            "Hội nghị: {} — bắt đầu {}",
            b.title,
            vn_time(b.starts_at_ms)
        ),
        format!(
            "Sẵn sàng {} · Cảnh báo {} · Không đạt {} · Đã kết nối, chưa kiểm tra {} · Chưa kiểm tra {}",
            n("ready"),
            n("warning"),
            n("failed"),
            n("connected_unchecked"),
            n("not_checked")
        ),
    ]
}

/// The board as an XLSX workbook (one sheet, "Sẵn sàng").
pub fn xlsx(b: &ReadinessBoard) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet();
    ws.set_name("Sẵn sàng")?;
    ws.write_string_with_format(0, 0, "Bảng sẵn sàng kỹ thuật", &bold)?;
    for (i, line) in summary(b).iter().enumerate() {
        ws.write_string(1 + i as u32, 0, line)?;
    }
    let top = 4u32;
    for (c, h) in HEADER.iter().enumerate() {
        ws.write_string_with_format(top, c as u16, *h, &bold)?;
    }
    for (r, row) in rows(b).iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            ws.write_string(top + 1 + r as u32, c as u16, cell)?;
        }
    }
    for (c, w) in [28, 22, 16, 40, 9, 10, 11, 16, 20, 8, 28, 17]
        .iter()
        .enumerate()
    {
        ws.set_column_width(c as u16, *w)?;
    }
    wb.save_to_buffer()
}

/// The board as a PDF (A4 landscape).
pub fn pdf(b: &ReadinessBoard) -> Result<Vec<u8>, String> {
    let rows = rows(b);
    crate::pdf::table::render(&crate::pdf::table::Table {
        title: "Bảng sẵn sàng kỹ thuật",
        lines: &summary(b),
        header: &HEADER,
        widths: &[
            0.11, 0.09, 0.07, 0.15, 0.045, 0.05, 0.05, 0.07, 0.09, 0.045, 0.13, 0.08,
        ],
        rows: &rows,
        empty: "Hội nghị chưa có điểm cầu nào.",
    })
}
