//! The composite's feed to hall screens (WHEP `…/composite`): one task per
//! meeting with a screen, which takes the composer's pictures and program
//! mix as they are encoded — the same encoding the SIP rooms and HLS get —,
//! packetizes them to RTP (H.264 in FU-A, packetization mode 1, by
//! `sip::h264_pack`; Opus one frame a packet) and hands each picture or
//! sound frame to the room's media worker (`net::Media::composite`:
//! bounded, never waited on; a dropped picture asks the composer for a
//! keyframe). The engine (`media::composite`) sends them to the screens.
//! The task ends when the meeting's last screen has left.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;

use super::Composer;
use super::layout::OutputKind;
use super::service::{Pictures, Sounds};
use crate::media::ParticipantId;
use crate::media::composite::CompositePacket;

/// How often the feed checks that its screens are still in the room.
const SCREEN_CHECK: Duration = Duration::from_secs(1);

/// The screens of each meeting that has a feed running.
#[derive(Clone, Default)]
pub struct ScreenFeeds {
    screens: Arc<Mutex<HashMap<String, HashSet<ParticipantId>>>>,
}

impl ScreenFeeds {
    /// Screens watching `meeting` now.
    pub fn count(&self, meeting: &str) -> usize {
        self.screens
            .lock()
            .expect("screens lock")
            .get(meeting)
            .map_or(0, HashSet::len)
    }
}

impl Composer {
    /// `participant` (a joined `Role::Screen`) watches `meeting`'s
    /// composite: the meeting's feed starts with `feed` (from
    /// `Conference::composite_for`) if it has none; the feed holds it —
    /// and the composite runs — until the meeting's last screen has left.
    pub fn feed_screen(
        &self,
        meeting: &str,
        participant: ParticipantId,
        media: crate::net::Media,
        feed: (Pictures, Sounds),
    ) {
        let feeds = self.screens().clone();
        let mut map = feeds.screens.lock().expect("screens lock");
        if let Some(set) = map.get_mut(meeting) {
            set.insert(participant);
            drop(map);
            // A screen that joins a running feed starts at a keyframe (the
            // running feed keeps its own subscription).
            self.keyframe_for(meeting, OutputKind::Screen);
            return;
        }
        map.insert(meeting.to_string(), HashSet::from([participant]));
        drop(map);
        let (composer, meeting) = (self.clone(), meeting.to_string());
        tokio::spawn(async move { run(composer, feeds, meeting, media, feed).await });
    }
}

/// RTP numbering of one meeting's feed (the screens' forwarders rewrite it).
#[derive(Default)]
struct Numbering {
    video_seq: u64,
    audio_seq: u64,
}

impl Numbering {
    fn picture(&mut self, annex_b: &[u8], keyframe: bool, at_ms: u64) -> Vec<CompositePacket> {
        let payloads = crate::sip::h264_pack::packetize(annex_b, 1);
        let last = payloads.len().saturating_sub(1);
        // The output's clock for both kinds: the screen's player keeps
        // picture and sound together from the RTCP sender reports.
        let ts = (at_ms * 90) as u32;
        payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| {
                self.video_seq += 1;
                CompositePacket {
                    video: true,
                    seq: self.video_seq,
                    ts,
                    marker: i == last,
                    keyframe: keyframe && i == 0,
                    payload,
                }
            })
            .collect()
    }

    fn sound(&mut self, opus: &[u8], at_ms: u64) -> CompositePacket {
        self.audio_seq += 1;
        CompositePacket {
            video: false,
            seq: self.audio_seq,
            ts: (at_ms * 48) as u32,
            marker: false,
            keyframe: false,
            payload: opus.to_vec(),
        }
    }
}

async fn run(
    composer: Composer,
    feeds: ScreenFeeds,
    meeting: String,
    media: crate::net::Media,
    (mut pictures, mut sounds): (Pictures, Sounds),
) {
    let screen = OutputKind::Screen;
    composer.keyframe_for(&meeting, screen);
    let mut numbering = Numbering::default();
    let mut check = tokio::time::interval(SCREEN_CHECK);
    loop {
        tokio::select! {
            p = pictures.recv() => match p {
                Ok(pic) => {
                    let packets = numbering.picture(&pic.annex_b, pic.keyframe, pic.at_ms);
                    if !packets.is_empty() && !media.composite(&meeting, packets) {
                        // The worker was busy: the screens lost a picture.
                        composer.keyframe_for(&meeting, screen);
                    }
                }
                // Fell behind: pictures were skipped, the next keyframe heals.
                Err(RecvError::Lagged(_)) => composer.keyframe_for(&meeting, screen),
                Err(RecvError::Closed) => return,
            },
            s = sounds.recv() => match s {
                Ok(frame) => {
                    let packet = numbering.sound(&frame.opus, frame.at_ms);
                    media.composite(&meeting, vec![packet]);
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            _ = check.tick() => {
                let mut map = feeds.screens.lock().expect("screens lock");
                let Some(set) = map.get_mut(&meeting) else { return };
                set.retain(|p| media.room_of(*p).as_deref() == Some(meeting.as_str()));
                if set.is_empty() {
                    // The last screen left: the subscription goes with
                    // this task, and the composite with it if nothing else
                    // takes it.
                    map.remove(&meeting);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyframe_picture_is_marked_at_its_first_packet_and_ends_with_the_marker() {
        let mut n = Numbering::default();
        let mut au = vec![0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 1, 0x65];
        au.extend(std::iter::repeat_n(7u8, 3000));
        let p = n.picture(&au, true, 1000);
        assert!(p.len() > 3, "the slice is cut in FU-A fragments");
        assert!(p[0].keyframe && p.iter().skip(1).all(|x| !x.keyframe));
        assert!(p.last().is_some_and(|x| x.marker));
        assert_eq!(p.iter().filter(|x| x.marker).count(), 1);
        assert!(p.iter().all(|x| x.ts == 90_000));
        let q = n.picture(&[0, 0, 0, 1, 0x41, 9], false, 1040);
        assert_eq!(q[0].seq, p.last().map_or(0, |x| x.seq) + 1);
        assert!(!q[0].keyframe && q[0].marker);
        let a = n.sound(b"op", 1000);
        assert_eq!((a.seq, a.ts, a.video), (1, 48_000, false));
    }
}
