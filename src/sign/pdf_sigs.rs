//! Where a PDF's signatures are: each signature dictionary's byte range and
//! CMS blob, the field it belongs to, and the file's revision boundaries.
//!
//! The structure is read with lopdf with stream contents dropped (a signed
//! 50 MiB scan is mostly image data the check never needs), so the file is
//! held once — by the caller — and the signed ranges are hashed from it in
//! place.

use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};

/// Longest /Contents accepted: a CMS with a long chain, CRLs and a
/// timestamp stays well under 256 KiB; a larger one is a hostile file.
pub const MAX_CONTENTS_BYTES: usize = 512 * 1024;
/// Most signatures read from one file (each costs a digest of the file).
pub const MAX_SIGNATURES: usize = 64;
/// Streams up to this size keep their contents (embedded CRLs and
/// certificates of a PAdES B-LT document security store); larger ones —
/// images, page contents — are dropped before parsing.
const KEEP_STREAM_BYTES: usize = 1024 * 1024;

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
    /// DER CRLs and certificates from a document security store (/DSS).
    pub dss_crls: Vec<Vec<u8>>,
    pub dss_certs: Vec<Vec<u8>>,
}

/// Why the file could not be scanned at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("the PDF structure could not be read: {0}")]
    Unreadable(String),
    #[error("the PDF has more than {MAX_SIGNATURES} signatures")]
    TooMany,
}

/// Keep dictionaries and small streams; drop big stream contents, but
/// never an object stream's (the objects inside it are needed). lopdf keeps
/// the object as changed in place; its return value matters only for
/// objects inside object streams, so it is the same object.
fn keep_small(id: ObjectId, obj: &mut Object) -> Option<(ObjectId, Object)> {
    if let Object::Stream(s) = obj
        && s.content.len() > KEEP_STREAM_BYTES
        && !s.dict.has_type(b"ObjStm")
        && !s.dict.has_type(b"XRef")
    {
        s.content = Vec::new();
    }
    Some((id, obj.clone()))
}

/// Whether the file has any signature dictionary at all (a cheap test that
/// spares the parse for the unsigned majority).
pub fn may_be_signed(bytes: &[u8]) -> bool {
    memchr_find(bytes, b"/ByteRange").is_some()
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
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
    let options = LoadOptions {
        filter: Some(keep_small),
        ..LoadOptions::default()
    };
    // lopdf is robust but not ours: a panic on a hostile file is an
    // unreadable file, not a crashed upload.
    let doc = std::panic::catch_unwind(|| Document::load_mem_with_options(bytes, options))
        .map_err(|_| ScanError::Unreadable("the parser gave up".into()))?
        .map_err(|e| ScanError::Unreadable(e.to_string()))?;
    let fields = field_names(&doc);
    let mut ids: Vec<&ObjectId> = doc.objects.keys().collect();
    ids.sort();
    for id in ids {
        let Some(dict) = doc.objects.get(id).and_then(|o| o.as_dict().ok()) else {
            continue;
        };
        if !is_signature_dict(dict) {
            continue;
        }
        if found.signatures.len() == MAX_SIGNATURES {
            return Err(ScanError::TooMany);
        }
        found
            .signatures
            .push(signature(bytes, dict, fields.get(id).cloned()));
    }
    // Older signatures first: the order they were made in.
    found.signatures.sort_by_key(|s| {
        (
            s.byte_range[2].saturating_add(s.byte_range[3]),
            s.byte_range[1],
        )
    });
    dss(&doc, &mut found);
    Ok(found)
}

fn is_signature_dict(d: &Dictionary) -> bool {
    let typed = matches!(d.get(b"Type").and_then(Object::as_name), Ok(b"Sig"));
    typed || (d.has(b"ByteRange") && d.has(b"Contents") && d.has(b"Filter"))
}

/// Signature field names by the id of the signature dictionary (/V).
fn field_names(doc: &Document) -> std::collections::HashMap<ObjectId, String> {
    let mut out = std::collections::HashMap::new();
    for obj in doc.objects.values() {
        let Ok(d) = obj.as_dict() else { continue };
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
    let claimed_at_ms = d
        .get(b"M")
        .and_then(Object::as_str)
        .ok()
        .and_then(parse_pdf_date);
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
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = memchr_find(&bytes[at..], EOF) {
        let mut end = at + i + EOF.len();
        while end < bytes.len() && (bytes[end] == b'\r' || bytes[end] == b'\n') {
            end += 1;
        }
        out.push(end as u64);
        at = at + i + EOF.len();
    }
    out
}

/// CRLs and certificates a PAdES B-LT file carries in /DSS.
fn dss(doc: &Document, found: &mut Found) {
    let Ok(root) = doc
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .and_then(|r| doc.get_dictionary(r))
    else {
        return;
    };
    let Ok(dss) = root
        .get(b"DSS")
        .and_then(|o| doc.dereference(o))
        .and_then(|(_, o)| o.as_dict())
    else {
        return;
    };
    for (key, out) in [
        (&b"CRLs"[..], &mut found.dss_crls),
        (b"Certs", &mut found.dss_certs),
    ] {
        let Ok(list) = dss.get(key).and_then(Object::as_array) else {
            continue;
        };
        for item in list.iter().take(MAX_SIGNATURES * 4) {
            if let Ok(id) = item.as_reference()
                && let Ok(Object::Stream(s)) = doc.get_object(id)
                && let Ok(content) = s
                    .decompressed_content()
                    .or_else(|_| Ok::<_, ()>(s.content.clone()))
                && !content.is_empty()
            {
                out.push(content);
            }
        }
    }
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
