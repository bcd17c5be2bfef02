//! Recording taps, sans-IO: the engine side of a recorder. A recorder is a
//! subscriber like any other — it takes packets after the mute policy and
//! through forwarders, so what it keeps is one continuous stream per source
//! (sequence numbers and timestamps rewritten across simulcast layer
//! switches, switches only on keyframes) — but it has no str0m session: its
//! packets leave the engine as [`Tapped`] values the driver hands to the
//! recording thread, never waiting on it.
//!
//! Per room being recorded: one forwarder per published track (video at the
//! best layer the publisher sends, audio as it comes) and one for the
//! **program** video, which follows the stage. The composite (`compose/`)
//! decodes each site at the smallest layer that fills its tile, not the
//! best one the recording keeps: for the video tracks it asks a layer of
//! (`Command::TapLayers`), a second forwarder taps that layer as
//! `TapStream::Composite` (switching on keyframes like any forwarder).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::forwarder::{Decision, Forwarder};
use super::{ParticipantId, TrackId, TrackRef};

/// The codecs a recording can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TapCodec {
    Vp8,
    H264,
    Opus,
}

/// Which recorded stream a packet belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TapStream {
    /// One published track, whoever watches it.
    Track(TrackId),
    /// The stage's video, whoever holds the stage.
    ProgramVideo,
    /// A video track at the layer the composite asked for (its tile's
    /// size); the recorder ignores it.
    Composite(TrackId),
}

/// One packet for the recorder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tapped {
    /// Shared by every packet of the room: no allocation per packet.
    pub room: Arc<str>,
    pub stream: TapStream,
    /// The publisher of this packet (for the program: the stage holder).
    pub owner: ParticipantId,
    pub video: bool,
    pub codec: TapCodec,
    /// Rewritten, continuous per stream.
    pub seq: u64,
    pub ts: u32,
    pub marker: bool,
    pub keyframe: bool,
    /// RFC 6464 level of an audio packet (dBov attenuation, 127 silent):
    /// the program mix hears the loudest rooms without decoding them all.
    pub audio_level: Option<u8>,
    /// The simulcast layer the packet came on (0 lowest): the composite
    /// learns each layer's picture size from it.
    pub layer: u8,
    pub payload: Vec<u8>,
    pub at: Instant,
}

/// The taps of one room.
#[derive(Debug, Default)]
pub(super) struct RoomTap {
    name: Option<Arc<str>>,
    tracks: HashMap<TrackId, Forwarder>,
    program: Option<Forwarder>,
    /// Who the program video shows now.
    pub(super) program_shows: Option<ParticipantId>,
    /// The composite's own taps of video tracks, at the layer it wants.
    composite: HashMap<TrackId, Forwarder>,
    /// The layer the composite wants of each video track it shows.
    pub(super) composite_wants: HashMap<TrackId, u8>,
}

/// The layer the composite is tapped at: the lowest one sent at or above
/// the one it wants (`wanted` fills its tile), else the best one sent.
pub fn composite_layer(wanted: u8, active: impl Iterator<Item = u8>) -> Option<u8> {
    let active: Vec<u8> = active.collect();
    active
        .iter()
        .copied()
        .filter(|l| *l >= wanted)
        .min()
        .or_else(|| active.iter().copied().max())
}

/// One incoming packet, as the forward path has it.
pub(super) struct TapInput<'a> {
    pub room: &'a str,
    pub src: TrackRef,
    pub owner: ParticipantId,
    pub video: bool,
    pub codec: TapCodec,
    pub seq: u64,
    pub ts: u32,
    pub marker: bool,
    pub keyframe: bool,
    pub audio_level: Option<u8>,
    pub payload: &'a [u8],
}

impl RoomTap {
    /// The layer a track's tap forwards now (or will, once switched).
    pub(super) fn source_of(&self, track: TrackId) -> Option<TrackRef> {
        // Only the composite asks for keyframes: of its own layer first.
        let f = self
            .composite
            .get(&track)
            .or_else(|| self.tracks.get(&track))?;
        f.target().or(f.current())
    }

    /// Feed one packet; what the recorder keeps goes to `out`.
    pub(super) fn on_packet(&mut self, now: Instant, p: &TapInput<'_>, out: &mut Vec<Tapped>) {
        let clock = if p.video { 90_000 } else { 48_000 };
        let room = self.name.get_or_insert_with(|| Arc::from(p.room)).clone();
        let mut emit = |stream: TapStream, fwd: &mut Forwarder| {
            if let Decision::Forward { seq, ts, .. } =
                fwd.on_packet(now, p.src, p.seq, p.ts, clock, p.keyframe)
            {
                out.push(Tapped {
                    room: room.clone(),
                    stream,
                    owner: p.owner,
                    video: p.video,
                    codec: p.codec,
                    seq,
                    ts,
                    marker: p.marker,
                    keyframe: p.keyframe,
                    audio_level: p.audio_level,
                    layer: p.src.layer,
                    payload: p.payload.to_vec(),
                    at: now,
                });
            }
        };
        if let Some(fwd) = self.tracks.get_mut(&p.src.track) {
            emit(TapStream::Track(p.src.track), fwd);
        }
        if p.video
            && let Some(fwd) = self.program.as_mut()
        {
            emit(TapStream::ProgramVideo, fwd);
        }
        if p.video
            && let Some(fwd) = self.composite.get_mut(&p.src.track)
        {
            emit(TapStream::Composite(p.src.track), fwd);
        }
    }

    /// Point the composite's forwarders at the layers chosen for it
    /// (`composite_layer` of what each track sends now); tracks it no
    /// longer wants lose theirs. Returns the layers that need a keyframe.
    pub(super) fn retarget_composite(
        &mut self,
        choices: &[(TrackId, Option<u8>)],
    ) -> Vec<TrackRef> {
        let mut plis = Vec::new();
        self.composite
            .retain(|id, _| choices.iter().any(|(t, _)| t == id));
        for &(id, layer) in choices {
            let fwd = self
                .composite
                .entry(id)
                .or_insert_with(|| Forwarder::new(true));
            let want = layer.map(|layer| TrackRef { track: id, layer });
            if want != fwd.target().or(fwd.current()) {
                if fwd.set_target(want) {
                    plis.extend(want);
                }
            } else {
                plis.extend(fwd.target());
            }
        }
        plis
    }

    /// Point each forwarder at what it should record now: every track of
    /// the room (video at `best_layer`), the stage's video for the
    /// program. Returns the layers that need a keyframe for a switch —
    /// also those still waiting for one, every call (the engine paces the
    /// requests): the keyframe that answers a layer coming back may pass
    /// before the tap is pointed at it, and the first request after it
    /// may wait for the publisher's keyframe budget, so asking once would leave the tap
    /// waiting for the publisher's next periodic keyframe.
    pub(super) fn retarget(
        &mut self,
        tracks: &[(TrackId, bool, Option<u8>)],
        stage: Option<(ParticipantId, TrackId, u8)>,
    ) -> Vec<TrackRef> {
        let mut plis = Vec::new();
        self.tracks
            .retain(|id, _| tracks.iter().any(|(t, _, _)| t == id));
        for &(id, video, best) in tracks {
            let fwd = self
                .tracks
                .entry(id)
                .or_insert_with(|| Forwarder::new(video));
            let want = best.map(|layer| TrackRef { track: id, layer });
            if want != fwd.target().or(fwd.current()) {
                if fwd.set_target(want) {
                    plis.extend(want);
                }
            } else if video {
                plis.extend(fwd.target());
            }
        }
        let program = self.program.get_or_insert_with(|| Forwarder::new(true));
        let want = stage.map(|(_, track, layer)| TrackRef { track, layer });
        if want != program.target().or(program.current()) {
            if program.set_target(want) {
                plis.extend(want);
            }
        } else {
            plis.extend(program.target());
        }
        self.program_shows = stage.map(|(p, _, _)| p);
        plis
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(track: TrackId, layer: u8, seq: u64, keyframe: bool) -> TapInput<'static> {
        TapInput {
            room: "r",
            src: TrackRef { track, layer },
            owner: 7,
            video: true,
            codec: TapCodec::Vp8,
            seq,
            ts: (seq as u32) * 3000,
            marker: true,
            keyframe,
            audio_level: None,
            payload: b"x",
        }
    }

    #[test]
    fn a_recorded_track_follows_the_best_layer_and_stays_one_stream() {
        let now = Instant::now();
        let mut tap = RoomTap::default();
        let plis = tap.retarget(&[(1, true, Some(2))], Some((7, 1, 2)));
        assert_eq!(
            plis.len(),
            2,
            "the track and the program both wait for a keyframe"
        );
        assert_eq!(
            tap.retarget(&[(1, true, Some(2))], Some((7, 1, 2))).len(),
            2,
            "and are asked for again while they wait (the engine paces it)"
        );
        let mut out = Vec::new();
        tap.on_packet(now, &input(1, 2, 100, false), &mut out);
        assert!(out.is_empty(), "nothing before the first keyframe");
        tap.on_packet(now, &input(1, 2, 101, true), &mut out);
        tap.on_packet(now, &input(1, 2, 102, false), &mut out);
        let track: Vec<u64> = out
            .iter()
            .filter(|t| t.stream == TapStream::Track(1))
            .map(|t| t.seq)
            .collect();
        assert_eq!(track.len(), 2);
        assert_eq!(track[1], track[0] + 1);
        assert_eq!(
            out.iter()
                .filter(|t| t.stream == TapStream::ProgramVideo)
                .count(),
            2
        );
        // The high layer stops: the recording moves to the middle layer at
        // its next keyframe, numbering continuing.
        out.clear();
        assert_eq!(tap.retarget(&[(1, true, Some(1))], None).len(), 1);
        tap.on_packet(now, &input(1, 1, 5000, false), &mut out);
        tap.on_packet(now, &input(1, 1, 5001, true), &mut out);
        let seqs: Vec<u64> = out.iter().map(|t| t.seq).collect();
        assert_eq!(
            seqs.len(),
            1,
            "only from the keyframe on; the program shows nobody"
        );
        assert!(
            seqs[0] > track[1],
            "one continuous stream: {seqs:?} after {track:?}"
        );
        // A track that went away is no longer recorded.
        assert!(tap.retarget(&[], None).is_empty());
        out.clear();
        tap.on_packet(now, &input(1, 1, 5002, true), &mut out);
        assert!(out.is_empty());
    }
}
