//! The live wall: one tile per site of the roll call, following a real
//! WebRTC room (webrtc-rs, its own endpoint token) as it joins, is muted
//! from its tile and drops.

use super::{JOIN_TIMEOUT, LiveWall, STEP_TIMEOUT, tile};
use crate::support::api::world;
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

#[test]
fn the_wall_shows_one_waiting_tile_per_site_of_the_roll_call() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-wall");
        let a = wall.w.endpoint("a").to_string();
        steps
            .until(
                "06-wall",
                &format!(
                    "const t = document.querySelectorAll('#grid .tile');\
                 const fig = document.getElementById('fig-rollcall').textContent;\
                 return t.length === 3 && fig.startsWith('Điểm danh: 0/')\
                   && {} !== null && {}.dataset.state === 'waiting';",
                    tile(&a),
                    tile(&a)
                ),
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(
            steps
                .run(&format!(
                    "return {}.querySelector('.tile-name').textContent;",
                    tile(&a)
                ))
                .await,
            "Điểm cầu xã An Phú"
        );
        steps.shot("06-wall").await;
        wall.close().await;
    }));
}

#[test]
fn mute_on_entry_is_switched_from_the_toolbar_and_the_server_keeps_it() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-wall");
        // The fixture let rooms join open; the operator turns it back on.
        steps
            .until(
                "06b-mute-on-entry",
                "const c = document.getElementById('chk-mute-entry');\
                 if (c.checked) return false; c.click(); return true;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .until(
                "06c-mute-on-entry-on",
                "return document.getElementById('chk-mute-entry').checked\
                   && window.diemcau.state().snapshot.mute_on_entry === true;",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(wall.live().await["mute_on_entry"], true);
        wall.close().await;
    }));
}

#[test]
fn a_room_joining_with_its_token_turns_its_tile_green_and_its_thumbnail_plays() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-wall");
        let a = wall.w.endpoint("a").to_string();
        let (room, ws) = wall.join("a").await;
        steps
            .until(
                "07-connected",
                "return document.getElementById('fig-rollcall').textContent.startsWith('Điểm danh: 1/');",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("07-connected").await;
        // The console's own media session (session cookie, role console)
        // gets a thumbnail slot for the room: bytes arrive on its tile.
        steps
            .until(
                "07b-thumbnail",
                &format!(
                    "const t = {}; return !!t.dataset.mid && Number(t.dataset.kbps) > 0\
                   && !!t.querySelector('.thumb video');",
                    tile(&a)
                ),
                JOIN_TIMEOUT,
            )
            .await;
        steps.shot("07b-thumbnail").await;
        room.close().await;
        drop(ws);
        wall.close().await;
    }));
}

#[test]
fn muting_a_room_from_its_tile_mutes_it_on_the_server() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-wall");
        let a = wall.w.endpoint("a").to_string();
        let (room, ws) = wall.join("a").await;
        steps
            .run(&format!(
                "{}.querySelector('[data-action=mute-audio]').click(); return true;",
                tile(&a)
            ))
            .await;
        steps
            .until(
                "08-muted",
                &format!(
                    "const t = {}; return t.dataset.mutedAudio === 'true'\
                   && !t.querySelector('.flag-mic').hidden\
                   && t.querySelector('[data-action=mute-audio]').textContent === 'Bật micrô';",
                    tile(&a)
                ),
                STEP_TIMEOUT,
            )
            .await;
        let live = wall.live().await;
        let site = live["roll_call"]["sites"]
            .as_array()
            .expect("sites")
            .iter()
            .find(|s| s["endpoint_id"] == a.as_str())
            .cloned()
            .expect("site a in the roll call");
        assert_eq!(site["muted_audio"], true, "{live}");
        assert_eq!(site["connected"], true, "{live}");
        steps.shot("08-muted").await;
        room.close().await;
        drop(ws);
        wall.close().await;
    }));
}

#[test]
fn a_dropped_room_turns_its_tile_red_with_a_drop_count_and_a_red_alert() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-wall");
        let a = wall.w.endpoint("a").to_string();
        let (room, ws) = wall.join("a").await;
        room.close().await;
        drop(ws);
        steps.until("09-dropped",
            &format!(
                "const t = {};\
                 const alerts = [...document.querySelectorAll('#alerts .alert-red')].map(a => a.textContent).join(' ');\
                 return t.dataset.state === 'dropped' && t.textContent.includes('Rớt 1 lần')\
                   && alerts.includes('Điểm cầu xã An Phú') && alerts.includes('mất kết nối');",
                tile(&a)
            ),
            JOIN_TIMEOUT,
        )
        .await;
        steps.shot("09-dropped").await;
        wall.close().await;
    }));
}
