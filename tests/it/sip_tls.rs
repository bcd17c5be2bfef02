//! SIP over TLS with SDES-keyed SRTP (issue 17): a baresip room codec that
//! insists on SRTP (`mediaenc=srtp-mand`) dials the meeting over TLS,
//! trusting the server's generated CA; it is heard, hears the meeting, and
//! its H.264, staged, reaches another room and decodes. RTP/SAVP offered
//! over plain UDP is refused (488, a Warning saying why, counted) unless
//! the operator allows it for a trusted network.

use std::sync::atomic::Ordering;
use std::time::Duration;

use diemcau::sip::srtp::MasterKey;

use crate::support::baresip::{Options, decoded_fps, frequency, rms, video_rx_bps};
use crate::support::netns;
use crate::support::sip_meeting::{Dial, SipMeeting, Transport, runtime};
use crate::support::sip_raw::{ask, authorization, client, code, invite};

/// Media both ways once both rooms are in: the composite's start, the
/// first keyframes, the mix, on a loaded 2-core machine.
const MEDIA_TIMEOUT: Duration = Duration::from_secs(20);

#[test]
fn a_baresip_room_over_tls_with_mandatory_srtp_hears_is_heard_and_its_video_reaches_another_room() {
    netns::enter_loopback_only();
    runtime().block_on(async {
        let meeting = SipMeeting::start_with(|c| {
            c.sip.tls_listen = Some("127.0.0.1:0".parse().unwrap());
        })
        .await;
        // Room 1: TLS signalling (trusting the generated CA), SRTP media,
        // video. Room 2: plain UDP.
        let secure = Dial {
            transport: Transport::Tls,
            options: Options {
                video: true,
                srtp: true,
                ..Default::default()
            },
            ..Dial::tone(440.0)
        };
        let (mut a, ea) = meeting.dial(1, secure);
        let plain = Dial {
            options: Options {
                video: true,
                ..Default::default()
            },
            ..Dial::tone(880.0)
        };
        let (mut b, eb) = meeting.dial(2, plain);
        meeting.wait_connected(&[&ea, &eb]).await;
        meeting.stage(&ea).await;
        // Until each hears the other's tone and the udp room decodes the
        // tls room's video (what is asserted below), not a fixed time: on
        // a loaded machine the composite and the mix may take longer.
        let tail = |h: &[i16]| h[h.len().saturating_sub(12_000)..].to_vec();
        let deadline = std::time::Instant::now() + MEDIA_TIMEOUT;
        let mut seen_b = String::new();
        while std::time::Instant::now() < deadline {
            let (ta, tb) = (tail(&a.heard()), tail(&b.heard()));
            // Its status line as it is now: what it receives and decodes.
            seen_b = b.log();
            if ta.len() == 12_000
                && tb.len() == 12_000
                && (frequency(&ta) - 880.0).abs() < 40.0
                && (frequency(&tb) - 440.0).abs() < 40.0
                && video_rx_bps(&seen_b) > 0
                && decoded_fps(&seen_b) > 5.0
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let (heard_a, heard_b) = (a.heard(), b.heard());
        let (log_a, log_b) = (a.stop(), b.stop());
        let (ta, tb) = (tail(&heard_a), tail(&heard_b));
        assert!(
            rms(&ta) > 1000.0 && rms(&tb) > 1000.0,
            "not silent: {} {}\n{log_a}\n{log_b}",
            rms(&ta),
            rms(&tb)
        );
        // Through SRTP both ways: each hears the other's tone.
        assert!(
            (frequency(&ta) - 880.0).abs() < 40.0,
            "tls room hears: {} Hz",
            frequency(&ta)
        );
        assert!(
            (frequency(&tb) - 440.0).abs() < 40.0,
            "udp room hears: {} Hz",
            frequency(&tb)
        );
        assert!(
            video_rx_bps(&seen_b) > 0,
            "the tls room's video arrives\n{log_b}"
        );
        assert!(
            decoded_fps(&seen_b) > 5.0,
            "and decodes: {} fps",
            decoded_fps(&seen_b)
        );
        let m = meeting.s.server.sip_metrics().unwrap();
        assert_eq!(m.calls_started.load(Ordering::Relaxed), 2);
        assert_eq!(m.refused_sdes_insecure.load(Ordering::Relaxed), 0);
        assert_eq!(
            m.srtp_auth_failed.load(Ordering::Relaxed),
            0,
            "every sealed packet opened"
        );
        meeting.shutdown().await;
    });
}

fn savp_offer() -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio 40000 RTP/SAVP 0\r\n\
         a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\n",
        MasterKey::random().to_inline()
    )
}

/// Our INVITE with `sdp`, answered after the digest challenge.
fn invite_with_auth(
    sock: &std::net::UdpSocket,
    to: std::net::SocketAddr,
    number: &str,
    user: &str,
    password: &str,
    call: &str,
    sdp: &str,
) -> Option<diemcau::sip::message::Message> {
    let challenge = ask(sock, to, &invite(number, to, user, call, 1, "", sdp)).expect("401");
    let uri = format!("sip:{number}@{to}");
    let auth = authorization(&challenge, user, password, &uri);
    ask(sock, to, &invite(number, to, user, call, 2, &auth, sdp))
}

#[test]
fn an_rtp_savp_offer_over_plain_udp_is_refused_488_unless_the_network_is_trusted() {
    netns::enter_loopback_only();
    runtime().block_on(async {
        let SipMeeting { s, p, .. } = SipMeeting::start().await;
        let to = s.server.sip_udp_addr().unwrap();
        let number = p.sip_dial_in.clone().unwrap();
        let (user, password) = p.rooms[0].sip.clone().unwrap();
        let sock = client("127.0.0.1");
        let r = invite_with_auth(&sock, to, &number, &user, &password, "savp1", &savp_offer());
        assert_eq!(code(&r), 488);
        let warning = r
            .as_ref()
            .and_then(|m| m.header("warning"))
            .unwrap_or_default();
        assert!(warning.contains("only over TLS"), "{warning}");
        // A key that does not parse is refused the same way.
        let bad = savp_offer().replace("inline:", "inline:!!");
        let r = invite_with_auth(&sock, to, &number, &user, &password, "savp2", &bad);
        assert_eq!(code(&r), 488);
        let m = s.server.sip_metrics().unwrap();
        assert_eq!(m.refused_sdes_insecure.load(Ordering::Relaxed), 1);
        assert_eq!(m.refused_bad_key.load(Ordering::Relaxed), 1);
        assert_eq!(m.calls_started.load(Ordering::Relaxed), 0, "nothing joined");
        // Counted in /metrics, and audited on the meeting.
        let text = reqwest::get(format!("{}/metrics", s.metrics_url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            text.contains("diemcau_sip_refused_sdes_insecure_total 1"),
            "{text}"
        );
        let store = s.server.state().store.clone();
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'sip.call_refused'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(n, 2);
        s.server.shutdown().await;

        let SipMeeting { s, p, .. } =
            SipMeeting::start_with(|c| c.sip.allow_sdes_without_tls = true).await;
        let to = s.server.sip_udp_addr().unwrap();
        let number = p.sip_dial_in.clone().unwrap();
        let (user, password) = p.rooms[0].sip.clone().unwrap();
        let r = invite_with_auth(&sock, to, &number, &user, &password, "savp3", &savp_offer());
        assert_eq!(code(&r), 200);
        let body = String::from_utf8(r.unwrap().body).unwrap();
        assert!(
            body.contains("RTP/SAVP")
                && body.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
            "{body}"
        );
        s.server.shutdown().await;
    });
}
