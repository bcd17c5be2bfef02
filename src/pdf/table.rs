//! A table report as a PDF: A4 landscape, a title and a few lines under it,
//! then rows under a bold header repeated on every page, Vietnamese text in
//! embedded DejaVu Sans, pages numbered "Trang n/N". For the readiness board
//! and the monthly unit report; the minutes have their own layout.

use std::fmt::Write as _;

use super::font::{Face, FontUse};
use super::write::number;

const PAGE_W: f32 = 841.89;
const PAGE_H: f32 = 595.28;
const MARGIN: f32 = 36.0;
const SIZE: f32 = 8.5;
const LEAD: f32 = SIZE * 1.35;

/// What to lay out.
pub struct Table<'a> {
    pub title: &'a str,
    /// Lines under the title (meeting, period, counts).
    pub lines: &'a [String],
    pub header: &'a [&'a str],
    /// Column widths as fractions of the text width (sum ≤ 1).
    pub widths: &'a [f32],
    pub rows: &'a [Vec<String>],
    /// Said instead of the table when there are no rows.
    pub empty: &'a str,
}

struct Pages {
    regular: FontUse,
    bold: FontUse,
    pages: Vec<String>,
    y: f32,
}

impl Pages {
    fn put(&mut self, text: &str, x: f32, size: f32, bold: bool) {
        let (font, name) = if bold {
            (&mut self.bold, "F2")
        } else {
            (&mut self.regular, "F1")
        };
        let encoded = font.encode(text);
        if let Some(page) = self.pages.last_mut() {
            let _ = writeln!(
                page,
                "BT /{name} {} Tf {} {} Td {encoded} Tj ET",
                number(f64::from(size)),
                number(f64::from(x)),
                number(f64::from(self.y))
            );
        }
    }

    fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        let f = if bold { &self.bold } else { &self.regular };
        f.width(text) * size
    }

    /// `text` cut into lines no wider than `w` (by words, then characters).
    fn wrap(&self, text: &str, w: f32, bold: bool) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            for word in para.split_whitespace() {
                let cand = if line.is_empty() {
                    word.to_string()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&cand, SIZE, bold) <= w {
                    line = cand;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                for c in word.chars() {
                    line.push(c);
                    if self.width(&line, SIZE, bold) > w && line.chars().count() > 1 {
                        line.pop();
                        lines.push(std::mem::take(&mut line));
                        line.push(c);
                    }
                }
            }
            lines.push(line);
        }
        lines
    }

    fn row(&mut self, cells: &[String], widths: &[f32], bold: bool) {
        let total = PAGE_W - 2.0 * MARGIN;
        let mut x = MARGIN;
        let mut cols = Vec::new();
        for (text, frac) in cells.iter().zip(widths) {
            cols.push((x, self.wrap(text, total * frac - 4.0, bold)));
            x += total * frac;
        }
        let height = cols.iter().map(|c| c.1.len()).max().unwrap_or(1) as f32 * LEAD + 3.0;
        let top = self.y;
        for (x, lines) in cols {
            self.y = top;
            for l in lines {
                self.y -= LEAD;
                self.put(&l, x, SIZE, bold);
            }
        }
        self.y = top - height;
        if let Some(page) = self.pages.last_mut() {
            let _ = writeln!(
                page,
                "0.8 G 0.4 w {} {} m {} {} l S",
                number(f64::from(MARGIN)),
                number(f64::from(self.y + 1.5)),
                number(f64::from(PAGE_W - MARGIN)),
                number(f64::from(self.y + 1.5))
            );
        }
    }
}

/// The table as a PDF file.
pub fn render(t: &Table<'_>) -> Result<Vec<u8>, String> {
    let mut p = Pages {
        regular: FontUse::new(Face::Regular),
        bold: FontUse::new(Face::Bold),
        pages: vec![String::new()],
        y: PAGE_H - MARGIN,
    };
    p.y -= 16.0;
    p.put(t.title, MARGIN, 14.0, true);
    p.y -= 4.0;
    for line in t.lines {
        p.y -= LEAD + 1.0;
        p.put(line, MARGIN, SIZE + 1.0, false);
    }
    p.y -= 8.0;
    let header: Vec<String> = t.header.iter().map(|h| h.to_string()).collect();
    if t.rows.is_empty() {
        p.y -= LEAD;
        p.put(t.empty, MARGIN, SIZE + 1.0, false);
    } else {
        p.row(&header, t.widths, true);
    }
    for r in t.rows {
        // The tallest row this could be; a new page repeats the header.
        let need = p.wrap(&r.join(" "), PAGE_W, false).len() as f32 * LEAD * 4.0;
        if p.y - need.min(LEAD * 8.0) < MARGIN + 16.0 {
            p.pages.push(String::new());
            p.y = PAGE_H - MARGIN;
            p.row(&header, t.widths, true);
        }
        p.row(r, t.widths, false);
    }
    let n = p.pages.len();
    for i in 0..n {
        let text = format!("Trang {}/{n} · {} · diemcau", i + 1, t.title);
        let w = p.width(&text, 7.5, false);
        let encoded = p.regular.encode(&text);
        let _ = writeln!(
            p.pages[i],
            "0.35 g BT /F1 7.5 Tf {} 18 Td {encoded} Tj ET",
            number(f64::from((PAGE_W - w) / 2.0))
        );
    }

    super::document::assemble(&p.pages, (PAGE_W, PAGE_H), &p.regular, &p.bold, t.title)
}
