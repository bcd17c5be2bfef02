//! The live wall's toolbar: the lock, a scene, a layout for each output,
//! and ending the meeting; what the page shows and what the server keeps
//! agree.

use super::{LiveWall, STEP_TIMEOUT};
use crate::support::api::world;
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

#[test]
fn the_lock_and_a_scene_from_the_toolbar_reach_the_server_and_the_lock_opens_again() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-toolbar");
        steps
            .run("document.getElementById('btn-lock').click(); return true;")
            .await;
        steps
            .until(
                "08e-locked",
                "const b = document.getElementById('btn-lock');\
             return b.dataset.locked === 'true' && b.textContent === 'Mở khóa';",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run(
                "document.getElementById('scene-select').value = 'thao_luan';\
             document.getElementById('btn-scene').click(); return true;",
            )
            .await;
        steps
            .until(
                "08e-scene",
                "return window.diemcau.state().snapshot.scene === 'thao_luan'\
               && document.getElementById('event-log').textContent.includes('Cảnh: Thảo luận');",
                STEP_TIMEOUT,
            )
            .await;
        let live = wall.live().await;
        assert_eq!(live["locked"], true, "{live}");
        assert_eq!(live["scene"], "thao_luan", "{live}");
        steps.shot("08e-locked-scene").await;
        steps
            .run("document.getElementById('btn-lock').click(); return true;")
            .await;
        steps
            .until(
                "08f-unlocked",
                "return document.getElementById('btn-lock').dataset.locked === 'false';",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(wall.live().await["locked"], false);
        wall.close().await;
    }));
}

/// The hall screens get a layout of their own from "Bố cục từng đầu ra":
/// the server keeps it for them only, the log says it.
#[test]
fn a_layout_for_the_hall_screens_alone_is_kept_by_the_server() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-toolbar");
        steps
            .run(
                "document.getElementById('output-layouts').open = true;\
             const s = document.getElementById('output-layout-screen');\
             s.value = 'grid3x3'; s.dispatchEvent(new Event('change')); return true;",
            )
            .await;
        steps
            .until(
                "08e-output-layout",
                "return window.diemcau.state().snapshot.output_layouts.screen === 'grid3x3'\
               && document.getElementById('event-log').textContent.includes('Màn hình hội trường: Lưới 3×3');",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("08e-output-layouts").await;
        let live = wall.live().await;
        assert_eq!(live["output_layouts"]["screen"], "grid3x3", "{live}");
        assert_eq!(live["output_layouts"]["stream"], serde_json::Value::Null);
        wall.close().await;
    }));
}

#[test]
fn ending_the_meeting_from_the_wall_asks_first_and_the_wall_stops_as_the_room_closes() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-toolbar");
        steps
            .run("document.getElementById('btn-lifecycle').click(); return true;")
            .await;
        steps.until("10-confirm-end",
            "const d = document.getElementById('confirm');\
             return d.open && document.getElementById('confirm-text').textContent.startsWith('Kết thúc hội nghị');",
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("10-confirm-end").await;
        steps
            .run("document.getElementById('confirm-yes').click(); return true;")
            .await;
        steps
            .until(
                "11-ended",
                "return document.getElementById('live-state').textContent === 'Đã kết thúc'\
               && document.getElementById('btn-lifecycle').hidden;",
                STEP_TIMEOUT,
            )
            .await;
        let state = wall
            .w
            .as_role("operator")
            .get(&format!("/api/v1/meetings/{}", wall.id))
            .await;
        assert_eq!(state.body["state"], "ended", "{}", state.text);
        // The ended meeting's room closes: the wall says so and stops retrying.
        steps.until("11-ended",
            "return document.getElementById('live-conn-text').textContent === 'Hội nghị không còn trực tiếp'\
               && document.getElementById('fig-recording').textContent === 'Không ghi hình';",
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("11-ended").await;
        wall.close().await;
    }));
}
