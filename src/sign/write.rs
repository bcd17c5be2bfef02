//! Adding a signature to a PDF as a new incremental revision.
//!
//! [`prepare`] appends, after the file's last byte, a signature field with
//! its widget (the visible block of [`super::appearance`] on the last page),
//! the AcroForm listing it (`/SigFlags 3`), and the signature dictionary
//! (`/SubFilter /ETSI.CAdES.detached`, PAdES) whose `/Contents` is a run of
//! zeros and whose `/ByteRange` names everything but that run. The digest of
//! those ranges is what the CMS's message-digest attribute carries;
//! [`embed`] then writes the CMS into the zeros. Nothing before the new
//! revision changes, so earlier signatures stay intact: several signatures
//! on one PDF are several revisions, in order.

use lopdf::{Dictionary, Object};
use sha2::{Digest, Sha256};

use super::appearance::{self, BlockText};
use crate::pdf::font::{Face, FontUse};
use crate::pdf::write::{Objects, dict_entries, hex_string, number, serialize};

/// Room for the CMS beside its certificates: the SignerInfo, the signed
/// attributes and a signature of up to RSA-4096 take under 1.5 KiB.
pub const CMS_OVERHEAD_BYTES: usize = 2048;

/// A signature to add.
#[derive(Debug, Clone)]
pub struct SignatureSpec {
    /// The field's name (`/T`), unique in the document; made unique if not.
    pub field: String,
    pub block: BlockText,
    /// The reason shown by readers (`/Reason`).
    pub reason: String,
    /// Bytes reserved for the CMS: [`CMS_OVERHEAD_BYTES`] plus the DER of
    /// the certificates it carries (plus a timestamp token's, if any).
    pub contents_bytes: usize,
}

/// A PDF with a signature's place made and not yet filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub bytes: Vec<u8>,
    /// `/ByteRange`: [0, start of `<`, just past `>`, rest].
    pub byte_range: [u64; 4],
    /// SHA-256 of the two ranges.
    pub digest: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the PDF could not be read ({0})")]
    Unreadable(String),
    #[error("the PDF is encrypted; it cannot be signed")]
    Encrypted,
    #[error("the PDF has no pages")]
    NoPages,
    #[error("the signature ({found} bytes) does not fit the {room} bytes reserved for it")]
    TooLarge { found: usize, room: usize },
    #[error("the prepared PDF does not match its byte range")]
    Mismatch,
}

fn deref<'a>(doc: &'a lopdf::Document, o: &'a Object) -> &'a Object {
    doc.dereference(o).map(|(_, o)| o).unwrap_or(o)
}

/// A UTF-16BE text string with its byte-order mark, as hex.
fn text_string(s: &str) -> String {
    let bytes: Vec<u8> = std::iter::once(0xFEFFu16)
        .chain(s.encode_utf16())
        .flat_map(u16::to_be_bytes)
        .collect();
    hex_string(&bytes)
}

/// Names of the signature fields already in the form (for a unique name
/// and the next block's slot).
fn signature_fields(doc: &lopdf::Document, fields: &[Object]) -> Vec<Vec<u8>> {
    fields
        .iter()
        .filter_map(|f| deref(doc, f).as_dict().ok())
        .filter(|d| d.get(b"FT").and_then(Object::as_name).ok() == Some(b"Sig"))
        .map(|d| {
            d.get(b"T")
                .and_then(Object::as_str)
                .map(<[u8]>::to_vec)
                .unwrap_or_default()
        })
        .collect()
}

/// Add a signature's place to `pdf` (see the module's comment).
pub fn prepare(pdf: &[u8], spec: &SignatureSpec) -> Result<Prepared, WriteError> {
    // lopdf is not ours: a panic on a hostile file must not take the caller.
    let doc = std::panic::catch_unwind(|| lopdf::Document::load_mem(pdf))
        .map_err(|_| WriteError::Unreadable("the parser gave up".into()))?
        .map_err(|e| WriteError::Unreadable(e.to_string()))?;
    if doc.is_encrypted() {
        return Err(WriteError::Encrypted);
    }
    let root_ref = doc
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| WriteError::Unreadable("no document catalog".into()))?;
    let catalog = doc
        .get_dictionary(root_ref)
        .map_err(|e| WriteError::Unreadable(format!("catalog: {e}")))?;
    let page_id = doc
        .get_pages()
        .values()
        .next_back()
        .copied()
        .ok_or(WriteError::NoPages)?;
    let page = doc
        .get_dictionary(page_id)
        .map_err(|e| WriteError::Unreadable(format!("last page: {e}")))?;

    // The form as it is: indirect (replaced in place), inline or absent.
    let form_ref = catalog.get(b"AcroForm").and_then(Object::as_reference).ok();
    let empty = Dictionary::new();
    let form = catalog
        .get(b"AcroForm")
        .ok()
        .and_then(|o| deref(&doc, o).as_dict().ok())
        .unwrap_or(&empty);
    let fields: Vec<Object> = form
        .get(b"Fields")
        .ok()
        .and_then(|o| deref(&doc, o).as_array().ok())
        .cloned()
        .unwrap_or_default();
    let existing = signature_fields(&doc, &fields);
    let mut name = spec.field.clone();
    let mut n = 1;
    while existing.iter().any(|e| e == name.as_bytes()) {
        n += 1;
        name = format!("{}_{n}", spec.field);
    }

    let declared = doc
        .trailer
        .get(b"Size")
        .and_then(Object::as_i64)
        .unwrap_or(0);
    let size = u32::try_from(declared)
        .unwrap_or(0)
        .max(doc.max_id.saturating_add(1));
    let mut objects = Objects::new(size);

    // The visible block: a form XObject with its own font subsets.
    let page_w = page_width(&doc, page);
    let r = appearance::rect(existing.len(), page_w);
    let f1 = objects.reserve();
    let f2 = objects.reserve();
    let mut regular = FontUse::new(Face::Regular);
    let mut bold = FontUse::new(Face::Bold);
    let content = appearance::content(&spec.block, &mut regular, &mut bold);
    let ap = objects.stream(
        &format!(
            "/Type /XObject /Subtype /Form /BBox [0 0 {} {}] \
             /Resources << /Font << /F1 {f1} 0 R /F2 {f2} 0 R >> >>",
            number(f64::from(r[2] - r[0])),
            number(f64::from(r[3] - r[1]))
        ),
        content.as_bytes(),
        true,
    );
    regular
        .embed(&mut objects, f1)
        .map_err(WriteError::Unreadable)?;
    bold.embed(&mut objects, f2)
        .map_err(WriteError::Unreadable)?;

    // The signature dictionary is written last, so its placeholders are
    // the last of their kind in the update (found from the end).
    let sig = objects.reserve();
    let widget = objects.add(format!(
        "<< /Type /Annot /Subtype /Widget /FT /Sig /T {} /V {sig} 0 R /F 132 \
         /P {} {} R /Rect [{} {} {} {}] /AP << /N {ap} 0 R >> >>",
        text_string(&name),
        page_id.0,
        page_id.1,
        number(f64::from(r[0])),
        number(f64::from(r[1])),
        number(f64::from(r[2])),
        number(f64::from(r[3])),
    ));

    // The page lists the widget: in its /Annots array, replaced where it
    // lives (its own object, or the page's dictionary).
    let mut annots: Vec<String> = match page.get(b"Annots") {
        Ok(o) => deref(&doc, o)
            .as_array()
            .map(|a| a.iter().map(serialize).collect())
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    annots.push(format!("{widget} 0 R"));
    let annots = format!("[{}]", annots.join(" "));
    match page.get(b"Annots").and_then(Object::as_reference) {
        Ok(id) => objects.replace(id.0, id.1, annots),
        Err(_) => objects.replace(
            page_id.0,
            page_id.1,
            format!(
                "<< {} /Annots {annots} >>",
                dict_entries(page, &[b"Annots"])
            ),
        ),
    }

    // The form lists the field; SigFlags 3: signatures exist, append only.
    let mut listed: Vec<String> = fields.iter().map(serialize).collect();
    listed.push(format!("{widget} 0 R"));
    let form_body = format!(
        "<< {} /Fields [{}] /SigFlags 3 >>",
        dict_entries(form, &[b"Fields", b"SigFlags"]),
        listed.join(" ")
    );
    match form_ref {
        Some(id) => objects.replace(id.0, id.1, form_body),
        None => {
            let f = objects.add(form_body);
            objects.replace(
                root_ref.0,
                root_ref.1,
                format!(
                    "<< {} /AcroForm {f} 0 R >>",
                    dict_entries(catalog, &[b"AcroForm"])
                ),
            );
        }
    }

    let zeros = "0".repeat(spec.contents_bytes * 2);
    objects.set(
        sig,
        format!(
            "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached \
             /Name {} /Reason {} /M {} /ByteRange [0 {PLACEHOLDER} {PLACEHOLDER} {PLACEHOLDER}] \
             /Contents <{zeros}> >>",
            text_string(&spec.block.signer),
            text_string(&spec.reason),
            text_string(&appearance::pdf_date(spec.block.signed_at_ms)),
        ),
    );

    let mut trailer = String::new();
    for key in [&b"Root"[..], b"Info", b"ID"] {
        if let Ok(v) = doc.trailer.get(key) {
            trailer.push_str(&format!(
                "/{} {} ",
                String::from_utf8_lossy(key),
                serialize(v)
            ));
        }
    }
    let xref_stream = matches!(
        doc.reference_table.cross_reference_type,
        lopdf::xref::XrefType::CrossReferenceStream
    );
    let tail = objects.finish_update(
        pdf.len() as u64,
        doc.xref_start as u64,
        trailer.trim_end(),
        xref_stream,
    );
    let mut bytes = Vec::with_capacity(pdf.len() + tail.len());
    bytes.extend_from_slice(pdf);
    bytes.extend_from_slice(&tail);
    fill_byte_range(bytes, pdf.len(), spec.contents_bytes)
}

/// A ByteRange number's room: ten digits cover any file under 10 GB.
const PLACEHOLDER: &str = "**********";

/// Find the placeholders in the update (after `base`), write the byte
/// range and hash it.
fn fill_byte_range(
    mut bytes: Vec<u8>,
    base: usize,
    contents_bytes: usize,
) -> Result<Prepared, WriteError> {
    let find_last = |hay: &[u8], needle: &[u8]| {
        hay.windows(needle.len())
            .rposition(|w| w == needle)
            .map(|p| p + base)
    };
    let br_marker = format!("/ByteRange [0 {PLACEHOLDER}");
    let br_at = find_last(&bytes[base..], br_marker.as_bytes()).ok_or(WriteError::Mismatch)?;
    let contents_at = bytes[br_at..]
        .windows(11)
        .position(|w| w == b"/Contents <")
        .map(|p| p + br_at + 10)
        .ok_or(WriteError::Mismatch)?;
    let gap_end = contents_at + 2 + contents_bytes * 2;
    if bytes.get(gap_end - 1) != Some(&b'>') {
        return Err(WriteError::Mismatch);
    }
    let range = [
        0,
        contents_at as u64,
        gap_end as u64,
        (bytes.len() - gap_end) as u64,
    ];
    let text = format!(
        "/ByteRange [0 {:<10} {:<10} {:<10}",
        range[1], range[2], range[3]
    );
    if text.len() != br_marker.len() + 22 {
        return Err(WriteError::TooLarge {
            found: bytes.len(),
            room: 9_999_999_999,
        });
    }
    bytes[br_at..br_at + text.len()].copy_from_slice(text.as_bytes());
    let digest = ranges_digest(&bytes, &range);
    Ok(Prepared {
        bytes,
        byte_range: range,
        digest,
    })
}

/// SHA-256 of the bytes a byte range names.
pub fn ranges_digest(bytes: &[u8], range: &[u64; 4]) -> [u8; 32] {
    let mut h = Sha256::new();
    let (a, b) = (range[0] as usize, (range[0] + range[1]) as usize);
    let (c, d) = (range[2] as usize, (range[2] + range[3]) as usize);
    h.update(&bytes[a.min(bytes.len())..b.min(bytes.len())]);
    h.update(&bytes[c.min(bytes.len())..d.min(bytes.len())]);
    h.finalize().into()
}

/// Write `cms` (DER) into the prepared place; the result is the signed PDF.
pub fn embed(prepared: &Prepared, cms: &[u8]) -> Result<Vec<u8>, WriteError> {
    let [_, start, end, _] = prepared.byte_range;
    let (start, end) = (start as usize, end as usize);
    let room = end.saturating_sub(start + 2) / 2;
    if prepared.bytes.get(start) != Some(&b'<') || prepared.bytes.get(end - 1) != Some(&b'>') {
        return Err(WriteError::Mismatch);
    }
    if ranges_digest(&prepared.bytes, &prepared.byte_range) != prepared.digest {
        return Err(WriteError::Mismatch);
    }
    if cms.len() > room {
        return Err(WriteError::TooLarge {
            found: cms.len(),
            room,
        });
    }
    let mut out = prepared.bytes.clone();
    let hex = hex::encode_upper(cms);
    out[start + 1..start + 1 + hex.len()].copy_from_slice(hex.as_bytes());
    Ok(out)
}

fn page_width(doc: &lopdf::Document, page: &Dictionary) -> f32 {
    let mut node = page;
    for _ in 0..64 {
        if let Ok(o) = node.get(b"MediaBox")
            && let Ok(a) = deref(doc, o).as_array()
            && a.len() == 4
        {
            let v: Vec<f32> = a
                .iter()
                .map(|x| match deref(doc, x) {
                    Object::Integer(i) => *i as f32,
                    Object::Real(r) => *r,
                    _ => 0.0,
                })
                .collect();
            return (v[2] - v[0]).abs();
        }
        match node
            .get(b"Parent")
            .ok()
            .and_then(|p| deref(doc, p).as_dict().ok())
        {
            Some(p) => node = p,
            None => break,
        }
    }
    595.28
}
