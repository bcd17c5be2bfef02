//! Two Chromium rooms join while UDP to the media port is dropped (nftables
//! in the test's own namespace, as a commune's firewall would): ICE-TCP
//! carries their media, they see and hear each other, and the server marks
//! both links TCP.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::browser::{describe, room_url, sees_and_hears, stats};
use crate::support::browser::{ChromeDriver, artifacts_dir};
use crate::support::{netns, server};

/// ICE over UDP fails first (Chromium tries every pair), then TCP: seconds
/// on a loaded 2-core machine; 45 s only trips on a real failure.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(45);
const POLL_INTERVAL: Duration = Duration::from_millis(500);

fn nft(script: &str) {
    let out = Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("nft stdin")
                .write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .expect("run nft (package nftables)");
    assert!(
        out.status.success(),
        "nft -f failed: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Packets the drop rule has counted.
fn udp_dropped() -> u64 {
    let out = Command::new("nft")
        .args(["list", "chain", "inet", "diemcau_test", "input"])
        .output()
        .expect("nft list");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "packets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Chromium's selected pair (`stats().ice`) runs over TCP.
fn selected_pair_is_tcp(stats: &Value) -> bool {
    stats["ice"]["remote"]
        .as_str()
        .is_some_and(|r| r.ends_with(" tcp"))
}

#[test]
fn chromium_rooms_whose_udp_is_blocked_join_over_ice_tcp() {
    netns::enter_loopback_only();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(async {
            let server = server::start().await;
            let udp_port = server.media.port();
            let tcp = server.server.media_tcp_addrs()[0];
            // Only this namespace's loopback: the rule dies with the test.
            nft(&format!(
                "table inet diemcau_test {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n    udp dport {udp_port} counter drop\n  }}\n}}\n"
            ));
            let base = server.base_url();
            let driver = ChromeDriver::start().await;
            let hub = driver.new_session().await;
            let commune = driver.new_session().await;
            hub.navigate(&room_url(&base, server::DEMO_TOKEN, "Tỉnh ủy"))
                .await;
            commune
                .navigate(&room_url(&base, server::DEMO_TOKEN, "Xã Vùng Cao"))
                .await;

            let deadline = Instant::now() + MEDIA_TIMEOUT;
            let (mut hub_stats, mut commune_stats);
            loop {
                hub_stats = stats(&hub).await;
                commune_stats = stats(&commune).await;
                // Media flowing and each page's stats naming the pair in use
                // (a report can come before the transport names it).
                let known = |st: &Value| !st["ice"].is_null();
                if sees_and_hears(&hub_stats)
                    && sees_and_hears(&commune_stats)
                    && known(&hub_stats)
                    && known(&commune_stats)
                {
                    break;
                }
                if Instant::now() >= deadline {
                    let dir = artifacts_dir();
                    hub.screenshot(&dir.join("tcp-timeout-tinh-uy.png")).await;
                    commune
                        .screenshot(&dir.join("tcp-timeout-xa-vung-cao.png"))
                        .await;
                    panic!(
                        "after {MEDIA_TIMEOUT:?} with UDP dropped ({} datagrams), not both \
                         rooms decode stage video and receive audio over ICE-TCP ({tcp})\n{}\n{}",
                        udp_dropped(),
                        describe("Tỉnh ủy", &hub).await,
                        describe("Xã Vùng Cao", &commune).await,
                    );
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            }
            eprintln!("Tỉnh ủy: {hub_stats}\nXã Vùng Cao: {commune_stats}");
            for (label, st) in [("Tỉnh ủy", &hub_stats), ("Xã Vùng Cao", &commune_stats)] {
                assert!(
                    selected_pair_is_tcp(st),
                    "{label}'s selected candidate pair is not TCP: {}",
                    st["ice"]
                );
                let remote = st["ice"]["remote"].as_str().unwrap_or_default();
                assert!(
                    remote.starts_with(&format!("{}:{} ", tcp.ip(), tcp.port())),
                    "{label} reached {remote}, not the ICE-TCP port {tcp}"
                );
            }
            assert!(
                udp_dropped() > 0,
                "Chromium tried UDP first and the firewall dropped it"
            );

            // The server marks both links TCP (peer stats, each second).
            let metrics = reqwest::Client::new();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let text = metrics
                    .get(format!("{}/metrics", server.metrics_url()))
                    .send()
                    .await
                    .expect("metrics")
                    .text()
                    .await
                    .expect("metrics body");
                let on_tcp = text
                    .lines()
                    .filter(|l| l.starts_with("diemcau_participant_ice_tcp{") && l.ends_with(" 1"))
                    .count();
                if on_tcp == 2 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the server does not mark both links TCP:\n{}",
                    text.lines()
                        .filter(|l| l.contains("ice_tcp"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                tokio::time::sleep(POLL_INTERVAL).await;
            }

            let dir = artifacts_dir();
            hub.screenshot(&dir.join("tcp-tinh-uy.png")).await;
            commune.screenshot(&dir.join("tcp-xa-vung-cao.png")).await;
            hub.close().await;
            commune.close().await;
            drop(driver);
            drop(server);
        });
}

/// A planned room's own page (its endpoint token) in a live meeting whose
/// UDP is dropped: the operator's event stream marks its link "tcp" — what
/// the wall and the readiness board show.
#[test]
fn a_planned_room_over_ice_tcp_is_marked_tcp_in_the_operators_link_events() {
    crate::support::rtc_client::run_in_loopback_netns(crate::support::db::run_sqlite(
        |db| async move {
            let w = crate::support::api::world(db).await;
            let id = crate::recording::live_meeting(&w).await;
            let udp_port = w.srv.media.port();
            nft(&format!(
                "table inet diemcau_test {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n    udp dport {udp_port} counter drop\n  }}\n}}\n"
            ));
            let base = w.srv.base_url();
            let stream_url = format!(
                "{}/api/v1/meetings/{id}/live/events",
                base.replacen("http", "ws", 1)
            );
            let op_stream = crate::support::rtc_client::WsClient::connect_url(
                &stream_url,
                w.as_role("operator").bearer.as_deref(),
            )
            .await
            .expect("operator's event stream");
            let url = reqwest::Url::parse_with_params(
                &format!("{base}/room/{id}"),
                &[("token", w.province.endpoint_tokens["a"].as_str())],
            )
            .expect("room url")
            .to_string();
            let driver = ChromeDriver::start().await;
            let page = driver.new_session().await;
            page.navigate(&url).await;

            let a = w.endpoint("a").to_string();
            let deadline = Instant::now() + MEDIA_TIMEOUT;
            loop {
                let marked = op_stream.received().iter().any(|v| {
                    v["type"] == "link_stats"
                        && v["links"].as_array().is_some_and(|l| {
                            l.iter()
                                .any(|x| x["endpoint_id"] == a.as_str() && x["transport"] == "tcp")
                        })
                });
                if marked {
                    break;
                }
                if Instant::now() >= deadline {
                    let links: Vec<Value> = op_stream
                        .received()
                        .into_iter()
                        .filter(|v| v["type"] == "link_stats")
                        .collect();
                    panic!(
                        "room a's link is not marked tcp within {MEDIA_TIMEOUT:?} (UDP dropped: \
                         {}): {links:?}\n{}",
                        udp_dropped(),
                        describe("a", &page).await
                    );
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            }
            page.close().await;
            drop(driver);
        },
    ));
}
