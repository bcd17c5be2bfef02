//! Pure: what a file is, from its bytes (never from its name or the
//! client's Content-Type), and whether a PDF carries a confidentiality stamp.

use serde::{Deserialize, Serialize};

/// The kinds of document the system accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    Pdf,
    Png,
    Jpeg,
    Docx,
    Xlsx,
    Pptx,
    Odt,
    Ods,
    Odp,
}

impl DocKind {
    pub const ALL: [DocKind; 9] = [
        DocKind::Pdf,
        DocKind::Png,
        DocKind::Jpeg,
        DocKind::Docx,
        DocKind::Xlsx,
        DocKind::Pptx,
        DocKind::Odt,
        DocKind::Ods,
        DocKind::Odp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Pdf => "pdf",
            DocKind::Png => "png",
            DocKind::Jpeg => "jpeg",
            DocKind::Docx => "docx",
            DocKind::Xlsx => "xlsx",
            DocKind::Pptx => "pptx",
            DocKind::Odt => "odt",
            DocKind::Ods => "ods",
            DocKind::Odp => "odp",
        }
    }

    pub fn parse(s: &str) -> Option<DocKind> {
        DocKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn media_type(self) -> &'static str {
        match self {
            DocKind::Pdf => "application/pdf",
            DocKind::Png => "image/png",
            DocKind::Jpeg => "image/jpeg",
            DocKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            DocKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            DocKind::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            DocKind::Odt => "application/vnd.oasis.opendocument.text",
            DocKind::Ods => "application/vnd.oasis.opendocument.spreadsheet",
            DocKind::Odp => "application/vnd.oasis.opendocument.presentation",
        }
    }
}

/// What the first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    /// Decided by the leading bytes.
    Kind(DocKind),
    /// A ZIP container: which office format needs its directory.
    Zip,
    /// Not a format we accept.
    Unsupported,
    /// Too few bytes yet to tell.
    NeedMore,
}

/// How many leading bytes [`magic`] needs at most.
pub const MAGIC_LEN: usize = 8;

/// Classify by the leading bytes of a file.
pub fn magic(head: &[u8]) -> Magic {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    let checks: [(&[u8], Magic); 4] = [
        (b"%PDF-", Magic::Kind(DocKind::Pdf)),
        (PNG, Magic::Kind(DocKind::Png)),
        (b"\xff\xd8\xff", Magic::Kind(DocKind::Jpeg)),
        (b"PK\x03\x04", Magic::Zip),
    ];
    let mut could_be = false;
    for (sig, what) in checks {
        if head.len() >= sig.len() {
            if head.starts_with(sig) {
                return what;
            }
        } else if sig.starts_with(head) {
            could_be = true;
        }
    }
    if could_be {
        Magic::NeedMore
    } else {
        Magic::Unsupported
    }
}

/// Where a ZIP's central directory is, from its end-of-central-directory
/// record found in `tail` (the last bytes of the file, `file_len` long in
/// all): `(offset, size)` in the file. `None` when `tail` holds no EOCD.
pub fn zip_directory(tail: &[u8], file_len: u64) -> Option<(u64, u64)> {
    const EOCD: &[u8] = b"PK\x05\x06";
    if tail.len() < 22 {
        return None;
    }
    let tail_start = file_len.checked_sub(tail.len() as u64)?;
    // The EOCD is the last record; scan back from the end for its signature.
    let pos = (0..=tail.len() - 22)
        .rev()
        .find(|&i| &tail[i..i + 4] == EOCD)?;
    let rec = &tail[pos..];
    let size = u64::from(u32::from_le_bytes(rec[12..16].try_into().ok()?));
    let offset = u64::from(u32::from_le_bytes(rec[16..20].try_into().ok()?));
    let eocd_at = tail_start + pos as u64;
    (offset.checked_add(size)? <= eocd_at).then_some((offset, size))
}

/// The entry names in a ZIP central directory.
pub fn zip_names(directory: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut i = 0usize;
    while i + 46 <= directory.len() && &directory[i..i + 4] == b"PK\x01\x02" {
        let le16 = |at: usize| usize::from(u16::from_le_bytes([directory[at], directory[at + 1]]));
        let name_len = le16(i + 28);
        let extra_len = le16(i + 30);
        let comment_len = le16(i + 32);
        let Some(name) = directory.get(i + 46..i + 46 + name_len) else {
            break;
        };
        names.push(String::from_utf8_lossy(name).into_owned());
        i += 46 + name_len + extra_len + comment_len;
    }
    names
}

/// An office format from its ZIP entry names (OOXML by its
/// `[Content_Types].xml` and main part) or, for OpenDocument, the content
/// of its `mimetype` entry (`odf_mimetype`, read by the caller).
pub fn zip_kind(names: &[String], odf_mimetype: Option<&[u8]>) -> Option<DocKind> {
    let has = |n: &str| names.iter().any(|x| x == n);
    if has("[Content_Types].xml") {
        if has("word/document.xml") {
            return Some(DocKind::Docx);
        }
        if has("xl/workbook.xml") {
            return Some(DocKind::Xlsx);
        }
        if has("ppt/presentation.xml") {
            return Some(DocKind::Pptx);
        }
        return None;
    }
    if has("mimetype") {
        return match odf_mimetype? {
            b"application/vnd.oasis.opendocument.text" => Some(DocKind::Odt),
            b"application/vnd.oasis.opendocument.spreadsheet" => Some(DocKind::Ods),
            b"application/vnd.oasis.opendocument.presentation" => Some(DocKind::Odp),
            _ => None,
        };
    }
    None
}

/// The OpenDocument `mimetype` entry, stored first and uncompressed by the
/// standard: its content from the file's first bytes, if it is there.
pub fn odf_mimetype(head: &[u8]) -> Option<&[u8]> {
    if head.len() < 30 || &head[..4] != b"PK\x03\x04" {
        return None;
    }
    let le16 = |at: usize| usize::from(u16::from_le_bytes([head[at], head[at + 1]]));
    let method = le16(8);
    let size = u32::from_le_bytes(head[18..22].try_into().ok()?) as usize;
    let name_len = le16(26);
    let extra_len = le16(28);
    let name = head.get(30..30 + name_len)?;
    if name != b"mimetype" || method != 0 {
        return None;
    }
    let start = 30 + name_len + extra_len;
    head.get(start..start + size)
}

/// Looks for a "MẬT" confidentiality stamp in a PDF's bytes as they stream
/// by: the text as UTF-8, as UTF-16BE (PDF text strings) and as the hex
/// form of UTF-16BE. Text inside compressed content streams is not seen;
/// this catches stamps written as plain strings or metadata, and the
/// secretary's confirmation is the real control.
#[derive(Debug, Default)]
pub struct StampScanner {
    carry: Vec<u8>,
    found: bool,
}

const STAMPS: [&[u8]; 4] = [
    "MẬT".as_bytes(),
    b"\x00M\x1e\xac\x00T",
    b"004D1EAC0054",
    b"004d1eac0054",
];

impl StampScanner {
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.found {
            return;
        }
        let longest = STAMPS.iter().map(|s| s.len()).max().unwrap_or(1);
        // Only the seam needs the carried bytes; search the chunk itself in place.
        let mut seam = std::mem::take(&mut self.carry);
        seam.extend_from_slice(&chunk[..chunk.len().min(longest - 1)]);
        if contains_stamp(&seam) || contains_stamp(chunk) {
            self.found = true;
            return;
        }
        let keep = longest - 1;
        if chunk.len() >= keep {
            self.carry = chunk[chunk.len() - keep..].to_vec();
        } else {
            let start = seam.len().saturating_sub(keep);
            self.carry = seam[start..].to_vec();
        }
    }

    pub fn found(&self) -> bool {
        self.found
    }
}

fn contains_stamp(hay: &[u8]) -> bool {
    STAMPS
        .iter()
        .any(|s| hay.len() >= s.len() && hay.windows(s.len()).any(|w| w == *s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_needs_only_the_leading_bytes() {
        assert_eq!(magic(b"%PDF-1.7\n"), Magic::Kind(DocKind::Pdf));
        assert_eq!(magic(b"%PD"), Magic::NeedMore);
        assert_eq!(magic(b"\x89PNG\r\n\x1a\nxx"), Magic::Kind(DocKind::Png));
        assert_eq!(magic(b"\xff\xd8\xff\xe0"), Magic::Kind(DocKind::Jpeg));
        assert_eq!(magic(b"PK\x03\x04abcd"), Magic::Zip);
        assert_eq!(magic(b"MZ\x90\x00"), Magic::Unsupported);
        assert_eq!(magic(b"hello world"), Magic::Unsupported);
        assert_eq!(magic(b""), Magic::NeedMore);
    }

    #[test]
    fn stamp_is_found_across_chunk_seams() {
        let text = "xxxx (MẬT) yyyy".as_bytes();
        for cut in 0..text.len() {
            let mut s = StampScanner::default();
            s.feed(&text[..cut]);
            s.feed(&text[cut..]);
            assert!(s.found(), "cut at {cut}");
        }
        let mut s = StampScanner::default();
        for b in text {
            s.feed(std::slice::from_ref(b));
        }
        assert!(s.found());
        let mut s = StampScanner::default();
        s.feed("Mật khẩu MAT".as_bytes());
        assert!(!s.found());
    }

    #[test]
    fn office_kinds_by_entry_names() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            zip_kind(&names(&["[Content_Types].xml", "word/document.xml"]), None),
            Some(DocKind::Docx)
        );
        assert_eq!(
            zip_kind(&names(&["[Content_Types].xml", "xl/workbook.xml"]), None),
            Some(DocKind::Xlsx)
        );
        assert_eq!(zip_kind(&names(&["a.txt"]), None), None);
        assert_eq!(
            zip_kind(
                &names(&["mimetype"]),
                Some(b"application/vnd.oasis.opendocument.text")
            ),
            Some(DocKind::Odt)
        );
    }
}
