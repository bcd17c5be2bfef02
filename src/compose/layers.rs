//! Which simulcast layer the composite wants of each site it shows: the
//! smallest whose picture still fills the tile (decoding a 720p layer to
//! draw it in a 160×90 thumbnail tile wastes most of a core on a 1+7 of
//! eight communes; the stage tile may need the top layer). Pure: learns
//! each layer's picture height from what it decoded, asks the engine
//! (`Command::TapLayers`, by the composer's sink) only when a wish changes.

use std::collections::HashMap;

use crate::media::TrackId;

/// Simulcast layers the engine knows (low, mid, high).
const TOP_LAYER: u8 = 2;

/// The smallest layer expected to fill a tile `tile_h` pixels high, from a
/// layer `layer` whose pictures are `height` high: each simulcast layer
/// has twice the height of the one below (Chromium's and our publishers'
/// ¼, ½, 1 scaling).
pub fn wanted_layer(layer: u8, height: u32, tile_h: u32) -> u8 {
    let (mut l, mut h) = (layer.min(TOP_LAYER), u64::from(height.max(1)));
    let tile = u64::from(tile_h.max(1));
    // Down while the layer below still fills the tile.
    while l > 0 && h / 2 >= tile {
        l -= 1;
        h /= 2;
    }
    // Up while this one does not.
    while l < TOP_LAYER && h < tile {
        l += 1;
        h *= 2;
    }
    l
}

/// Per track: the layer and height last decoded; the wishes last sent.
#[derive(Debug, Default)]
pub struct LayerWishes {
    seen: HashMap<TrackId, (u8, u32)>,
    sent: Vec<(TrackId, u8)>,
}

impl LayerWishes {
    /// A picture of `track` on `layer` decoded at `height`.
    pub fn decoded(&mut self, track: TrackId, layer: u8, height: u32) {
        self.seen.insert(track, (layer, height));
    }

    /// Ask again at the next update even if nothing changed (the engine's
    /// taps of a room may have been restarted and forgotten the wishes).
    pub fn resend(&mut self) {
        self.sent.clear();
    }

    pub fn forget(&mut self, track: TrackId) {
        self.seen.remove(&track);
    }

    /// The wishes for the tracks in view (`track`, its tile's height);
    /// `Some` only when they differ from what was last asked. A track not
    /// decoded yet asks for its lowest layer: the smallest keyframe comes
    /// soonest, and the next wish corrects it.
    pub fn update(&mut self, in_view: &[(TrackId, u32)]) -> Option<Vec<(TrackId, u8)>> {
        let mut wishes: Vec<(TrackId, u8)> = in_view
            .iter()
            .map(|&(t, tile_h)| {
                let l = self
                    .seen
                    .get(&t)
                    .map_or(0, |&(layer, h)| wanted_layer(layer, h, tile_h));
                (t, l)
            })
            .collect();
        wishes.sort_unstable();
        wishes.dedup_by_key(|w| w.0);
        (wishes != self.sent).then(|| {
            self.sent = wishes.clone();
            wishes
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_tile_wants_the_lowest_layer_and_the_stage_the_top() {
        // Decoding the top layer at 720p: a 90-pixel tile needs only the
        // lowest (180p), a 540-pixel stage the top.
        assert_eq!(wanted_layer(2, 720, 90), 0);
        assert_eq!(wanted_layer(2, 720, 540), 2);
        assert_eq!(wanted_layer(2, 720, 300), 1);
        // From the lowest (180p): a big tile climbs to the top, a small
        // one stays.
        assert_eq!(wanted_layer(0, 180, 540), 2);
        assert_eq!(wanted_layer(0, 180, 120), 0);
    }

    #[test]
    fn wishes_are_sent_only_when_they_change_and_follow_the_layout() {
        let mut w = LayerWishes::default();
        assert_eq!(w.update(&[(1, 540), (2, 90)]), Some(vec![(1, 0), (2, 0)]));
        w.decoded(1, 0, 180);
        w.decoded(2, 0, 180);
        assert_eq!(w.update(&[(1, 540), (2, 90)]), Some(vec![(1, 2), (2, 0)]));
        assert_eq!(w.update(&[(1, 540), (2, 90)]), None);
        // The layout changes: track 2 takes the stage, track 1 a small tile.
        w.decoded(1, 2, 720);
        assert_eq!(w.update(&[(1, 90), (2, 540)]), Some(vec![(1, 0), (2, 2)]));
    }
}
