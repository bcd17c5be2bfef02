//! The composite live stream as a live action: an operator starts it
//! (with a layout, or automatic), changes its layout, stops it; the
//! composer is told through an effect, like the engine, so the action is
//! audited before it happens and consoles see it.

use super::{Effect, LiveEvent, LiveMeeting, StreamOrder, event};
use crate::compose::layout::Layout;

impl LiveMeeting {
    /// Start the stream, or change its layout (`None`: automatic).
    pub fn start_stream(&mut self, layout: Option<Layout>) -> Vec<Effect> {
        if self.stream == Some(layout) {
            return Vec::new();
        }
        self.stream = Some(layout);
        let sites = self.connected_sites();
        vec![
            Effect::Stream(Some(StreamOrder { layout, sites })),
            event(LiveEvent::LiveStream {
                on: true,
                layout: layout.map(|l| l.as_str().to_string()),
            }),
        ]
    }

    pub fn stop_stream(&mut self) -> Vec<Effect> {
        if self.stream.take().is_none() {
            return Vec::new();
        }
        vec![
            Effect::Stream(None),
            event(LiveEvent::LiveStream {
                on: false,
                layout: None,
            }),
        ]
    }

    /// (participant, name) of every connected site: what a composite
    /// starting now puts in its tiles.
    pub fn connected_sites(&self) -> Vec<(crate::media::ParticipantId, String)> {
        self.sites
            .iter()
            .filter_map(|s| Some((s.participant?, s.name.clone())))
            .collect()
    }

    pub fn streaming(&self) -> bool {
        self.stream.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::events;
    use super::*;

    #[test]
    fn starting_twice_with_the_same_layout_does_nothing_and_a_new_layout_re_lays() {
        let mut l = LiveMeeting::new(Vec::new(), None, None, 50).unwrap();
        let fx = l.start_stream(None);
        assert!(matches!(
            fx[0],
            Effect::Stream(Some(StreamOrder { layout: None, .. }))
        ));
        assert!(l.start_stream(None).is_empty());
        let fx = l.start_stream(Some(Layout::Grid2x2));
        assert_eq!(
            events(&fx),
            vec![LiveEvent::LiveStream {
                on: true,
                layout: Some("grid2x2".into())
            }]
        );
        assert!(l.snapshot(0).live_stream);
        let fx = l.stop_stream();
        assert!(matches!(fx[0], Effect::Stream(None)));
        assert!(l.stop_stream().is_empty());
        assert!(!l.snapshot(0).live_stream);
    }
}
