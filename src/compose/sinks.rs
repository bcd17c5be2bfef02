//! Where a composite's pictures and sound go: the HLS stream's segments,
//! the program recording's file, the pictures sent to SIP rooms and hall
//! screens. Each starts at a keyframe of the encoding it takes (a sink
//! that moves to another layout's encoding waits for one).

use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::fmp4;
use super::hls::{self, Segmenter, Stream};
use super::render::{Encoded, ParamSets};
use super::service::Picture;
use crate::record::depack::avc_decoder_config;

/// The internal live stream: fMP4 segments into the shared `Stream` the
/// HTTP side reads.
pub struct HlsSink {
    pub stream: Arc<Mutex<Stream>>,
    segmenter: Segmenter,
    width: u32,
    height: u32,
    fps: u32,
    /// The parameter sets its init segment was made from.
    params: Option<ParamSets>,
    pub waiting_key: bool,
}

impl HlsSink {
    pub fn new(cfg: &super::ComposeConfig) -> HlsSink {
        HlsSink {
            stream: Arc::new(Mutex::new(Stream::new(cfg.segment_s))),
            segmenter: Segmenter::new(cfg.segment_s),
            width: cfg.width,
            height: cfg.height,
            fps: cfg.fps,
            params: None,
            waiting_key: true,
        }
    }

    /// One picture; `Some(())` when it closed a segment.
    pub fn picture(&mut self, e: &Encoded) -> Option<()> {
        if self.waiting_key && !e.key {
            return None;
        }
        self.waiting_key = false;
        if e.key
            && let Some(p) = &e.params
            && self.params.as_ref() != Some(p)
        {
            // The first keyframe (or, never seen with OpenH264, another
            // encoding's different sets): the init segment players fetch.
            if let Some(avcc) = avc_decoder_config(&p.0, &p.1) {
                self.stream.lock().expect("hls lock").init = Some(Bytes::from(fmp4::init_segment(
                    self.width,
                    self.height,
                    &avcc,
                )));
                self.params = Some(p.clone());
            }
        }
        let duration = fmp4::VIDEO_TIMESCALE / self.fps;
        let seg = self.segmenter.video(
            e.sample.clone(),
            duration,
            e.key,
            crate::store::now_ms().max(0) as u64,
        )?;
        hls::publish(&mut self.stream.lock().expect("hls lock"), seg);
        Some(())
    }

    pub fn audio(&mut self, opus: Vec<u8>) {
        if !self.waiting_key {
            self.segmenter
                .audio(opus, crate::record::mix::FRAME_SAMPLES as u32);
        }
    }

    /// The stream ends: its last segment out, the playlist closed.
    pub fn end(&mut self) {
        let last = self.segmenter.finish();
        let mut s = self.stream.lock().expect("hls lock");
        if let Some(seg) = last {
            hls::publish(&mut s, seg);
        }
        s.ended = true;
    }
}

/// The composite as a recording's file (`composite.mkv`): opened at the
/// first keyframe after the recording starts (its parameter sets go in the
/// track header), written cluster by cluster — a file cut anywhere plays
/// to its last cluster, as the recorder's own.
pub struct RecordingFile {
    path: std::path::PathBuf,
    /// Output clock (ms) at which the recording began: the file's zero.
    from_ms: u64,
    writer: Option<crate::record::MkvWriter<std::io::BufWriter<std::fs::File>>>,
    pictures: u64,
    failed: bool,
    /// Set when it moves to another layout's encoding: the next picture it
    /// writes is a keyframe.
    pub waiting_key: bool,
}

/// What a composite recording wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub file: std::path::PathBuf,
    pub pictures: u64,
    pub duration_ms: u64,
}

impl RecordingFile {
    /// `None` (logged) if its folder cannot be made.
    pub fn create(path: std::path::PathBuf, from_ms: u64) -> Option<RecordingFile> {
        if let Some(dir) = path.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            tracing::error!(error = %e, "the composite recording has no folder");
            return None;
        }
        Some(RecordingFile {
            path,
            from_ms,
            writer: None,
            pictures: 0,
            failed: false,
            waiting_key: true,
        })
    }

    pub fn picture(&mut self, at_ms: u64, e: &Encoded, width: u32, height: u32) {
        if self.failed || (self.waiting_key && !e.key) {
            return;
        }
        self.waiting_key = false;
        if self.writer.is_none() {
            let Some(avcc) = e
                .params
                .as_ref()
                .filter(|_| e.key)
                .and_then(|(sps, pps)| avc_decoder_config(sps, pps))
            else {
                return;
            };
            let opened = std::fs::File::create(&self.path).and_then(|f| {
                crate::record::MkvWriter::new(
                    std::io::BufWriter::new(f),
                    &[
                        crate::record::TrackSpec::Video {
                            codec: crate::record::Codec::H264,
                            width: width as u16,
                            height: height as u16,
                            codec_private: Some(avcc),
                        },
                        crate::record::TrackSpec::Opus { channels: 1 },
                    ],
                )
            });
            match opened {
                Ok(m) => self.writer = Some(m),
                Err(e) => {
                    tracing::error!(error = %e, path = %self.path.display(), "the composite recording did not open");
                    self.failed = true;
                    return;
                }
            }
        }
        let ts = at_ms.saturating_sub(self.from_ms);
        if let Some(w) = self.writer.as_mut() {
            if let Err(err) = w.write_frame(1, ts, e.key, &e.sample) {
                tracing::error!(error = %err, "the composite recording stopped (disk?)");
                self.failed = true;
            } else {
                self.pictures += 1;
            }
        }
    }

    pub fn audio(&mut self, at_ms: u64, opus: &[u8]) {
        if let Some(w) = self.writer.as_mut()
            && !self.failed
            && at_ms >= self.from_ms
            && let Err(e) = w.write_frame(2, at_ms - self.from_ms, true, opus)
        {
            tracing::error!(error = %e, "the composite recording stopped (disk?)");
            self.failed = true;
        }
    }

    /// Close it (its cues and duration written).
    pub fn finish(self) -> Recorded {
        let duration_ms = self.writer.as_ref().map_or(0, |w| w.duration_ms());
        if let Some(w) = self.writer {
            match w.finish_seekable() {
                Ok(mut f) => {
                    use std::io::Write as _;
                    let _ = f.flush();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the composite recording did not close cleanly")
                }
            }
        }
        Recorded {
            file: self.path,
            pictures: self.pictures,
            duration_ms,
        }
    }
}

/// Pictures for live consumers (SIP rooms, hall screens), over a
/// broadcast channel; `users` counts the consumers attached (the output
/// runs for them while it is not zero).
pub struct FeedSink {
    pub tx: tokio::sync::broadcast::Sender<Arc<Picture>>,
    pub users: usize,
    pub waiting_key: bool,
}

impl FeedSink {
    pub fn new(tx: tokio::sync::broadcast::Sender<Arc<Picture>>) -> FeedSink {
        FeedSink {
            tx,
            users: 0,
            waiting_key: true,
        }
    }

    pub fn active(&self) -> bool {
        self.users > 0
    }

    /// `picture` is made once per encoded picture and shared by the feeds
    /// that take it.
    pub fn send(&mut self, key: bool, picture: &mut dyn FnMut() -> Arc<Picture>) {
        if self.waiting_key && !key {
            return;
        }
        self.waiting_key = false;
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(picture());
        }
    }
}
