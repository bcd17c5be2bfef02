//! The VP8 rendition of one SIP room's H.264, for the subscribers that
//! cannot receive H.264 (Firefox without its OpenH264 plugin, VP8-only
//! clients): decoded with OpenH264, encoded with libvpx (realtime), on a
//! thread of its own so a call's task never waits on a codec.
//!
//! Started by the call when the engine first wants the rendition
//! (`net::Media::rendition_wanted`), told to idle — its codecs dropped —
//! when nobody wants it any more: no subscriber without H.264, no decode,
//! no encode. A picture that does not decode is counted and skipped, and
//! so is everything after it until the next IDR, which the call asks the
//! codec for (`Done::NeedIdr`); a full queue drops a picture the same way.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use tokio::sync::mpsc;

use super::metrics::SipMetrics;
use crate::compose::codec::H264Decoder;
use crate::compose::vp8enc::Vp8Encoder;

/// Pictures waiting for the transcoder: a few frames (~130 ms at 30 fps)
/// absorb a slow picture; more would only add delay.
const QUEUE_PICTURES: usize = 4;
/// Encoded pictures waiting for the call's task.
const DONE_PICTURES: usize = 8;

/// Work for the thread.
enum Job {
    /// One H.264 access unit in Annex B (parameter sets before an IDR).
    Picture {
        annex_b: Vec<u8>,
        ts: u32,
        keyframe: bool,
    },
    /// A VP8 subscriber lost a picture: the next one is a keyframe.
    Keyframe,
    /// Nobody wants the rendition: drop the codecs' state.
    Idle,
}

/// What the thread hands back.
#[derive(Debug)]
pub enum Done {
    /// A VP8 picture with the H.264 picture's RTP timestamp.
    Picture {
        vp8: Vec<u8>,
        ts: u32,
        keyframe: bool,
    },
    /// The decoder lost the thread of the stream: the codec must send an
    /// IDR.
    NeedIdr,
}

pub struct Transcoder {
    jobs: SyncSender<Job>,
    pub done: mpsc::Receiver<Done>,
    metrics: Arc<SipMetrics>,
    /// A picture was dropped here: the thread skips to the next IDR.
    lost: bool,
}

impl Transcoder {
    /// Start the thread; it ends when this value is dropped.
    pub fn start(kbps: u32, metrics: Arc<SipMetrics>) -> std::io::Result<Transcoder> {
        let (jobs, rx) = sync_channel(QUEUE_PICTURES);
        let (tx, done) = mpsc::channel(DONE_PICTURES);
        let m = metrics.clone();
        std::thread::Builder::new()
            .name("sip-vp8".into())
            .spawn(move || run(rx, tx, kbps, &m))?;
        Ok(Transcoder {
            jobs,
            done,
            metrics,
            lost: false,
        })
    }

    /// One access unit of the codec's H.264; `false`: dropped (the
    /// transcoder is behind) — the caller asks the codec for an IDR.
    pub fn picture(&mut self, annex_b: Vec<u8>, ts: u32, keyframe: bool) -> bool {
        if self.lost && !keyframe {
            return false;
        }
        let job = Job::Picture {
            annex_b,
            ts,
            keyframe,
        };
        match self.jobs.try_send(job) {
            Ok(()) => {
                self.lost = false;
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.metrics
                    .rendition_dropped
                    .fetch_add(1, Ordering::Relaxed);
                self.lost = true;
                false
            }
        }
    }

    pub fn keyframe(&self) {
        let _ = self.jobs.try_send(Job::Keyframe);
    }

    pub fn idle(&mut self) {
        self.lost = false;
        // Blocking would stall the call; a full queue still drains into
        // the Idle sent at the next change, and pictures stop coming now.
        let _ = self.jobs.try_send(Job::Idle);
    }
}

fn run(jobs: Receiver<Job>, done: mpsc::Sender<Done>, kbps: u32, m: &SipMetrics) {
    let mut dec: Option<H264Decoder> = None;
    let mut enc = Vp8Encoder::new(kbps);
    // Until an IDR arrives, a delta picture cannot decode: skipped.
    let mut waiting_idr = true;
    // The 90 kHz timestamps extended past 32 bits (libvpx wants a
    // monotonic pts).
    let mut pts: Option<(u32, i64)> = None;
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Keyframe => enc.force_keyframe(),
            Job::Idle => {
                dec = None;
                enc.reset();
                waiting_idr = true;
                pts = None;
            }
            Job::Picture {
                annex_b,
                ts,
                keyframe,
            } => {
                if waiting_idr && !keyframe {
                    continue;
                }
                if dec.is_none() {
                    match H264Decoder::new() {
                        Ok(d) => dec = Some(d),
                        Err(e) => {
                            tracing::warn!(error = %e, "sip: no h264 decoder for the vp8 rendition");
                            return;
                        }
                    }
                }
                let Some(d) = dec.as_mut() else { return };
                let frame = match d.decode(&annex_b) {
                    Ok(Some(f)) => f,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::debug!(error = %e, "sip: an h264 picture did not decode");
                        m.rendition_decode_failed.fetch_add(1, Ordering::Relaxed);
                        // A fresh decoder at the next IDR: OpenH264 after
                        // garbage is in no known state.
                        dec = None;
                        waiting_idr = true;
                        if let Err(mpsc::error::TrySendError::Closed(_)) =
                            done.try_send(Done::NeedIdr)
                        {
                            return;
                        }
                        continue;
                    }
                };
                waiting_idr = false;
                m.rendition_decoded.fetch_add(1, Ordering::Relaxed);
                let p = match pts {
                    None => 0,
                    Some((last_ts, last)) => {
                        last + i64::from((ts.wrapping_sub(last_ts) as i32).max(1))
                    }
                };
                pts = Some((ts, p));
                match enc.encode(&frame, p) {
                    Ok(Some(v)) => {
                        m.rendition_encoded.fetch_add(1, Ordering::Relaxed);
                        let out = Done::Picture {
                            vp8: v.data,
                            ts,
                            keyframe: v.keyframe,
                        };
                        if done.try_send(out).is_err() {
                            // The call is behind: its subscribers recover
                            // at a keyframe.
                            enc.force_keyframe();
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::debug!(error = %e, "sip: vp8 encode failed"),
                }
            }
        }
    }
}
