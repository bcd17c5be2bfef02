//! The visible block of a signature on the last page: who signed ("Ký số
//! bởi"), for which organisation, in which capacity and when, in the
//! province's time (UTC+07:00), in embedded DejaVu Sans.
//!
//! Our PDFs keep a blank band above the bottom margin of their last page
//! ([`BAND_BOTTOM_PT`], [`BAND_HEIGHT_PT`]) with room for three blocks side
//! by side: the secretary's, the chair's, then the organisation's seal.

use std::fmt::Write as _;

use crate::pdf::font::FontUse;
use crate::pdf::write::number;

/// The band's lower edge: the A4 bottom margin our PDFs use (20 mm).
pub const BAND_BOTTOM_PT: f32 = 57.0;
/// The band's height: five lines of 7.5 pt text (10 pt apart) and a border.
pub const BAND_HEIGHT_PT: f32 = 58.0;
/// Where the band starts on the left (the 30 mm administrative margin).
const BAND_LEFT_PT: f32 = 85.0;
/// A block's width: three fill the text width of an A4 page (467 pt).
pub const BLOCK_WIDTH_PT: f32 = 150.0;
const BLOCK_GAP_PT: f32 = 8.5;
const TEXT_PT: f32 = 7.5;
const LEADING_PT: f32 = 10.0;
const PAD_PT: f32 = 4.0;

/// What the block says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockText {
    /// The signer: a person's name, or the organisation for a seal.
    pub signer: String,
    pub organization: Option<String>,
    /// In which capacity ("Thư ký", "Chủ trì", "Dấu của cơ quan").
    pub role: String,
    /// When, unix ms (shown in UTC+07:00).
    pub signed_at_ms: i64,
}

/// The rectangle of the `slot`-th block on a page of width `page_w`
/// (slots past the third wrap to the next row up).
pub fn rect(slot: usize, page_w: f32) -> [f32; 4] {
    let per_row = 3;
    let col = (slot % per_row) as f32;
    let row = (slot / per_row) as f32;
    // Pages narrower than A4 shrink the gaps, never the blocks.
    let gap = if page_w >= BAND_LEFT_PT + 3.0 * BLOCK_WIDTH_PT {
        BLOCK_GAP_PT
    } else {
        0.0
    };
    let x = (BAND_LEFT_PT + col * (BLOCK_WIDTH_PT + gap)).min(page_w - BLOCK_WIDTH_PT);
    let y = BAND_BOTTOM_PT + row * (BAND_HEIGHT_PT + gap);
    [
        x.max(0.0),
        y,
        x.max(0.0) + BLOCK_WIDTH_PT,
        y + BAND_HEIGHT_PT,
    ]
}

/// `dd/mm/yyyy HH:MM:SS` in the province.
pub fn local_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| t.to_offset(time::macros::offset!(+7)))
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[day]/[month]/[year] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// The PDF date of `ms` in the province (`D:YYYYMMDDHHmmSS+07'00'`).
pub fn pdf_date(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| t.to_offset(time::macros::offset!(+7)))
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "D:[year][month][day][hour][minute][second]+07'00'"
            ))
            .ok()
        })
        .unwrap_or_else(|| "D:19700101000000Z".into())
}

/// `text` cut to fit `max_w` at `size`, with an ellipsis when cut.
fn fit(font: &FontUse, text: &str, size: f32, max_w: f32) -> String {
    if font.width(text) * size <= max_w {
        return text.to_string();
    }
    let mut out: String = text.to_string();
    while !out.is_empty() && font.width(&format!("{out}…")) * size > max_w {
        out.pop();
    }
    format!("{}…", out.trim_end())
}

/// The block's content stream, in a form XObject of `BLOCK_WIDTH_PT` ×
/// `BAND_HEIGHT_PT` whose fonts are `/F1` (regular) and `/F2` (bold).
pub fn content(text: &BlockText, regular: &mut FontUse, bold: &mut FontUse) -> String {
    let w = BLOCK_WIDTH_PT;
    let h = BAND_HEIGHT_PT;
    let inner = w - 2.0 * PAD_PT;
    let mut s = String::new();
    // A thin dark-red border, as stamps are red on paper.
    let _ = writeln!(
        s,
        "q 0.55 0.05 0.05 RG 0.8 w 0.4 0.4 {} {} re S Q",
        number(f64::from(w - 0.8)),
        number(f64::from(h - 0.8))
    );
    let mut lines: Vec<(bool, String)> = vec![(true, format!("Ký số bởi: {}", text.signer))];
    if let Some(o) = text.organization.as_deref().filter(|o| *o != text.signer) {
        lines.push((false, o.to_string()));
    }
    lines.push((false, text.role.clone()));
    lines.push((
        false,
        format!("Thời gian ký: {}", local_time(text.signed_at_ms)),
    ));
    lines.push((false, "(giờ Việt Nam, UTC+07:00)".to_string()));
    let mut y = h - PAD_PT - TEXT_PT;
    for (is_bold, line) in lines {
        let font = if is_bold { &mut *bold } else { &mut *regular };
        let shown = fit(font, &line, TEXT_PT, inner);
        let encoded = font.encode(&shown);
        let name = if is_bold { "F2" } else { "F1" };
        let _ = writeln!(
            s,
            "BT 0.55 0.05 0.05 rg /{name} {} Tf {} {} Td {encoded} Tj ET",
            number(f64::from(TEXT_PT)),
            number(f64::from(PAD_PT)),
            number(f64::from(y))
        );
        y -= LEADING_PT;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_times_are_shown_in_the_province_utc_plus_7() {
        // 2026-01-01T00:00:00Z
        let ms = 1_767_225_600_000;
        assert_eq!(local_time(ms), "01/01/2026 07:00:00");
        assert_eq!(pdf_date(ms), "D:20260101070000+07'00'");
    }

    #[test]
    fn three_blocks_fit_side_by_side_in_an_a4_text_width() {
        let last = rect(2, 595.28);
        assert!(last[2] <= 595.28 - 42.0, "{last:?}");
        assert!(rect(1, 595.28)[0] >= rect(0, 595.28)[2]);
        assert!(rect(3, 595.28)[1] > rect(0, 595.28)[3]);
    }
}
