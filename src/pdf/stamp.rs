//! The per-reader watermark on PDF downloads, as an incremental update.
//!
//! The stored file is never rewritten: a download is the original bytes,
//! streamed as they are, followed by a small tail made for this reader —
//! new versions of the page objects (their content wrapped in `q … Q`, plus
//! a watermark stream), a font subset with the reader's letters, and a new
//! cross-reference section pointing back to the original one. So a 200 MiB
//! document costs a few KiB per reader, Range requests still work (the tail
//! is the same for the same reader and first-read time), and nothing about
//! the original is lost.
//!
//! Finding the pages needs the file parsed once: [`plan`] runs at upload
//! and keeps what the tail needs (page object numbers and dictionaries, the
//! trailer) as JSON beside the document.
//!
//! Bounded by construction: at most [`MAX_PLAN_PAGES`] pages and
//! [`MAX_PLAN_BYTES`] of plan; a PDF over either is refused at upload
//! ([`PlanError::TooLarge`], 413 naming the limit) — a document the server
//! cannot watermark is not handed out. Resources shared by pages
//! (inherited from the page tree, or the same dictionary) are kept once in
//! the plan and written once in each tail, referenced by every page.

use std::collections::HashMap;
use std::fmt::Write as _;

use lopdf::{Dictionary, Object};
use serde::{Deserialize, Serialize};

use super::font::{Face, FontUse};

/// Pages a watermarked PDF may have: ten times a thick congress report
/// (~500 pages); the plan and each reader's tail grow with the pages (a
/// page object each), so the bound keeps both small.
pub const MAX_PLAN_PAGES: usize = 5_000;

/// Bytes a plan may take as JSON: 5 000 pages of ordinary page
/// dictionaries take well under 2 MiB; more means pages with huge inline
/// dictionaries, which every tail would copy.
pub const MAX_PLAN_BYTES: usize = 4 * 1024 * 1024;
use super::write::{Objects, dict_entries, number, serialize};

/// What the tail needs to know about a stored PDF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StampPlan {
    pub base_len: u64,
    /// Where the file's last cross-reference section starts (`/Prev`).
    pub prev_xref: u64,
    /// The first object number the tail may use.
    pub size: u32,
    /// `/Root`, `/Info` and `/ID`, as PDF syntax.
    pub trailer: String,
    /// The file ends with a cross-reference stream (PDF 1.5+): so must we.
    pub xref_stream: bool,
    pub pages: Vec<PagePlan>,
    /// Resource sets, each once however many pages use it.
    pub resources: Vec<ResourceSet>,
    /// Text on the pages carries a "MẬT" stamp (found through the fonts'
    /// own text mapping, so compressed content streams are covered too).
    pub stamp_found: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PagePlan {
    pub num: u32,
    pub generation: u16,
    /// The page dictionary's entries but `/Contents` and `/Resources`.
    pub entries: String,
    /// References to the page's content streams.
    pub contents: Vec<String>,
    /// Index of the page's resources (inherited ones resolved) in
    /// [`StampPlan::resources`].
    pub resources: usize,
    /// The visible area (CropBox, else MediaBox) and the page's rotation.
    pub area: [f64; 4],
    pub rotate: i64,
}

/// One resource dictionary: its entries but fonts and graphics states,
/// which the tail lists with its own added.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ResourceSet {
    pub other: String,
    pub fonts: String,
    pub states: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the PDF is too large to carry each reader's watermark ({what}: {found}, the limit is {limit}); split it into parts"
    )]
    TooLarge {
        what: &'static str,
        found: usize,
        limit: usize,
    },
    #[error("the PDF could not be read ({0})")]
    Unreadable(String),
    #[error("the PDF is encrypted; an encrypted PDF cannot carry the reader's watermark")]
    Encrypted,
    #[error("the PDF has no pages")]
    NoPages,
}

/// Parse a PDF once and keep what a watermark tail needs.
pub fn plan(bytes: &[u8]) -> Result<StampPlan, PlanError> {
    // lopdf is robust but not ours: a panic on a hostile file must not
    // take the upload task with it.
    let doc = std::panic::catch_unwind(|| lopdf::Document::load_mem(bytes))
        .map_err(|_| PlanError::Unreadable("the parser gave up".into()))?
        .map_err(|e| PlanError::Unreadable(e.to_string()))?;
    if doc.is_encrypted() {
        return Err(PlanError::Encrypted);
    }
    let page_ids = doc.get_pages();
    if page_ids.is_empty() {
        return Err(PlanError::NoPages);
    }
    if page_ids.len() > MAX_PLAN_PAGES {
        return Err(PlanError::TooLarge {
            what: "pages",
            found: page_ids.len(),
            limit: MAX_PLAN_PAGES,
        });
    }
    let mut pages = Vec::with_capacity(page_ids.len());
    let mut sets = ResourceSets::default();
    for id in page_ids.values() {
        let dict = doc
            .get_dictionary(*id)
            .map_err(|e| PlanError::Unreadable(format!("page {} {}: {e}", id.0, id.1)))?;
        pages.push(page_plan(&doc, *id, dict, &mut sets));
    }
    let mut trailer = String::new();
    for key in [&b"Root"[..], b"Info", b"ID"] {
        if let Ok(v) = doc.trailer.get(key) {
            let _ = write!(
                trailer,
                "/{} {} ",
                String::from_utf8_lossy(key),
                serialize(v)
            );
        }
    }
    if !trailer.contains("/Root") {
        return Err(PlanError::Unreadable("no document catalog".into()));
    }
    let declared = doc
        .trailer
        .get(b"Size")
        .and_then(Object::as_i64)
        .unwrap_or(0);
    let size = u32::try_from(declared)
        .unwrap_or(0)
        .max(doc.max_id.saturating_add(1));
    let stamp_found = text_has_stamp(&doc, &page_ids);
    let plan = StampPlan {
        base_len: bytes.len() as u64,
        prev_xref: doc.xref_start as u64,
        size,
        trailer: trailer.trim_end().to_string(),
        xref_stream: matches!(
            doc.reference_table.cross_reference_type,
            lopdf::xref::XrefType::CrossReferenceStream
        ),
        pages,
        resources: sets.list,
        stamp_found,
    };
    let bytes = serde_json::to_vec(&plan).map_or(usize::MAX, |j| j.len());
    if bytes > MAX_PLAN_BYTES {
        return Err(PlanError::TooLarge {
            what: "watermark plan bytes",
            found: bytes,
            limit: MAX_PLAN_BYTES,
        });
    }
    Ok(plan)
}

/// Resource sets met so far, each stored once.
#[derive(Default)]
struct ResourceSets {
    list: Vec<ResourceSet>,
    index: HashMap<ResourceSet, usize>,
    /// An indirect resource dictionary already read (inherited ones are
    /// the same object for every page): no re-serialising per page.
    by_object: HashMap<lopdf::ObjectId, usize>,
}

impl ResourceSets {
    fn add(&mut self, set: ResourceSet) -> usize {
        if let Some(&i) = self.index.get(&set) {
            return i;
        }
        self.list.push(set.clone());
        self.index.insert(set, self.list.len() - 1);
        self.list.len() - 1
    }
}

fn deref<'a>(doc: &'a lopdf::Document, o: &'a Object) -> &'a Object {
    doc.dereference(o).map(|(_, o)| o).unwrap_or(o)
}

/// A page attribute, inherited from the page tree when the page lacks it.
fn inherited<'a>(doc: &'a lopdf::Document, page: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    let mut node = page;
    for _ in 0..64 {
        if let Ok(v) = node.get(key) {
            return Some(deref(doc, v));
        }
        let parent = node.get(b"Parent").ok()?;
        node = deref(doc, parent).as_dict().ok()?;
    }
    None
}

fn rect(doc: &lopdf::Document, o: Option<&Object>) -> Option<[f64; 4]> {
    let items = o?.as_array().ok()?;
    if items.len() != 4 {
        return None;
    }
    let mut v = [0.0; 4];
    for (slot, item) in v.iter_mut().zip(items) {
        *slot = match deref(doc, item) {
            Object::Integer(i) => *i as f64,
            Object::Real(r) => f64::from(*r),
            _ => return None,
        };
    }
    // Normalise: corners may be given in any order.
    Some([
        v[0].min(v[2]),
        v[1].min(v[3]),
        v[0].max(v[2]),
        v[1].max(v[3]),
    ])
}

/// The page's resource dictionary: its own or the nearest ancestor's,
/// with the object it lives in when it is indirect.
fn resources_of<'a>(
    doc: &'a lopdf::Document,
    page: &'a Dictionary,
) -> Option<(Option<lopdf::ObjectId>, &'a Dictionary)> {
    let mut node = page;
    for _ in 0..64 {
        if let Ok(v) = node.get(b"Resources") {
            let id = v.as_reference().ok();
            return deref(doc, v).as_dict().ok().map(|d| (id, d));
        }
        let parent = node.get(b"Parent").ok()?;
        node = deref(doc, parent).as_dict().ok()?;
    }
    None
}

fn resource_set(doc: &lopdf::Document, resources: &Dictionary) -> ResourceSet {
    let sub = |key: &[u8]| {
        resources
            .get(key)
            .ok()
            .map(|o| deref(doc, o))
            .and_then(|o| o.as_dict().ok())
            .map(|d| dict_entries(d, &[]))
            .unwrap_or_default()
    };
    ResourceSet {
        other: dict_entries(resources, &[b"Font", b"ExtGState"]),
        fonts: sub(b"Font"),
        states: sub(b"ExtGState"),
    }
}

fn page_plan(
    doc: &lopdf::Document,
    id: lopdf::ObjectId,
    page: &Dictionary,
    sets: &mut ResourceSets,
) -> PagePlan {
    let contents = match page.get(b"Contents") {
        Ok(Object::Reference(r)) => match doc.get_object(*r) {
            Ok(Object::Array(items)) => items.iter().map(serialize).collect(),
            _ => vec![format!("{} {} R", r.0, r.1)],
        },
        Ok(Object::Array(items)) => items.iter().map(serialize).collect(),
        _ => Vec::new(),
    };
    // Inline inherited dictionaries resolve to the same set through the
    // index; indirect ones are read once.
    let resources = match resources_of(doc, page) {
        Some((Some(obj), _)) if sets.by_object.contains_key(&obj) => sets.by_object[&obj],
        Some((obj, dict)) => {
            let i = sets.add(resource_set(doc, dict));
            if let Some(obj) = obj {
                sets.by_object.insert(obj, i);
            }
            i
        }
        None => sets.add(resource_set(doc, &Dictionary::new())),
    };
    let area = rect(doc, inherited(doc, page, b"CropBox"))
        .or_else(|| rect(doc, inherited(doc, page, b"MediaBox")))
        .unwrap_or([0.0, 0.0, 595.0, 842.0]);
    let rotate = inherited(doc, page, b"Rotate")
        .and_then(|o| o.as_i64().ok())
        .unwrap_or(0)
        .rem_euclid(360);
    PagePlan {
        num: id.0,
        generation: id.1,
        entries: dict_entries(page, &[b"Contents", b"Resources"]),
        contents,
        resources,
        area,
        rotate,
    }
}

/// Whether the pages' text (as the fonts map it to Unicode) carries the
/// "MẬT" stamp as a word of its own.
fn text_has_stamp(
    doc: &lopdf::Document,
    pages: &std::collections::BTreeMap<u32, lopdf::ObjectId>,
) -> bool {
    let numbers: Vec<u32> = pages.keys().copied().collect();
    for chunk in numbers.chunks(16) {
        let text =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| doc.extract_text(chunk)))
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
        if has_stamp_word(&text) {
            return true;
        }
    }
    false
}

/// "MẬT" in capitals, alone or in "TỐI MẬT"/"TUYỆT MẬT": not "mật khẩu".
pub fn has_stamp_word(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|w| w == "MẬT")
}

/// Who the copy is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub name: String,
    pub unit: String,
    /// When they first read it, as the province reads a clock.
    pub when: String,
}

/// The bytes to append to the stored file for this reader.
pub fn tail(plan: &StampPlan, reader: &Reader) -> Result<Vec<u8>, String> {
    let mut objects = Objects::new(plan.size);
    let mut font = FontUse::new(Face::Regular);
    let faint = objects.add("<< /Type /ExtGState /ca 0.14 /CA 0.14 >>".to_string());
    let plain = objects.add("<< /Type /ExtGState /ca 0.8 /CA 0.8 >>".to_string());
    let open = objects.stream("", b"q\n", false);
    let font_num = objects.reserve();
    let mut marks: HashMap<(i64, [u64; 4]), u32> = HashMap::new();
    // Each resource set once, extended with the watermark's font and
    // states, referenced by every page that uses it.
    let mut sets: HashMap<usize, u32> = HashMap::new();
    for page in &plan.pages {
        let res = match sets.get(&page.resources) {
            Some(n) => *n,
            None => {
                let set = plan
                    .resources
                    .get(page.resources)
                    .ok_or_else(|| format!("page {} names no resource set", page.num))?;
                let n = objects.add(format!(
                    "<< {} /Font << {} /DcWmF {font_num} 0 R >> \
                     /ExtGState << {} /DcWmA {faint} 0 R /DcWmB {plain} 0 R >> >>",
                    set.other, set.fonts, set.states
                ));
                sets.insert(page.resources, n);
                n
            }
        };
        let key = (page.rotate, page.area.map(f64::to_bits));
        let mark = match marks.get(&key) {
            Some(n) => *n,
            None => {
                let content = mark_content(&mut font, reader, page.area, page.rotate);
                let n = objects.stream("", content.as_bytes(), true);
                marks.insert(key, n);
                n
            }
        };
        let mut contents = format!("{open} 0 R");
        for c in &page.contents {
            contents.push(' ');
            contents.push_str(c);
        }
        let _ = write!(contents, " {mark} 0 R");
        let body = format!(
            "<< {} /Contents [{contents}] /Resources {res} 0 R >>",
            page.entries
        );
        objects.replace(page.num, page.generation, body);
    }
    // The font goes last: only now are all of the reader's letters known.
    font.embed(&mut objects, font_num)?;
    Ok(objects.finish_update(
        plan.base_len,
        plan.prev_xref,
        &plan.trailer,
        plan.xref_stream,
    ))
}

/// The watermark drawn over a page: the reader's name and unit across the
/// diagonal, faint, and a small plain footer line, in the page's displayed
/// orientation.
fn mark_content(font: &mut FontUse, reader: &Reader, area: [f64; 4], rotate: i64) -> String {
    let [x0, y0, x1, y1] = area;
    let (w, h) = if rotate == 90 || rotate == 270 {
        (y1 - y0, x1 - x0)
    } else {
        (x1 - x0, y1 - y0)
    };
    // Display coordinates (u right, v up) into user space.
    let cm = match rotate {
        90 => [0.0, 1.0, -1.0, 0.0, x1, y0],
        180 => [-1.0, 0.0, 0.0, -1.0, x1, y1],
        270 => [0.0, -1.0, 1.0, 0.0, x0, y1],
        _ => [1.0, 0.0, 0.0, 1.0, x0, y0],
    };
    let line1 = format!("{} · {}", reader.name, reader.unit);
    let line2 = format!("Bản cấp cho người đọc · {}", reader.when);
    let footer = format!(
        "Người đọc: {} — {} — {} · Tài liệu họp, không sao chép, không chuyển tiếp · diemcau",
        reader.name, reader.unit, reader.when
    );
    let diag = (w * w + h * h).sqrt();
    let angle = h.atan2(w);
    let (c, s) = (angle.cos(), angle.sin());
    let w1 = f64::from(font.width(&line1)).max(0.1);
    let size = (0.7 * diag / w1).clamp(8.0, 64.0);
    let size2 = size * 0.45;
    let w2 = f64::from(font.width(&line2)) * size2;
    let (cx, cy) = (w / 2.0, h / 2.0);
    // Each line centred on the diagonal; the second just below the first.
    let start = |width: f64, drop: f64| {
        (
            cx - width / 2.0 * c + drop * s,
            cy - width / 2.0 * s - drop * c,
        )
    };
    let (ax, ay) = start(w1 * size, size * 0.3);
    let (bx, by) = start(w2, size * 0.3 + size * 1.1);
    let foot_size = (7.0f64).min((w - 36.0).max(10.0) / f64::from(font.width(&footer)).max(0.1));
    let n = |v: f64| number(v);
    let mut out = String::new();
    let _ = writeln!(out, "Q q");
    let _ = writeln!(
        out,
        "{} {} {} {} {} {} cm",
        n(cm[0]),
        n(cm[1]),
        n(cm[2]),
        n(cm[3]),
        n(cm[4]),
        n(cm[5])
    );
    let _ = writeln!(out, "/DcWmA gs 0.7 0.05 0.05 rg BT");
    let _ = writeln!(
        out,
        "/DcWmF {} Tf {} {} {} {} {} {} Tm {} Tj",
        n(size),
        n(c),
        n(s),
        n(-s),
        n(c),
        n(ax),
        n(ay),
        font.encode(&line1)
    );
    let _ = writeln!(
        out,
        "/DcWmF {} Tf {} {} {} {} {} {} Tm {} Tj",
        n(size2),
        n(c),
        n(s),
        n(-s),
        n(c),
        n(bx),
        n(by),
        font.encode(&line2)
    );
    let _ = writeln!(out, "ET");
    let _ = writeln!(
        out,
        "/DcWmB gs 0.25 0.25 0.25 rg BT /DcWmF {} Tf 1 0 0 1 18 {} Tm {} Tj ET",
        n(foot_size),
        n(foot_size.max(6.0)),
        font.encode(&footer)
    );
    out.push_str("Q\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_word_is_the_capital_word_only() {
        assert!(has_stamp_word("ĐẢNG BỘ TỈNH\nMẬT\nSố 12"));
        assert!(has_stamp_word("TUYỆT MẬT"));
        assert!(!has_stamp_word("Đổi mật khẩu"));
        assert!(!has_stamp_word("BÍ MẬTX"));
    }
}

#[cfg(test)]
mod round_trip {
    use super::*;
    use crate::pdf::font::{Face, FontUse};

    /// A small PDF of `n` pages, one of them landscape and one rotated.
    fn sample(n: usize) -> Vec<u8> {
        let mut font = FontUse::new(Face::Regular);
        let mut o = Objects::new(1);
        let catalog = o.reserve();
        let pages = o.reserve();
        let f1 = o.reserve();
        let mut kids = Vec::new();
        for i in 0..n {
            let text = font.encode(&format!("Trang {} — Nghị quyết Đại hội", i + 1));
            let c = o.stream(
                "",
                format!("BT /F1 18 Tf 72 500 Td {text} Tj ET").as_bytes(),
                true,
            );
            let (box_, rotate) = match i % 3 {
                0 => ("[0 0 595 842]", ""),
                1 => ("[0 0 842 595]", ""),
                _ => ("[0 0 595 842]", " /Rotate 90"),
            };
            kids.push(o.add(format!(
                "<< /Type /Page /Parent {pages} 0 R /MediaBox {box_}{rotate} /Contents {c} 0 R >>"
            )));
        }
        font.embed(&mut o, f1).unwrap();
        let list: Vec<String> = kids.iter().map(|k| format!("{k} 0 R")).collect();
        // Resources inherited from the page tree, as many producers do.
        o.set(
            pages,
            format!(
                "<< /Type /Pages /Kids [{}] /Count {n} /Resources << /Font << /F1 {f1} 0 R >> >> >>",
                list.join(" ")
            ),
        );
        o.set(catalog, format!("<< /Type /Catalog /Pages {pages} 0 R >>"));
        o.finish_document(catalog, None)
    }

    #[test]
    fn watermark_tail_adds_a_mark_to_every_page_and_keeps_the_original_bytes() {
        let original = sample(3);
        let plan = plan(&original).unwrap();
        assert_eq!(plan.pages.len(), 3);
        assert!(!plan.stamp_found);
        let reader = Reader {
            name: "Nguyễn Thị Hường".into(),
            unit: "Xã An Phú".into(),
            when: "21/11/2026 21:40 (UTC+7)".into(),
        };
        let tail = tail(&plan, &reader).unwrap();
        let copy = [original.clone(), tail.clone()].concat();
        if let Ok(dir) = std::env::var("DIEMCAU_DUMP_PDF") {
            let _ = std::fs::write(format!("{dir}/stamped.pdf"), &copy);
        }
        let doc = lopdf::Document::load_mem(&copy).unwrap();
        assert_eq!(doc.get_pages().len(), 3);
        for (n, id) in doc.get_pages() {
            let contents = doc.get_page_contents(id);
            assert_eq!(contents.len(), 3, "page {n}: q, the original, the mark");
            let text = doc.extract_text(&[n]).unwrap();
            assert!(text.contains("Nguyễn Thị Hường"), "page {n}: {text}");
            assert!(text.contains(&format!("Trang {n}")), "page {n}: {text}");
        }
        // Same reader, same bytes: what makes Range resumes work.
        assert_eq!(super::tail(&plan, &reader).unwrap(), tail);
        // A few KiB, not a whole font.
        assert!(tail.len() < 40_000, "tail of {} bytes", tail.len());
    }

    #[test]
    fn resources_inherited_by_many_pages_are_planned_and_written_once() {
        let plan = plan(&sample(60)).unwrap();
        assert_eq!(plan.pages.len(), 60);
        assert_eq!(plan.resources.len(), 1, "{:?}", plan.resources);
        assert!(plan.pages.iter().all(|p| p.resources == 0));
        assert!(plan.resources[0].fonts.contains("/F1"));
        let reader = Reader {
            name: "Trần Văn B".into(),
            unit: "Phường 1".into(),
            when: "01/01/2027 08:00 (UTC+7)".into(),
        };
        let tail = tail(&plan, &reader).unwrap();
        let text = String::from_utf8_lossy(&tail);
        // One resource dictionary in the tail, referenced by every page.
        assert_eq!(text.matches("/Font <<").count(), 1, "{text:.2000}");
        assert_eq!(text.matches("/Resources ").count(), 60);
    }
}
