//! The live stream's HLS side, pure: samples in, fMP4 segments cut at
//! video keyframes, a sliding window of the last few kept for the players,
//! the playlist written from it. The HTTP handler only reads: every viewer
//! shares the same `Bytes`, so a slow viewer holds one segment, never a
//! queue of its own.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::fmp4::{self, Run, Sample};

/// Segments kept (and listed): a player joining late starts three from
/// the end (≈ 6 s behind live with 2 s segments); older ones are dropped.
pub const WINDOW: usize = 6;

/// Bytes of segments alive in this process: in a window, or still being
/// sent to a viewer after the window dropped them. What a slow viewer can
/// cost is one segment for as long as it reads; this gauge (in /metrics)
/// is how the soak test sees that it stays bounded.
static SEGMENT_BYTES_HELD: AtomicU64 = AtomicU64::new(0);

pub fn segment_bytes_held() -> u64 {
    SEGMENT_BYTES_HELD.load(Ordering::Relaxed)
}

/// A segment's bytes, counted in [`SEGMENT_BYTES_HELD`] until the last
/// `Bytes` sharing them is dropped.
struct Held(Vec<u8>);

impl Held {
    fn bytes(data: Vec<u8>) -> Bytes {
        SEGMENT_BYTES_HELD.fetch_add(data.len() as u64, Ordering::Relaxed);
        Bytes::from_owner(Held(data))
    }
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        SEGMENT_BYTES_HELD.fetch_sub(self.0.len() as u64, Ordering::Relaxed);
    }
}

pub struct Segment {
    pub sequence: u64,
    pub duration_s: f64,
    /// Wall-clock time its first picture was composed, ms since the Unix
    /// epoch: the playlist's `EXT-X-PROGRAM-DATE-TIME`, so a player (and
    /// the soak test) can tell how far behind live it plays.
    pub program_ms: u64,
    pub data: Bytes,
}

/// Segments of one output, ready to serve.
#[derive(Default)]
pub struct Stream {
    pub init: Option<Bytes>,
    pub segments: VecDeque<Segment>,
    /// The segment length aimed at, seconds (a segment closes at the first
    /// keyframe after it).
    pub target_s: u32,
    /// Set when the output stopped: players see the playlist end.
    pub ended: bool,
}

impl Stream {
    pub fn new(target_s: u32) -> Stream {
        Stream {
            target_s,
            ..Default::default()
        }
    }

    /// The media playlist (RFC 8216, version 7 for fMP4).
    pub fn playlist(&self) -> String {
        let longest = self
            .segments
            .iter()
            .map(|s| s.duration_s.ceil() as u32)
            .max()
            .unwrap_or(self.target_s)
            .max(self.target_s);
        let first = self.segments.front().map_or(0, |s| s.sequence);
        let mut p = format!(
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{longest}\n\
             #EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-MAP:URI=\"init.mp4\"\n"
        );
        for s in &self.segments {
            p.push_str(&format!(
                "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:{:.3},\n{}.m4s\n",
                program_date_time(s.program_ms),
                s.duration_s,
                s.sequence
            ));
        }
        if self.ended {
            p.push_str("#EXT-X-ENDLIST\n");
        }
        p
    }

    pub fn segment(&self, sequence: u64) -> Option<Bytes> {
        self.segments
            .iter()
            .find(|s| s.sequence == sequence)
            .map(|s| s.data.clone())
    }

    fn push(&mut self, s: Segment) {
        self.segments.push_back(s);
        while self.segments.len() > WINDOW {
            self.segments.pop_front();
        }
    }
}

/// `ms` since the epoch as ISO 8601 in UTC with milliseconds (RFC 8216
/// §4.3.2.6).
fn program_date_time(ms: u64) -> String {
    let t = time::OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(ms as i64);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Builds segments from encoded samples.
pub struct Segmenter {
    video: Vec<Sample>,
    audio: Vec<Sample>,
    /// Decode time of the open segment's first sample, per track.
    video_base: u64,
    audio_base: u64,
    video_time: u64,
    audio_time: u64,
    sequence: u64,
    target_s: u32,
    /// Wall clock of the open segment's first picture.
    open_ms: u64,
}

impl Segmenter {
    pub fn new(target_s: u32) -> Segmenter {
        Segmenter {
            video: Vec::new(),
            audio: Vec::new(),
            video_base: 0,
            audio_base: 0,
            video_time: 0,
            audio_time: 0,
            sequence: 0,
            target_s,
            open_ms: 0,
        }
    }

    fn open_video_s(&self) -> f64 {
        (self.video_time - self.video_base) as f64 / f64::from(fmp4::VIDEO_TIMESCALE)
    }

    /// One encoded picture lasting `duration` (90 kHz), composed at
    /// `wall_ms` (ms since the epoch). A keyframe after the target length
    /// closes the open segment first, so every segment starts with one.
    pub fn video(
        &mut self,
        data: Vec<u8>,
        duration: u32,
        keyframe: bool,
        wall_ms: u64,
    ) -> Option<Segment> {
        let cut = if keyframe
            && !self.video.is_empty()
            && self.open_video_s() >= f64::from(self.target_s)
        {
            self.cut()
        } else {
            None
        };
        if self.video.is_empty() && !keyframe {
            // Nothing decodable before the first keyframe.
            self.video_base += u64::from(duration);
            self.video_time += u64::from(duration);
            return cut;
        }
        if self.video.is_empty() {
            self.open_ms = wall_ms;
        }
        self.video.push(Sample {
            data,
            duration,
            sync: keyframe,
        });
        self.video_time += u64::from(duration);
        cut
    }

    /// One Opus frame lasting `duration` (48 kHz).
    pub fn audio(&mut self, data: Vec<u8>, duration: u32) {
        self.audio.push(Sample {
            data,
            duration,
            sync: true,
        });
        self.audio_time += u64::from(duration);
    }

    fn cut(&mut self) -> Option<Segment> {
        let duration_s = self.open_video_s();
        let video = std::mem::take(&mut self.video);
        let audio = std::mem::take(&mut self.audio);
        let mut runs = vec![Run {
            track: fmp4::VIDEO_TRACK,
            base_time: self.video_base,
            samples: &video,
        }];
        if !audio.is_empty() {
            runs.push(Run {
                track: fmp4::AUDIO_TRACK,
                base_time: self.audio_base,
                samples: &audio,
            });
        }
        let data = fmp4::media_segment((self.sequence as u32).wrapping_add(1), &runs);
        let s = Segment {
            sequence: self.sequence,
            duration_s,
            program_ms: self.open_ms,
            data: Held::bytes(data),
        };
        self.sequence += 1;
        self.video_base = self.video_time;
        self.audio_base = self.audio_time;
        Some(s)
    }

    /// Close the open segment (the output stops).
    pub fn finish(&mut self) -> Option<Segment> {
        if self.video.is_empty() {
            return None;
        }
        self.cut()
    }
}

/// Add a segment to a stream (the service's one write path).
pub fn publish(stream: &mut Stream, s: Segment) {
    stream.push(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_start_on_keyframes_after_the_target_length_and_the_window_slides() {
        let mut seg = Segmenter::new(2);
        let mut stream = Stream::new(2);
        // 15 fps, a keyframe every second: segments of 2 s.
        for i in 0..15 * 20 {
            seg.audio(vec![0; 40], 960 * 2);
            if let Some(s) = seg.video(vec![1; 100], 6000, i % 15 == 0, 1_700_000_000_000 + i * 66)
            {
                assert!((s.duration_s - 2.0).abs() < 1e-9, "{}", s.duration_s);
                publish(&mut stream, s);
            }
        }
        assert_eq!(stream.segments.len(), WINDOW);
        let p = stream.playlist();
        assert!(p.contains("#EXT-X-MEDIA-SEQUENCE:3\n"), "{p}");
        assert!(p.contains("#EXT-X-MAP:URI=\"init.mp4\""));
        assert!(p.contains("#EXTINF:2.000,\n8.m4s\n"), "{p}");
        // Segment 8 starts at picture 240, composed 240 × 66 ms after the
        // first: 2023-11-14T22:13:20Z + 15.84 s.
        assert!(
            p.contains("#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:35.840Z\n#EXTINF:2.000,\n8.m4s"),
            "{p}"
        );
        assert!(stream.segment(8).is_some() && stream.segment(2).is_none());
    }

    #[test]
    fn pictures_before_the_first_keyframe_are_skipped_but_keep_time() {
        let mut seg = Segmenter::new(1);
        assert!(seg.video(vec![1], 6000, false, 0).is_none());
        seg.video(vec![2], 6000, true, 0);
        let s = seg.finish().unwrap();
        // tfdt of the first segment: one skipped picture later.
        let at = s.data.windows(4).position(|w| w == b"tfdt").unwrap();
        let base = u64::from_be_bytes(s.data[at + 8..at + 16].try_into().unwrap());
        assert_eq!(base, 6000);
    }

    // The gauge is process-wide: nextest runs each test in its own process.
    #[test]
    fn a_segment_a_viewer_still_reads_stays_counted_until_the_viewer_lets_go() {
        let mut seg = Segmenter::new(1);
        let mut stream = Stream::new(1);
        let mut reading = None;
        for i in 0..15 * 20 {
            if let Some(s) = seg.video(vec![1; 1000], 6000, i % 15 == 0, 0) {
                publish(&mut stream, s);
                if reading.is_none() {
                    reading = stream.segment(0);
                }
            }
        }
        let window: u64 = stream.segments.iter().map(|s| s.data.len() as u64).sum();
        let held = reading.take().expect("the first segment");
        assert!(stream.segment(0).is_none(), "the window moved on");
        assert_eq!(segment_bytes_held(), window + held.len() as u64);
        drop(held);
        assert_eq!(segment_bytes_held(), window);
        drop(stream);
        assert_eq!(segment_bytes_held(), 0);
    }
}
