//! The composite live stream as a live action: an operator starts it
//! (with a layout, or automatic), changes its layout, stops it; the
//! composer is told through an effect, like the engine, so the action is
//! audited before it happens and consoles see it.

use super::{Effect, LiveEvent, LiveMeeting, StreamOrder, event};
use crate::layout::{Layout, Layouts, OutputKind};

impl LiveMeeting {
    /// Start the stream, or change the meeting's layout (`None`:
    /// automatic); outputs with a layout of their own keep it.
    pub fn start_stream(&mut self, layout: Option<Layout>) -> Vec<Effect> {
        if self.streaming && self.layouts.meeting == layout {
            return Vec::new();
        }
        self.streaming = true;
        self.layouts.meeting = layout;
        let sites = self.connected_sites();
        vec![
            Effect::Stream(Some(StreamOrder {
                layouts: self.layouts,
                sites,
            })),
            event(LiveEvent::LiveStream {
                on: true,
                layout: layout.map(|l| l.as_str().to_string()),
            }),
        ]
    }

    pub fn stop_stream(&mut self) -> Vec<Effect> {
        if !std::mem::take(&mut self.streaming) {
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

    /// Give one output (the HLS stream, the recording, the SIP rooms, the
    /// hall screens) a layout of its own, or (`None`) let it follow the
    /// meeting's again. Whether or not the composite runs now: it starts
    /// with these.
    pub fn set_output_layout(&mut self, output: OutputKind, layout: Option<Layout>) -> Vec<Effect> {
        if self.layouts.chosen(output) == layout {
            return Vec::new();
        }
        self.layouts.set(output, layout);
        vec![
            Effect::Layouts(self.layouts),
            event(LiveEvent::OutputLayout {
                output: output.as_str().to_string(),
                layout: layout.map(|l| l.as_str().to_string()),
            }),
        ]
    }

    /// The layouts a composite starting now takes.
    pub fn layouts(&self) -> Layouts {
        self.layouts
    }

    /// (participant, name) of every connected site: what a composite
    /// starting now puts in its tiles.
    pub fn connected_sites(&self) -> Vec<(diemcau_media::ParticipantId, String)> {
        self.sites
            .iter()
            .filter_map(|s| Some((s.participant?, s.name.clone())))
            .collect()
    }

    pub fn streaming(&self) -> bool {
        self.streaming
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
            Effect::Stream(Some(StreamOrder { layouts, .. })) if layouts.meeting.is_none()
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

    #[test]
    fn an_output_layout_is_kept_across_a_new_meeting_layout_and_can_follow_it_again() {
        let mut l = LiveMeeting::new(Vec::new(), None, None, 50).unwrap();
        let fx = l.set_output_layout(OutputKind::Screen, Some(Layout::Grid4x4));
        assert!(
            matches!(fx[0], Effect::Layouts(ls) if ls.of(OutputKind::Screen) == Some(Layout::Grid4x4))
        );
        assert_eq!(
            events(&fx),
            vec![LiveEvent::OutputLayout {
                output: "screen".into(),
                layout: Some("grid4x4".into())
            }]
        );
        assert!(
            l.set_output_layout(OutputKind::Screen, Some(Layout::Grid4x4))
                .is_empty()
        );
        let fx = l.start_stream(Some(Layout::OnePlus5));
        let Effect::Stream(Some(order)) = &fx[0] else {
            panic!("a stream order first: {fx:?}")
        };
        assert_eq!(order.layouts.of(OutputKind::Stream), Some(Layout::OnePlus5));
        assert_eq!(order.layouts.of(OutputKind::Screen), Some(Layout::Grid4x4));
        let snap = l.snapshot(0);
        assert_eq!(snap.output_layouts["screen"].as_deref(), Some("grid4x4"));
        assert_eq!(snap.output_layouts["stream"], None);
        l.set_output_layout(OutputKind::Screen, None);
        assert_eq!(l.layouts().of(OutputKind::Screen), Some(Layout::OnePlus5));
    }
}
