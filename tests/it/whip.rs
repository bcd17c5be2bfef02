//! WHIP publish + WHEP play over plain HTTP, and the media port's
//! robustness against garbage datagrams.

use std::time::{Duration, Instant};

use crate::support::rtc_client::{
    PublishConfig, delete, metric_sums, run_in_loopback_netns, scrape_metrics, wait_for,
    whep_subscriber, whip_publisher,
};
use crate::support::server::{self, DEMO_TOKEN};

const MEETING: &str = "demo";

#[test]
fn whip_publish_and_whep_play_round_trip() {
    run_in_loopback_netns(async {
        let srv = server::start().await;
        let base = srv.base_url();
        let (publisher, whip) =
            whip_publisher(&base, MEETING, DEMO_TOKEN, "pub", PublishConfig::default()).await;
        let (sub, whep) = whep_subscriber(&base, MEETING, DEMO_TOKEN, "sub", 1, 1, None).await;
        assert_ne!(
            whip.location, whep.location,
            "WHIP and WHEP share a Location"
        );

        let tag = publisher.publisher().source_tag;
        let ok = wait_for(Duration::from_secs(20), || {
            sub.video(0).is_some_and(|v| v.packets_from(tag) >= 30)
                && sub.audio(0).is_some_and(|a| a.packets_from(tag) >= 50)
        })
        .await;
        assert!(
            ok,
            "media did not flow WHIP -> WHEP within 20 s:\n{}",
            sub.describe()
        );

        // The operator's meters: forwarding counters per room and link
        // gauges per participant, both sessions connected.
        let text = scrape_metrics(&srv.metrics_url())
            .await
            .expect("GET /metrics");
        let sums = metric_sums(&text);
        assert!(
            sums.get("diemcau_room_packets_out_total")
                .copied()
                .unwrap_or(0.0)
                >= 80.0,
            "{text}"
        );
        assert_eq!(
            sums.get("diemcau_participant_connected").copied(),
            Some(2.0),
            "{text}"
        );
        assert!(
            text.contains("diemcau_participant_rtt_seconds{room=\"demo\""),
            "{text}"
        );

        for (what, url) in [("WHEP", &whep.location), ("WHIP", &whip.location)] {
            let status = delete(url, Some(DEMO_TOKEN)).await;
            assert!(
                (200..300).contains(&status),
                "DELETE {what} session {url} answered {status}"
            );
            let again = delete(url, Some(DEMO_TOKEN)).await;
            assert_eq!(
                again, 404,
                "second DELETE of {what} session {url} answered {again}"
            );
        }

        // Nobody left in the room: its worker mapping is gone too (a
        // server that runs for months does not keep every meeting's).
        let media = srv.server.state().media.clone();
        assert!(
            wait_for(Duration::from_secs(5), || media.rooms_mapped() == 0).await,
            "{} rooms still mapped to workers after everyone left",
            media.rooms_mapped()
        );

        sub.close().await;
        publisher.close().await;
    });
}

/// A minimal seeded PRNG (no shared state with the client's relay).
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Datagrams the server must drop: random bytes, truncated headers, RTP
/// from an unknown SSRC, STUN with a bad MESSAGE-INTEGRITY.
fn garbage_datagrams() -> Vec<Vec<u8>> {
    let mut rng = 0x5eed_cafe_f00d_u64;
    let mut out = Vec::new();
    for _ in 0..40 {
        let len = 1 + (xorshift(&mut rng) % 1200) as usize;
        out.push((0..len).map(|_| xorshift(&mut rng) as u8).collect());
    }
    // Truncated: a lone byte of each demux class (STUN, DTLS, RTP).
    for b in [0x00u8, 0x01, 0x16, 0x17, 0x80, 0x90] {
        out.push(vec![b]);
        out.push(vec![b, 0x00, 0x01]);
    }
    // A truncated RTP header (8 of 12 bytes).
    out.push(vec![0x80, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10]);
    // RTP with an SSRC nobody announced.
    for seq in 0..20u16 {
        let mut p = vec![0x80, 0x60];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(seq as u32 * 3000).to_be_bytes());
        p.extend_from_slice(&0xdead_beef_u32.to_be_bytes());
        p.extend_from_slice(&[0x10, 0, 0, 0x9d, 0x01, 0x2a]);
        p.extend_from_slice(&[0u8; 100]);
        out.push(p);
    }
    // STUN binding request with USERNAME and a made-up MESSAGE-INTEGRITY.
    for i in 0..5u8 {
        let username = b"nobody:nothing"; // 14 bytes, padded to 16
        let mut attrs = Vec::new();
        attrs.extend_from_slice(&0x0006u16.to_be_bytes());
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username);
        attrs.extend_from_slice(&[0, 0]);
        attrs.extend_from_slice(&0x0008u16.to_be_bytes());
        attrs.extend_from_slice(&20u16.to_be_bytes());
        attrs.extend_from_slice(&[0xab ^ i; 20]);
        let mut p = Vec::new();
        p.extend_from_slice(&0x0001u16.to_be_bytes());
        p.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        p.extend_from_slice(&0x2112_a442_u32.to_be_bytes());
        p.extend_from_slice(&[i; 12]);
        p.extend_from_slice(&attrs);
        out.push(p);
    }
    out
}

#[test]
fn garbage_udp_is_dropped_and_counted() {
    run_in_loopback_netns(async {
        let srv = server::start().await;
        let base = srv.base_url();
        let (publisher, _) =
            whip_publisher(&base, MEETING, DEMO_TOKEN, "pub", PublishConfig::default()).await;
        let (sub, _) = whep_subscriber(&base, MEETING, DEMO_TOKEN, "sub", 1, 1, None).await;
        let tag = publisher.publisher().source_tag;
        let ok = wait_for(Duration::from_secs(20), || {
            sub.video(0).is_some_and(|v| v.packets_from(tag) >= 10)
        })
        .await;
        assert!(
            ok,
            "media did not flow before the garbage was sent:\n{}",
            sub.describe()
        );

        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let datagrams = garbage_datagrams();
        for d in &datagrams {
            sock.send_to(d, srv.media).await.unwrap();
        }

        let after = Instant::now();
        let ok = wait_for(Duration::from_secs(10), || {
            sub.video(0).is_some_and(|v| v.since(after) >= 60)
                && sub.audio(0).is_some_and(|a| a.since(after) >= 50)
        })
        .await;
        assert!(
            ok,
            "the session stopped after {} garbage datagrams:\n{}",
            datagrams.len(),
            sub.describe()
        );

        let text = scrape_metrics(&srv.metrics_url()).await.unwrap();
        let sums = metric_sums(&text);
        let dropped: Vec<(&String, &f64)> =
            sums.iter().filter(|(k, _)| k.contains("dropped")).collect();
        assert!(
            dropped.iter().any(|(_, v)| **v > 0.0),
            "no nonzero *dropped* metric after {} garbage datagrams; dropped metrics: {dropped:?}",
            datagrams.len()
        );
        // The counter the server documents for exactly this.
        let total = sums.get("diemcau_datagrams_dropped_total").copied();
        assert!(
            total.is_some_and(|v| v > 0.0),
            "diemcau_datagrams_dropped_total is {total:?}; dropped metrics: {dropped:?}"
        );

        sub.close().await;
        publisher.close().await;
    });
}

/// POST a JSON body with the demo bearer token; (status, body).
async fn post_json(url: &str, body: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .bearer_auth(DEMO_TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("POST");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn live_controls_refuse_bad_input_and_mute_a_publisher() {
    run_in_loopback_netns(async {
        let srv = server::start().await;
        let base = srv.base_url();
        let (publisher, whip) =
            whip_publisher(&base, MEETING, DEMO_TOKEN, "pub", PublishConfig::default()).await;
        let (sub, _whep) = whep_subscriber(&base, MEETING, DEMO_TOKEN, "sub", 1, 1, None).await;
        let tag = publisher.publisher().source_tag;
        let flowing = wait_for(Duration::from_secs(20), || {
            sub.audio(0).is_some_and(|a| a.packets_from(tag) >= 50)
        })
        .await;
        assert!(flowing, "audio did not flow:\n{}", sub.describe());
        let id = whip.participant.clone().expect("X-Diemcau-Participant");
        let mute_url = format!("{base}/rooms/{MEETING}/participants/{id}/mute");

        // Bad input: a clear error, nothing changes.
        for (body, want, code) in [
            ("{not json", 400, "bad_json"),
            (r#"{"audio":"yes"}"#, 422, "invalid"),
            (r#"{"audio":true,"volume":3}"#, 422, "invalid"),
            (r#"[true]"#, 422, "invalid"),
        ] {
            let (status, json) = post_json(&mute_url, body).await;
            assert_eq!(status, want, "mute body {body}: {json}");
            assert_eq!(json["error"]["code"], code, "{json}");
        }
        let unknown = format!("{base}/rooms/{MEETING}/participants/999999/mute");
        let (status, json) = post_json(&unknown, r#"{"audio":true}"#).await;
        assert_eq!(status, 404, "{json}");
        let stage_url = format!("{base}/rooms/{MEETING}/stage");
        let (status, json) = post_json(&stage_url, r#"{"participants":["999999"]}"#).await;
        assert_eq!(status, 422, "{json}");
        assert_eq!(json["error"]["code"], "not_in_room", "{json}");
        let before = sub.audio(0).unwrap().packets_from(tag);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            sub.audio(0).unwrap().packets_from(tag) > before + 20,
            "refused requests must not have muted anyone"
        );

        // The operator mutes the publisher's audio: it stops at the server.
        let (status, json) = post_json(&mute_url, r#"{"audio":true}"#).await;
        assert_eq!(status, 204, "{json}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let muted_at = sub.audio(0).unwrap().packets_from(tag);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            sub.audio(0).unwrap().packets_from(tag) <= muted_at + 2,
            "audio still forwarded after an operator mute"
        );
        let text = scrape_metrics(&srv.metrics_url())
            .await
            .expect("GET /metrics");
        assert!(
            metric_sums(&text)["diemcau_room_dropped_muted_total"] > 0.0,
            "{text}"
        );

        // Unmute: audio resumes.
        let (status, _) = post_json(&mute_url, r#"{"audio":false}"#).await;
        assert_eq!(status, 204);
        let resumed = wait_for(Duration::from_secs(5), || {
            sub.audio(0)
                .is_some_and(|a| a.packets_from(tag) > muted_at + 30)
        })
        .await;
        assert!(resumed, "audio did not resume after unmute");
        sub.close().await;
        publisher.close().await;
    });
}

/// Every join's media side is timed (`diemcau_join_answer_seconds`): one
/// WHIP join adds one observation, and the histogram's buckets are whole
/// (the `+Inf` bucket is the count).
#[test]
fn each_join_is_timed_from_the_driver_to_its_answer() {
    run_in_loopback_netns(async {
        let srv = server::start().await;
        let count = series_value;
        let before = scrape_metrics(&srv.metrics_url()).await.unwrap();
        let n0 = count(&before, "diemcau_join_answer_seconds_count ");
        let (_publisher, _whip) = whip_publisher(
            &srv.base_url(),
            MEETING,
            DEMO_TOKEN,
            "pub",
            PublishConfig::default(),
        )
        .await;
        let after = scrape_metrics(&srv.metrics_url()).await.unwrap();
        let n1 = count(&after, "diemcau_join_answer_seconds_count ");
        assert_eq!(n1, n0 + 1.0, "{after}");
        assert_eq!(
            count(&after, "diemcau_join_answer_seconds_bucket{le=\"+Inf\"} "),
            n1
        );
        assert!(count(&after, "diemcau_join_answer_seconds_sum ") > 0.0);
        srv.server.shutdown().await;
    });
}

/// Each media datagram is timed from the kernel's receipt to the end of
/// its worker's sends (`diemcau_media_transit_seconds`), and only media:
/// once the publisher has gone, the subscriber's RTCP and STUN add
/// nothing. Its first part (`…_wait_seconds`) is timed for the same
/// datagrams, before them.
#[test]
fn each_media_datagram_is_timed_from_the_kernel_to_its_send_and_nothing_else_is() {
    run_in_loopback_netns(async {
        let srv = server::start().await;
        let base = srv.base_url();
        let (publisher, _whip) =
            whip_publisher(&base, MEETING, DEMO_TOKEN, "pub", PublishConfig::default()).await;
        let (sub, _whep) = whep_subscriber(&base, MEETING, DEMO_TOKEN, "sub", 1, 1, None).await;
        let tag = publisher.publisher().source_tag;
        let ok = wait_for(Duration::from_secs(20), || {
            sub.video(0).is_some_and(|v| v.packets_from(tag) >= 30)
                && sub.audio(0).is_some_and(|a| a.packets_from(tag) >= 50)
        })
        .await;
        assert!(ok, "media did not flow:\n{}", sub.describe());
        let value = series_value;
        let text = scrape_metrics(&srv.metrics_url()).await.unwrap();
        let timed = value(&text, "diemcau_media_transit_seconds_count ");
        // Every packet the subscriber got came from a datagram timed.
        assert!(timed >= 80.0, "{text}");
        assert_eq!(
            value(&text, "diemcau_media_transit_seconds_bucket{le=\"+Inf\"} "),
            timed
        );
        assert!(value(&text, "diemcau_media_transit_seconds_sum ") > 0.0);
        // The wait is observed first, and the page reads it second.
        assert!(value(&text, "diemcau_media_transit_wait_seconds_count ") >= timed);

        publisher.close().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let quiet = scrape_metrics(&srv.metrics_url()).await.unwrap();
        let at_quiet = value(&quiet, "diemcau_media_transit_seconds_count ");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let later = scrape_metrics(&srv.metrics_url()).await.unwrap();
        assert_eq!(
            value(&later, "diemcau_media_transit_seconds_count "),
            at_quiet,
            "RTCP or STUN was timed as media"
        );
        sub.close().await;
        srv.server.shutdown().await;
    });
}

/// The value of one series (its name and labels, then a space) on a
/// `/metrics` page; panics with the page when it is missing.
fn series_value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("{series} missing:\n{text}"))
}
