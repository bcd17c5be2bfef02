//! Interop with an independent WebRTC stack (webrtc-rs 0.21) over real UDP
//! on loopback: simulcast publish, layer switching, loss recovery,
//! WebSocket rooms and bad signalling; one file per concern
//! (`self_check`: the client against itself, `simulcast`, `rooms`).
//!
//! Every test enters its own loopback-only network namespace first
//! (`run_in_loopback_netns`), then boots the real server on port 0.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::rtc_client::{
    ClientConfig, LayerSpec, LossConfig, LossRelay, PublishConfig, RtcClient, WsClient,
    default_layers, first_udp_candidate, post_sdp, rewrite_candidates, run_in_loopback_netns,
    unwrap_seqs, wait_for, whep_subscriber, whip_publisher, ws_join,
};
use crate::support::server::{self, DEMO_TOKEN};

const MEETING: &str = "demo";

mod rooms;
mod self_check;
mod simulcast;

/// The default publisher config with a chosen audio level.
fn publish(level: u8) -> PublishConfig {
    PublishConfig {
        audio_level: level,
        ..Default::default()
    }
}
