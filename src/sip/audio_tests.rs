use super::*;

#[test]
fn g711_round_trips_within_its_quantisation() {
    for i in -100..=100 {
        let x = i as f32 / 110.0;
        let u = ulaw_decode(ulaw_encode(x));
        let a = alaw_decode(alaw_encode(x));
        let tol = 0.002 + x.abs() * 0.07;
        assert!((u - x).abs() <= tol, "µ-law {x} -> {u}");
        assert!((a - x).abs() <= tol, "A-law {x} -> {a}");
    }
    assert_eq!(ulaw_encode(0.0), 0xff);
    assert_eq!(alaw_encode(0.0), 0xd5);
}

fn tone_8k(n: usize, amp: f32) -> Vec<u8> {
    (0..n)
        .map(|i| ulaw_encode(amp * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 8000.0).sin()))
        .collect()
}

#[test]
fn a_g711_tone_goes_up_as_opus_frames_with_its_level() {
    let mut up = Up::new(AudioCodec::Pcmu).unwrap();
    let mut frames = Vec::new();
    for chunk in tone_8k(8 * FRAME_8K, 0.5).chunks(FRAME_8K) {
        frames.extend(up.push(chunk));
    }
    // 8 × 20 ms of 8 kHz in, 8 frames of 20 ms out (less the last partial).
    assert!(frames.len() >= 7, "{}", frames.len());
    // A 0.5 sine: rms 0.354 → about 9 dBov.
    assert!(
        frames.iter().skip(1).all(|f| (8..=10).contains(&f.level)),
        "{frames:?}"
    );
    up.push(&[0xff; FRAME_8K]); // eases out of the tone
    let silence = up.push(&[0xff; FRAME_8K]);
    assert_eq!(silence.len(), 1);
    assert_eq!(silence[0].level, 127, "digital silence");
}

#[test]
fn the_mix_minus_sums_the_slots_limits_them_and_plays_silence_when_none_speaks() {
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let tone: Vec<f32> = (0..FRAME_48K)
        .map(|i| 0.8 * (i as f32 * 2.0 * std::f32::consts::PI * 300.0 / 48000.0).sin())
        .collect();
    let mut down = Down::new(AudioCodec::Pcmu, 3).unwrap();
    assert_eq!(down.mix(), vec![0xff; FRAME_8K], "silence is µ-law 0xff");
    for _ in 0..5 {
        let p = enc.encode_vec_float(&tone, 1500).unwrap();
        down.push(0, &p);
        down.push(1, &p);
    }
    let mut loudest = 0.0f32;
    for _ in 0..3 {
        let out = down.mix();
        assert_eq!(out.len(), FRAME_8K);
        loudest = out
            .iter()
            .map(|b| ulaw_decode(*b).abs())
            .fold(loudest, f32::max);
    }
    // Two 0.8 tones would reach 1.6: the limiter holds them at 0.9.
    assert!(loudest > 0.3 && loudest <= 0.95, "{loudest}");
    // Queues are bounded: at most 3 frames per slot were kept.
    let after: Vec<Vec<u8>> = (0..3).map(|_| down.mix()).collect();
    assert!(after.iter().all(|f| f == &vec![0xff; FRAME_8K]) || after.len() == 3);
    down.push(7, &[1, 2, 3]); // no such slot: ignored
}

#[test]
fn a_g722_tone_goes_up_as_opus_and_the_mix_goes_down_as_160_octets_a_frame() {
    let pcm: Vec<i16> = (0..8 * FRAME_16K)
        .map(|i| (16000.0 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 16000.0).sin()) as i16)
        .collect();
    let mut bytes = Vec::new();
    crate::sip::g722::Encoder::default().encode(&pcm, &mut bytes);
    let mut up = Up::new(AudioCodec::G722).unwrap();
    let mut frames = Vec::new();
    for chunk in bytes.chunks(FRAME_8K) {
        frames.extend(up.push(chunk));
    }
    assert!(frames.len() >= 7, "{}", frames.len());
    // A 0.49 sine: about 9 dBov, as the G.711 tone.
    assert!(
        frames.iter().skip(1).all(|f| (8..=10).contains(&f.level)),
        "{frames:?}"
    );
    let mut down = Down::new(AudioCodec::G722, 3).unwrap();
    assert_eq!(down.mix().len(), FRAME_8K);
    assert_eq!(down.ts_step(), FRAME_8K as u32, "RTP clock 8000");
}
