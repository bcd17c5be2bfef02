//! The presenter layout's document page: one page of a meeting's PDF
//! rasterised (hayro, pure Rust) to fit the page's tile, then turned into
//! the composite's I420. Rendered once per page change, off the composer
//! thread; errors, never panics, on a PDF the renderer cannot read.

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::Pdf;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings, render};

use super::frame::Frame;

/// Larger pages are refused rather than rendered: a hostile page size
/// would otherwise ask for gigabytes of pixels.
const MAX_SIDE_PX: u32 = 4096;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PageError {
    #[error("the document is not a PDF this server can draw")]
    Unreadable,
    #[error("the document has {pages} pages; page {page} does not exist")]
    NoSuchPage { page: u32, pages: usize },
    #[error("page {0} could not be drawn")]
    Failed(u32),
}

/// Page `page` (1-based) of `pdf`, scaled to fit `max_w`×`max_h` keeping
/// its proportions, on white.
pub fn render_page(pdf: &[u8], page: u32, max_w: u32, max_h: u32) -> Result<Frame, PageError> {
    let doc = Pdf::new(pdf.to_vec()).map_err(|_| PageError::Unreadable)?;
    let pages = doc.pages();
    let p = page
        .checked_sub(1)
        .and_then(|i| pages.get(i as usize))
        .ok_or(PageError::NoSuchPage {
            page,
            pages: pages.len(),
        })?;
    let (pw, ph) = p.render_dimensions();
    if !(pw.is_finite() && ph.is_finite() && pw >= 1.0 && ph >= 1.0) {
        return Err(PageError::Failed(page));
    }
    let scale = (max_w.min(MAX_SIDE_PX) as f32 / pw).min(max_h.min(MAX_SIDE_PX) as f32 / ph);
    // The renderer is young: a page it trips on must cost this page, not
    // the server.
    let pixmap = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        render(
            p,
            &RenderCache::new(),
            &InterpreterSettings::default(),
            &RenderSettings::default(),
            &PixmapSettings {
                x_scale: scale,
                y_scale: scale,
                bg_color: WHITE,
            },
        )
    }))
    .map_err(|_| PageError::Failed(page))?;
    let (w, h) = (u32::from(pixmap.width()), u32::from(pixmap.height()));
    let rgba: Vec<u8> = pixmap
        .data_as_u8_slice()
        .chunks_exact(4)
        .flat_map(unpremultiply)
        .collect();
    i420_from_rgba(&rgba, w, h).ok_or(PageError::Failed(page))
}

/// The renderer's pixels are premultiplied; the page is drawn on white, so
/// alpha is 255 almost everywhere.
fn unpremultiply(px: &[u8]) -> [u8; 4] {
    let a = u32::from(px[3]);
    if a == 0 || a == 255 {
        return [px[0], px[1], px[2], 255];
    }
    let un = |c: u8| ((u32::from(c) * 255 + a / 2) / a).min(255) as u8;
    [un(px[0]), un(px[1]), un(px[2]), 255]
}

/// RGBA → I420 (BT.601 limited range, as [`super::frame::Yuv::rgb`]),
/// chroma averaged over each 2×2 block; odd sizes lose their last row or
/// column.
pub fn i420_from_rgba(rgba: &[u8], width: u32, height: u32) -> Option<Frame> {
    let (w, h) = (width as usize & !1, height as usize & !1);
    if w == 0 || h == 0 || rgba.len() < width as usize * height as usize * 4 {
        return None;
    }
    let stride = width as usize * 4;
    let px = |x: usize, y: usize| -> (i32, i32, i32) {
        let i = y * stride + x * 4;
        (
            i32::from(rgba[i]),
            i32::from(rgba[i + 1]),
            i32::from(rgba[i + 2]),
        )
    };
    let mut y_plane = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let (r, g, b) = px(x, y);
            y_plane.push((((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8);
        }
    }
    let (cw, ch) = (w / 2, h / 2);
    let mut u_plane = Vec::with_capacity(cw * ch);
    let mut v_plane = Vec::with_capacity(cw * ch);
    for cy in 0..ch {
        for cx in 0..cw {
            let (mut r, mut g, mut b) = (0, 0, 0);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (pr, pg, pb) = px(cx * 2 + dx, cy * 2 + dy);
                (r, g, b) = (r + pr, g + pg, b + pb);
            }
            let (r, g, b) = (r / 4, g / 4, b / 4);
            u_plane.push((((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128) as u8);
            v_plane.push((((112 * r - 94 * g - 18 * b + 128) >> 8) + 128) as u8);
        }
    }
    Some(Frame {
        width: w as u32,
        height: h as u32,
        y: y_plane,
        u: u_plane,
        v: v_plane,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::frame::Yuv;

    /// A one-page A4 PDF: white, with a red rectangle over its top half.
    fn red_top_pdf() -> Vec<u8> {
        let content = b"1 0 0 rg 0 421 595 421 re f";
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_string(),
            format!(
                "<< /Length {} >>\nstream\n{}\nendstream",
                content.len(),
                String::from_utf8_lossy(content)
            ),
        ];
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for o in offsets {
            out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    fn near(a: Yuv, b: Yuv) -> bool {
        a.0.abs_diff(b.0) <= 12 && a.1.abs_diff(b.1) <= 12 && a.2.abs_diff(b.2) <= 12
    }

    #[test]
    fn a_page_fits_its_tile_keeping_its_proportions_and_shows_its_colours() {
        let f = render_page(&red_top_pdf(), 1, 400, 400).unwrap();
        // A4 is taller than wide: the height fills the tile.
        assert!((398..=400).contains(&f.height), "{}x{}", f.width, f.height);
        assert!((280..=284).contains(&f.width), "{}x{}", f.width, f.height);
        let red = Yuv::rgb(255, 0, 0);
        let white = Yuv::rgb(255, 255, 255);
        assert!(
            near(f.at(f.width / 2, f.height / 4), red),
            "{:?}",
            f.at(f.width / 2, f.height / 4)
        );
        assert!(
            near(f.at(f.width / 2, f.height * 3 / 4), white),
            "{:?}",
            f.at(f.width / 2, f.height * 3 / 4)
        );
    }

    #[test]
    fn a_missing_page_or_a_file_that_is_no_pdf_is_an_error() {
        assert_eq!(
            render_page(&red_top_pdf(), 2, 100, 100),
            Err(PageError::NoSuchPage { page: 2, pages: 1 })
        );
        assert_eq!(
            render_page(&red_top_pdf(), 0, 100, 100).unwrap_err(),
            PageError::NoSuchPage { page: 0, pages: 1 }
        );
        assert_eq!(
            render_page(b"not a pdf at all", 1, 100, 100),
            Err(PageError::Unreadable)
        );
    }

    #[test]
    fn rgba_becomes_i420_with_averaged_chroma() {
        // 2×2 blue.
        let rgba = [0, 0, 255, 255].repeat(4);
        let f = i420_from_rgba(&rgba, 2, 2).unwrap();
        assert_eq!(f.at(1, 1), Yuv::rgb(0, 0, 255));
        assert!(i420_from_rgba(&rgba, 3, 3).is_none(), "too few bytes");
    }
}
