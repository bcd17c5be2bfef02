//! The presenter layout end to end (issue 18): a meeting's PDF shown by
//! page-sync appears on the left of the composite, the stage beside it;
//! stopping the presentation leaves the tile saying so.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::documents::{pdf, upload};
use crate::live_stream::{
    live_meeting, operator_token, red_and_blue_rooms, reddish, rgb, try_last_frame,
};
use crate::support::api::world;
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

fn greenish((r, g, b): (u8, u8, u8)) -> bool {
    g > 150 && r < 90 && b < 90
}

fn whitish((r, g, b): (u8, u8, u8)) -> bool {
    r > 200 && g > 200 && b > 200
}

/// Wait (≤ 40 s) for the stream's newest picture to pass `ok`.
async fn picture_until(url: &str, token: &str, what: &str, ok: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let (u, t) = (url.to_string(), token.to_string());
        let p = tokio::task::spawn_blocking(move || try_last_frame(&u, &t))
            .await
            .unwrap();
        if let Ok(p) = &p
            && ok(p)
        {
            return p.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within 40 s; last picture: {}",
            p.map_or_else(
                |e| e,
                |p| format!("{:?} at the page's top", rgb(&p, 72, 45))
            )
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[test]
fn the_presented_page_shows_beside_the_stage_in_the_presenter_layout() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let id = live_meeting(&w).await;
        let _rooms = red_and_blue_rooms(&w, &id).await;
        let op = w.as_role("operator");
        // A page green over its top half, white below: the text operator
        // of `pdf` closed, a filled rectangle drawn, a new one opened.
        let page = pdf(") Tj ET 0 0.8 0 rg 0 421 595 421 re f BT (");
        let (status, doc) = upload(
            op,
            &id,
            &[("title", "Báo cáo chính trị"), ("classification", "thuong")],
            page,
        )
        .await;
        assert_eq!(status, 201, "{doc}");
        let doc_id = doc["id"].as_str().expect("document id").to_string();

        let r = op
            .post(
                &format!("/api/v1/meetings/{id}/live/stream"),
                json!({"on": true, "layout": "presenter"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["live_stream_layout"], "presenter", "{}", r.text);
        let url = format!("{}/live/{id}/index.m3u8", w.srv.base_url());
        let token = operator_token(&w);

        // The test composite is 320×180: the page tile is the left 144
        // columns, the stage tile right of it, 176×98.
        let (top, bottom, stage) = ((72, 45), (72, 135), (232, 40));
        let no_page = |p: &[u8]| {
            let t = rgb(p, top.0, top.1);
            !greenish(t) && !whitish(t) && reddish(rgb(p, stage.0, stage.1))
        };
        picture_until(&url, &token, "the tile waiting for a page", no_page).await;

        let r = op
            .post(
                &format!("/api/v1/meetings/{id}/presentation"),
                json!({"document_id": doc_id, "page": 1}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let p = picture_until(&url, &token, "the page on the left", |p| {
            greenish(rgb(p, top.0, top.1)) && whitish(rgb(p, bottom.0, bottom.1))
        })
        .await;
        assert!(
            reddish(rgb(&p, stage.0, stage.1)),
            "the hub stays on the stage beside the page: {:?}",
            rgb(&p, stage.0, stage.1)
        );

        let r = op
            .delete(&format!("/api/v1/meetings/{id}/presentation"))
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        picture_until(&url, &token, "the page gone", no_page).await;
    }));
}
