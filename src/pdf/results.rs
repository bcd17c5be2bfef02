//! A published vote's results as a one-page A4 PDF (Vietnamese, embedded
//! DejaVu Sans), the copy the organisation seals: the meeting, the motion,
//! each option's votes and share, the total, when it was published. The
//! bottom of the page stays blank for the seal's visible block.

use std::fmt::Write as _;

use super::font::{Face, FontUse};
use super::write::number;

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const LEFT: f32 = 85.0;
const RIGHT: f32 = 42.5;
const TOP: f32 = 57.0;
const BODY: f32 = 11.5;
/// Lines the page holds above the seal's band; a longer text is cut with
/// an ellipsis (the full record is in the minutes).
const MAX_LINES: usize = 40;

/// What the page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultsPage {
    pub meeting_title: String,
    pub kind_label: String,
    /// `YYYY-MM-DD` in the province.
    pub local_date: String,
    pub position: u32,
    pub title: String,
    pub description: String,
    /// "Biểu quyết công khai" or "Bỏ phiếu kín".
    pub mode_label: String,
    /// (label, votes, ballots).
    pub options: Vec<(String, u64, u64)>,
    pub total_votes: u64,
    /// `dd/mm/yyyy HH:MM:SS` in the province.
    pub published_local: String,
}

struct Page {
    regular: FontUse,
    bold: FontUse,
    content: String,
    y: f32,
    lines: usize,
}

impl Page {
    fn line(&mut self, text: &str, size: f32, bold: bool, centre: bool) {
        if self.lines >= MAX_LINES {
            return;
        }
        self.lines += 1;
        let font = if bold {
            &mut self.bold
        } else {
            &mut self.regular
        };
        let width = PAGE_W - LEFT - RIGHT;
        let mut shown = text.to_string();
        while !shown.is_empty() && font.width(&shown) * size > width {
            shown.pop();
        }
        if shown.len() < text.len() {
            shown.pop();
            shown.push('…');
        }
        let x = if centre {
            LEFT + (width - font.width(&shown) * size) / 2.0
        } else {
            LEFT
        };
        self.y -= size * 1.45;
        let encoded = font.encode(&shown);
        let name = if bold { "F2" } else { "F1" };
        let _ = writeln!(
            self.content,
            "BT /{name} {} Tf {} {} Td {encoded} Tj ET",
            number(f64::from(size)),
            number(f64::from(x)),
            number(f64::from(self.y))
        );
    }

    /// `text` wrapped at word boundaries to the text width.
    fn para(&mut self, text: &str, size: f32) {
        let width = PAGE_W - LEFT - RIGHT;
        for para in text.split('\n') {
            let mut line = String::new();
            for word in para.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_string()
                } else {
                    format!("{line} {word}")
                };
                if self.regular.width(&candidate) * size <= width || line.is_empty() {
                    line = candidate;
                } else {
                    let full = std::mem::replace(&mut line, word.to_string());
                    self.line(&full, size, false, false);
                }
            }
            if !line.is_empty() {
                self.line(&line, size, false, false);
            }
        }
    }
}

/// Per cent with one decimal, Vietnamese style ("66,7%").
fn share(votes: u64, total: u64) -> String {
    if total == 0 {
        return "0%".into();
    }
    let tenths = (votes * 1000 + total / 2) / total;
    format!("{},{}%", tenths / 10, tenths % 10)
}

pub fn render(r: &ResultsPage) -> Result<Vec<u8>, String> {
    let mut p = Page {
        regular: FontUse::new(Face::Regular),
        bold: FontUse::new(Face::Bold),
        content: String::new(),
        y: PAGE_H - TOP,
        lines: 0,
    };
    p.line("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", BODY, true, true);
    p.line("Độc lập - Tự do - Hạnh phúc", BODY, false, true);
    p.y -= BODY;
    p.line("KẾT QUẢ BIỂU QUYẾT", BODY + 4.0, true, true);
    p.line(
        &format!("{} — {}", r.kind_label, r.meeting_title),
        BODY,
        false,
        true,
    );
    p.line(&format!("Ngày {}", r.local_date), BODY, false, true);
    p.y -= BODY;
    p.line(
        &format!("Nội dung {}: {}", r.position, r.title),
        BODY + 1.0,
        true,
        false,
    );
    if !r.description.trim().is_empty() {
        p.para(r.description.trim(), BODY);
    }
    p.line(&format!("Hình thức: {}", r.mode_label), BODY, false, false);
    p.y -= BODY * 0.5;
    for (label, votes, ballots) in &r.options {
        let text = format!(
            "• {label}: {votes} ({}) — {ballots} phiếu",
            share(*votes, r.total_votes)
        );
        p.line(&text, BODY, false, false);
    }
    p.y -= BODY * 0.5;
    p.line(
        &format!("Tổng số biểu quyết: {}", r.total_votes),
        BODY,
        true,
        false,
    );
    p.line(
        &format!("Công bố lúc {} (UTC+07:00)", r.published_local),
        BODY,
        false,
        false,
    );

    super::document::assemble(
        std::slice::from_ref(&p.content),
        (PAGE_W, PAGE_H),
        &p.regular,
        &p.bold,
        &format!("Kết quả biểu quyết — {}", r.title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_rounded_to_a_tenth_with_a_decimal_comma() {
        assert_eq!(share(2, 3), "66,7%");
        assert_eq!(share(0, 0), "0%");
        assert_eq!(share(5, 5), "100,0%");
    }
}
