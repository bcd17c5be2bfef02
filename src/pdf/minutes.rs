//! Biên bản as a PDF: A4, the layout of a Party committee's minutes
//! (national motto block, title, then the sections in the order the
//! meeting ran), Vietnamese text in embedded DejaVu Sans, every page
//! numbered "Trang n/N" with the version and its status.

use std::fmt::Write as _;

use super::font::{Face, FontUse};
use super::write::number;
use crate::control::minutes::{Minutes, VersionInfo, VersionStatus};

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
/// Margins as administrative documents have them: 30 mm left, 15 mm
/// right, 20 mm top and bottom.
const LEFT: f32 = 85.0;
const RIGHT: f32 = 42.5;
const TOP: f32 = 57.0;
const BOTTOM: f32 = 57.0;
const BODY: f32 = 11.5;

#[derive(Clone, Copy, PartialEq)]
enum Align {
    Left,
    Centre,
}

/// Lays out lines on pages; each page is a content string until the end.
struct Layout {
    regular: FontUse,
    bold: FontUse,
    pages: Vec<String>,
    y: f32,
}

impl Layout {
    fn new() -> Layout {
        let mut l = Layout {
            regular: FontUse::new(Face::Regular),
            bold: FontUse::new(Face::Bold),
            pages: Vec::new(),
            y: 0.0,
        };
        l.new_page();
        l
    }

    fn new_page(&mut self) {
        self.pages.push(String::new());
        self.y = PAGE_H - TOP;
    }

    fn font(&mut self, bold: bool) -> &mut FontUse {
        if bold {
            &mut self.bold
        } else {
            &mut self.regular
        }
    }

    fn width(&mut self, text: &str, size: f32, bold: bool) -> f32 {
        self.font(bold).width(text) * size
    }

    /// Draw one line at (x, baseline y) on the current page.
    fn put(&mut self, text: &str, x: f32, size: f32, bold: bool) {
        let y = self.y;
        let name = if bold { "F2" } else { "F1" };
        let encoded = self.font(bold).encode(text);
        if let Some(page) = self.pages.last_mut() {
            let _ = writeln!(
                page,
                "BT /{name} {} Tf {} {} Td {encoded} Tj ET",
                number(f64::from(size)),
                number(f64::from(x)),
                number(f64::from(y))
            );
        }
    }

    fn need(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.new_page();
        }
    }

    /// Words of `text` broken into lines no wider than `width`.
    fn wrap(&mut self, text: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            for word in para.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_string()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size, bold) <= width || line.is_empty() {
                    // A single word wider than the line is cut by characters.
                    if line.is_empty() && self.width(word, size, bold) > width {
                        let mut piece = String::new();
                        for c in word.chars() {
                            piece.push(c);
                            if self.width(&piece, size, bold) > width {
                                piece.pop();
                                lines.push(std::mem::take(&mut piece));
                                piece.push(c);
                            }
                        }
                        line = piece;
                    } else {
                        line = candidate;
                    }
                } else {
                    lines.push(std::mem::replace(&mut line, word.to_string()));
                }
            }
            lines.push(line);
        }
        lines
    }

    /// A paragraph, wrapped, starting at `indent` from the left margin.
    fn para(&mut self, text: &str, size: f32, bold: bool, align: Align, indent: f32) {
        let width = PAGE_W - LEFT - RIGHT - indent;
        let lead = size * 1.4;
        for line in self.wrap(text, size, bold, width) {
            self.need(lead);
            self.y -= lead;
            let x = match align {
                Align::Left => LEFT + indent,
                Align::Centre => LEFT + (width - self.width(&line, size, bold)) / 2.0 + indent,
            };
            self.put(&line, x, size, bold);
        }
    }

    fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    fn heading(&mut self, text: &str) {
        self.need(BODY * 4.0);
        self.gap(BODY * 0.6);
        self.para(text, BODY + 0.5, true, Align::Left, 0.0);
    }

    /// A row of cells at fixed x offsets (fractions of the text width),
    /// each wrapped in its own column.
    fn row(&mut self, cells: &[(&str, f32)], bold: bool) {
        let total = PAGE_W - LEFT - RIGHT;
        let size = BODY - 1.0;
        let lead = size * 1.35;
        let mut columns = Vec::new();
        let mut x = 0.0;
        for (text, frac) in cells {
            let w = total * frac - 6.0;
            columns.push((x, self.wrap(text, size, bold, w)));
            x += total * frac;
        }
        let height = columns.iter().map(|(_, l)| l.len()).max().unwrap_or(1) as f32 * lead;
        self.need(height + 2.0);
        let top = self.y;
        for (x, lines) in &columns {
            self.y = top;
            for line in lines {
                self.y -= lead;
                self.put(line, LEFT + x, size, bold);
            }
        }
        self.y = top - height - 2.0;
    }
}

fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

/// The minutes as a PDF. `version` is the saved version being exported
/// (`None`: generated from the record, not saved).
pub fn render(m: &Minutes, version: Option<&VersionInfo>) -> Result<Vec<u8>, String> {
    let mut l = Layout::new();
    let h = &m.header;

    // The motto block on the right, the document's kind on the left.
    let top = l.y;
    l.para("ĐẢNG CỘNG SẢN VIỆT NAM", BODY, true, Align::Left, 250.0);
    let after = l.y;
    l.y = top;
    l.para(
        &h.kind_label.to_uppercase(),
        BODY - 1.0,
        true,
        Align::Left,
        0.0,
    );
    l.y = l.y.min(after);
    let date = h.local_date.split('-').collect::<Vec<_>>();
    if let [y, mo, d] = date[..] {
        l.para(
            &format!("ngày {d} tháng {mo} năm {y}"),
            BODY - 1.0,
            false,
            Align::Left,
            250.0,
        );
    }
    l.gap(BODY * 1.5);
    l.para("BIÊN BẢN", BODY + 4.5, true, Align::Centre, 0.0);
    l.para(&h.title, BODY + 1.0, true, Align::Centre, 0.0);
    match version {
        Some(v) if v.status == VersionStatus::Final => {
            l.para(
                &format!("Bản chính thức — phiên bản {}", v.version),
                BODY - 1.5,
                false,
                Align::Centre,
                0.0,
            );
        }
        Some(v) => l.para(
            &format!("DỰ THẢO — phiên bản {}", v.version),
            BODY - 1.5,
            true,
            Align::Centre,
            0.0,
        ),
        None => l.para(
            "DỰ THẢO — tạo từ dữ liệu hội nghị, chưa lưu",
            BODY - 1.5,
            true,
            Align::Centre,
            0.0,
        ),
    }
    l.gap(BODY);

    l.heading("I. THỜI GIAN, THÀNH PHẦN");
    l.para(
        &format!(
            "Thời gian: ngày {}, từ {} đến {} (giờ Việt Nam).",
            h.local_date, h.local_start, h.local_end
        ),
        BODY,
        false,
        Align::Left,
        0.0,
    );
    l.para(
        &format!("Chủ trì: {}.", h.chair.as_deref().unwrap_or("(chưa ghi)")),
        BODY,
        false,
        Align::Left,
        0.0,
    );
    l.para(
        &format!(
            "Thư ký: {}.",
            h.secretary.as_deref().unwrap_or("(chưa ghi)")
        ),
        BODY,
        false,
        Align::Left,
        0.0,
    );

    l.heading("II. ĐIỂM DANH CÁC ĐIỂM CẦU");
    match &m.attendance {
        None => l.para(
            "Chưa chụp điểm danh cho biên bản.",
            BODY,
            false,
            Align::Left,
            0.0,
        ),
        Some(a) => {
            l.para(
                &format!(
                    "Có mặt {}/{} điểm cầu; {} người dự. Túc số: cần {}, có {} — {}.",
                    a.connected_sites,
                    a.expected_sites,
                    a.people_present,
                    a.quorum.required,
                    a.quorum.present,
                    if a.quorum.met {
                        "đủ"
                    } else {
                        "không đủ"
                    }
                ),
                BODY,
                false,
                Align::Left,
                0.0,
            );
            l.gap(4.0);
            l.row(
                &[
                    ("Điểm cầu", 0.42),
                    ("Đơn vị", 0.34),
                    ("Có mặt", 0.12),
                    ("Số người", 0.12),
                ],
                true,
            );
            for s in &a.sites {
                let mut name = s.name.clone();
                if s.hub {
                    name.push_str(" (điểm cầu chính)");
                }
                if s.guest {
                    name.push_str(" (khách)");
                }
                let count = s.headcount.map(|c| c.to_string()).unwrap_or_default();
                l.row(
                    &[
                        (&name, 0.42),
                        (s.unit_name.as_deref().unwrap_or(""), 0.34),
                        (if s.present { "có" } else { "vắng" }, 0.12),
                        (&count, 0.12),
                    ],
                    false,
                );
            }
        }
    }

    l.heading("III. CHƯƠNG TRÌNH VÀ DIỄN BIẾN");
    if m.agenda.is_empty() {
        l.para("Không có chương trình.", BODY, false, Align::Left, 0.0);
    }
    for item in &m.agenda {
        let when: Vec<String> = item
            .periods
            .iter()
            .map(|p| {
                format!(
                    "{}–{}",
                    p.local_start,
                    p.local_end.as_deref().unwrap_or("…")
                )
            })
            .collect();
        l.para(
            &format!("{}. {}", item.position, item.title),
            BODY,
            true,
            Align::Left,
            0.0,
        );
        let mut line = format!("Trình bày: {}", item.presenter);
        if item.planned_minutes > 0 {
            let _ = write!(line, "; dự kiến {} phút", item.planned_minutes);
        }
        if when.is_empty() {
            line.push_str("; chưa thảo luận.");
        } else {
            let _ = write!(line, "; thời gian: {}.", when.join(", "));
        }
        l.para(&line, BODY - 0.5, false, Align::Left, 14.0);
        if !item.summary.trim().is_empty() {
            l.para(item.summary.trim(), BODY, false, Align::Left, 14.0);
        }
    }
    if !m.notes.trim().is_empty() {
        l.gap(4.0);
        l.para(m.notes.trim(), BODY, false, Align::Left, 0.0);
    }

    l.heading("IV. PHÁT BIỂU");
    if m.floor.is_empty() {
        l.para("Không có lượt phát biểu.", BODY, false, Align::Left, 0.0);
    } else {
        l.row(
            &[("Giờ", 0.14), ("Điểm cầu", 0.56), ("Thời lượng", 0.3)],
            true,
        );
        for f in &m.floor {
            let spoke = f.spoke_for_ms.map(duration).unwrap_or_else(|| "…".into());
            l.row(
                &[(&f.local_time, 0.14), (&f.name, 0.56), (&spoke, 0.3)],
                false,
            );
        }
    }

    l.heading("V. BIỂU QUYẾT");
    if m.motions.is_empty() {
        l.para(
            "Không có nội dung biểu quyết được công bố.",
            BODY,
            false,
            Align::Left,
            0.0,
        );
    }
    for motion in &m.motions {
        let mode = if motion.mode == "secret" {
            "bỏ phiếu kín"
        } else {
            "biểu quyết công khai"
        };
        l.para(
            &format!("{}. {} ({mode})", motion.position, motion.title),
            BODY,
            true,
            Align::Left,
            0.0,
        );
        for o in &motion.options {
            let share = if motion.total_votes > 0 {
                format!(
                    " ({}%)",
                    number(o.votes as f64 * 100.0 / motion.total_votes as f64)
                )
            } else {
                String::new()
            };
            l.para(
                &format!("– {}: {} phiếu{share}", o.label, o.votes),
                BODY,
                false,
                Align::Left,
                14.0,
            );
        }
        l.para(
            &format!("Tổng số phiếu: {}.", motion.total_votes),
            BODY - 0.5,
            false,
            Align::Left,
            14.0,
        );
    }

    l.heading("VI. KẾT LUẬN");
    if m.conclusions.trim().is_empty() {
        l.para("(Thư ký chưa ghi kết luận.)", BODY, false, Align::Left, 0.0);
    } else {
        l.para(m.conclusions.trim(), BODY, false, Align::Left, 0.0);
    }

    // Signatures: secretary left, chair right.
    l.need(BODY * 8.0);
    l.gap(BODY * 2.0);
    let top = l.y;
    l.para("THƯ KÝ", BODY, true, Align::Left, 40.0);
    l.gap(BODY * 4.0);
    l.para(
        h.secretary.as_deref().unwrap_or(""),
        BODY,
        false,
        Align::Left,
        40.0,
    );
    let bottom = l.y;
    l.y = top;
    l.para("CHỦ TRÌ", BODY, true, Align::Left, 290.0);
    l.gap(BODY * 4.0);
    l.para(
        h.chair.as_deref().unwrap_or(""),
        BODY,
        false,
        Align::Left,
        290.0,
    );
    l.y = l.y.min(bottom);
    // A blank band above the bottom margin of the last page for the
    // signatures' visible blocks (secretary, chair, the seal).
    l.need(BODY + crate::sign::appearance::BAND_HEIGHT_PT);

    // Footers, now that the page count is known.
    let pages = l.pages.len();
    let status = match version {
        Some(v) if v.status == VersionStatus::Final => {
            format!(
                "Phiên bản {} (chính thức) · SHA-256 {}",
                v.version,
                &v.sha256[..16.min(v.sha256.len())]
            )
        }
        Some(v) => format!("Phiên bản {} (dự thảo)", v.version),
        None => "Dự thảo chưa lưu".to_string(),
    };
    for i in 0..pages {
        let text = format!("Trang {}/{pages} · {status} · diemcau", i + 1);
        let w = l.width(&text, 8.0, false);
        let encoded = l.regular.encode(&text);
        let _ = writeln!(
            l.pages[i],
            "0.35 g BT /F1 8 Tf {} 28 Td {encoded} Tj ET",
            number(f64::from((PAGE_W - w) / 2.0))
        );
    }

    super::document::assemble(
        &l.pages,
        (PAGE_W, PAGE_H),
        &l.regular,
        &l.bold,
        &format!("Biên bản — {}", h.title),
    )
}
