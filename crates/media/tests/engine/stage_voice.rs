//! Who is seen by default (issue 21, item 5), on the engine in virtual time:
//! with the hub on stage, rooms speaking with the same tone take the speaker
//! slot but never the main stage, unless the room's stage follows the voice
//! (the Thảo luận scene, `Command::StageVoice`).

use std::time::Duration;

use diemcau_media::{Command, Event, ParticipantId, SlotRole, SourceId};

use diemcau_testkit::vt::World;

/// Every (stage, speaker) a subscriber's slots were set to, in order.
fn shown(
    events: &[Event],
    who: ParticipantId,
) -> Vec<(Option<ParticipantId>, Option<ParticipantId>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::SlotsChanged { participant, slots } if *participant == who => {
                let of = |role| {
                    slots
                        .iter()
                        .find(|s| s.role == role)
                        .and_then(|s| s.source.map(SourceId::wire))
                };
                Some((of(SlotRole::Stage), of(SlotRole::Speaker)))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn rooms_with_the_same_tone_take_the_speaker_slot_but_never_the_stage_outside_thao_luan() {
    let mut w = World::new();
    let hub = w.join(true, 2, 3);
    let x1 = w.join(true, 2, 3);
    let x2 = w.join(true, 2, 3);
    for c in [hub, x1, x2] {
        w.clients[c].publisher.as_mut().unwrap().audio_level = -20;
    }
    let (h, c1, c2) = (w.clients[hub].id, w.clients[x1].id, w.clients[x2].id);
    w.run(Duration::from_millis(100));
    // What a live meeting tells a new room: the hub on stage.
    w.cmd(Command::SetStage {
        room: "r".into(),
        participants: vec![h],
    });
    w.run(Duration::from_secs(4));
    // The communes make noise in turns, louder than the hub.
    for (loud, quiet) in [(x1, x2), (x2, x1), (x1, x2)] {
        w.clients[loud].publisher.as_mut().unwrap().audio_level = -10;
        w.clients[quiet].publisher.as_mut().unwrap().audio_level = -20;
        w.run(Duration::from_secs(3));
    }
    let speakers: Vec<ParticipantId> = w
        .events
        .iter()
        .filter_map(|e| match e {
            Event::SpeakerChanged { participant, .. } => *participant,
            _ => None,
        })
        .collect();
    assert!(
        speakers.contains(&c1) && speakers.contains(&c2),
        "each commune became the active speaker: {speakers:?}"
    );
    for (me, other) in [(c1, c2), (c2, c1)] {
        let seen = shown(&w.events, me);
        assert!(!seen.is_empty());
        assert!(
            seen.iter().all(|(stage, _)| stage.is_none_or(|s| s == h)),
            "{me} sees only the hub on stage: {seen:?}"
        );
        assert_eq!(
            seen.last().unwrap().1,
            Some(other),
            "the commune talking is in the speaker slot"
        );
    }
    // The hub cannot see itself: its stage keeps one room and does not hop.
    let hub_stage: Vec<_> = shown(&w.events, h).iter().filter_map(|s| s.0).collect();
    assert!(!hub_stage.is_empty());
    assert!(
        hub_stage.iter().all(|s| *s == hub_stage[0]),
        "the hub's stage did not follow the voice: {hub_stage:?}"
    );

    // Thảo luận: an empty stage that follows the voice.
    w.cmd(Command::SetStage {
        room: "r".into(),
        participants: vec![],
    });
    w.cmd(Command::StageVoice {
        room: "r".into(),
        on: true,
    });
    w.clients[x2].publisher.as_mut().unwrap().audio_level = -10;
    w.clients[x1].publisher.as_mut().unwrap().audio_level = -20;
    w.run(Duration::from_secs(3));
    assert_eq!(
        shown(&w.events, c1).last().unwrap().0,
        Some(c2),
        "the speaker is on stage"
    );
    assert_eq!(shown(&w.events, h).last().unwrap().0, Some(c2));
}
