//! Counters of the SIP listener, for `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct SipMetrics {
    pub malformed: AtomicU64,
    pub rate_limited: AtomicU64,
    pub auth_failed: AtomicU64,
    pub auth_throttled: AtomicU64,
    pub refused_unknown_number: AtomicU64,
    pub refused_not_admitted: AtomicU64,
    pub refused_no_codec: AtomicU64,
    pub calls_started: AtomicU64,
    pub calls_active: AtomicU64,
}

impl SipMetrics {
    pub fn count_malformed(&self) {
        self.malformed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text lines.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let rows: [(&str, &AtomicU64, &str); 9] = [
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
                "diemcau_sip_calls_started_total",
                &self.calls_started,
                "SIP calls answered",
            ),
            (
                "diemcau_sip_calls_active",
                &self.calls_active,
                "SIP calls in progress",
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
