//! Our G.722 against an independent implementation (ffmpeg's `g722`, from
//! libavcodec), bit for bit: a 16 kHz recording encoded by ffmpeg decodes
//! with ours to exactly the samples ffmpeg's decoder gives, and ours
//! encodes the same recording to exactly ffmpeg's octets.

use std::path::Path;
use std::process::Command;

use diemcau::sip::g722::{Decoder, Encoder};

/// Two seconds of speech-like sound at 16 kHz: a gliding voice with its
/// harmonics, syllables fading in and out, a hiss of noise, a click —
/// every band and every quantizer interval gets used.
fn speechlike() -> Vec<i16> {
    let mut seed = 12345u32;
    (0..32000)
        .map(|i| {
            let t = i as f32 / 16000.0;
            let f0 = 140.0 + 60.0 * (t * 3.0).sin();
            let envelope = (0.5 + 0.5 * (t * 2.0 * std::f32::consts::PI * 4.0).sin()).powi(2);
            let voice: f32 = (1..=12)
                .map(|h| (t * f0 * h as f32 * 2.0 * std::f32::consts::PI).sin() / h as f32)
                .sum();
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let noise = ((seed >> 16) as f32 / 32768.0 - 1.0) * 0.05;
            let click = if i % 8000 == 4000 { 0.8 } else { 0.0 };
            ((0.25 * envelope * voice + noise + click) * 20000.0).clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

fn ffmpeg(args: &[&str]) {
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg runs")
        .success();
    assert!(ok, "ffmpeg {args:?}");
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a utf-8 temp path")
}

#[test]
fn ffmpeg_s_g722_decodes_with_ours_and_ours_encodes_to_ffmpeg_s_octets_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let pcm = speechlike();
    let raw = tmp.path().join("in.s16");
    std::fs::write(
        &raw,
        pcm.iter()
            .flat_map(|s| s.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let coded = tmp.path().join("ffmpeg.g722");
    ffmpeg(&[
        "-f",
        "s16le",
        "-ar",
        "16000",
        "-ac",
        "1",
        "-i",
        path(&raw),
        "-c:a",
        "g722",
        "-f",
        "g722",
        path(&coded),
    ]);
    let decoded = tmp.path().join("ffmpeg.s16");
    ffmpeg(&[
        "-f",
        "g722",
        "-i",
        path(&coded),
        "-f",
        "s16le",
        "-ar",
        "16000",
        "-ac",
        "1",
        path(&decoded),
    ]);
    let theirs_octets = std::fs::read(&coded).unwrap();
    let theirs_pcm: Vec<i16> = std::fs::read(&decoded)
        .unwrap()
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(theirs_octets.len(), pcm.len() / 2, "64 kbit/s");

    let mut ours_pcm = Vec::new();
    Decoder::default().decode(&theirs_octets, &mut ours_pcm);
    assert_eq!(ours_pcm.len(), theirs_pcm.len());
    if let Some(i) = ours_pcm.iter().zip(&theirs_pcm).position(|(a, b)| a != b) {
        panic!(
            "decoders differ first at sample {i}: ours {:?}, ffmpeg's {:?}",
            &ours_pcm[i..(i + 8).min(ours_pcm.len())],
            &theirs_pcm[i..(i + 8).min(theirs_pcm.len())]
        );
    }

    let mut ours_octets = Vec::new();
    Encoder::default().encode(&pcm, &mut ours_octets);
    if let Some(i) = ours_octets
        .iter()
        .zip(&theirs_octets)
        .position(|(a, b)| a != b)
    {
        panic!(
            "encoders differ first at octet {i}: ours {:02x?}, ffmpeg's {:02x?}",
            &ours_octets[i..(i + 8).min(ours_octets.len())],
            &theirs_octets[i..(i + 8).min(theirs_octets.len())]
        );
    }
    assert_eq!(ours_octets.len(), theirs_octets.len());
}

/// A room codec that speaks only G.722 (baresip's `g722` module) dials
/// the meeting beside a G.711 one: each hears the other's tone, so G.722
/// goes both ways through the mix-minus.
#[test]
fn a_g722_baresip_room_hears_the_meeting_and_is_heard() {
    use std::time::Duration;

    use crate::support::baresip::{Options, frequency, frequency_at, rms};
    use crate::support::sip_meeting::{Dial, SipMeeting, runtime};

    crate::support::netns::enter_loopback_only();
    runtime().block_on(async {
        let m = SipMeeting::start().await;
        let start = |i: usize, hz: f32, module: &'static str| {
            let opts = Options {
                audio_module: Some(module),
                ..Default::default()
            };
            m.dial(
                i,
                Dial {
                    options: opts,
                    ..Dial::tone(hz)
                },
            )
        };
        let (mut wide, ew) = start(0, 440.0, "g722.so");
        let (mut narrow, en) = start(1, 880.0, "g711.so");
        m.wait_connected(&[&ew, &en]).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        let ((heard_w, rate_w), heard_n) = (wide.heard_at(), narrow.heard());
        let (log_w, log_n) = (wide.stop(), narrow.stop());
        assert!(
            log_w.contains("G722"),
            "the wide room's call is in G.722:\n{log_w}"
        );
        assert_eq!(rate_w, 16000, "it decodes at 16 kHz");
        let tail = |h: &[i16], n: usize| h[h.len().saturating_sub(n)..].to_vec();
        let (tw, tn) = (tail(&heard_w, 24_000), tail(&heard_n, 12_000));
        assert!(
            rms(&tw) > 1000.0 && rms(&tn) > 1000.0,
            "not silent: {} {}\n{log_w}\n{log_n}",
            rms(&tw),
            rms(&tn)
        );
        assert!(
            (frequency_at(&tw, rate_w) - 880.0).abs() < 40.0,
            "the g722 room hears the other: {} Hz",
            frequency_at(&tw, rate_w)
        );
        assert!(
            (frequency(&tn) - 440.0).abs() < 40.0,
            "and is heard: {} Hz",
            frequency(&tn)
        );
        m.shutdown().await;
    });
}
