//! Where each site goes on the composite picture: the layouts an operator
//! picks per meeting and output. Tile 0 is always the stage.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// The stage alone, full picture.
    Stage,
    /// The stage in the top-left two thirds, five sites around it.
    OnePlus5,
    /// The stage in the top-left three quarters, seven sites around it.
    OnePlus7,
    Grid2x2,
    Grid3x3,
    Grid4x4,
    /// The page-sync document page on the left at full height, the stage
    /// beside it, two sites under the stage.
    Presenter,
}

impl Layout {
    pub const ALL: [Layout; 7] = [
        Layout::Stage,
        Layout::OnePlus5,
        Layout::OnePlus7,
        Layout::Grid2x2,
        Layout::Grid3x3,
        Layout::Grid4x4,
        Layout::Presenter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Stage => "stage",
            Layout::OnePlus5 => "one_plus5",
            Layout::OnePlus7 => "one_plus7",
            Layout::Grid2x2 => "grid2x2",
            Layout::Grid3x3 => "grid3x3",
            Layout::Grid4x4 => "grid4x4",
            Layout::Presenter => "presenter",
        }
    }

    /// The operator's label (Vietnamese).
    pub fn label(self) -> &'static str {
        match self {
            Layout::Stage => "Chỉ sân khấu",
            Layout::OnePlus5 => "1 lớn + 5",
            Layout::OnePlus7 => "1 lớn + 7",
            Layout::Grid2x2 => "Lưới 2×2",
            Layout::Grid3x3 => "Lưới 3×3",
            Layout::Grid4x4 => "Lưới 4×4",
            Layout::Presenter => "Tài liệu + người nói",
        }
    }

    /// How many sites it shows.
    pub fn capacity(self) -> usize {
        self.tiles(1280, 720).len()
    }

    /// The tiles on a `w`×`h` canvas, the stage first.
    pub fn tiles(self, w: u32, h: u32) -> Vec<Rect> {
        match self {
            Layout::Stage => vec![Rect::new(0, 0, w, h)],
            Layout::OnePlus5 => big_and_ring(w, h, 3),
            Layout::OnePlus7 => big_and_ring(w, h, 4),
            Layout::Grid2x2 => grid(w, h, 2),
            Layout::Grid3x3 => grid(w, h, 3),
            Layout::Grid4x4 => grid(w, h, 4),
            Layout::Presenter => {
                let page = presenter_page(w, h);
                let (x, rw) = (page.w, w - page.w);
                let stage_h = ((rw * 9 / 16) & !1).min((h * 11 / 20) & !1);
                let half = (rw / 2) & !1;
                vec![
                    Rect::new(x, 0, rw, stage_h),
                    Rect::new(x, stage_h, half, h - stage_h),
                    Rect::new(x + half, stage_h, rw - half, h - stage_h),
                ]
            }
        }
    }

    /// Where the document page goes (the presenter layout only).
    pub fn page_tile(self, w: u32, h: u32) -> Option<Rect> {
        (self == Layout::Presenter).then(|| presenter_page(w, h))
    }
}

/// The presenter layout's page: the left 45 % at full height, room for a
/// portrait A4 page (0.71 wide for 1 high) on a 16:9 picture.
fn presenter_page(w: u32, h: u32) -> Rect {
    Rect::new(0, 0, (w * 9 / 20) & !1, h)
}

impl std::str::FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Layout, String> {
        Layout::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a layout; use one of {}",
                    Layout::ALL.map(|l| l.as_str()).join(", ")
                )
            })
    }
}

/// The composite's outputs, each of which may have its own layout: the
/// internal live stream (HLS), the program recording, the SIP room
/// systems and the hall screens (WHEP). Outputs with the same layout share
/// one encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputKind {
    Stream,
    Recording,
    Rooms,
    Screen,
}

impl OutputKind {
    pub const ALL: [OutputKind; 4] = [
        OutputKind::Stream,
        OutputKind::Recording,
        OutputKind::Rooms,
        OutputKind::Screen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::Stream => "stream",
            OutputKind::Recording => "recording",
            OutputKind::Rooms => "sip",
            OutputKind::Screen => "screen",
        }
    }

    /// The operator's label (Vietnamese).
    pub fn label(self) -> &'static str {
        match self {
            OutputKind::Stream => "Truyền hình nội bộ (HLS)",
            OutputKind::Recording => "Bản ghi",
            OutputKind::Rooms => "Phòng SIP",
            OutputKind::Screen => "Màn hình hội trường",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::str::FromStr for OutputKind {
    type Err = String;
    fn from_str(s: &str) -> Result<OutputKind, String> {
        OutputKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not an output; use one of {}",
                    OutputKind::ALL.map(|k| k.as_str()).join(", ")
                )
            })
    }
}

/// A meeting's layouts: its own (`None`: automatic — the stage alone while
/// one site sends video, else 1+7) and an override per output (`None`:
/// the meeting's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layouts {
    pub meeting: Option<Layout>,
    outputs: [Option<Layout>; 4],
}

impl Layouts {
    pub fn new(meeting: Option<Layout>) -> Layouts {
        Layouts {
            meeting,
            outputs: [None; 4],
        }
    }

    /// The layout `output` shows (`None`: automatic).
    pub fn of(&self, output: OutputKind) -> Option<Layout> {
        self.outputs[output.index()].or(self.meeting)
    }

    /// The output's own choice, if it has one.
    pub fn chosen(&self, output: OutputKind) -> Option<Layout> {
        self.outputs[output.index()]
    }

    pub fn set(&mut self, output: OutputKind, layout: Option<Layout>) {
        self.outputs[output.index()] = layout;
    }
}

/// An `n`×`n` grid of equal tiles, row by row.
fn grid(w: u32, h: u32, n: u32) -> Vec<Rect> {
    let mut out = Vec::with_capacity((n * n) as usize);
    for r in 0..n {
        for c in 0..n {
            let (x0, x1) = (w * c / n, w * (c + 1) / n);
            let (y0, y1) = (h * r / n, h * (r + 1) / n);
            out.push(Rect::new(x0, y0, x1 - x0, y1 - y0));
        }
    }
    out
}

/// The canvas cut into `n`×`n` cells: the stage takes the top-left
/// (n-1)×(n-1), the others the right column and the bottom row
/// (2n-1 of them: 5 for n = 3, 7 for n = 4).
fn big_and_ring(w: u32, h: u32, n: u32) -> Vec<Rect> {
    let cell = |c: u32, r: u32| {
        let (x0, x1) = (w * c / n, w * (c + 1) / n);
        let (y0, y1) = (h * r / n, h * (r + 1) / n);
        Rect::new(x0, y0, x1 - x0, y1 - y0)
    };
    let big_w = w * (n - 1) / n;
    let big_h = h * (n - 1) / n;
    let mut out = vec![Rect::new(0, 0, big_w, big_h)];
    for r in 0..n - 1 {
        out.push(cell(n - 1, r));
    }
    for c in 0..n {
        out.push(cell(c, n - 1));
    }
    out
}

/// A rectangle on the canvas, in pixels; `x`, `y`, `w` and `h` are even
/// (4:2:0 chroma covers 2×2 pixels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    pub fn new(x: u32, y: u32, w: u32, h: u32) -> Rect {
        Rect {
            x: x & !1,
            y: y & !1,
            w: w & !1,
            h: h & !1,
        }
    }

    /// The largest rectangle of aspect `aw:ah` centred inside this one.
    pub fn fit(&self, aw: u32, ah: u32) -> Rect {
        if aw == 0 || ah == 0 {
            return *self;
        }
        let (w, h) = if u64::from(self.w) * u64::from(ah) > u64::from(self.h) * u64::from(aw) {
            (
                (u64::from(self.h) * u64::from(aw) / u64::from(ah)) as u32,
                self.h,
            )
        } else {
            (
                self.w,
                (u64::from(self.w) * u64::from(ah) / u64::from(aw)) as u32,
            )
        };
        Rect::new(
            self.x + (self.w - w.min(self.w)) / 2,
            self.y + (self.h - h.min(self.h)) / 2,
            w,
            h,
        )
    }

    /// This rectangle shrunk by `m` pixels on every side.
    pub fn inset(&self, m: u32) -> Rect {
        let m = m.min(self.w / 2).min(self.h / 2);
        Rect::new(self.x + m, self.y + m, self.w - 2 * m, self.h - 2 * m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlap(a: &Rect, b: &Rect) -> bool {
        a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
    }

    #[test]
    fn every_layout_has_its_site_count_and_no_two_tiles_overlap() {
        for (l, n) in [
            (Layout::Stage, 1),
            (Layout::OnePlus5, 6),
            (Layout::OnePlus7, 8),
            (Layout::Grid2x2, 4),
            (Layout::Grid3x3, 9),
            (Layout::Grid4x4, 16),
            (Layout::Presenter, 3),
        ] {
            let t = l.tiles(1280, 720);
            assert_eq!(t.len(), n, "{l:?}");
            for (i, a) in t.iter().enumerate() {
                assert!(a.x + a.w <= 1280 && a.y + a.h <= 720, "{l:?} {a:?}");
                assert!(a.x % 2 == 0 && a.y % 2 == 0 && a.w % 2 == 0 && a.h % 2 == 0);
                for b in &t[i + 1..] {
                    assert!(!overlap(a, b), "{l:?}: {a:?} and {b:?}");
                }
            }
            if let Some(p) = l.page_tile(1280, 720) {
                assert!(
                    t.iter().all(|a| !overlap(a, &p)),
                    "{l:?}: the page is covered"
                );
            }
            assert_eq!(l.as_str().parse::<Layout>(), Ok(l));
        }
    }

    #[test]
    fn the_presenter_layout_puts_the_page_left_and_the_stage_beside_it() {
        let l = Layout::Presenter;
        assert_eq!(l.page_tile(1280, 720), Some(Rect::new(0, 0, 576, 720)));
        let t = l.tiles(1280, 720);
        assert_eq!(t[0], Rect::new(576, 0, 704, 396));
        assert_eq!(Layout::OnePlus7.page_tile(1280, 720), None);
    }

    #[test]
    fn the_stage_tile_is_the_largest() {
        let t = Layout::OnePlus7.tiles(1280, 720);
        assert_eq!(t[0], Rect::new(0, 0, 960, 540));
        assert!(t[1..].iter().all(|r| r.w * r.h < t[0].w * t[0].h));
    }

    #[test]
    fn an_output_follows_the_meeting_until_it_has_its_own_layout() {
        let mut l = Layouts::new(Some(Layout::OnePlus7));
        l.set(OutputKind::Screen, Some(Layout::Grid4x4));
        assert_eq!(l.of(OutputKind::Screen), Some(Layout::Grid4x4));
        assert_eq!(l.of(OutputKind::Stream), Some(Layout::OnePlus7));
        l.meeting = None;
        assert_eq!(l.of(OutputKind::Rooms), None);
        l.set(OutputKind::Screen, None);
        assert_eq!(l.of(OutputKind::Screen), None);
        assert_eq!("sip".parse::<OutputKind>(), Ok(OutputKind::Rooms));
        assert!("hls".parse::<OutputKind>().is_err());
    }

    #[test]
    fn an_unknown_layout_is_named_in_the_error() {
        let e = "bogus".parse::<Layout>().unwrap_err();
        assert!(e.contains("bogus") && e.contains("one_plus7"), "{e}");
    }
}
