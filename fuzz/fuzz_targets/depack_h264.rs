//! The H264 depacketizer reads RTP payloads straight from publishers; then
//! the whole track recorder (jitter buffer, clock, Matroska writer) runs on
//! the same packets. Nothing may panic or grow without bound.
#![no_main]
use diemcau::record::{
    Codec, Depacketizer, H264Depacketizer, RtpPacket, TrackOptions, TrackRecorder,
};

/// Splits the input into packets: [flags][len][payload…] repeated. Flags
/// pick the marker, a sequence skip or step back and a timestamp change.
fn packets(data: &[u8]) -> Vec<(u16, u32, bool, &[u8])> {
    let (mut seq, mut ts, mut i) = (65_530u16, u32::MAX - 3_000, 0);
    let mut out = Vec::new();
    while i + 2 <= data.len() {
        let (flags, len) = (data[i], data[i + 1] as usize);
        i += 2;
        let payload = &data[i..(i + len).min(data.len())];
        i += payload.len();
        seq = match flags & 0x06 {
            0x02 => seq.wrapping_add(2),
            0x04 => seq.wrapping_sub(1),
            _ => seq.wrapping_add(1),
        };
        if flags & 0x08 != 0 {
            ts = ts.wrapping_add(u32::from(flags >> 4) * 1_500);
        }
        out.push((seq, ts, flags & 0x01 != 0, payload));
    }
    out
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let pkts = packets(data);
    let mut d = H264Depacketizer::new();
    for &(seq, timestamp, marker, payload) in &pkts {
        let pkt = RtpPacket {
            seq,
            timestamp,
            marker,
            payload,
        };
        // The SPS parser (picture size) also reads sender bytes.
        let _ = diemcau::media::codec::h264::sps_size(payload);
        if let Some(f) = d.push(&pkt) {
            assert!(f.data.len() <= diemcau::record::MAX_FRAME_BYTES);
        }
    }
    let _ = (d.avc_config(), d.video_size());
    let opts = TrackOptions {
        jitter_packets: 8,
        ..TrackOptions::default()
    };
    let mut rec = TrackRecorder::new(Codec::H264, Vec::new(), opts).expect("Vec sink");
    for (n, &(seq, timestamp, marker, payload)) in pkts.iter().enumerate() {
        let pkt = RtpPacket {
            seq,
            timestamp,
            marker,
            payload,
        };
        rec.push_rtp(n as u64 * 10, &pkt).expect("Vec sink");
    }
    let _ = rec.finish().expect("Vec sink");
});
