//! The hall screen's page in Chromium: an operator logged in opens
//! `/live/{meeting}/screen`, which plays the meeting's composite over WHEP
//! (the page's session cookie and CSRF token; Chromium negotiates and
//! decodes the H.264), and the picture shows the red stage and the blue
//! commune in their tiles.

use std::time::Duration;

use serde_json::json;

use diemcau::compose::layout::Layout;

use crate::console::log_in;
use crate::support::api::world;
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;
use crate::whep_composite::red_and_blue;

const STEP_TIMEOUT: Duration = Duration::from_secs(40);
const POLL_INTERVAL: Duration = Duration::from_millis(250);

#[test]
fn the_hall_screen_page_plays_the_composite_in_chromium() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let base = w.srv.base_url();
        let (id, _rooms) = red_and_blue(&w).await;
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "hall-screen", POLL_INTERVAL);
        log_in(&steps, &base, "test_operator").await;
        page.navigate(&format!("{base}/live/{id}/screen")).await;
        // The composite's tiles (320×180, automatic 1+7 for two rooms).
        let tiles = Layout::OnePlus7.tiles(320, 180);
        let at = |i: usize| (tiles[i].x + tiles[i].w / 2, tiles[i].y + tiles[i].h / 3);
        let (stage, small) = (at(0), at(1));
        let probe = format!(
            "const v = document.getElementById('screen-video');\
             if (!(v.videoWidth > 0 && v.currentTime > 0.3)) return false;\
             const c = document.createElement('canvas'); c.width = 320; c.height = 180;\
             const g = c.getContext('2d'); g.drawImage(v, 0, 0, 320, 180);\
             const px = (x, y) => Array.from(g.getImageData(x, y, 1, 1).data);\
             const [a, b] = [px({}, {}), px({}, {})];\
             const red = a[0] > 150 && a[1] < 90 && a[2] < 90;\
             const blue = b[2] > 150 && b[0] < 90 && b[1] < 90;\
             return red && blue ? {{w: v.videoWidth, h: v.videoHeight}} : false;",
            stage.0, stage.1, small.0, small.1
        );
        let got = steps.until("01-composite", &probe, STEP_TIMEOUT).await;
        assert_eq!(got, json!({"w": 320, "h": 180}));
        page.close().await;
    }));
}
