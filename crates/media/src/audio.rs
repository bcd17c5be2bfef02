//! Audio that survives loss (RED, RFC 2198) on the forward path.
//!
//! On the way in, a publisher's RED packet is unwrapped: its primary Opus
//! frame goes on, and the redundancy refills packets lost on the publisher's
//! uplink (counted in `RoomStats::red_recovered`), so a plain subscriber, the
//! recording and the program mix get one gap-free Opus stream.
//!
//! On the way out, per subscriber: one that negotiated RED gets the
//! publisher's RED packet as it came; one whose audio loss is above
//! [`RED_ON_LOSS`] gets RED the engine builds from the slot's last one or
//! two frames, even when the publisher sends plain Opus; everyone else gets
//! the primary Opus frame.

use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::format::Codec;
use str0m::media::Pt;

use super::red::{self, RedPacket};
use super::session::Session;

/// A subscriber whose link loss (its receiver reports, its transport-wide
/// feedback) is above this
/// gets redundancy: Opus concealment hides an isolated lost 20 ms frame,
/// but above ~2 % the gaps are heard as the voice breaking up.
pub const RED_ON_LOSS: f32 = 0.02;
/// Above this loss, two redundant frames instead of one: with one level a
/// frame is lost only when two packets in a row are (p²: 1 % at 10 %); two
/// levels bring 10 % loss down to p³ (0.1 %) for one more frame of
/// bitrate. Well above a 3 % link's smoothed reports (which one level
/// already brings to 0.1 %), so such a link does not pay for the second.
pub const RED_DEEP_LOSS: f32 = 0.08;
/// Redundancy stays on this long after the smoothed loss was last above
/// [`RED_ON_LOSS`]: one second's report on a 50 packet/s stream swings
/// between 0 and twice the link's loss, and switching on and off with it
/// would leave holes just when the link is bad.
pub const RED_HOLD: Duration = Duration::from_secs(10);
/// Weight of each new loss report in the subscriber's smoothed loss. One
/// second of a 3 % link measures anywhere from 0 to 9 % (30–80
/// packets/s); smoothed over ~4 reports it stays within a point or two of
/// 3 %, so the second level is not switched on by chance.
const LOSS_SMOOTHING: f32 = 0.25;

/// Where a loss figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossReport {
    /// A stream's receiver reports (RTCP RR): exact, but an audio stream's
    /// come only every five seconds.
    Receiver,
    /// Transport-wide feedback, each second: quick, and reads low on a
    /// thin stream (packets lost at the end of a window are not yet known).
    Transport,
}
/// Frames kept per audio slot for the redundancy (the most levels sent).
const HISTORY_FRAMES: usize = 2;

/// One Opus frame to forward: a packet's primary, or a frame recovered
/// from the redundancy of the packet after it.
#[derive(Debug, Clone)]
pub struct AudioUnit {
    pub seq: u64,
    pub ts: u32,
    pub payload: Arc<[u8]>,
    /// The publisher's RED packet this is the primary of, as it came, and
    /// the Opus payload type its blocks name.
    pub red: Option<(Arc<[u8]>, u8)>,
    /// Rebuilt from redundancy: the publisher's packet was lost.
    pub recovered: bool,
}

/// Unwrap a publisher's RED payload into the frames to forward: the ones it
/// refills (oldest first), then its primary. `last` is the newest (seq, ts)
/// received on the track before it. `None` when the payload is malformed or
/// its primary is not the negotiated Opus payload type.
pub fn unwrap(
    payload: &Arc<[u8]>,
    opus_pt: u8,
    seq: u64,
    ts: u32,
    last: Option<(u64, u32)>,
) -> Option<Vec<AudioUnit>> {
    let p = RedPacket::parse(payload).ok()?;
    if p.primary_pt != opus_pt {
        return None;
    }
    let mut units: Vec<AudioUnit> = red::recoverable(&p, seq, ts, last)
        .map(|(seq, ts, i)| AudioUnit {
            seq,
            ts,
            payload: Arc::from(p.redundant()[i].payload),
            red: None,
            recovered: true,
        })
        .collect();
    units.push(AudioUnit {
        seq,
        ts,
        payload: Arc::from(p.primary),
        red: Some((payload.clone(), opus_pt)),
        recovered: false,
    });
    Some(units)
}

/// What an audio slot sends for one frame.
pub struct AudioOut {
    pub pt: Pt,
    pub payload: Arc<[u8]>,
    /// Bytes of redundancy in it (0 for plain Opus).
    pub redundancy_bytes: usize,
    /// The engine built the RED packet itself.
    pub generated: bool,
}

impl Session {
    /// Note one loss report on the way to this subscriber; each kind is
    /// smoothed on its own and the larger decides (audio shares the link).
    pub fn on_loss_report(&mut self, now: Instant, loss: f32, kind: LossReport) {
        let avg = match kind {
            LossReport::Receiver => &mut self.loss_rr,
            LossReport::Transport => &mut self.loss_twcc,
        };
        *avg = Some(match *avg {
            Some(a) => a + LOSS_SMOOTHING * (loss - a),
            None => loss,
        });
        let loss = self
            .loss_rr
            .unwrap_or(0.0)
            .max(self.loss_twcc.unwrap_or(0.0));
        if loss > RED_ON_LOSS {
            self.red_until = Some(now + RED_HOLD);
        }
        if loss > RED_DEEP_LOSS {
            self.red_deep_until = Some(now + RED_HOLD);
        }
    }

    /// Whether this subscriber gets redundancy the engine builds.
    pub fn lossy(&self, now: Instant) -> bool {
        self.red_until.is_some_and(|t| now < t)
    }

    /// Redundant frames the engine adds for this subscriber now.
    fn red_levels(&self, now: Instant) -> usize {
        if self.red_deep_until.is_some_and(|t| now < t) {
            2
        } else {
            1
        }
    }

    /// The subscriber's RED payload type on `slot` (learned once).
    pub fn slot_red_pt(&mut self, slot: usize) -> Option<Pt> {
        let sl = self.slots.get(slot)?;
        if let Some(pt) = sl.red_pt {
            return pt;
        }
        let pt = self
            .rtc
            .codec_config()
            .params()
            .iter()
            .find(|p| p.spec().codec == Codec::Opus)
            .and_then(|p| p.red());
        self.slots[slot].red_pt = Some(pt);
        pt
    }

    /// Decide what `slot` sends for `unit` (already placed at `out_ts` by
    /// the slot's forwarder) and remember the frame for later redundancy.
    /// A frame refilled on the way in is sent to every subscriber, RED or
    /// not: left out, its sequence number would be one more hole next to
    /// the ones the subscriber's own link makes. `opus_pt` is the subscriber's Opus payload
    /// type on the slot.
    pub fn audio_out(
        &mut self,
        now: Instant,
        slot: usize,
        unit: &AudioUnit,
        out_ts: u32,
        opus_pt: Pt,
    ) -> Option<AudioOut> {
        let red_pt = self.slot_red_pt(slot);
        let lossy = self.lossy(now);
        let levels = if lossy { self.red_levels(now) } else { 1 };
        let sl = self.slots.get_mut(slot)?;
        let out = match (red_pt, &unit.red) {
            // The publisher's redundancy, as it came (the blocks already
            // name the subscriber's Opus payload type: both were answered
            // by the same codec table) — unless the subscriber's loss asks
            // for more levels than the publisher sends.
            (Some(rpt), Some((wire, pt)))
                if *pt == *opus_pt
                    && red::RedPacket::parse(wire).is_ok_and(|p| p.redundant().len() >= levels) =>
            {
                Some(AudioOut {
                    pt: rpt,
                    payload: wire.clone(),
                    redundancy_bytes: wire.len() - unit.payload.len(),
                    generated: false,
                })
            }
            (Some(rpt), _) if lossy || unit.red.is_some() => {
                let blocks: Vec<(u32, &[u8])> = sl
                    .history
                    .iter()
                    .skip(sl.history.len().saturating_sub(levels))
                    .map(|(ts, p)| (out_ts.wrapping_sub(*ts), &p[..]))
                    .collect();
                let mut buf = Vec::with_capacity(unit.payload.len() + 64);
                red::build(*opus_pt, &unit.payload, &blocks, &mut buf);
                Some(AudioOut {
                    pt: rpt,
                    redundancy_bytes: buf.len() - unit.payload.len(),
                    payload: Arc::from(buf),
                    generated: true,
                })
            }
            _ => Some(AudioOut {
                pt: opus_pt,
                payload: unit.payload.clone(),
                redundancy_bytes: 0,
                generated: false,
            }),
        };
        if sl.history.len() == HISTORY_FRAMES {
            sl.history.pop_front();
        }
        sl.history.push_back((out_ts, unit.payload.clone()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_packet_is_refilled_from_the_next_ones_redundancy() {
        let mut wire = Vec::new();
        red::build(111, b"p13", &[(960, b"p12")], &mut wire);
        let wire: Arc<[u8]> = Arc::from(wire);
        let units = unwrap(&wire, 111, 13, 13 * 960, Some((11, 11 * 960))).unwrap();
        assert_eq!(units.len(), 2);
        assert!(units[0].recovered);
        assert_eq!((units[0].seq, &units[0].payload[..]), (12, &b"p12"[..]));
        assert_eq!((units[1].seq, &units[1].payload[..]), (13, &b"p13"[..]));
        assert!(units[1].red.is_some());
    }

    #[test]
    fn a_primary_of_another_codec_is_refused() {
        let mut wire = Vec::new();
        red::build(0, b"pcmu", &[], &mut wire);
        assert!(unwrap(&Arc::from(wire), 111, 1, 960, None).is_none());
    }
}
