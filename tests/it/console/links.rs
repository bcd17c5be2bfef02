//! Link quality on the live wall comes from the server's own measurements
//! (`link_stats` every 2 s): a room's tile shows rate, loss and RTT meters
//! and a sparkline, `GET …/live/links` holds the same samples, its chart
//! names its axes; a room whose receive path loses a quarter of what the
//! server sends it (a seeded lossy relay) turns amber/red and the alert
//! strip names it, until it drops.

use std::time::Duration;

use super::{JOIN_TIMEOUT, LiveWall, STEP_TIMEOUT, tile};
use crate::support::api::world;
use crate::support::db::run_sqlite;
use crate::support::rtc_client::{
    ClientConfig, LossConfig, PublishConfig, RtcClient, WsClient, run_in_loopback_netns, ws_join,
};

/// Three samples in a row over 5 % loss make a link degraded; at one
/// sample every 2 s, with ICE and the first reports, this is ample.
const DEGRADED_TIMEOUT: Duration = Duration::from_secs(60);

/// Room B joins through a relay that drops 25 % of the server's RTP (what
/// the other rooms publish: B alone would receive nothing to lose).
async fn lossy_room_b(wall: &LiveWall) -> (RtcClient, WsClient) {
    let mut room_b = RtcClient::new(ClientConfig {
        name: "B".into(),
        publish: Some(PublishConfig::default()),
        recv_video: 2,
        recv_audio: 2,
        loss: Some(LossConfig {
            rate: 0.25,
            seed: 7,
        }),
        ..Default::default()
    })
    .await
    .expect("webrtc-rs client b");
    let token = &wall.w.province.endpoint_tokens["b"];
    let (ws_b, _) = ws_join(&mut room_b, &wall.base, &wall.id, token)
        .await
        .expect("room b joins");
    (room_b, ws_b)
}

/// Wait until B's tile and the alert strip show its poor link; returns
/// the alert's text.
async fn until_b_is_lossy(wall: &LiveWall) -> String {
    let b = wall.w.endpoint("b");
    let alert = wall
        .steps("console-links")
        .until(
            "03-lossy",
            &format!(
                "const t = {}; const al = [...document.querySelectorAll('#alerts .alert')]\
                   .find(x => x.dataset.key === 'link:{b}');\
                 return ['warn', 'bad'].includes(t.dataset.link)\
                   && t.querySelector('.lm-loss').dataset.level !== 'good'\
                   && window.diemcau.state().links[{b:?}].degraded\
                   && !!al && al.textContent;",
                tile(b),
            ),
            DEGRADED_TIMEOUT,
        )
        .await;
    alert.as_str().unwrap_or_default().to_string()
}

#[test]
fn a_rooms_tile_shows_the_servers_rate_loss_and_rtt_and_the_links_route_holds_its_samples() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-links");
        let a = wall.w.endpoint("a").to_string();
        let (room_a, ws_a) = wall.join("a").await;
        let meters = steps
            .until(
                "02-meters",
                &format!(
                    "const t = {}; const rtt = t.querySelector('.lm-rtt'); const kb = t.querySelector('.lm-kbps');\
                     const loss = t.querySelector('.lm-loss'); const sp = t.querySelector('.spark');\
                     return t.dataset.state === 'connected' && rtt.dataset.value !== undefined\
                       && / ms$/.test(rtt.textContent) && / kbit\\/s$/.test(kb.textContent) && Number(kb.dataset.value) > 0\
                       && / %$/.test(loss.textContent) && ['good', 'warn', 'bad'].includes(rtt.dataset.level)\
                       && Number(sp.dataset.points) >= 3\
                       && sp.querySelector('.spark-kbps').getAttribute('points').trim().split(' ').length >= 3\
                       && {{rtt: rtt.textContent, kbps: kb.textContent, loss: loss.textContent}};",
                    tile(&a)
                ),
                JOIN_TIMEOUT,
            )
            .await;
        eprintln!("room a meters: {meters}");
        steps.shot("02-meters").await;

        // The same samples over HTTP, for a console that opens late.
        let op = wall.w.as_role("operator");
        let links = op
            .get(&format!("/api/v1/meetings/{}/live/links", wall.id))
            .await;
        assert_eq!(links.status, 200, "{}", links.text);
        assert_eq!(links.body["interval_ms"], 2000, "{}", links.text);
        assert_eq!(links.body["window_ms"], 300_000, "{}", links.text);
        let ring = links.body["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .find(|e| e["endpoint_id"] == a.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("no ring for room a: {}", links.text));
        let samples = ring["samples"].as_array().expect("samples");
        assert!(samples.len() >= 3, "{}", links.text);
        assert!(
            samples.iter().any(|s| s["kbps_in"].as_u64() > Some(0)),
            "room a publishes: {}",
            links.text
        );
        assert!(
            samples
                .windows(2)
                .all(|p| p[0]["t_ms"].as_u64() < p[1]["t_ms"].as_u64()),
            "{}",
            links.text
        );
        for key in ["loss_in_pct", "loss_out_pct", "rtt_ms", "bwe_kbps"] {
            assert!(samples[0].get(key).is_some(), "{key}: {}", links.text);
        }
        // Anonymous callers may not read it.
        let anon = wall
            .w
            .as_role("anonymous")
            .get(&format!("/api/v1/meetings/{}/live/links", wall.id))
            .await;
        assert_eq!(anon.status, 401, "{}", anon.text);
        room_a.close().await;
        drop(ws_a);
        wall.close().await;
    }));
}

#[test]
fn a_rooms_link_chart_names_its_axes_in_vietnamese_and_relabels_in_english() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-links");
        let a = wall.w.endpoint("a").to_string();
        let (room_a, ws_a) = wall.join("a").await;
        steps
            .run(&format!(
                "{}.querySelector('[data-action=link-chart]').click(); return true;",
                tile(&a)
            ))
            .await;
        steps
            .until(
                "04-chart",
                "const d = document.getElementById('link-dialog'); const txt = d.textContent;\
                 const pts = [...d.querySelectorAll('polyline.series')].map(p => Number(p.dataset.points));\
                 return d.open && txt.includes('Mất gói (%)') && txt.includes('Độ trễ khứ hồi (ms)')\
                   && txt.includes('Tốc độ (kbit/s)') && txt.includes('bây giờ')\
                   && pts.length === 5 && pts.every(n => n >= 3);",
                JOIN_TIMEOUT,
            )
            .await;
        steps.shot("04-chart").await;
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        steps
            .until(
                "05-chart-english",
                "const d = document.getElementById('link-dialog');\
                 return d.open && d.textContent.includes('Packet loss (%)') && d.textContent.includes('Round-trip time (ms)')\
                   && d.textContent.includes('Bitrate (kbit/s)') && document.getElementById('link-close').textContent === 'Close';",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("05-chart-english").await;
        steps
            .run("document.getElementById('link-close').click(); return true;")
            .await;
        steps
            .until(
                "06-closed",
                "return !document.getElementById('link-dialog').open;",
                STEP_TIMEOUT,
            )
            .await;
        room_a.close().await;
        drop(ws_a);
        wall.close().await;
    }));
}

/// B's receiver reports say a quarter is lost; after three samples in a
/// row the server says so (`link_degraded`, to the operator's stream, not
/// to a room's own), and the wall shows it.
#[test]
fn a_lossy_rooms_tile_turns_amber_and_the_alert_strip_names_it() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-links");
        let b = wall.w.endpoint("b").to_string();
        // The event stream as an operator's tool and as room A's own page
        // see it: only the former gets link events.
        let stream_url = format!(
            "{}/api/v1/meetings/{}/live/events",
            wall.base.replacen("http", "ws", 1),
            wall.id
        );
        let op = wall.w.as_role("operator");
        let op_stream = WsClient::connect_url(&stream_url, op.bearer.as_deref())
            .await
            .expect("operator's event stream");
        let room_stream = WsClient::connect_url(
            &stream_url,
            Some(wall.w.province.endpoint_tokens["a"].as_str()),
        )
        .await
        .expect("room a's event stream");
        let (room_a, ws_a) = wall.join("a").await;
        let (room_b, ws_b) = lossy_room_b(&wall).await;
        let b_name = steps
            .run(&format!(
                "return {}.querySelector('.tile-name').textContent;",
                tile(&b)
            ))
            .await;
        let b_name = b_name.as_str().expect("b's name").to_string();
        let alert = until_b_is_lossy(&wall).await;
        assert!(
            alert.contains(&b_name) && alert.contains("đường truyền kém (mất gói"),
            "alert in Vietnamese naming room b: {alert}"
        );
        assert!(
            steps
                .run("return document.getElementById('event-log').textContent;")
                .await
                .as_str()
                .unwrap_or_default()
                .contains("đường truyền kém"),
            "the event log notes it"
        );
        let degraded = op
            .get(&format!("/api/v1/meetings/{}/live/links", wall.id))
            .await;
        assert!(
            degraded.body["endpoints"]
                .as_array()
                .expect("endpoints")
                .iter()
                .any(|e| e["endpoint_id"] == b.as_str() && e["degraded"] == true),
            "{}",
            degraded.text
        );
        steps.shot("03-lossy").await;
        let got = op_stream.received();
        let stats = got
            .iter()
            .filter(|v| v["type"] == "link_stats")
            .collect::<Vec<_>>();
        assert!(stats.len() >= 3, "link_stats every 2 s: {got:?}");
        assert!(
            stats.iter().all(|v| v["seq"].as_u64().is_some()
                && v["links"].as_array().is_some_and(|l| l.len() <= 2)),
            "{stats:?}"
        );
        assert!(
            got.iter().any(|v| v["type"] == "link_degraded"
                && v["endpoint_id"] == b.as_str()
                && v["loss_pct"].as_f64() > Some(5.0)),
            "{got:?}"
        );
        let theirs = room_stream.received();
        assert!(
            theirs.iter().any(|v| v["type"] == "site_connected"),
            "room a's stream works: {theirs:?}"
        );
        assert!(
            !theirs
                .iter()
                .any(|v| v["type"].as_str().is_some_and(|t| t.starts_with("link_"))),
            "a room's own stream has no link events: {theirs:?}"
        );
        room_b.close().await;
        room_a.close().await;
        drop((ws_a, ws_b, op_stream, room_stream));
        wall.close().await;
    }));
}

/// B hangs up: its poor-link alert gives way to the drop alert, and its
/// meters go blank (a dropped room has no link to measure).
#[test]
fn a_lossy_room_that_drops_trades_its_poor_link_alert_for_a_drop_alert() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let wall = LiveWall::open(world(db).await).await;
        let steps = wall.steps("console-links");
        let b = wall.w.endpoint("b").to_string();
        let stream_url = format!(
            "{}/api/v1/meetings/{}/live/events",
            wall.base.replacen("http", "ws", 1),
            wall.id
        );
        let op_stream =
            WsClient::connect_url(&stream_url, wall.w.as_role("operator").bearer.as_deref())
                .await
                .expect("operator's event stream");
        // B loses what the server sends it: A's media.
        let (room_a, ws_a) = wall.join("a").await;
        let (room_b, ws_b) = lossy_room_b(&wall).await;
        until_b_is_lossy(&wall).await;
        let from = op_stream.received().len();
        room_b.close().await;
        drop(ws_b);
        steps
            .until(
                "07-lossy-room-gone",
                &format!(
                    "const t = {}; const keys = [...document.querySelectorAll('#alerts .alert')].map(a => a.dataset.key);\
                     return t.dataset.state === 'dropped' && t.dataset.link === 'none'\
                       && t.querySelector('.lm-loss').textContent === ''\
                       && !keys.includes('link:{b}') && keys.includes('drop:{b}')\
                       && !window.diemcau.state().links[{b:?}].degraded;",
                    tile(&b)
                ),
                JOIN_TIMEOUT,
            )
            .await;
        let recovered = op_stream
            .wait_message(from, Duration::from_secs(5), |v| {
                v["type"] == "link_recovered" && v["endpoint_id"] == b.as_str()
            })
            .await
            .unwrap_or_else(|| panic!("no link_recovered for b: {:?}", op_stream.received()));
        assert_eq!(recovered["connected"], false, "{recovered}");
        steps.shot("07-lossy-room-gone").await;
        room_a.close().await;
        drop((ws_a, op_stream));
        wall.close().await;
    }));
}
