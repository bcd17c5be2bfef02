//! Shared helpers for the live-control unit tests.

pub(super) use super::*;

/// An arbitrary clock reading at the start of a test.
pub(super) const T0: u64 = 1_000_000;

/// A meeting with the hub "tu" (expected, Vietnamese names) and `n` communes
/// "x1".."xn", no people count, quorum 50 %.
pub(super) fn meeting(n: usize) -> LiveMeeting {
    let mut sites = vec![ExpectedSite {
        endpoint_id: "tu".into(),
        name: "Tỉnh ủy Quảng Ngãi".into(),
        unit_name: Some("Văn phòng Tỉnh ủy".into()),
    }];
    for k in 1..=n {
        sites.push(ExpectedSite {
            endpoint_id: format!("x{k}"),
            name: format!("Đảng ủy xã Tân Phước {k}"),
            unit_name: Some(format!("Đảng bộ xã Tân Phước {k}")),
        });
    }
    LiveMeeting::new(sites, Some("tu".into()), None, 50).expect("meeting")
}

/// Join an endpoint as a room at `T0`; panics if refused.
pub(super) fn join(m: &mut LiveMeeting, endpoint: &str, participant: ParticipantId) -> Vec<Effect> {
    m.connected(
        Some(endpoint),
        participant,
        endpoint,
        ConnectionKind::Room,
        T0,
    )
    .expect("admitted")
}

/// The engine commands in `fx`, but whether the stage follows the voice
/// (see `voice`).
pub(super) fn media(fx: &[Effect]) -> Vec<MediaAction> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Media(MediaAction::StageVoice(_)) => None,
            Effect::Media(a) => Some(a.clone()),
            Effect::Event(_) | Effect::Stream(_) | Effect::Layouts(_) | Effect::SipCall(_) => None,
        })
        .collect()
}

/// What `fx` told the engine about the stage following the voice.
pub(super) fn voice(fx: &[Effect]) -> Vec<bool> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Media(MediaAction::StageVoice(on)) => Some(*on),
            _ => None,
        })
        .collect()
}

pub(super) fn events(fx: &[Effect]) -> Vec<LiveEvent> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Event(e) => Some(e.clone()),
            Effect::Media(_) | Effect::Stream(_) | Effect::Layouts(_) | Effect::SipCall(_) => None,
        })
        .collect()
}

/// The roll-call row of an endpoint (sites or guests).
pub(super) fn site(m: &LiveMeeting, endpoint: &str) -> RollCallSite {
    let rc = m.roll_call(T0);
    rc.sites
        .into_iter()
        .chain(rc.guests)
        .find(|s| s.endpoint_id == endpoint)
        .expect("on the roll call")
}

/// Operator mutes sent in `fx` for a participant: (audio, video).
pub(super) fn mutes_for(fx: &[Effect], p: ParticipantId) -> Vec<(Option<bool>, Option<bool>)> {
    media(fx)
        .into_iter()
        .filter_map(|a| match a {
            MediaAction::Mute {
                participant,
                audio,
                video,
            } if participant == p => Some((audio, video)),
            _ => None,
        })
        .collect()
}
