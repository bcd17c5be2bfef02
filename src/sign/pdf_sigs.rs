//! Where a PDF's signatures are: each signature dictionary's byte range and
//! CMS blob, the field it belongs to, and the file's revision boundaries.
//!
//! A signature dictionary's byte range and value are offsets in the file,
//! so it is always a plain indirect object: each is found by its
//! `/ByteRange` key and parsed alone (lopdf's parser on just those bytes).
//! The file is held once — by the caller —, never parsed whole, and the
//! signed ranges are hashed from it in place.

use lopdf::{Dictionary, Object, ObjectId, ObjectStream, Stream};
use memchr::memmem;

/// Longest /Contents accepted: a CMS with a long chain, CRLs and a
/// timestamp stays well under 256 KiB; a larger one is a hostile file.
pub const MAX_CONTENTS_BYTES: usize = 512 * 1024;
/// Most signatures read from one file (each costs a digest of the file).
pub const MAX_SIGNATURES: usize = 64;

/// One signature as found in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundSignature {
    /// The signature field's /T, when a field points at this dictionary.
    pub field: Option<String>,
    /// /SubFilter.
    pub sub_filter: String,
    /// /ByteRange: [start1, len1, start2, len2].
    pub byte_range: [u64; 4],
    /// The CMS blob: the hex string in the gap of the byte range, decoded,
    /// its zero padding left on (the DER parser stops at its end).
    pub contents: Vec<u8>,
    /// /M as unix ms, when present and readable.
    pub claimed_at_ms: Option<i64>,
    /// Why the byte range cannot be trusted, if it cannot (checked here so
    /// a malformed range never reaches the digest).
    pub range_problem: Option<String>,
}

/// What a scan of the file found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub signatures: Vec<FoundSignature>,
    /// The end of each revision: after each `%%EOF` and its end of line.
    pub revision_ends: Vec<u64>,
}

/// Why the file could not be scanned at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("the PDF structure could not be read: {0}")]
    Unreadable(String),
    #[error("the PDF has more than {MAX_SIGNATURES} signatures")]
    TooMany,
}

/// Whether the file has any signature dictionary at all (a cheap test that
/// spares the parse for the unsigned majority).
pub fn may_be_signed(bytes: &[u8]) -> bool {
    memmem::find(bytes, b"/ByteRange").is_some()
}

/// How far back from a key its object's header may be: past a /Contents
/// written before the key (hex: twice the value) and the rest of the dict.
const BACK_BYTES: usize = 2 * MAX_CONTENTS_BYTES + 64 * 1024;
/// How far forward the object's `endobj` may be.
const AHEAD_BYTES: usize = BACK_BYTES;

/// The indirect object around offset `at`: its id and the bytes between
/// `N G obj` and `endobj`. A signature dictionary's byte range and value
/// are offsets in the file, so it is never inside an object stream: found
/// by its keys and parsed alone, it needs no parse of the whole file.
fn object_around(bytes: &[u8], at: usize) -> Option<(ObjectId, &[u8])> {
    let from = at.saturating_sub(BACK_BYTES);
    let before = &bytes[from..at];
    let head = memmem::rfind_iter(before, b"obj").find_map(|i| {
        // Not `endobj`; `N G obj` before it.
        if i >= 3 && &before[i - 3..i] == b"end" {
            return Some(None);
        }
        let text = std::str::from_utf8(&before[i.saturating_sub(24)..i]).ok()?;
        let mut words = text.split_ascii_whitespace().rev();
        let g: u16 = words.next()?.parse().ok()?;
        let n: u32 = words
            .next()?
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .ok()?;
        Some(Some(((n, g), from + i + 3)))
    })??;
    let (id, body_at) = head;
    let rest = &bytes[at..bytes.len().min(at + AHEAD_BYTES)];
    let end = at + memmem::find(rest, b"endobj")?;
    Some((id, &bytes[body_at..end]))
}

/// Parse one object's body with lopdf (through its object-stream reader:
/// the same parser, on just these bytes).
fn parse_body(id: ObjectId, body: &[u8]) -> Option<Dictionary> {
    let prefix = format!("{} 0 ", id.0);
    let mut content = prefix.clone().into_bytes();
    content.extend_from_slice(body);
    let mut dict = Dictionary::new();
    dict.set("Type", Object::Name(b"ObjStm".to_vec()));
    dict.set("N", Object::Integer(1));
    dict.set("First", Object::Integer(prefix.len() as i64));
    let stream = Stream::new(dict, content);
    // lopdf is robust but not ours: a panic on hostile bytes is no object.
    let parsed = std::panic::catch_unwind(|| ObjectStream::new(&stream))
        .ok()?
        .ok()?;
    parsed.objects.into_values().next()?.as_dict().ok().cloned()
}

/// Every distinct object holding `key`, parsed.
fn objects_with(
    bytes: &[u8],
    key: &[u8],
    limit: usize,
) -> Result<Vec<(ObjectId, Dictionary)>, ScanError> {
    let mut out: Vec<(ObjectId, Dictionary)> = Vec::new();
    let mut last_end = 0;
    for at in memmem::find_iter(bytes, key) {
        if at < last_end {
            continue;
        }
        let Some((id, body)) = object_around(bytes, at) else {
            continue;
        };
        last_end = body.as_ptr() as usize - bytes.as_ptr() as usize + body.len();
        if let Some(d) = parse_body(id, body) {
            if out.len() == limit {
                return Err(ScanError::TooMany);
            }
            out.push((id, d));
        }
    }
    Ok(out)
}

/// Find every signature of `bytes`.
pub fn scan(bytes: &[u8]) -> Result<Found, ScanError> {
    let mut found = Found {
        revision_ends: revision_ends(bytes),
        ..Found::default()
    };
    if !may_be_signed(bytes) {
        return Ok(found);
    }
    let sigs = objects_with(bytes, b"/ByteRange", MAX_SIGNATURES)?;
    let fields = field_names(bytes);
    for (id, dict) in &sigs {
        if is_signature_dict(dict) {
            found
                .signatures
                .push(signature(bytes, dict, fields.get(id).cloned()));
        }
    }
    // Older signatures first: the order they were made in.
    found.signatures.sort_by_key(|s| {
        (
            s.byte_range[2].saturating_add(s.byte_range[3]),
            s.byte_range[1],
        )
    });
    Ok(found)
}

fn is_signature_dict(d: &Dictionary) -> bool {
    let typed = matches!(d.get(b"Type").and_then(Object::as_name), Ok(b"Sig"));
    typed || (d.has(b"ByteRange") && d.has(b"Contents") && d.has(b"Filter"))
}

/// Signature field names by the id of the signature dictionary (/V), from
/// the field objects found by their /FT key (a field kept in an object
/// stream goes unnamed: the name is for display only).
fn field_names(bytes: &[u8]) -> std::collections::HashMap<ObjectId, String> {
    let mut out = std::collections::HashMap::new();
    let Ok(fields) = objects_with(bytes, b"/FT", MAX_SIGNATURES * 4) else {
        return out;
    };
    for (_, d) in fields {
        if !matches!(d.get(b"FT").and_then(Object::as_name), Ok(b"Sig")) {
            continue;
        }
        let (Ok(v), Ok(t)) = (d.get(b"V").and_then(Object::as_reference), d.get(b"T")) else {
            continue;
        };
        if let Ok(name) = t.as_str() {
            out.insert(v, pdf_text(name));
        }
    }
    out
}

/// A PDF text string: UTF-16BE with a BOM, else PDFDocEncoding (read as
/// Latin-1, which covers what field names use).
pub fn pdf_text(b: &[u8]) -> String {
    if let Some(rest) = b.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else if let Ok(s) = std::str::from_utf8(b) {
        s.to_string()
    } else {
        b.iter().map(|&c| char::from(c)).collect()
    }
}

fn signature(bytes: &[u8], d: &Dictionary, field: Option<String>) -> FoundSignature {
    let sub_filter = d
        .get(b"SubFilter")
        .and_then(Object::as_name)
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    // A text string: PDFDocEncoding or UTF-16BE with a BOM (some writers,
    // ours among them, use the latter for every text string).
    let claimed_at_ms = d
        .get(b"M")
        .and_then(Object::as_str)
        .ok()
        .and_then(|m| parse_pdf_date(pdf_text(m).as_bytes()));
    let mut out = FoundSignature {
        field,
        sub_filter,
        byte_range: [0; 4],
        contents: Vec::new(),
        claimed_at_ms,
        range_problem: None,
    };
    match byte_range(d) {
        Ok(r) => {
            out.byte_range = r;
            match gap_contents(bytes, r) {
                Ok(c) => out.contents = c,
                Err(p) => out.range_problem = Some(p),
            }
        }
        Err(p) => out.range_problem = Some(p),
    }
    // The CMS must be the one in this dictionary, not merely one that sits
    // in the gap: a second dictionary could point at another signature.
    if out.range_problem.is_none()
        && let Ok(c) = d.get(b"Contents").and_then(Object::as_str)
        && trim_zeros(c) != trim_zeros(&out.contents)
    {
        out.range_problem = Some("the signature's /Contents is not the range left unsigned".into());
    }
    out
}

fn trim_zeros(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    &b[..end]
}

fn byte_range(d: &Dictionary) -> Result<[u64; 4], String> {
    let arr = d
        .get(b"ByteRange")
        .and_then(Object::as_array)
        .map_err(|_| "no /ByteRange array".to_string())?;
    if arr.len() != 4 {
        return Err(format!("/ByteRange has {} numbers, not 4", arr.len()));
    }
    let mut r = [0u64; 4];
    for (slot, v) in r.iter_mut().zip(arr) {
        let n = v
            .as_i64()
            .map_err(|_| "/ByteRange holds a non-integer".to_string())?;
        *slot = u64::try_from(n).map_err(|_| "/ByteRange holds a negative number".to_string())?;
    }
    Ok(r)
}

/// Check the range's shape against the file and decode the hex string that
/// fills its gap: the signed bytes must be everything from the start of the
/// file to the end of the signed revision but the signature value itself.
fn gap_contents(bytes: &[u8], r: [u64; 4]) -> Result<Vec<u8>, String> {
    let len = bytes.len() as u64;
    let [a, la, b, lb] = r;
    if a != 0 {
        return Err("the signed range does not start at the beginning of the file".into());
    }
    let (Some(gap_end), Some(end)) = (Some(b), b.checked_add(lb)) else {
        return Err("/ByteRange overflows".into());
    };
    if la >= gap_end || end > len {
        return Err(format!(
            "/ByteRange {r:?} does not fit a file of {len} bytes"
        ));
    }
    let gap = &bytes[la as usize..gap_end as usize];
    if gap.len() < 2 || gap[0] != b'<' || gap[gap.len() - 1] != b'>' {
        return Err("the unsigned gap is not exactly the signature's hex string".into());
    }
    let hex: Vec<u8> = gap[1..gap.len() - 1]
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if hex.len() / 2 > MAX_CONTENTS_BYTES {
        return Err(format!(
            "the signature value is over {} KiB",
            MAX_CONTENTS_BYTES / 1024
        ));
    }
    let hex = if hex.len() % 2 == 1 {
        [hex.as_slice(), b"0"].concat()
    } else {
        hex
    };
    hex::decode(&hex).map_err(|_| "the unsigned gap holds something other than hex digits".into())
}

/// The end of each revision: the offset after each `%%EOF` marker and the
/// end-of-line that follows it.
pub fn revision_ends(bytes: &[u8]) -> Vec<u64> {
    const EOF: &[u8] = b"%%EOF";
    memmem::find_iter(bytes, EOF)
        .map(|i| {
            let mut end = i + EOF.len();
            while end < bytes.len() && (bytes[end] == b'\r' || bytes[end] == b'\n') {
                end += 1;
            }
            end as u64
        })
        .collect()
}

/// A PDF date `D:YYYYMMDDHHmmSSOHH'mm'` (every part after the year
/// optional) as unix ms.
pub fn parse_pdf_date(raw: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(raw).ok()?;
    let s = s.strip_prefix("D:").unwrap_or(s);
    let digits = |from: usize, n: usize, default: u32| -> Option<u32> {
        match s.get(from..from + n) {
            Some(p) if p.bytes().all(|c| c.is_ascii_digit()) => p.parse().ok(),
            Some(_) => None,
            None => Some(default),
        }
    };
    let year = i32::try_from(digits(0, 4, 0)?).ok()?;
    let month = u8::try_from(digits(4, 2, 1)?).ok()?;
    let day = u8::try_from(digits(6, 2, 1)?).ok()?;
    let hour = u8::try_from(digits(8, 2, 0)?).ok()?;
    let minute = u8::try_from(digits(10, 2, 0)?).ok()?;
    let second = u8::try_from(digits(12, 2, 0)?).ok()?;
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    let t = time::Time::from_hms(hour, minute, second).ok()?;
    let mut offset_s: i64 = 0;
    if let Some(sign) = s.get(14..15) {
        let oh = i64::from(digits(15, 2, 0).unwrap_or(0));
        let om = s
            .get(18..20)
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(0);
        offset_s = match sign {
            "+" => oh * 3600 + om * 60,
            "-" => -(oh * 3600 + om * 60),
            _ => 0,
        };
    }
    let utc = time::PrimitiveDateTime::new(date, t).assume_utc();
    Some((utc.unix_timestamp() - offset_s) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pdf_date_with_an_offset_reads_as_utc() {
        // 09:30 in Hà Nội is 02:30 UTC.
        let ms = parse_pdf_date(b"D:20261205093000+07'00'").unwrap();
        assert_eq!(ms, 1_796_437_800_000);
        assert_eq!(parse_pdf_date(b"D:20261205023000Z"), Some(ms));
        assert_eq!(parse_pdf_date(b"D:2026"), Some(1_767_225_600_000));
        assert_eq!(parse_pdf_date(b"D:20261305"), None);
        let utf16: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(
                "D:20261205093000+07'00'"
                    .encode_utf16()
                    .flat_map(u16::to_be_bytes),
            )
            .collect();
        assert_eq!(parse_pdf_date(pdf_text(&utf16).as_bytes()), Some(ms));
    }

    #[test]
    fn a_byte_range_that_leaves_more_than_the_hex_string_unsigned_is_refused() {
        let file = b"%PDF-1.7 /Contents <3082> trailer %%EOF\n";
        let lt = file.iter().position(|&c| c == b'<').unwrap() as u64;
        let gt = file.iter().position(|&c| c == b'>').unwrap() as u64 + 1;
        let len = file.len() as u64;
        assert_eq!(
            gap_contents(file, [0, lt, gt, len - gt]).unwrap(),
            vec![0x30, 0x82]
        );
        assert!(gap_contents(file, [0, lt - 2, gt, len - gt]).is_err());
        assert!(gap_contents(file, [3, lt - 3, gt, len - gt]).is_err());
        assert!(gap_contents(file, [0, lt, gt, len]).is_err());
        assert!(gap_contents(file, [0, lt, u64::MAX, 2]).is_err());
    }

    #[test]
    fn revision_ends_follow_each_eof_marker_and_its_line_end() {
        let file = b"%PDF\n%%EOF\r\nmore%%EOF";
        assert_eq!(revision_ends(file), vec![12, file.len() as u64]);
    }
}
