//! Stage policy: which participant each receive slot of a subscriber shows.
//!
//! Pure function of the room's state, so every rule is unit-tested:
//! - **stage** slots show the room's stage (the hub by default, whoever the
//!   operator puts there); when the stage is empty or is the subscriber
//!   itself, the active speaker if the room's stage follows the voice
//!   (`voice`: only Thảo luận or an operator's automatic stage), else whoever
//!   the slot showed, else the first other publisher;
//! - the **speaker** slot shows the active speaker unless already on stage,
//!   else keeps what it showed;
//! - **thumbnail** slots show every other video publisher (a console takes
//!   them all), keeping each one in the same slot while it stays;
//! - **audio** slots carry the stage plus the loudest speakers, at most
//!   `audio_max` (default 3), never all N.
//!
//! Nobody receives their own media.

use std::collections::HashSet;

use super::{ParticipantId, SourceId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotRole {
    Stage,
    Speaker,
    Thumbnail,
    Audio,
}

impl SlotRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SlotRole::Stage => "stage",
            SlotRole::Speaker => "speaker",
            SlotRole::Thumbnail => "thumbnail",
            SlotRole::Audio => "audio",
        }
    }
}

/// A participant as the policy sees it: whether it currently has forwardable
/// (published and not muted) video and audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub id: SourceId,
    pub video: bool,
    pub audio: bool,
}

/// The room as the policy sees it, indexed once per evaluation so that each
/// subscriber's assignment costs O(its slots), not O(room size): a 200-room
/// meeting re-evaluated every 100 ms must not be quadratic.
#[derive(Debug, Clone)]
pub struct RoomView<'a> {
    /// In join order.
    pub sources: &'a [Source],
    pub stage: &'a [ParticipantId],
    pub speaker: Option<SourceId>,
    /// Loudest first.
    pub loudest: &'a [SourceId],
    pub audio_max: usize,
    /// An empty stage shows the active speaker (else it stays put).
    pub voice: bool,
    video: HashSet<SourceId>,
    audio: HashSet<SourceId>,
    /// Relay links: their main picture (what the other side has on stage)
    /// is not a room, so it takes no thumbnail slot.
    relays: HashSet<ParticipantId>,
}

impl<'a> RoomView<'a> {
    pub fn new(
        sources: &'a [Source],
        stage: &'a [ParticipantId],
        speaker: Option<SourceId>,
        loudest: &'a [SourceId],
        audio_max: usize,
    ) -> Self {
        RoomView {
            sources,
            stage,
            speaker,
            loudest,
            audio_max,
            voice: true,
            video: sources.iter().filter(|s| s.video).map(|s| s.id).collect(),
            audio: sources.iter().filter(|s| s.audio).map(|s| s.id).collect(),
            relays: HashSet::new(),
        }
    }

    /// Whether an empty stage follows the active speaker.
    pub fn with_voice(mut self, voice: bool) -> Self {
        self.voice = voice;
        self
    }

    /// Which participants are relay links.
    pub fn with_relays(mut self, relays: HashSet<ParticipantId>) -> Self {
        self.relays = relays;
        self
    }

    /// Whether a source has forwardable video now.
    pub fn has_video(&self, source: SourceId) -> bool {
        self.video.contains(&source)
    }
}

/// Desired source per slot (same order as `roles`). `current` is what the
/// slots show now; it makes assignments sticky.
pub fn assign(
    view: &RoomView<'_>,
    me: ParticipantId,
    roles: &[SlotRole],
    current: &[Option<SourceId>],
) -> Vec<Option<SourceId>> {
    // Nobody receives their own, nor their own relay's extra tracks.
    let has_video = |p: SourceId| p.owner() != me && view.video.contains(&p);
    // A relay's thumbnail tracks are for thumbnail slots only.
    let has_picture = |p: SourceId| has_video(p) && !p.is_thumb();
    let has_audio = |p: SourceId| p.owner() != me && view.audio.contains(&p);
    let mut out: Vec<Option<SourceId>> = vec![None; roles.len()];
    let cur = |i: usize| current.get(i).copied().flatten();
    let count = |role: SlotRole| roles.iter().filter(|r| **r == role).count();

    // Stage slots: the stage list; when it is empty, the speaker (if the
    // stage follows the voice), else
    // whoever the slot showed (rather than hopping); then anyone by join order.
    let n_stage = count(SlotRole::Stage);
    let mut stage_queue: Vec<SourceId> = Vec::with_capacity(n_stage);
    let offer = |p: SourceId, q: &mut Vec<SourceId>| {
        if q.len() < n_stage && has_picture(p) && !q.contains(&p) {
            q.push(p);
        }
    };
    for &p in view.stage {
        offer(SourceId::Participant(p), &mut stage_queue);
    }
    if stage_queue.is_empty()
        && view.voice
        && let Some(s) = view.speaker
    {
        offer(s, &mut stage_queue);
    }
    if stage_queue.is_empty() {
        for (i, r) in roles.iter().enumerate() {
            if let (SlotRole::Stage, Some(c)) = (r, cur(i)) {
                offer(c, &mut stage_queue);
            }
        }
    }
    for s in view.sources {
        if stage_queue.len() >= n_stage {
            break;
        }
        offer(s.id, &mut stage_queue);
    }
    let mut stage_iter = stage_queue.iter().copied();
    for (i, r) in roles.iter().enumerate() {
        if *r == SlotRole::Stage {
            out[i] = stage_iter.next();
        }
    }

    // Speaker slot: the active speaker when not already shown; otherwise
    // keep the previous one (still valid), else the next publisher not shown.
    for (i, r) in roles.iter().enumerate() {
        if *r != SlotRole::Speaker {
            continue;
        }
        let shown = |p: &SourceId| out.contains(&Some(*p));
        let pick = view
            .speaker
            .filter(|s| has_picture(*s) && !shown(s))
            .or_else(|| cur(i).filter(|c| has_picture(*c) && !shown(c)))
            .or_else(|| {
                view.sources
                    .iter()
                    .map(|s| s.id)
                    .find(|p| has_picture(*p) && !shown(p))
            });
        out[i] = pick;
    }

    // Thumbnails (consoles): every other video publisher, sticky per slot.
    let thumbs: Vec<usize> = (0..roles.len())
        .filter(|&i| roles[i] == SlotRole::Thumbnail)
        .collect();
    if !thumbs.is_empty() {
        let wanted: Vec<SourceId> = view
            .sources
            .iter()
            .map(|s| s.id)
            .filter(|&p| has_video(p) && p.participant().is_none_or(|r| !view.relays.contains(&r)))
            .collect();
        fill_sticky(&mut out, &thumbs, &wanted, cur);
    }

    // Audio: stage first, then the speaker and the loudest; publishers
    // without audio-level data last, in join order, so a client that does
    // not send RFC 6464 levels is still heard in small rooms. At most
    // audio_max and the slot count.
    let audio_slots: Vec<usize> = (0..roles.len())
        .filter(|&i| roles[i] == SlotRole::Audio)
        .collect();
    let limit = view.audio_max.min(audio_slots.len());
    let mut audio: Vec<SourceId> = Vec::with_capacity(limit);
    let staged = view.stage.iter().map(|&p| SourceId::Participant(p));
    let joined = view.sources.iter().map(|s| s.id);
    for p in staged
        .chain(view.speaker)
        .chain(view.loudest.iter().copied())
        .chain(joined)
    {
        if audio.len() >= limit {
            break;
        }
        if has_audio(p) && !audio.contains(&p) {
            audio.push(p);
        }
    }
    fill_sticky(&mut out, &audio_slots, &audio, cur);
    out
}

/// Put each wanted source into a slot, keeping sources already shown in
/// their slot and filling freed slots in order.
fn fill_sticky(
    out: &mut [Option<SourceId>],
    slots: &[usize],
    wanted: &[SourceId],
    cur: impl Fn(usize) -> Option<SourceId>,
) {
    let wanted_set: HashSet<SourceId> = wanted.iter().copied().collect();
    let mut placed: HashSet<SourceId> = HashSet::new();
    for &i in slots {
        if let Some(c) = cur(i).filter(|c| wanted_set.contains(c) && !placed.contains(c)) {
            out[i] = Some(c);
            placed.insert(c);
        }
    }
    let mut rest = wanted.iter().copied().filter(|p| !placed.contains(p));
    for &i in slots {
        if out[i].is_none() {
            out[i] = rest.next();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SlotRole::*;

    fn av(ids: &[ParticipantId]) -> Vec<Source> {
        ids.iter()
            .map(|&id| Source {
                id: id.into(),
                video: true,
                audio: true,
            })
            .collect()
    }

    fn view<'a>(
        s: &'a [Source],
        stage: &'a [ParticipantId],
        speaker: Option<ParticipantId>,
        loudest: &'a [SourceId],
    ) -> RoomView<'a> {
        RoomView::new(s, stage, speaker.map(SourceId::from), loudest, 3)
    }

    fn ids(ids: &[ParticipantId]) -> Vec<SourceId> {
        ids.iter().map(|&p| p.into()).collect()
    }

    /// `assign` for rooms of participants only, in participant ids.
    fn assign(
        v: &RoomView<'_>,
        me: ParticipantId,
        roles: &[SlotRole],
        current: &[Option<ParticipantId>],
    ) -> Vec<Option<ParticipantId>> {
        let current: Vec<Option<SourceId>> = current.iter().map(|c| c.map(Into::into)).collect();
        super::assign(v, me, roles, &current)
            .into_iter()
            .map(|o| o.map(|s| s.participant().expect("a participant")))
            .collect()
    }

    const ROOM: &[SlotRole] = &[Stage, Speaker, Audio, Audio, Audio];

    #[test]
    fn everyone_sees_the_hub_on_stage_and_the_hub_sees_the_speaker() {
        let s = av(&[1, 2, 3, 4]);
        let l = ids(&[3, 2]);
        let v = view(&s, &[1], Some(3), &l);
        let out = assign(&v, 2, ROOM, &[]);
        assert_eq!(out[0], Some(1), "stage");
        assert_eq!(out[1], Some(3), "speaker");
        // Hub itself: stage falls back to the active speaker.
        let out = assign(&v, 1, ROOM, &[]);
        assert_eq!(out[0], Some(3));
        assert_ne!(out[1], Some(3), "speaker slot does not repeat the stage");
        assert!(!out.contains(&Some(1)), "never your own media");
    }

    #[test]
    fn audio_is_stage_plus_loudest_capped_not_everyone() {
        let s = av(&[1, 2, 3, 4, 5, 6]);
        let l = ids(&[4, 5, 6, 2]);
        let v = view(&s, &[1], Some(4), &l);
        let out = assign(&v, 3, ROOM, &[]);
        let mut audio: Vec<_> = out[2..].iter().flatten().copied().collect();
        audio.sort();
        assert_eq!(audio, vec![1, 4, 5]);
    }

    #[test]
    fn audio_slots_are_sticky() {
        let s = av(&[1, 2, 3, 4]);
        let l = ids(&[2, 3, 4]);
        let v = view(&s, &[], None, &l);
        let first = assign(&v, 1, &[Audio, Audio], &[]);
        assert_eq!(first, vec![Some(2), Some(3)]);
        let l = ids(&[3, 4, 2]);
        let v = view(&s, &[], None, &l);
        let second = assign(&v, 1, &[Audio, Audio], &first);
        assert_eq!(
            second,
            vec![Some(4), Some(3)],
            "3 keeps its slot; 4 takes 2's"
        );
    }

    #[test]
    fn muted_video_leaves_the_stage_and_muted_audio_is_not_forwarded() {
        let s = vec![
            Source {
                id: 1.into(),
                video: false,
                audio: false,
            },
            Source {
                id: 2.into(),
                video: true,
                audio: true,
            },
            Source {
                id: 3.into(),
                video: true,
                audio: true,
            },
        ];
        let l = ids(&[1, 2]);
        let v = view(&s, &[1], Some(1), &l);
        let out = assign(&v, 3, ROOM, &[]);
        assert_eq!(out[0], Some(2));
        assert!(!out[2..].contains(&Some(1)));
    }

    #[test]
    fn console_gets_every_thumbnail_once() {
        let s = av(&[1, 2, 3, 4]);
        let l = ids(&[]);
        let v = view(&s, &[1], None, &l);
        let roles = [Stage, Thumbnail, Thumbnail, Thumbnail, Thumbnail, Thumbnail];
        let out = assign(&v, 99, &roles, &[]);
        let mut thumbs: Vec<_> = out[1..].iter().flatten().copied().collect();
        thumbs.sort();
        assert_eq!(thumbs, vec![1, 2, 3, 4]);
        assert_eq!(out[5], None);
    }

    #[test]
    fn without_voice_the_loudest_commune_takes_the_speaker_slot_never_the_stage() {
        let s = av(&[1, 2, 3]);
        // Hub 1 on stage, commune 3 the loudest.
        let l = ids(&[3, 2]);
        let v = view(&s, &[1], Some(3), &l).with_voice(false);
        let out = assign(&v, 2, ROOM, &[]);
        assert_eq!((out[0], out[1]), (Some(1), Some(3)));
        // The hub's own stage keeps what it showed, not the speaker.
        let out = assign(&v, 1, ROOM, &[Some(2)]);
        assert_eq!((out[0], out[1]), (Some(2), Some(3)));
        // An empty stage (the hub not here yet): join order, not the voice.
        let l = ids(&[3]);
        let v = view(&s, &[], Some(3), &l).with_voice(false);
        assert_eq!(assign(&v, 2, ROOM, &[])[0], Some(1));
        // With the voice (Thảo luận), the speaker comes on stage.
        let l = ids(&[3]);
        let v = view(&s, &[], Some(3), &l);
        assert_eq!(assign(&v, 2, ROOM, &[])[0], Some(3));
    }

    #[test]
    fn stage_order_follows_operator_list() {
        let s = av(&[1, 2, 3]);
        let l = ids(&[]);
        let v = view(&s, &[3, 2], None, &l);
        let out = assign(&v, 1, &[Stage, Stage], &[]);
        assert_eq!(out, vec![Some(3), Some(2)]);
    }

    #[test]
    fn a_relays_extra_tracks_never_return_to_it_and_its_thumbnails_never_take_the_stage() {
        // 1 a room, 7 a relay link with a second voice and a thumbnail.
        let voice = SourceId::RelayAudio {
            track: 40,
            relay: 7,
        };
        let thumb = SourceId::RelayThumb { relay: 7, index: 0 };
        let mut s = av(&[1, 7]);
        s.push(Source {
            id: voice,
            video: false,
            audio: true,
        });
        s.push(Source {
            id: thumb,
            video: true,
            audio: false,
        });
        let loud = [voice, 1.into()];
        let v =
            RoomView::new(&s, &[], Some(voice), &loud, 3).with_relays([7].into_iter().collect());
        // The relay gets the room's voice, never its own second voice.
        let out = super::assign(&v, 7, &[Stage, Audio, Audio], &[]);
        assert_eq!(out, vec![Some(1.into()), Some(1.into()), None]);
        // A console: the thumbnail in a thumbnail slot, never on stage; the
        // relay's main picture is not a room, so takes no thumbnail.
        let out = super::assign(&v, 99, &[Stage, Thumbnail, Thumbnail, Thumbnail], &[]);
        assert_eq!(out[0], Some(1.into()));
        let thumbs: Vec<SourceId> = out[1..].iter().flatten().copied().collect();
        assert_eq!(thumbs, vec![1.into(), thumb]);
        // A room hears the relay's second voice as one of the loudest.
        let out = super::assign(&v, 1, &[Audio, Audio, Audio], &[]);
        assert!(out.contains(&Some(voice)));
    }
}
