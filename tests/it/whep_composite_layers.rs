//! The composite's taps at the lowest sufficient layer (issue 18, item 1),
//! on virtual time (engine tests' style, `support::vt`): two rooms publish
//! three simulcast layers; the recording taps both at the best layer,
//! while the composite, asking the stage's track at the top layer and a
//! small tile's at the lowest (`Command::TapLayers`), is tapped at those —
//! and a layout change (the two swap tiles) moves them, on keyframes.

use std::collections::HashMap;
use std::time::Duration;

use diemcau::media::tap::{TapStream, Tapped};
use diemcau::media::{Command, TrackId};

use crate::support::vt::World;

/// The layer of the last packets of each stream (per track), since the
/// last drain.
fn last_layers(w: &mut World) -> (HashMap<TrackId, u8>, HashMap<TrackId, u8>) {
    let (mut recorded, mut composite) = (HashMap::new(), HashMap::new());
    let tapped: Vec<Tapped> = w.engine.drain_tapped().collect();
    for t in tapped.iter().filter(|t| t.video) {
        match t.stream {
            TapStream::Track(id) => {
                recorded.insert(id, t.layer);
            }
            TapStream::Composite(id) => {
                composite.insert(id, t.layer);
            }
            TapStream::ProgramVideo => {}
        }
    }
    (recorded, composite)
}

#[test]
fn the_composite_taps_a_small_tile_at_the_lowest_layer_and_the_stage_at_the_top() {
    let mut w = World::new();
    let a = w.join(true, 0, 0);
    let b = w.join(true, 0, 0);
    w.cmd(Command::Record {
        room: "r".into(),
        on: true,
    });
    w.run(Duration::from_secs(3));
    // Which video track is whose (the recording taps every one).
    let tapped: Vec<Tapped> = w.engine.drain_tapped().collect();
    let track_of = |p| {
        tapped
            .iter()
            .find_map(|t| match t.stream {
                TapStream::Track(id) if t.video && t.owner == p => Some(id),
                _ => None,
            })
            .expect("a recorded video track")
    };
    let (ta, tb) = (track_of(w.clients[a].id), track_of(w.clients[b].id));
    assert!(
        tapped
            .iter()
            .all(|t| !matches!(t.stream, TapStream::Composite(_))),
        "nothing for the composite before it asks"
    );

    // A on the stage (the top layer fills it), B in a small tile.
    w.cmd(Command::TapLayers {
        room: "r".into(),
        layers: vec![(ta, 2), (tb, 0)],
    });
    w.run(Duration::from_secs(3));
    let _ = w.engine.drain_tapped().count();
    w.run(Duration::from_secs(1));
    let (recorded, composite) = last_layers(&mut w);
    assert_eq!(
        (recorded.get(&ta), recorded.get(&tb)),
        (Some(&2), Some(&2)),
        "the recording keeps the best layer of each"
    );
    assert_eq!(
        (composite.get(&ta), composite.get(&tb)),
        (Some(&2), Some(&0)),
        "the stage at the top, the small tile at the lowest"
    );

    // The layout changes: B takes the stage, A a small tile.
    w.cmd(Command::TapLayers {
        room: "r".into(),
        layers: vec![(ta, 0), (tb, 2)],
    });
    w.run(Duration::from_secs(3));
    let _ = w.engine.drain_tapped().count();
    w.run(Duration::from_secs(1));
    let (recorded, composite) = last_layers(&mut w);
    assert_eq!((recorded.get(&ta), recorded.get(&tb)), (Some(&2), Some(&2)));
    assert_eq!(
        (composite.get(&ta), composite.get(&tb)),
        (Some(&0), Some(&2)),
        "moved with the layout"
    );

    // A track the composite no longer shows is not tapped for it.
    w.cmd(Command::TapLayers {
        room: "r".into(),
        layers: vec![(tb, 2)],
    });
    w.run(Duration::from_secs(1));
    let _ = w.engine.drain_tapped().count();
    w.run(Duration::from_secs(1));
    let (recorded, composite) = last_layers(&mut w);
    assert!(recorded.contains_key(&ta), "still recorded");
    assert_eq!(composite.get(&ta), None, "not for the composite");
}
