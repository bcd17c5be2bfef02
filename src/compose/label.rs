//! Site names on the composite, in Vietnamese: DejaVu Sans (the font our
//! PDFs embed) rasterised with `fontdue`, drawn white on a dark band at
//! the foot of a tile. Glyphs are cached per (character, size); the cache
//! is bounded (names are few, but a hostile one could be long).

use std::collections::HashMap;

use super::frame::{Frame, Rect};

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
/// Glyphs kept: every letter of every site name of a province many times over.
const GLYPH_CACHE_MAX: usize = 2048;
/// Luma of the text (BT.601 limited-range white).
const TEXT_Y: u32 = 235;

struct Glyph {
    width: usize,
    height: usize,
    /// Offset of the bitmap's left edge and bottom edge from the pen.
    xmin: i32,
    ymin: i32,
    advance: f32,
    coverage: Vec<u8>,
}

pub struct Labels {
    font: fontdue::Font,
    cache: HashMap<(char, u32), Glyph>,
}

impl Labels {
    pub fn new() -> Labels {
        let font = fontdue::Font::from_bytes(FONT_BYTES, fontdue::FontSettings::default())
            .expect("the embedded DejaVu Sans Bold parses");
        Labels {
            font,
            cache: HashMap::new(),
        }
    }

    fn glyph(&mut self, c: char, px: u32) -> &Glyph {
        if self.cache.len() >= GLYPH_CACHE_MAX && !self.cache.contains_key(&(c, px)) {
            self.cache.clear();
        }
        let font = &self.font;
        self.cache.entry((c, px)).or_insert_with(|| {
            let (m, coverage) = font.rasterize(c, px as f32);
            Glyph {
                width: m.width,
                height: m.height,
                xmin: m.xmin,
                ymin: m.ymin,
                advance: m.advance_width,
                coverage,
            }
        })
    }

    /// Width of `text` at `px`, pixels.
    fn measure(&mut self, text: &str, px: u32) -> u32 {
        text.chars().map(|c| self.glyph(c, px).advance).sum::<f32>() as u32
    }

    /// Draw `text` on a dark band across the foot of `tile` (the text cut
    /// with "…" when the tile is too narrow). The band is a twelfth of the
    /// tile's height, at least 16 pixels.
    pub fn draw(&mut self, frame: &mut Frame, tile: Rect, text: &str) {
        let band_h = (tile.h / 12).max(16).min(tile.h) & !1;
        let band = Rect::new(tile.x, tile.y + tile.h - band_h, tile.w, band_h);
        frame.dim(band);
        frame.dim(band);
        let px = (band_h * 7 / 10).max(8);
        let pad = px / 2;
        let room = tile.w.saturating_sub(2 * pad);
        let mut shown: String = text.chars().collect();
        if self.measure(&shown, px) > room {
            while !shown.is_empty() && self.measure(&shown, px) + self.measure("…", px) > room {
                shown.pop();
            }
            shown.push('…');
        }
        let baseline = (band.y + band_h - band_h / 4) as i32;
        self.pen(
            frame,
            &shown,
            px,
            (band.x + pad) as f32,
            baseline,
            tile.x + tile.w,
        );
    }

    /// `text` centred in `r` (the composite's "waiting" card): a fifth of
    /// its height, smaller until it fits its width.
    pub fn caption(&mut self, frame: &mut Frame, r: Rect, text: &str) {
        let mut px = (r.h / 5).max(8);
        while px > 8 && self.measure(text, px) > r.w.saturating_sub(px) {
            px -= 2;
        }
        let mut shown: String = text.chars().collect();
        while !shown.is_empty() && self.measure(&shown, px) > r.w {
            shown.pop();
        }
        let width = self.measure(&shown, px);
        let x = r.x + r.w.saturating_sub(width) / 2;
        let baseline = (r.y + r.h / 2 + px / 3) as i32;
        self.pen(frame, &shown, px, x as f32, baseline, r.x + r.w);
    }

    /// Draw `text` from `pen` on `baseline`, clipped at `right`.
    fn pen(
        &mut self,
        frame: &mut Frame,
        text: &str,
        px: u32,
        mut pen: f32,
        baseline: i32,
        right: u32,
    ) {
        let (fw, fh) = (frame.width as i32, frame.height as i32);
        let right = right as i32;
        for c in text.chars() {
            let g = self.glyph(c, px);
            let left = pen as i32 + g.xmin;
            let top = baseline - g.ymin - g.height as i32;
            for gy in 0..g.height {
                let y = top + gy as i32;
                if y < 0 || y >= fh {
                    continue;
                }
                for gx in 0..g.width {
                    let x = left + gx as i32;
                    if x < 0 || x >= fw || x >= right {
                        continue;
                    }
                    let a = u32::from(g.coverage[gy * g.width + gx]);
                    if a == 0 {
                        continue;
                    }
                    let p = &mut frame.y[y as usize * frame.width as usize + x as usize];
                    *p = ((u32::from(*p) * (255 - a) + TEXT_Y * a) / 255) as u8;
                }
            }
            pen += g.advance;
        }
    }
}

impl Default for Labels {
    fn default() -> Self {
        Labels::new()
    }
}

#[cfg(test)]
mod tests {
    use super::super::frame::Yuv;
    use super::*;

    #[test]
    fn a_name_draws_bright_pixels_in_the_band_and_leaves_the_rest() {
        let mut f = Frame::new(320, 180, Yuv::rgb(0, 0, 255));
        let before = f.clone();
        let mut l = Labels::new();
        l.draw(&mut f, Rect::new(0, 0, 320, 180), "Xã Bình Minh");
        let band = Rect::new(0, 180 - 16, 320, 16);
        let bright = (band.y..band.y + band.h)
            .flat_map(|y| (0..320).map(move |x| (x, y)))
            .filter(|&(x, y)| f.y[(y * 320 + x) as usize] > 200)
            .count();
        assert!(bright > 50, "text pixels: {bright}");
        assert_eq!(
            f.y[..320 * 100],
            before.y[..320 * 100],
            "above the band untouched"
        );
    }

    #[test]
    fn a_name_too_long_for_its_tile_stays_inside_it() {
        let mut f = Frame::new(200, 100, Yuv::rgb(0, 0, 0));
        let mut l = Labels::new();
        let tile = Rect::new(0, 0, 100, 100);
        l.draw(&mut f, tile, &"Đảng ủy các cơ quan Đảng tỉnh ".repeat(20));
        for y in 0..100 {
            for x in 100..200 {
                assert!(f.y[y * 200 + x] < 100, "pixel ({x},{y}) outside the tile");
            }
        }
    }
}
