//! The fonts our PDFs write with: DejaVu Sans (regular and bold) embedded in
//! the binary — the network is isolated and the standard 14 PDF fonts have
//! no Vietnamese letters — and subset per document to the glyphs it uses, so
//! a watermark adds a few KiB, not 750 KiB, to a download on a thin link.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::write::{Objects, hex_string};

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Face {
    Regular,
    Bold,
}

impl Face {
    fn data(self) -> &'static [u8] {
        match self {
            Face::Regular => REGULAR,
            Face::Bold => BOLD,
        }
    }
    fn base_name(self) -> &'static str {
        match self {
            Face::Regular => "DejaVuSans",
            Face::Bold => "DejaVuSans-Bold",
        }
    }
}

/// A face as one document uses it. Content addresses glyphs by their id
/// in the full font (CID = original gid), so text can be measured and
/// encoded before the subset exists; the embedded subset renumbers its
/// glyphs and a `CIDToGIDMap` stream maps each CID to its new gid.
pub struct FontUse {
    face: Face,
    font: ttf_parser::Face<'static>,
    units_per_em: f32,
    /// Original glyph id → the characters it stands for (for ToUnicode).
    used: BTreeMap<u16, String>,
}

impl FontUse {
    pub fn new(face: Face) -> FontUse {
        // The embedded files are fixed: a parse failure is a build defect
        // that every PDF test would show at once.
        let font = ttf_parser::Face::parse(face.data(), 0).expect("embedded DejaVu font parses");
        let units_per_em = f32::from(font.units_per_em());
        FontUse {
            face,
            font,
            units_per_em,
            used: BTreeMap::new(),
        }
    }

    fn glyph(&self, c: char) -> u16 {
        self.font
            .glyph_index(c)
            .or_else(|| self.font.glyph_index('?'))
            .map(|g| g.0)
            .unwrap_or(0)
    }

    /// Width of `text` at size 1, in text space units.
    pub fn width(&self, text: &str) -> f32 {
        text.chars()
            .map(|c| {
                let g = ttf_parser::GlyphId(self.glyph(c));
                f32::from(self.font.glyph_hor_advance(g).unwrap_or(0)) / self.units_per_em
            })
            .sum()
    }

    /// `text` as a hex string of 2-byte CIDs for a `Tj` with this font,
    /// remembering its glyphs for the subset.
    pub fn encode(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(2 + text.len() * 4);
        out.push('<');
        for c in text.chars() {
            let g = self.glyph(c);
            self.used.entry(g).or_insert_with(|| c.to_string());
            let _ = write!(out, "{g:04X}");
        }
        out.push('>');
        out
    }

    /// Ascent of the font at size 1 (for placing the first line).
    pub fn ascent(&self) -> f32 {
        f32::from(self.font.ascender()) / self.units_per_em
    }

    /// Write the Type0 font and everything it needs, its dictionary as
    /// object `type0` (reserved earlier, since pages name it before the
    /// glyphs they use are all known).
    pub fn embed(&self, objects: &mut Objects, type0: u32) -> Result<(), String> {
        let mut remap = subsetter::GlyphRemapper::new();
        for &g in self.used.keys() {
            remap.remap(g);
        }
        let subset = subsetter::subset(self.face.data(), 0, &remap)
            .map_err(|e| format!("font subset failed: {e:?}"))?;
        // A tag that changes with the glyph set, as PDF requires for subsets.
        let tag: String = {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            for g in self.used.keys() {
                h.update(g.to_be_bytes());
            }
            h.finalize()[..6]
                .iter()
                .map(|b| char::from(b'A' + b % 26))
                .collect()
        };
        let name = format!("{tag}+{}", self.face.base_name());
        let scale = 1000.0 / self.units_per_em;

        // CIDs are the original gids; the subset renumbered them, so map.
        let max_cid = self.used.keys().next_back().copied().unwrap_or(0);
        let mut cid_to_gid = vec![0u8; (usize::from(max_cid) + 1) * 2];
        for &g in self.used.keys() {
            let new = remap.get(g).unwrap_or(0);
            let at = usize::from(g) * 2;
            cid_to_gid[at..at + 2].copy_from_slice(&new.to_be_bytes());
        }
        let mut widths = String::from("[");
        for &g in self.used.keys() {
            let adv = self
                .font
                .glyph_hor_advance(ttf_parser::GlyphId(g))
                .unwrap_or(0);
            let _ = write!(widths, " {g} [{}]", (f32::from(adv) * scale).round());
        }
        widths.push_str(" ]");

        let bbox = self.font.global_bounding_box();
        let file = objects.stream(&format!("/Length1 {}", subset.len()), &subset, true);
        let cidmap = objects.stream("", &cid_to_gid, true);
        let descriptor = objects.add(format!(
            "<< /Type /FontDescriptor /FontName /{name} /Flags 32 \
             /FontBBox [{} {} {} {}] /ItalicAngle 0 /Ascent {} /Descent {} \
             /CapHeight {} /StemV {} /FontFile2 {file} 0 R >>",
            (f32::from(bbox.x_min) * scale).round(),
            (f32::from(bbox.y_min) * scale).round(),
            (f32::from(bbox.x_max) * scale).round(),
            (f32::from(bbox.y_max) * scale).round(),
            (f32::from(self.font.ascender()) * scale).round(),
            (f32::from(self.font.descender()) * scale).round(),
            (f32::from(self.font.capital_height().unwrap_or(self.font.ascender())) * scale).round(),
            if self.face == Face::Bold { 140 } else { 80 },
        ));
        let cid_font = objects.add(format!(
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} \
             /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
             /FontDescriptor {descriptor} 0 R /DW 1000 /W {widths} /CIDToGIDMap {cidmap} 0 R >>"
        ));
        let to_unicode = objects.stream("", self.to_unicode().as_bytes(), true);
        objects.set(
            type0,
            format!(
                "<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H \
                 /DescendantFonts [{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>"
            ),
        );
        Ok(())
    }

    /// The CMap that lets readers copy, search and extract the text.
    fn to_unicode(&self) -> String {
        let mut s = String::from(
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
             /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
             /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
             1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
        );
        let entries: Vec<_> = self.used.iter().collect();
        for chunk in entries.chunks(100) {
            let _ = writeln!(s, "{} beginbfchar", chunk.len());
            for (g, text) in chunk {
                let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
                let _ = writeln!(s, "<{g:04X}> {}", hex_string(&utf16));
            }
            s.push_str("endbfchar\n");
        }
        s.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_letters_have_their_own_glyphs() {
        let f = FontUse::new(Face::Regular);
        for c in "ĐẢNG BỘ TỈNH đảng ủy xã Nguyễn Thị Hường MẬT".chars() {
            if c != ' ' {
                assert_ne!(f.glyph(c), f.glyph('?'), "{c} falls back to '?'");
            }
        }
        assert!(f.width("Biên bản") > f.width("Bien"));
    }
}
