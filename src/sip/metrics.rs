//! Counters of the SIP listener, for `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct SipMetrics {
    pub malformed: AtomicU64,
    pub rate_limited: AtomicU64,
    pub auth_failed: AtomicU64,
    pub auth_throttled: AtomicU64,
    /// Right password, a nonce count already used: a replay (401).
    pub auth_replayed: AtomicU64,
    pub refused_unknown_number: AtomicU64,
    pub refused_not_admitted: AtomicU64,
    pub refused_no_codec: AtomicU64,
    /// RTP/SAVP offered over signalling that is not TLS (and not allowed).
    pub refused_sdes_insecure: AtomicU64,
    /// An `a=crypto` key that does not parse.
    pub refused_bad_key: AtomicU64,
    /// SRTP/SRTCP packets from codecs dropped: tag mismatch, replayed.
    pub srtp_auth_failed: AtomicU64,
    pub srtp_replayed: AtomicU64,
    /// Too short to be SRTP (a codec's plain keep-alive), or past the
    /// streams a context follows.
    pub srtp_malformed: AtomicU64,
    pub calls_started: AtomicU64,
    pub calls_active: AtomicU64,
    /// The VP8 rendition of codecs' H.264 (`transcode`), for subscribers
    /// that cannot take H.264: access units decoded, those that did not
    /// decode (skipped until the next IDR), those dropped because the
    /// transcoder was behind, VP8 pictures encoded.
    pub rendition_decoded: AtomicU64,
    pub rendition_decode_failed: AtomicU64,
    pub rendition_dropped: AtomicU64,
    pub rendition_encoded: AtomicU64,
}

impl SipMetrics {
    pub fn count_malformed(&self) {
        self.malformed.fetch_add(1, Ordering::Relaxed);
    }

    /// An SRTP packet from a codec was dropped.
    pub fn count_srtp_drop(&self, e: &super::srtp::SrtpError) {
        use super::srtp::SrtpError;
        let c = match e {
            SrtpError::Replay => &self.srtp_replayed,
            SrtpError::Auth | SrtpError::BadKey => &self.srtp_auth_failed,
            SrtpError::Short | SrtpError::TooManyStreams => &self.srtp_malformed,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text lines.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let rows: [(&str, &AtomicU64, &str); 19] = [
            (
                "diemcau_sip_malformed_total",
                &self.malformed,
                "SIP datagrams that did not parse",
            ),
            (
                "diemcau_sip_rate_limited_total",
                &self.rate_limited,
                "INVITE/REGISTER over a source's budget (503)",
            ),
            (
                "diemcau_sip_auth_failed_total",
                &self.auth_failed,
                "digest checks that failed (401)",
            ),
            (
                "diemcau_sip_auth_throttled_total",
                &self.auth_throttled,
                "requests refused for too many failures (403)",
            ),
            (
                "diemcau_sip_auth_replayed_total",
                &self.auth_replayed,
                "digest answers whose nonce count did not increase: replays (401)",
            ),
            (
                "diemcau_sip_refused_unknown_number_total",
                &self.refused_unknown_number,
                "INVITEs to no meeting's number (404)",
            ),
            (
                "diemcau_sip_refused_not_admitted_total",
                &self.refused_not_admitted,
                "INVITEs the meeting's access rule refused (403)",
            ),
            (
                "diemcau_sip_refused_no_codec_total",
                &self.refused_no_codec,
                "INVITEs with no codec in common (488)",
            ),
            (
                "diemcau_sip_refused_sdes_insecure_total",
                &self.refused_sdes_insecure,
                "INVITEs offering SDES keys (RTP/SAVP) over signalling that is not TLS (488)",
            ),
            (
                "diemcau_sip_refused_bad_key_total",
                &self.refused_bad_key,
                "INVITEs whose a=crypto key did not parse (488)",
            ),
            (
                "diemcau_sip_srtp_auth_failed_total",
                &self.srtp_auth_failed,
                "SRTP/SRTCP packets from codecs dropped: authentication failed",
            ),
            (
                "diemcau_sip_srtp_replayed_total",
                &self.srtp_replayed,
                "SRTP packets from codecs dropped: replayed or too old",
            ),
            (
                "diemcau_sip_srtp_malformed_total",
                &self.srtp_malformed,
                "packets on an SRTP leg dropped: too short to be SRTP, or a stream too many",
            ),
            (
                "diemcau_sip_calls_started_total",
                &self.calls_started,
                "SIP calls answered",
            ),
            (
                "diemcau_sip_calls_active",
                &self.calls_active,
                "SIP calls in progress",
            ),
            (
                "diemcau_sip_rendition_decoded_total",
                &self.rendition_decoded,
                "codecs' H.264 pictures decoded for their VP8 rendition",
            ),
            (
                "diemcau_sip_rendition_decode_failed_total",
                &self.rendition_decode_failed,
                "codecs' H.264 pictures that did not decode (skipped until the next IDR)",
            ),
            (
                "diemcau_sip_rendition_dropped_total",
                &self.rendition_dropped,
                "codecs' H.264 pictures dropped: the transcoder was behind",
            ),
            (
                "diemcau_sip_rendition_encoded_total",
                &self.rendition_encoded,
                "VP8 pictures encoded for subscribers that cannot take H.264",
            ),
        ];
        for (name, v, help) in rows {
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        }
    }
}
