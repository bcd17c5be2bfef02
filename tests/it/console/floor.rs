//! The floor from the live wall: a room registers to speak (its own
//! token), the queue shows it, the operator grants it the stage with a
//! time limit and revokes it.

use serde_json::json;

use super::{LiveWall, STEP_TIMEOUT, tile};
use crate::support::api::world;
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

/// Room A, connected, asks for the floor; returns the selector of its
/// entry in the wall's queue once it shows.
async fn room_a_asks_for_the_floor(wall: &LiveWall) -> String {
    let a = wall.w.endpoint("a");
    let asked = wall
        .w
        .as_endpoint("a")
        .post(
            &format!("/api/v1/meetings/{}/live/floor/request", wall.id),
            json!({}),
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.text);
    let queued = format!("document.querySelector('#floor-queue li[data-endpoint=\"{a}\"]')");
    wall.steps("console-floor")
        .until(
            "08b-floor-queue",
            &format!(
                "return {queued} !== null && {}.dataset.floor === 'requested';",
                tile(a)
            ),
            STEP_TIMEOUT,
        )
        .await;
    queued
}

#[test]
fn a_floor_grant_with_a_time_limit_outside_1_to_120_minutes_is_refused_on_the_page() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-floor");
        let (room, ws) = wall.join("a").await;
        let queued = room_a_asks_for_the_floor(&wall).await;
        steps
            .run(&format!(
                "document.getElementById('floor-limit').value = '0';\
                 {queued}.querySelector('[data-action=grant]').click(); return true;"
            ))
            .await;
        steps.until("08b-floor-limit-refused",
            "return [...document.querySelectorAll('.toast-error')].some(t => t.textContent.includes('Thời lượng phát biểu phải từ 1 đến 120 phút'))\
               && document.getElementById('floor-limit').getAttribute('aria-invalid') === 'true';",
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("08b-floor-queue").await;
        let live = wall.live().await;
        assert!(
            live["floor"]["speaker"].is_null(),
            "nothing was granted: {live}"
        );
        room.close().await;
        drop(ws);
        wall.close().await;
    }));
}

#[test]
fn granting_the_floor_puts_the_room_on_stage_with_a_timer_and_revoking_takes_it_back() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-floor");
        let a = wall.w.endpoint("a").to_string();
        let (room, ws) = wall.join("a").await;
        let queued = room_a_asks_for_the_floor(&wall).await;
        steps
            .run(&format!(
                "document.getElementById('floor-limit').value = '2';\
                 {queued}.querySelector('[data-action=grant]').click(); return true;"
            ))
            .await;
        steps.until("08c-floor-granted",
            &format!(
                "const t = {}; return t.dataset.floor === 'speaking' && t.dataset.onStage === 'true'\
                   && document.getElementById('floor-speaker').textContent.includes('Đang phát biểu: Điểm cầu xã An Phú')\
                   && document.querySelector('#floor-speaker [data-action=revoke]') !== null;",
                tile(&a)
            ),
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("08c-floor-granted").await;
        steps.run("document.querySelector('#floor-speaker [data-action=revoke]').click(); return true;",
        )
        .await;
        steps.until("08d-floor-revoked",
            &format!(
                "return {}.dataset.floor === 'none' && document.getElementById('floor-speaker').textContent.includes('Không có ai đang phát biểu');",
                tile(&a)
            ),
            STEP_TIMEOUT,
        )
        .await;
        room.close().await;
        drop(ws);
        wall.close().await;
    }));
}
