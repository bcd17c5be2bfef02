//! A whole new PDF from laid-out pages: the page tree, the two embedded
//! DejaVu subsets every generated document uses (`/F1` regular, `/F2`
//! bold), a Vietnamese catalog and the document title — written once for
//! the minutes, the vote results and the table reports.

use super::font::FontUse;
use super::write::{Objects, hex_string, number};

/// `pages` (content streams naming `/F1` and `/F2`) on `width`×`height`
/// points, titled `title`.
pub fn assemble(
    pages: &[String],
    (width, height): (f32, f32),
    regular: &FontUse,
    bold: &FontUse,
    title: &str,
) -> Result<Vec<u8>, String> {
    let mut objects = Objects::new(1);
    let catalog = objects.reserve();
    let tree = objects.reserve();
    let f1 = objects.reserve();
    let f2 = objects.reserve();
    let mut kids = Vec::new();
    for content in pages {
        let c = objects.stream("", content.as_bytes(), true);
        kids.push(objects.add(format!(
            "<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 {} {}] /Contents {c} 0 R \
             /Resources << /Font << /F1 {f1} 0 R /F2 {f2} 0 R >> >> >>",
            number(f64::from(width)),
            number(f64::from(height))
        )));
    }
    regular.embed(&mut objects, f1)?;
    bold.embed(&mut objects, f2)?;
    let list: Vec<String> = kids.iter().map(|k| format!("{k} 0 R")).collect();
    objects.set(
        tree,
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            list.join(" "),
            kids.len()
        ),
    );
    objects.set(
        catalog,
        format!("<< /Type /Catalog /Pages {tree} 0 R /Lang (vi-VN) >>"),
    );
    let utf16: Vec<u8> = std::iter::once(0xFEFFu16)
        .chain(title.encode_utf16())
        .flat_map(u16::to_be_bytes)
        .collect();
    let info = objects.add(format!(
        "<< /Title {} /Producer (diemcau) >>",
        hex_string(&utf16)
    ));
    Ok(objects.finish_document(catalog, Some(info)))
}
