//! `[sip]`: the SIP listener for room codecs. Off unless a listen address
//! is set (`diemcau demo` sets 127.0.0.1:5060).

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// UDP address to take SIP on, e.g. `0.0.0.0:5060`; absent: no UDP.
    pub udp_listen: Option<SocketAddr>,
    /// TCP address to take SIP on; absent: no TCP.
    pub tcp_listen: Option<SocketAddr>,
    /// TLS address to take SIP on (`sips:`, usually port 5061), with the
    /// `[tls]` certificate the HTTPS server serves (or the one signed by
    /// its generated local CA); absent: no TLS. Needs `udp_listen` too.
    pub tls_listen: Option<SocketAddr>,
    /// Take RTP/SAVP offers (SDES keys, RFC 4568) from calls whose
    /// signalling is not TLS. Off: a key sent over UDP or TCP can be read
    /// by anyone on the path, so such offers are refused (488). Only for a
    /// trusted network between the codecs and the server.
    pub allow_sdes_without_tls: bool,
    /// The digest realm. Room passwords are stored as HA1s under it:
    /// changing it means issuing every room a new password.
    pub realm: String,
    /// Also challenge with SHA-256 digest (RFC 8760) beside MD5. Off by
    /// default: many codecs' SIP stacks refuse a whole 401 that names an
    /// algorithm they do not know. Answers in either are always checked.
    pub challenge_sha256: bool,
    /// The address put in SDP answers and our Via/Contact; absent: the
    /// listen address when it is not unspecified, else 127.0.0.1.
    pub public_ip: Option<IpAddr>,
    /// First and last UDP port of the per-call RTP sockets (each call
    /// takes two: audio and video).
    pub rtp_port_min: u16,
    pub rtp_port_max: u16,
    /// INVITEs and REGISTERs one source address may send per minute; more
    /// are answered 503 without a lookup (a flood costs a parse, nothing
    /// of the meetings).
    pub requests_per_minute_per_source: u32,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            udp_listen: None,
            tcp_listen: None,
            tls_listen: None,
            allow_sdes_without_tls: false,
            realm: "diemcau".into(),
            challenge_sha256: false,
            public_ip: None,
            rtp_port_min: 30000,
            rtp_port_max: 30999,
            requests_per_minute_per_source: 120,
        }
    }
}

impl SipConfig {
    pub fn enabled(&self) -> bool {
        self.udp_listen.is_some() || self.tcp_listen.is_some() || self.tls_listen.is_some()
    }

    /// The address we name in SDP, Via and Contact.
    pub fn public_ip(&self) -> IpAddr {
        self.public_ip.unwrap_or_else(|| {
            self.udp_listen
                .or(self.tcp_listen)
                .or(self.tls_listen)
                .map(|a| a.ip())
                .filter(|ip| !ip.is_unspecified())
                .unwrap_or(IpAddr::from([127, 0, 0, 1]))
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        if self.realm.is_empty()
            || self.realm.len() > 64
            || !self
                .realm
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            return invalid(
                "sip.realm",
                format!(
                    "{:?} must be 1 to 64 letters, digits, '-', '.' or '_'",
                    self.realm
                ),
            );
        }
        if self.rtp_port_min == 0 || self.rtp_port_max < self.rtp_port_min.saturating_add(1) {
            return invalid(
                "sip.rtp_port_min",
                format!(
                    "the range {}..={} must hold at least two ports, none 0",
                    self.rtp_port_min, self.rtp_port_max
                ),
            );
        }
        if self.udp_listen.is_none() && (self.tcp_listen.is_some() || self.tls_listen.is_some()) {
            return invalid(
                "sip.udp_listen",
                "SIP over TCP or TLS runs beside UDP: set udp_listen as well (codecs fall back \
                 to UDP, and dial-out to an unregistered address uses it)"
                    .into(),
            );
        }
        if self.requests_per_minute_per_source == 0 {
            return invalid(
                "sip.requests_per_minute_per_source",
                "0 would refuse every call; use at least 1".into(),
            );
        }
        Ok(())
    }
}
