//! Operator mutes. They are kept per endpoint, so a room that reconnects
//! gets its mute back, and are sent to the engine as operator mutes (which
//! the room cannot lift itself). Mass mutes spare the hub: it chairs.

use super::{Effect, LiveError, LiveMeeting};

impl LiveMeeting {
    /// Set a room's operator mutes (`Some(true)` mutes, `Some(false)` lifts,
    /// `None` leaves that kind). A room that is not connected keeps the
    /// setting for when it joins.
    pub fn mute(
        &mut self,
        endpoint_id: &str,
        audio: Option<bool>,
        video: Option<bool>,
    ) -> Result<Vec<Effect>, LiveError> {
        let i = self.site_idx(endpoint_id)?;
        let before = self.before();
        let s = &mut self.sites[i];
        if let Some(a) = audio {
            s.muted_audio = a;
        }
        if let Some(v) = video {
            s.muted_video = v;
        }
        let mut fx = Vec::new();
        self.reconcile(before, &mut fx);
        Ok(fx)
    }

    /// Set the audio mute of every room that is not on stage (and is not the
    /// hub): `true` mutes them, `false` lifts their mutes. The stage keeps
    /// talking. Rooms not connected now are included, so that a room coming
    /// back with an open microphone does not undo the operator's action.
    pub fn mute_all_except_stage(&mut self, audio: bool) -> Vec<Effect> {
        let before = self.before();
        for (i, s) in self.sites.iter_mut().enumerate() {
            if !s.hub && !before.stage.contains(&i) {
                s.muted_audio = audio;
            }
        }
        let mut fx = Vec::new();
        self.reconcile(before, &mut fx);
        fx
    }

    /// Lift every operator mute, audio and video, of every room.
    pub fn unmute_all(&mut self) -> Vec<Effect> {
        let before = self.before();
        for s in &mut self.sites {
            s.muted_audio = false;
            s.muted_video = false;
        }
        let mut fx = Vec::new();
        self.reconcile(before, &mut fx);
        fx
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn mute_sends_an_operator_mute_and_an_event() {
        let mut m = meeting(2);
        join(&mut m, "x1", 11);
        let fx = m.mute("x1", Some(true), None).unwrap();
        assert_eq!(
            fx,
            vec![
                Effect::Media(MediaAction::Mute {
                    participant: 11,
                    audio: Some(true),
                    video: None
                }),
                Effect::Event(LiveEvent::Muted {
                    endpoint_id: "x1".into(),
                    audio: true,
                    video: false
                }),
            ]
        );
        // Muting again changes nothing, so says nothing.
        assert!(m.mute("x1", Some(true), None).unwrap().is_empty());
        // A room not connected is muted in state only.
        let fx = m.mute("x2", None, Some(true)).unwrap();
        assert!(media(&fx).is_empty());
        assert_eq!(events(&fx).len(), 1);
        assert_eq!(
            m.mute("zz", Some(true), None),
            Err(LiveError::UnknownEndpoint("zz".into()))
        );
    }

    #[test]
    fn mute_all_except_stage_leaves_the_stage_unmuted() {
        let mut m = meeting(3);
        join(&mut m, "tu", 1);
        join(&mut m, "x1", 11);
        join(&mut m, "x2", 12);
        m.set_stage(vec!["tu".into(), "x2".into()]).unwrap();
        let fx = m.mute_all_except_stage(true);
        assert_eq!(mutes_for(&fx, 11), vec![(Some(true), None)]);
        assert!(mutes_for(&fx, 12).is_empty(), "the stage keeps talking");
        assert!(mutes_for(&fx, 1).is_empty(), "the hub keeps talking");
        // x3 is not connected: no effect, but it is muted when it joins.
        assert!(site(&m, "x3").muted_audio);
        let fx = join(&mut m, "x3", 13);
        assert_eq!(mutes_for(&fx, 13), vec![(Some(true), None)]);
        assert!(!site(&m, "x2").muted_audio);
        // And `false` lifts them again.
        let fx = m.mute_all_except_stage(false);
        assert_eq!(mutes_for(&fx, 11), vec![(Some(false), None)]);
        assert_eq!(mutes_for(&fx, 13), vec![(Some(false), None)]);
    }

    #[test]
    fn unmute_all_lifts_audio_and_video() {
        let mut m = meeting(2);
        join(&mut m, "x1", 11);
        m.mute("x1", Some(true), Some(true)).unwrap();
        m.mute("x2", Some(true), None).unwrap();
        let fx = m.unmute_all();
        assert_eq!(mutes_for(&fx, 11), vec![(Some(false), Some(false))]);
        assert_eq!(events(&fx).len(), 2);
        assert!(!site(&m, "x2").muted_audio);
    }
}
