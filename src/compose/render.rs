//! One encoding of a meeting's composite: a layout's scene drawn and
//! encoded at the output's rate. A meeting has one per layout in use by
//! its outputs (`layout::Layouts`): outputs that show the same layout share
//! its pictures, so a layout is encoded once however many consume it.

use std::time::{Duration, Instant};

use super::ComposeConfig;
use super::codec::{CodecError, H264Encoder};
use super::layout::Layout;
use super::scene::{Placement, Scene};

/// (SPS, PPS).
pub type ParamSets = (Vec<u8>, Vec<u8>);

/// One encoded picture.
pub struct Encoded {
    /// H.264 Annex B as the encoder wrote it (parameter sets before a
    /// keyframe): what SIP rooms and hall screens are sent.
    pub annex_b: Vec<u8>,
    pub key: bool,
    /// The same picture as one MP4 sample (4-byte lengths), without the
    /// parameter sets: what fMP4 segments and the recording hold.
    pub sample: Vec<u8>,
    pub params: Option<ParamSets>,
}

/// Keyframes asked for by consumers (a SIP room that lost a picture, a
/// hall screen that joined) are merged: at most one a second, whoever asks,
/// so a dozen codecs asking at once cost one keyframe.
const KEYFRAME_ASK_GAP: Duration = Duration::from_secs(1);

pub struct Render {
    /// The layout it was made for (`None`: automatic).
    pub layout: Option<Layout>,
    scene: Scene,
    encoder: H264Encoder,
    last_asked: Option<Instant>,
}

impl Render {
    pub fn new(cfg: &ComposeConfig, layout: Option<Layout>) -> Result<Render, CodecError> {
        let gop = cfg.fps * cfg.segment_s;
        Ok(Render {
            layout,
            scene: Scene::new(layout.unwrap_or(Layout::Stage), cfg.width, cfg.height),
            encoder: H264Encoder::new(cfg.width, cfg.height, cfg.kbps, cfg.fps, gop)?,
            last_asked: None,
        })
    }

    pub fn scene(&mut self) -> &mut Scene {
        &mut self.scene
    }

    pub fn scene_ref(&self) -> &Scene {
        &self.scene
    }

    pub fn placements(&self) -> Vec<Placement> {
        self.scene.placements()
    }

    /// The automatic layout follows how many sites send video: the stage
    /// alone for one, 1+7 for more.
    pub fn fit(&mut self, sites_with_video: usize) {
        let l = self.layout.unwrap_or(if sites_with_video > 1 {
            Layout::OnePlus7
        } else {
            Layout::Stage
        });
        if self.scene.layout() != l {
            self.scene.set_layout(l);
        }
    }

    /// A consumer asks for a keyframe (merged: see `KEYFRAME_ASK_GAP`).
    pub fn ask_keyframe(&mut self, now: Instant) {
        if self
            .last_asked
            .is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_ASK_GAP)
        {
            return;
        }
        self.last_asked = Some(now);
        self.encoder.force_keyframe();
    }

    /// The next picture is a keyframe, now: an output has just started or
    /// moved to this encoding and shows nothing until then.
    pub fn force_keyframe(&mut self) {
        self.encoder.force_keyframe();
    }

    /// Draw and encode one picture; `None` if the encoder failed (logged:
    /// the next tick tries again).
    pub fn picture(&mut self, now: Instant) -> Option<Encoded> {
        let picture = self.scene.compose(now);
        match self.encoder.encode(picture) {
            Ok((annex_b, key)) => {
                let (sample, params) = to_sample(&annex_b);
                Some(Encoded {
                    annex_b,
                    key,
                    sample,
                    params,
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "the composite did not encode");
                None
            }
        }
    }
}

/// Annex B from the encoder → one MP4 sample (4-byte lengths), without the
/// parameter sets (they go in the init segment), and those sets if present.
fn to_sample(annex_b: &[u8]) -> (Vec<u8>, Option<ParamSets>) {
    let mut out = Vec::with_capacity(annex_b.len());
    let (mut sps, mut pps) = (None, None);
    for nal in super::codec::nal_units(annex_b) {
        match nal.first().map(|b| b & 0x1f) {
            Some(7) => sps = Some(nal.to_vec()),
            Some(8) => pps = Some(nal.to_vec()),
            Some(_) => {
                out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                out.extend_from_slice(nal);
            }
            None => {}
        }
    }
    (out, sps.zip(pps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_b_splits_into_nal_units_with_either_start_code() {
        let b = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 9, 9,
        ];
        let n = crate::compose::codec::nal_units(&b);
        assert_eq!(
            n,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 9, 9][..]]
        );
        let (sample, params) = to_sample(&b);
        assert_eq!(sample, [0, 0, 0, 3, 0x65, 9, 9]);
        assert_eq!(params, Some((vec![0x67, 1, 2], vec![0x68, 3])));
    }

    fn cfg() -> ComposeConfig {
        ComposeConfig {
            width: 320,
            height: 180,
            fps: 10,
            segment_s: 1,
            ..ComposeConfig::default()
        }
    }

    /// An output that moves from one layout's encoding to another's keeps
    /// its HLS init segment and its recording's track header: both
    /// encodings must write the same parameter sets.
    #[test]
    fn two_layouts_encode_with_the_same_parameter_sets() {
        let now = Instant::now();
        let mut a = Render::new(&cfg(), Some(Layout::OnePlus7)).unwrap();
        let mut b = Render::new(&cfg(), Some(Layout::Grid3x3)).unwrap();
        let pa = a
            .picture(now)
            .and_then(|e| e.params)
            .expect("a keyframe first");
        let pb = b
            .picture(now)
            .and_then(|e| e.params)
            .expect("a keyframe first");
        assert_eq!(pa, pb);
        b.force_keyframe();
        let again = b.picture(now).expect("encoded");
        assert!(again.key);
        assert_eq!(again.params, Some(pa));
    }

    #[test]
    fn keyframes_asked_by_consumers_are_merged_to_one_a_second() {
        let now = Instant::now();
        let mut r = Render::new(&cfg(), None).unwrap();
        assert!(r.picture(now).is_some_and(|e| e.key));
        assert!(r.picture(now).is_some_and(|e| !e.key));
        r.ask_keyframe(now);
        assert!(r.picture(now).is_some_and(|e| e.key));
        r.ask_keyframe(now + Duration::from_millis(500));
        assert!(r.picture(now).is_some_and(|e| !e.key), "merged");
        r.ask_keyframe(now + Duration::from_millis(1000));
        assert!(r.picture(now).is_some_and(|e| e.key));
    }
}
