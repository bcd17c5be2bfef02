//! The compositor's picture, sans-IO: which site goes in which tile of the
//! layout, each decoded picture scaled into its tile, names on them, the
//! active speaker outlined. The caller feeds decoded frames and the live
//! stage with a clock; `compose` draws the canvas.
//!
//! Tile 0 is the stage (the live stage's first holder — floor, lecture
//! scan or the operator's choice —, else the active speaker, else the
//! first site with a picture); then the speaker if not on stage, then the
//! sites with a picture, then those without (their name on a plain tile).
//! A site whose picture stopped keeps its last frame, darkened, with
//! "mất tín hiệu" after [`FROZEN_AFTER`].

use std::time::{Duration, Instant};

use super::frame::{Frame, Rect, Yuv};
use super::label::Labels;
use super::layout::Layout;

/// A picture this old is a lost signal, not a still speaker.
pub const FROZEN_AFTER: Duration = Duration::from_secs(2);
const BACKGROUND: Yuv = Yuv::rgb(15, 23, 42);
const EMPTY_TILE: Yuv = Yuv::rgb(30, 41, 59);
const SPEAKER_EDGE: Yuv = Yuv::rgb(250, 204, 21);
/// Gap between tiles, pixels.
const GUTTER: u32 = 2;

struct Site {
    id: u64,
    name: String,
    frame: Option<Frame>,
    at: Option<Instant>,
}

pub struct Scene {
    layout: Layout,
    canvas: Frame,
    sites: Vec<Site>,
    stage: Vec<u64>,
    speaker: Option<u64>,
    labels: Labels,
    /// The page-sync document page, drawn in the presenter layout.
    page: Option<Frame>,
}

/// Who is in which tile (for tests and the console's preview).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub tile: Rect,
    pub site: u64,
}

impl Scene {
    pub fn new(layout: Layout, width: u32, height: u32) -> Scene {
        Scene {
            layout,
            canvas: Frame::new(width, height, BACKGROUND),
            sites: Vec::new(),
            stage: Vec::new(),
            speaker: None,
            labels: Labels::new(),
            page: None,
        }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn set_layout(&mut self, layout: Layout) {
        self.layout = layout;
    }

    /// The meeting's sites in roll-call order (id, name); pictures of the
    /// sites still there are kept.
    pub fn set_sites(&mut self, sites: &[(u64, String)]) {
        let mut old: Vec<Site> = std::mem::take(&mut self.sites);
        self.sites = sites
            .iter()
            .map(|(id, name)| match old.iter().position(|s| s.id == *id) {
                Some(i) => {
                    let mut s = old.swap_remove(i);
                    s.name = name.clone();
                    s
                }
                None => Site {
                    id: *id,
                    name: name.clone(),
                    frame: None,
                    at: None,
                },
            })
            .collect();
    }

    pub fn set_stage(&mut self, stage: &[u64]) {
        self.stage = stage.to_vec();
    }

    /// The page shown beside the speaker in the presenter layout (none: no
    /// presentation, the tile says so).
    pub fn set_page(&mut self, page: Option<Frame>) {
        self.page = page;
    }

    pub fn set_speaker(&mut self, speaker: Option<u64>) {
        self.speaker = speaker;
    }

    /// A decoded picture of a site (ignored for a site not on the list).
    pub fn on_frame(&mut self, site: u64, frame: Frame, now: Instant) {
        if let Some(s) = self.sites.iter_mut().find(|s| s.id == site) {
            s.frame = Some(frame);
            s.at = Some(now);
        }
    }

    /// The last pictures `from` holds of the sites both know: a new
    /// encoding of another layout starts with them instead of blank tiles.
    pub fn copy_pictures(&mut self, from: &Scene) {
        for s in &mut self.sites {
            if let Some(o) = from.sites.iter().find(|o| o.id == s.id) {
                s.frame.clone_from(&o.frame);
                s.at = o.at;
            }
        }
    }

    fn has_picture(&self, id: u64) -> bool {
        self.sites.iter().any(|s| s.id == id && s.frame.is_some())
    }

    /// Which site each tile shows now.
    pub fn placements(&self) -> Vec<Placement> {
        let tiles = self.layout.tiles(self.canvas.width, self.canvas.height);
        let known = |id: &u64| self.sites.iter().any(|s| s.id == *id);
        let mut order: Vec<u64> = Vec::with_capacity(tiles.len());
        let stage = self
            .stage
            .iter()
            .copied()
            .find(known)
            .or(self.speaker.filter(|s| self.has_picture(*s)))
            .or_else(|| self.sites.iter().find(|s| s.frame.is_some()).map(|s| s.id))
            .or_else(|| self.sites.first().map(|s| s.id));
        order.extend(stage);
        let push = |id: u64, order: &mut Vec<u64>| {
            if !order.contains(&id) && order.len() < tiles.len() {
                order.push(id);
            }
        };
        for &id in self.stage.iter().filter(|i| known(i)) {
            push(id, &mut order);
        }
        if let Some(s) = self.speaker.filter(known) {
            push(s, &mut order);
        }
        for s in self.sites.iter().filter(|s| s.frame.is_some()) {
            push(s.id, &mut order);
        }
        for s in &self.sites {
            push(s.id, &mut order);
        }
        tiles
            .into_iter()
            .zip(order)
            .map(|(tile, site)| Placement { tile, site })
            .collect()
    }

    /// Draw the picture at `now`.
    pub fn compose(&mut self, now: Instant) -> &Frame {
        let placements = self.placements();
        let (w, h) = (self.canvas.width, self.canvas.height);
        self.canvas.fill(Rect::new(0, 0, w, h), BACKGROUND);
        if let Some(tile) = self.layout.page_tile(w, h) {
            let inner = tile.inset(GUTTER);
            match &self.page {
                Some(p) => {
                    let fit = inner.fit(p.width, p.height);
                    self.canvas.blit_scaled(p, fit);
                }
                None => {
                    self.canvas.fill(inner, EMPTY_TILE);
                    self.labels
                        .caption(&mut self.canvas, inner, "Chưa trình chiếu tài liệu");
                }
            }
        }
        if placements.is_empty() {
            // Nobody connected yet: say so rather than stream a blank.
            let card = Rect::new(w / 8, h * 3 / 8, w * 3 / 4, h / 4);
            self.canvas.fill(card, EMPTY_TILE);
            self.labels
                .caption(&mut self.canvas, card, "Đang chờ các điểm cầu kết nối…");
        }
        for p in placements {
            let Some(i) = self.sites.iter().position(|s| s.id == p.site) else {
                continue;
            };
            let tile = p.tile.inset(GUTTER);
            let speaking = self.speaker == Some(p.site);
            if speaking {
                self.canvas.fill(tile, SPEAKER_EDGE);
            }
            let inner = if speaking { tile.inset(4) } else { tile };
            self.canvas.fill(inner, EMPTY_TILE);
            let site = &self.sites[i];
            let frozen = site
                .at
                .is_some_and(|t| now.saturating_duration_since(t) >= FROZEN_AFTER);
            let mut name = site.name.clone();
            if let Some(f) = &site.frame {
                let fit = inner.fit(f.width, f.height);
                self.canvas.blit_scaled(f, fit);
                if frozen {
                    self.canvas.dim(inner);
                    name.push_str(" — mất tín hiệu");
                }
            }
            self.labels.draw(&mut self.canvas, inner, &name);
        }
        &self.canvas
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RED: Yuv = Yuv::rgb(255, 0, 0);
    const BLUE: Yuv = Yuv::rgb(0, 0, 255);

    fn sites() -> Vec<(u64, String)> {
        vec![
            (1, "Hội trường Tỉnh ủy".into()),
            (2, "Xã An Phú".into()),
            (3, "Xã Bình Minh".into()),
        ]
    }

    fn centre(r: Rect) -> (u32, u32) {
        (r.x + r.w / 2, r.y + r.h / 3)
    }

    #[test]
    fn tiles_land_where_the_layout_says_and_the_stage_follows_a_floor_grant() {
        let t0 = Instant::now();
        let mut s = Scene::new(Layout::OnePlus7, 640, 360);
        s.set_sites(&sites());
        s.set_stage(&[1]);
        s.on_frame(1, Frame::new(64, 36, RED), t0);
        s.on_frame(2, Frame::new(64, 36, BLUE), t0);
        let tiles = Layout::OnePlus7.tiles(640, 360);
        let f = s.compose(t0).clone();
        let (x, y) = centre(tiles[0]);
        assert_eq!(f.at(x, y), RED, "the hub on the stage tile");
        let p = s.placements();
        assert_eq!((p[0].site, p[1].site, p[2].site), (1, 2, 3));
        // The floor goes to commune 2: it takes the stage tile.
        s.set_stage(&[2, 1]);
        let f = s.compose(t0).clone();
        assert_eq!(f.at(x, y), BLUE);
        let (x1, y1) = centre(tiles[1]);
        assert_eq!(f.at(x1, y1), RED, "the hub beside it");
    }

    #[test]
    fn a_site_without_video_gets_a_plain_named_tile_and_a_stalled_one_is_marked() {
        let t0 = Instant::now();
        let mut s = Scene::new(Layout::Grid2x2, 640, 360);
        s.set_sites(&sites());
        s.on_frame(1, Frame::new(64, 36, RED), t0);
        let tiles = Layout::Grid2x2.tiles(640, 360);
        let f = s.compose(t0).clone();
        // Site 3 never sent a picture: the empty tile's colour, its name band.
        let empty = s.placements().iter().find(|p| p.site == 3).unwrap().tile;
        let (x, y) = centre(empty);
        assert_eq!(f.at(x, y), EMPTY_TILE);
        let band_y = empty.y + empty.h - 8;
        let bright = (empty.x..empty.x + empty.w)
            .filter(|&x| f.at(x, band_y).0 > 200 || f.at(x, band_y - 4).0 > 200)
            .count();
        assert!(bright > 5, "a name in the band");
        // Three seconds without a new frame: dimmed.
        let (sx, sy) = centre(tiles[0]);
        let live = f.at(sx, sy).0;
        let later = s.compose(t0 + Duration::from_secs(3)).at(sx, sy).0;
        assert!(later < live, "dimmed: {later} < {live}");
    }

    #[test]
    fn a_scene_without_sites_says_it_is_waiting_instead_of_a_blank() {
        let mut s = Scene::new(Layout::OnePlus7, 640, 360);
        let f = s.compose(Instant::now()).clone();
        let bright = f.y.iter().filter(|p| **p > 200).count();
        assert!(bright > 100, "a caption: {bright} bright pixels");
    }

    #[test]
    fn the_active_speaker_is_outlined() {
        let t0 = Instant::now();
        let mut s = Scene::new(Layout::Grid2x2, 640, 360);
        s.set_sites(&sites());
        s.set_stage(&[1]);
        s.set_speaker(Some(3));
        let tile = s.placements().iter().find(|p| p.site == 3).unwrap().tile;
        let f = s.compose(t0).clone();
        let edge = tile.inset(GUTTER);
        assert_eq!(f.at(edge.x + 1, edge.y + edge.h / 2), SPEAKER_EDGE);
    }

    #[test]
    fn more_sites_than_tiles_show_the_stage_and_the_speaker_first() {
        let mut s = Scene::new(Layout::OnePlus5, 640, 360);
        let many: Vec<(u64, String)> = (1..=20).map(|i| (i, format!("Xã {i}"))).collect();
        s.set_sites(&many);
        s.set_stage(&[7]);
        s.set_speaker(Some(19));
        let p = s.placements();
        assert_eq!(p.len(), 6);
        assert_eq!((p[0].site, p[1].site), (7, 19));
    }

    #[test]
    fn the_presenter_layout_draws_the_page_beside_the_stage_or_says_there_is_none() {
        let t0 = Instant::now();
        let mut s = Scene::new(Layout::Presenter, 640, 360);
        s.set_sites(&sites());
        s.set_stage(&[2]);
        s.on_frame(2, Frame::new(64, 36, BLUE), t0);
        let page = Layout::Presenter.page_tile(640, 360).unwrap();
        let stage = Layout::Presenter.tiles(640, 360)[0];
        let (px, py) = (page.x + page.w / 2, page.y + page.h / 2);
        let before = s.compose(t0).at(px, py);
        assert_ne!(before, RED, "no page yet");
        s.set_page(Some(Frame::new(210, 297, RED)));
        let f = s.compose(t0).clone();
        assert_eq!(f.at(px, py), RED, "the page in its tile");
        assert_eq!(
            f.at(stage.x + stage.w / 2, stage.y + stage.h / 3),
            BLUE,
            "the stage beside it"
        );
        assert_eq!(s.placements()[0].site, 2);
    }
}
