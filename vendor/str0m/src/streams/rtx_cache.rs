use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use crate::io::DATAGRAM_MAX_PACKET_SIZE;
use crate::packet::Vp8Patch;
use crate::rtp_::{ExtensionValues, MediaTime, Mid, Pt, Rid, RtpHeader, SeqNo, Ssrc};
use crate::rtp_::{UserExtensionValues, VideoOrientation};

use super::RtpPacket;
use super::rtx_cache_buf::EvictingBuffer;

/// PATCH(diemcau rtx-slim): a sent packet as the RTX cache keeps it.
///
/// A whole `RtpPacket` is ~400 bytes, 288 of them its parsed header (15
/// CSRC slots, every extension value). A forwarding server keeps a second
/// or more of them per subscriber and stream; the payload is shared, so
/// the headers were most of a subscriber's memory. This keeps the header
/// fields a resend writes, the CSRCs and the rarer extension values only
/// when present (boxed), and rebuilds an `RtpPacket` for the rare resend.
#[derive(Debug)]
pub(crate) struct CachedPacket {
    pub seq_no: SeqNo,
    time: MediaTime,
    pub payload: Arc<[u8]>,
    vp8_patch: Option<Vp8Patch>,
    timestamp: Instant,
    payload_type: Pt,
    marker: bool,
    has_padding: bool,
    has_extension: bool,
    csrc_count: u8,
    sequence_number: u16,
    rtp_time: u32,
    ssrc: Ssrc,
    csrc: Option<Box<[u32; 15]>>,
    ext: CachedExt,
}

/// The extension values a sent packet carries: the common ones inline,
/// anything else (rare for forwarded media) as the whole set, boxed.
#[derive(Debug)]
enum CachedExt {
    Common {
        audio_level: Option<i8>,
        voice_activity: Option<bool>,
        video_orientation: Option<VideoOrientation>,
        mid: Option<Mid>,
        rid: Option<Rid>,
    },
    Full(Box<ExtensionValues>),
}

impl CachedExt {
    fn new(e: ExtensionValues) -> CachedExt {
        // Exhaustive on purpose: a field added upstream must be placed here.
        let ExtensionValues {
            audio_level,
            voice_activity,
            video_orientation,
            video_content_type,
            tx_time_offs,
            abs_send_time,
            abs_capture_time,
            transport_cc,
            play_delay_min,
            play_delay_max,
            video_timing,
            rid,
            rid_repair,
            mid,
            frame_mark,
            user_values,
        } = &e;
        let rare = video_content_type.is_some()
            || tx_time_offs.is_some()
            || abs_send_time.is_some()
            || abs_capture_time.is_some()
            || transport_cc.is_some()
            || play_delay_min.is_some()
            || play_delay_max.is_some()
            || video_timing.is_some()
            || rid_repair.is_some()
            || frame_mark.is_some()
            || *user_values != UserExtensionValues::default();
        if rare {
            return CachedExt::Full(Box::new(e));
        }
        CachedExt::Common {
            audio_level: *audio_level,
            voice_activity: *voice_activity,
            video_orientation: *video_orientation,
            mid: *mid,
            rid: *rid,
        }
    }

    fn values(&self) -> ExtensionValues {
        match self {
            CachedExt::Common {
                audio_level,
                voice_activity,
                video_orientation,
                mid,
                rid,
            } => ExtensionValues {
                audio_level: *audio_level,
                voice_activity: *voice_activity,
                video_orientation: *video_orientation,
                mid: *mid,
                rid: *rid,
                ..Default::default()
            },
            CachedExt::Full(e) => (**e).clone(),
        }
    }
}

impl CachedPacket {
    fn new(packet: RtpPacket) -> CachedPacket {
        let RtpPacket {
            seq_no,
            time,
            header,
            payload,
            vp8_patch,
            timestamp,
            last_sender_info: _,
            nackable: _,
        } = packet;
        let csrc_count = header.csrc_count.min(15);
        CachedPacket {
            seq_no,
            time,
            payload,
            vp8_patch,
            timestamp,
            payload_type: header.payload_type,
            marker: header.marker,
            has_padding: header.has_padding,
            has_extension: header.has_extension,
            csrc_count: csrc_count as u8,
            sequence_number: header.sequence_number,
            rtp_time: header.timestamp,
            ssrc: header.ssrc,
            csrc: (csrc_count > 0).then(|| Box::new(header.csrc)),
            ext: CachedExt::new(header.ext_vals),
        }
    }

    /// Rebuild the sent packet in `out` (a stream's scratch packet), for
    /// a resend.
    pub fn restore_into(&self, out: &mut RtpPacket) {
        out.seq_no = self.seq_no;
        out.time = self.time;
        out.header = RtpHeader {
            has_padding: self.has_padding,
            has_extension: self.has_extension,
            csrc_count: usize::from(self.csrc_count),
            marker: self.marker,
            payload_type: self.payload_type,
            sequence_number: self.sequence_number,
            timestamp: self.rtp_time,
            ssrc: self.ssrc,
            csrc: self.csrc.as_deref().copied().unwrap_or([0; 15]),
            ext_vals: self.ext.values(),
            ..Default::default()
        };
        out.payload = self.payload.clone();
        out.vp8_patch = self.vp8_patch;
        out.timestamp = self.timestamp;
        out.last_sender_info = None;
        out.nackable = true;
    }
}

const RTX_CACHE_SIZE_QUANTIZER: usize = 25;
const RTX_CACHE_QUANTIZE_SLOTS: usize = DATAGRAM_MAX_PACKET_SIZE / RTX_CACHE_SIZE_QUANTIZER;

#[derive(Debug)]
pub(crate) struct RtxCache {
    // Data, new additions here probably need to be cleared in [`clear`].
    packet_by_seq_no: EvictingBuffer<CachedPacket>,

    // Technically we want [Option<SeqNo>; X] to indicate the absence of
    // a SeqNo. However We can half the storage space by using the sentinel
    // values SeqNo::MAX to indicate None
    seq_no_by_quantized_size: [SeqNo; RTX_CACHE_QUANTIZE_SLOTS],
}

impl RtxCache {
    pub fn new(max_packet_count: usize, max_packet_age: Duration) -> Self {
        Self {
            packet_by_seq_no: EvictingBuffer::new(10, max_packet_age, max_packet_count),
            seq_no_by_quantized_size: [SeqNo::MAX; RTX_CACHE_QUANTIZE_SLOTS],
        }
    }

    pub fn cache_sent_packet(&mut self, packet: RtpPacket, now: Instant) {
        assert!(packet.nackable);
        let seq_no = packet.seq_no;
        let quantized_size = packet.payload.len() / RTX_CACHE_SIZE_QUANTIZER;
        self.packet_by_seq_no
            .push(*seq_no, now, CachedPacket::new(packet));
        self.seq_no_by_quantized_size[quantized_size] = seq_no;
        self.remove_old_packets(now);
    }

    pub fn last_cached_seq_no(&self) -> Option<SeqNo> {
        Some(self.packet_by_seq_no.last_position()?.into())
    }

    pub fn get_cached_packet_by_seq_no(&mut self, seq_no: SeqNo) -> Option<&mut CachedPacket> {
        self.packet_by_seq_no.get_mut(*seq_no)
    }

    pub fn get_cached_packet_smaller_than(&mut self, max_size: usize) -> Option<&mut CachedPacket> {
        let quantized_size = max_size / RTX_CACHE_SIZE_QUANTIZER;

        let seq_no = self.seq_no_by_quantized_size[..quantized_size]
            .iter()
            .rev()
            .filter(|seq_no| !seq_no.is_max())
            .find(|seq_no| self.packet_by_seq_no.contains(***seq_no))?;

        self.get_cached_packet_by_seq_no(*seq_no)
    }

    fn remove_old_packets(&mut self, now: Instant) {
        self.packet_by_seq_no.maybe_evict(now);
    }

    pub(crate) fn last_packet(&self) -> Option<&[u8]> {
        let packet = self.packet_by_seq_no.last()?;
        Some(packet.payload.as_ref())
    }

    pub(crate) fn clear(&mut self) {
        self.packet_by_seq_no.clear();
        self.seq_no_by_quantized_size = [SeqNo::MAX; RTX_CACHE_QUANTIZE_SLOTS];
    }
}

#[cfg(test)]
mod test {
    use crate::rtp_::MediaTime;
    use crate::rtp_::RtpHeader;

    use super::*;

    fn after(now: Instant, millis: u64) -> Instant {
        now + Duration::from_millis(millis)
    }

    fn packet(now: Instant, seq_no: u64, millis: u64) -> RtpPacket {
        RtpPacket {
            header: RtpHeader::default(),
            seq_no: seq_no.into(),
            time: MediaTime::from_90khz(0),
            payload: millis.to_be_bytes().into(),
            vp8_patch: None,
            timestamp: after(now, millis),
            last_sender_info: None,
            nackable: true,
        }
    }

    // PATCH(diemcau rtx-slim): the cache keeps a slim copy; a test reads
    // back the packet a resend would rebuild from it.
    fn got(c: Option<&mut CachedPacket>) -> Option<RtpPacket> {
        c.map(|c| {
            let mut p = packet(Instant::now(), 0, 0);
            c.restore_into(&mut p);
            p
        })
    }

    #[test]
    fn rtx_cache_0_sized() {
        let now = Instant::now();
        let mut rtx_cache = RtxCache::new(0, Duration::from_secs(3));
        rtx_cache.cache_sent_packet(packet(now, 1, 10), after(now, 10));
        assert_eq!(
            Some(packet(now, 1, 10)),
            got(rtx_cache.get_cached_packet_by_seq_no(1.into()))
        );
        assert_eq!(
            Some(packet(now, 1, 10)),
            got(rtx_cache.get_cached_packet_smaller_than(1000))
        );
    }

    #[test]
    fn rtx_cache_0_duration() {
        let now = Instant::now();
        let mut rtx_cache = RtxCache::new(10, Duration::from_secs(0));
        rtx_cache.cache_sent_packet(packet(now, 1, 10), after(now, 10));
        assert_eq!(None, got(rtx_cache.get_cached_packet_by_seq_no(1.into())));
        assert_eq!(None, got(rtx_cache.get_cached_packet_smaller_than(1000)));
    }

    #[test]
    fn rtx_cache_1_sized() {
        let now = Instant::now();
        let mut rtx_cache = RtxCache::new(1, Duration::from_secs(3));
        rtx_cache.cache_sent_packet(packet(now, 1, 10), after(now, 10));
        assert_eq!(
            Some(packet(now, 1, 10)),
            got(rtx_cache.get_cached_packet_by_seq_no(1.into()))
        );
        assert_eq!(
            Some(packet(now, 1, 10)),
            got(rtx_cache.get_cached_packet_smaller_than(1000))
        );
        assert_eq!(
            Some(packet(now, 1, 10)),
            got(rtx_cache.get_cached_packet_smaller_than(25))
        );
        assert_eq!(None, got(rtx_cache.get_cached_packet_smaller_than(24)));
        rtx_cache.cache_sent_packet(packet(now, 2, 20), after(now, 20));
        assert_eq!(
            Some(packet(now, 2, 20)),
            got(rtx_cache.get_cached_packet_by_seq_no(2.into()))
        );
    }

    #[test]
    fn rtx_cache_100_sized_backwards() {
        let now = Instant::now();
        let mut rtx_cache = RtxCache::new(100, Duration::from_secs(3));

        for i in 1..=200 {
            let seq_no = 201 - i;
            let pkt = packet(now, seq_no, (201 - i) * 10);
            let now = after(now, i * 10);
            rtx_cache.cache_sent_packet(pkt, now);
        }

        assert_eq!(
            Some(packet(now, 200, 2000)),
            got(rtx_cache.get_cached_packet_by_seq_no(200.into()))
        );
        assert_eq!(None, got(rtx_cache.get_cached_packet_by_seq_no(100.into())));
        assert_eq!(None, got(rtx_cache.get_cached_packet_by_seq_no(101.into())));
    }

    #[test]
    fn rtx_cache_eviction() {
        let now = Instant::now();
        // Cache can take all entries
        let mut rtx_cache = RtxCache::new(400, Duration::from_secs(1));
        for i in 1..=200 {
            let seq_no = i;
            let pkt = packet(now, seq_no, i * 10);
            let now = after(now, i * 10);
            rtx_cache.cache_sent_packet(pkt, now);
        }

        assert_eq!(None, got(rtx_cache.get_cached_packet_by_seq_no(99.into())));

        assert_eq!(
            Some(packet(now, 100, 1000)),
            got(rtx_cache.get_cached_packet_by_seq_no(100.into()))
        );
        assert_eq!(
            Some(packet(now, 200, 2000)),
            got(rtx_cache.get_cached_packet_by_seq_no(200.into()))
        );
    }
}
