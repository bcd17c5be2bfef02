//! Configuration: TOML file + `DIEMCAU_*` environment overrides -> validated [`Config`].
//!
//! Owns parsing and validation only. Every key has a default so `diemcau serve`
//! runs with no file at all. An environment variable overrides a key by its
//! path in upper case with `__` between sections: `media.udp_port` is
//! `DIEMCAU_MEDIA__UDP_PORT`. Errors name the offending key.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

// The sections other modules own the meaning of, kept here so the
// configuration depends on nothing else of the crate (issue 20): the
// modules that use them re-export them.
pub mod database;
pub mod objects;
pub mod sip;

/// API tokens live this many days unless `[auth] api_token_days` says
/// otherwise: a token forgotten in a script stops working within a quarter.
pub const DEFAULT_API_TOKEN_DAYS: u32 = 90;
/// The audit key file's name in the data directory when `audit.key_file` is
/// unset.
pub const AUDIT_KEY_FILE_NAME: &str = "audit.key";
/// The audit anchor file's name in the data directory when
/// `audit.anchor_file` is unset.
pub const AUDIT_ANCHOR_FILE_NAME: &str = "audit-anchors.log";

/// Prefix of environment variables that override config keys.
pub const ENV_PREFIX: &str = "DIEMCAU_";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the server keeps its database, certificates and files.
    pub data_dir: PathBuf,
    pub http: HttpConfig,
    pub tls: TlsConfig,
    pub media: MediaConfig,
    pub demo: DemoConfig,
    pub log: LogConfig,
    pub database: DatabaseConfig,
    pub meetings: MeetingsConfig,
    pub documents: DocumentsConfig,
    pub recording: RecordingConfig,
    /// The composite live stream (HLS on the internal network).
    pub live_stream: LiveStreamConfig,
    /// Relaying to a parent node along the org tree; absent: a standalone node.
    pub cascade: CascadeConfig,
    /// Where documents and recordings are kept (`crate::objects`).
    pub objects: objects::ObjectsConfig,
    /// Where the audit log's key and anchors live (`store::audit`).
    pub audit: AuditConfig,
    /// Console logins and API tokens.
    pub auth: AuthConfig,
    /// Digital signatures (chữ ký số): trust anchors, CRLs, the seal's key.
    pub signatures: SignaturesConfig,
    /// SIP room codecs (issue 17): off unless a listen address is set.
    pub sip: sip::SipConfig,
}

/// `[signatures]`: what the server trusts when it checks a signed PDF, and
/// the key it seals finalised minutes and published vote results with.
/// The network is isolated: certificates and CRLs come as files, never
/// fetched.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SignaturesConfig {
    /// Trust anchors: PEM files, or folders of `.pem`/`.crt`/`.cer` files
    /// (in production the Ban Cơ yếu Chính phủ root and sub-CAs). Empty: no
    /// signature is trusted (each is `untrusted`), except the demo CA under
    /// `diemcau demo`.
    pub trust: Vec<PathBuf>,
    /// A folder of CRLs (DER or PEM) read at start and on every re-check,
    /// beside those an admin uploads (kept in `<data_dir>/crls`).
    pub crl_dir: Option<PathBuf>,
    /// The seal on a PKCS#11 token or HSM: the module (e.g.
    /// `/usr/lib/softhsm/libsofthsm2.so`); empty: no token.
    pub pkcs11_module: Option<PathBuf>,
    /// The token's label (preferred) or, when empty, `pkcs11_slot`.
    pub pkcs11_token: Option<String>,
    /// The slot id, when no token label is given.
    pub pkcs11_slot: Option<u64>,
    /// The private key's label (CKA_LABEL) on the token.
    pub pkcs11_key_label: Option<String>,
    /// The seal's key as a file instead of a token: an unencrypted PKCS#8
    /// PEM ("PRIVATE KEY"; a PKCS#12 file is converted once with
    /// `openssl pkcs12 -nocerts -nodes | openssl pkcs8 -topk8 -nocrypt`).
    pub key_file: Option<PathBuf>,
    /// The seal's certificate chain (PEM, leaf first); required with a key
    /// file, optional with a token that holds the certificate beside the
    /// key (same CKA_ID, or the key's label).
    pub cert_file: Option<PathBuf>,
    /// A file holding the token's PIN or the key file's password (trailing
    /// newline ignored); or `pin_env`.
    pub pin_file: Option<PathBuf>,
    /// An environment variable holding the PIN or password.
    pub pin_env: Option<String>,
    /// An RFC 3161 timestamp server on the internal network: with it the
    /// seal is PAdES B-T, without it B-B.
    pub tsa_url: Option<String>,
}

impl SignaturesConfig {
    /// Whether a seal key is configured (a token or a key file).
    pub fn has_seal(&self) -> bool {
        self.pkcs11_module.is_some() || self.key_file.is_some()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.pkcs11_module.is_some() && self.key_file.is_some() {
            return Err(ConfigError::Invalid {
                key: "signatures.key_file",
                message: "set either pkcs11_module or key_file for the seal, not both".into(),
            });
        }
        if self.pkcs11_module.is_some() && self.pkcs11_key_label.is_none() {
            return Err(ConfigError::Invalid {
                key: "signatures.pkcs11_key_label",
                message: "a PKCS#11 seal needs the label of its private key".into(),
            });
        }
        if let Some(u) = &self.tsa_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                key: "signatures.tsa_url",
                message: format!("{u:?} is not an http:// or https:// URL"),
            });
        }
        Ok(())
    }
}

/// `[audit]`: the audit log's key and anchor file, both outside the
/// database so that whoever can write it cannot recompute or cut the chain
/// unnoticed. Empty: files in `data_dir`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// The HMAC key file (`<data_dir>/audit.key`): made with mode 0600 at
    /// first start; a file group or others may read refuses the start.
    /// Nodes sharing one database need the same key.
    pub key_file: Option<PathBuf>,
    /// The append-only anchor file (`<data_dir>/audit-anchors.log`): the
    /// chain's head at every meeting end and start, read by `audit verify`.
    pub anchor_file: Option<PathBuf>,
}

/// `[auth]`: how long credentials of people live.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// An API token stops working this many days after it was issued
    /// (1 to 3650). Checked at each use: shortening it applies to tokens
    /// already issued.
    pub api_token_days: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            api_token_days: DEFAULT_API_TOKEN_DAYS,
        }
    }
}

/// `[cascade]`: this node's place in the tree of nodes (central ← province ←
/// sub-hubs). Every key is optional; with none set the node stands alone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CascadeConfig {
    /// This node's id: lowercase letters, digits and `-`, 1 to 64
    /// characters. Required when `parent` is set.
    pub node_id: Option<String>,
    /// Display name (Vietnamese is fine).
    pub name: Option<String>,
    /// Base URL of the parent node's API, e.g. `https://10.0.0.1:8443`
    /// (`http://` is allowed for labs and tests, with a warning at start).
    pub parent: Option<String>,
    /// PEM file of the CA that signed the parent's certificate (a parent
    /// with a generated certificate serves it at `/ca.pem`; it is
    /// `<data_dir>/tls/ca.pem` there). The only CA trusted for the parent:
    /// no system roots. Required with an `https://` parent.
    pub parent_ca: Option<PathBuf>,
    /// This node's credential towards its parent (issued by the parent's
    /// admin). Exactly one of `credential` and `credential_file` with `parent`.
    pub credential: Option<String>,
    /// A file holding the credential (read at start, trimmed).
    pub credential_file: Option<PathBuf>,
    /// Relay budget towards the parent, kbit/s (100 to 1 000 000).
    pub uplink_kbps: u32,
}

impl Default for CascadeConfig {
    fn default() -> Self {
        CascadeConfig {
            node_id: None,
            name: None,
            parent: None,
            parent_ca: None,
            credential: None,
            credential_file: None,
            uplink_kbps: 20_000,
        }
    }
}

/// A node id: lowercase ASCII letters, digits and `-`, 1 to 64 characters.
pub fn valid_node_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl CascadeConfig {
    /// The credential towards the parent: `credential`, or the trimmed
    /// contents of `credential_file`.
    pub fn parent_credential(&self) -> Result<Option<String>, ConfigError> {
        if let Some(c) = &self.credential {
            return Ok(Some(c.trim().to_string()));
        }
        let Some(path) = &self.credential_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Invalid {
            key: "cascade.credential_file",
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        let text = text.trim();
        if text.is_empty() {
            return Err(ConfigError::Invalid {
                key: "cascade.credential_file",
                message: format!("{} is empty", path.display()),
            });
        }
        Ok(Some(text.to_string()))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        if let Some(id) = &self.node_id
            && !valid_node_id(id)
        {
            return invalid(
                "cascade.node_id",
                format!("{id:?} must be 1 to 64 lowercase letters, digits or '-'"),
            );
        }
        if let Some(name) = &self.name
            && (name.trim().is_empty() || name.chars().count() > 200)
        {
            return invalid(
                "cascade.name",
                format!("{name:?} must be 1 to 200 characters"),
            );
        }
        if !(100..=1_000_000).contains(&self.uplink_kbps) {
            return invalid(
                "cascade.uplink_kbps",
                format!("{} is outside 100 to 1000000", self.uplink_kbps),
            );
        }
        if let Some(c) = &self.credential
            && c.trim().is_empty()
        {
            return invalid("cascade.credential", "must not be empty".into());
        }
        let Some(parent) = &self.parent else {
            if self.parent_ca.is_some() {
                return invalid(
                    "cascade.parent_ca",
                    "the parent's CA is only used towards a parent; set cascade.parent too".into(),
                );
            }
            if self.credential.is_some() || self.credential_file.is_some() {
                return invalid(
                    "cascade.credential",
                    "a credential is only used towards a parent; set cascade.parent too".into(),
                );
            }
            return Ok(());
        };
        if self.node_id.is_none() {
            return invalid(
                "cascade.node_id",
                "required when cascade.parent is set: the parent knows this node by it".into(),
            );
        }
        let rest = parent
            .strip_prefix("http://")
            .or_else(|| parent.strip_prefix("https://"));
        let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
        match host {
            Some(h) if !h.is_empty() && !h.contains('@') && !h.chars().any(char::is_whitespace) => {
            }
            _ => {
                return invalid(
                    "cascade.parent",
                    format!(
                        "{parent:?} is not a base URL like http://10.0.0.1:8080 (http or https only)"
                    ),
                );
            }
        }
        match (parent.starts_with("https://"), &self.parent_ca) {
            (true, None) => {
                return invalid(
                    "cascade.parent_ca",
                    format!(
                        "the https parent {parent:?} is trusted only through its CA: set \
                         cascade.parent_ca to the PEM file of the parent's CA (its /ca.pem)"
                    ),
                );
            }
            (false, Some(_)) => {
                return invalid(
                    "cascade.parent_ca",
                    format!("pins an https parent's CA, but the parent {parent:?} is http://"),
                );
            }
            _ => {}
        }
        match (&self.credential, &self.credential_file) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            (Some(_), Some(_)) => invalid(
                "cascade.credential",
                "set cascade.credential or cascade.credential_file, not both".into(),
            ),
            (None, None) => invalid(
                "cascade.credential",
                "a parent needs this node's credential: set cascade.credential or cascade.credential_file".into(),
            ),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentsConfig {
    /// Largest document a secretary may upload, MiB.
    pub max_upload_mib: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingConfig {
    /// Record meetings from the moment they go live, until they end.
    pub automatic: bool,
    /// Which kinds of meeting `automatic` records (`bch`, `btv`, `giao_ban`,
    /// …); empty: every kind.
    pub automatic_kinds: Vec<diemcau_live::kind::MeetingKind>,
    /// Refuse to start a recording with less free disk than this, MiB.
    pub min_free_mib: u64,
    /// Delete a recording's files this many days after it ended (0: keep
    /// them for ever). The row and its audit records stay.
    pub keep_days: u32,
}

impl RecordingConfig {
    /// Whether a meeting of this kind is recorded as it goes live.
    pub fn records_automatically(&self, kind: diemcau_live::kind::MeetingKind) -> bool {
        self.automatic && (self.automatic_kinds.is_empty() || self.automatic_kinds.contains(&kind))
    }
}

impl Default for RecordingConfig {
    fn default() -> Self {
        RecordingConfig {
            automatic: true,
            automatic_kinds: Vec::new(),
            min_free_mib: 1024,
            keep_days: 0,
        }
    }
}

/// `[live_stream]`: the composite picture (continuous presence) encoded
/// once and served as HLS at `/live/{meeting}/index.m3u8` to the people
/// and rooms the meeting's access rules admit.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LiveStreamConfig {
    /// Start the stream when a meeting goes live (an operator can always
    /// start, stop and re-lay it from the console).
    pub automatic: bool,
    /// Picture size, pixels (even).
    pub width: u32,
    pub height: u32,
    /// Pictures a second.
    pub fps: u32,
    /// H.264 target bitrate, kbit/s.
    pub kbps: u32,
    /// HLS segment length, seconds, and the keyframe interval: players
    /// start three segments behind live, so 1 s keeps viewers about 3.3 s
    /// behind the hall (BENCHMARKS §14b).
    pub segment_s: u32,
}

impl Default for LiveStreamConfig {
    fn default() -> Self {
        LiveStreamConfig {
            automatic: false,
            width: 1280,
            height: 720,
            fps: 25,
            kbps: 2000,
            segment_s: 1,
        }
    }
}

impl LiveStreamConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key, message: String| Err(ConfigError::Invalid { key, message });
        if !(160..=1920).contains(&self.width) || !self.width.is_multiple_of(16) {
            return bad(
                "live_stream.width",
                format!("{} is not a multiple of 16 from 160 to 1920", self.width),
            );
        }
        if !(90..=1080).contains(&self.height) || !self.height.is_multiple_of(2) {
            return bad(
                "live_stream.height",
                format!("{} is not an even height from 90 to 1080", self.height),
            );
        }
        if !(1..=30).contains(&self.fps) {
            return bad(
                "live_stream.fps",
                format!("{} is outside 1 to 30", self.fps),
            );
        }
        if !(100..=8000).contains(&self.kbps) {
            return bad(
                "live_stream.kbps",
                format!("{} kbit/s is outside 100 to 8000", self.kbps),
            );
        }
        if !(1..=6).contains(&self.segment_s) {
            return bad(
                "live_stream.segment_s",
                format!("{} s is outside 1 to 6", self.segment_s),
            );
        }
        Ok(())
    }
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        DocumentsConfig {
            max_upload_mib: 200,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MeetingsConfig {
    /// A scheduled meeting opens by itself this many minutes before its
    /// start, so rooms can connect and check sound and picture (lobby).
    pub open_before_minutes: u32,
}

impl Default for MeetingsConfig {
    fn default() -> Self {
        MeetingsConfig {
            open_before_minutes: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// HTTPS listener (pages, API, WebSocket, WHIP/WHEP); `"off"` for none.
    #[serde(with = "listen")]
    pub https_listen: Option<SocketAddr>,
    /// Plain HTTP listener. Refused on anything but a loopback address:
    /// browsers only grant camera/mic to secure contexts and tokens must not
    /// cross the network in clear. `"off"` for none.
    #[serde(with = "listen")]
    pub http_listen: Option<SocketAddr>,
    /// Prometheus `/metrics`, on a listener of its own and nowhere else (it
    /// names meetings and rooms): loopback by default, an internal address
    /// for a Prometheus elsewhere, `"off"` for none.
    #[serde(with = "listen")]
    pub metrics_listen: Option<SocketAddr>,
}

/// A listener address, or `"off"` (TOML has no null: a key left out takes
/// the default, so switching a listener off needs a word).
mod listen {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(a) => s.serialize_str(&a.to_string()),
            None => s.serialize_str("off"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(d)?;
        match text.trim() {
            "off" | "" => Ok(None),
            t => t.parse().map(Some).map_err(|_| {
                serde::de::Error::custom(format!(
                    "{t:?} is not an address like 0.0.0.0:8443, or \"off\""
                ))
            }),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain (e.g. issued by the province's internal CA).
    pub cert: Option<PathBuf>,
    /// PEM private key for `cert`.
    pub key: Option<PathBuf>,
    /// Extra names for the generated self-signed certificate.
    pub names: Vec<String>,
}

/// An address for ICE candidates: an IP (peers use the media port), or
/// `ip:port` when a NAT or port forward in front of the server maps another
/// port to the media port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvertiseAddr {
    pub ip: IpAddr,
    /// The outside port, when it differs from the media port.
    pub port: Option<u16>,
}

impl std::str::FromStr for AdvertiseAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(AdvertiseAddr { ip, port: None });
        }
        s.parse::<std::net::SocketAddr>()
            .map(|a| AdvertiseAddr {
                ip: a.ip(),
                port: Some(a.port()),
            })
            .map_err(|_| format!("{s:?} is not an IP address or ip:port"))
    }
}

impl std::fmt::Display for AdvertiseAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            None => write!(f, "{}", self.ip),
            Some(p) => write!(f, "{}", std::net::SocketAddr::new(self.ip, p)),
        }
    }
}

impl Serialize for AdvertiseAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AdvertiseAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Address the one media UDP port binds to.
    pub bind: IpAddr,
    /// The one UDP port every peer's media uses (0 picks a free port; tests).
    pub udp_port: u16,
    /// Addresses written into ICE candidates. Empty: every local IPv4
    /// address (loopback included). Behind 1:1 NAT, the public address;
    /// behind a port forward, `"ip:port"` (the outside port).
    pub advertise: Vec<AdvertiseAddr>,
    /// Media worker threads (rooms are sharded over them). 0: one per core.
    pub workers: usize,
    /// Audio streams forwarded to each participant besides the stage (loudest K).
    pub audio_slots_max: usize,
    /// UDP socket buffer size, bytes. Large so bursts (keyframes fanned out
    /// to hundreds of endpoints) are not dropped by the kernel.
    pub socket_buffer_bytes: usize,
    /// Offer ICE-TCP (RFC 6544, a passive TCP candidate at each advertised
    /// IP beside the UDP one): a room whose firewall passes only TCP still
    /// joins, its media framed on one TCP connection (RFC 4571).
    pub ice_tcp: bool,
    /// The TCP port for ICE-TCP (0 picks a free port; tests). 443 where
    /// the operator may use it (firewalls pass it most often) and nothing
    /// else listens there; a port forward must keep the port number.
    pub tcp_port: u16,
    /// Sessions a room holds on its home worker before new joins go to
    /// the least loaded worker, which holds a part of the room (its
    /// packets handed across without copying): a large meeting's fan-out
    /// then uses every core, and a starved core degrades only its share.
    /// Below this a room stays on one worker (no cross-thread cost). 0:
    /// never split.
    pub room_split_sessions: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// When set, a meeting `demo` accepts room joins, WHIP and WHEP with this bearer token.
    pub token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Empty: a SQLite file `<data_dir>/diemcau.db` (no set-up). A
    /// `postgres://user:password@host/db` URL when several nodes share one
    /// database. `sqlite://path` names another SQLite file.
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// tracing filter, e.g. `info,diemcau=debug`.
    pub filter: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("data"),
            http: HttpConfig::default(),
            tls: TlsConfig::default(),
            media: MediaConfig::default(),
            demo: DemoConfig::default(),
            log: LogConfig::default(),
            database: DatabaseConfig::default(),
            meetings: MeetingsConfig::default(),
            documents: DocumentsConfig::default(),
            recording: RecordingConfig::default(),
            live_stream: LiveStreamConfig::default(),
            cascade: CascadeConfig::default(),
            objects: objects::ObjectsConfig::default(),
            audit: AuditConfig::default(),
            auth: AuthConfig::default(),
            signatures: SignaturesConfig::default(),
            sip: sip::SipConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            https_listen: Some(SocketAddr::from(([0, 0, 0, 0], 8443))),
            http_listen: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
        }
    }
}

/// The default `[media] room_split_sessions`: a room of up to 48 sessions
/// (a district meeting) forwards on one worker, at about a tenth of a core;
/// a province meeting beyond it spreads over every worker.
pub const ROOM_SPLIT_SESSIONS: usize = 48;

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            bind: IpAddr::from([0, 0, 0, 0]),
            udp_port: 50000,
            advertise: Vec::new(),
            workers: 0,
            audio_slots_max: 3,
            socket_buffer_bytes: 8 * 1024 * 1024,
            ice_tcp: true,
            tcp_port: 50000,
            room_split_sessions: ROOM_SPLIT_SESSIONS,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            filter: "info".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Config {
    /// Load `path` (a missing default file is fine: all keys have defaults),
    /// then apply `DIEMCAU_*` overrides from `env`, then validate.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let table = Config::load_table(path, env)?;
        let origin = path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("<environment>"));
        let config: Config =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: origin,
                    message: e.message().to_string(),
                })?;
        config.validate()?;
        Ok(config)
    }

    /// The file and the `DIEMCAU_*` overrides merged into one table, not
    /// yet typed or validated: `diemcau check` reads it key by key to name
    /// every problem, not only the first.
    pub fn load_table(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<toml::Table, ConfigError> {
        let mut table: toml::Table = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?;
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::Parse {
                        path: p.to_path_buf(),
                        message: e.message().to_string(),
                    })?
            }
            None => toml::Table::new(),
        };
        for (var, value) in env {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let keys: Vec<String> = rest.split("__").map(|k| k.to_ascii_lowercase()).collect();
            set_path(&mut table, &keys, parse_env_value(&value)).map_err(|message| {
                ConfigError::Env {
                    var: var.clone(),
                    message,
                }
            })?;
        }
        Ok(table)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(addr) = self.http.http_listen
            && !addr.ip().is_loopback()
        {
            return Err(ConfigError::Invalid {
                key: "http.http_listen",
                message: format!(
                    "plain HTTP on {addr} would expose tokens; use a loopback address or https_listen"
                ),
            });
        }
        if self.http.http_listen.is_none() && self.http.https_listen.is_none() {
            return Err(ConfigError::Invalid {
                key: "http",
                message: "set at least one of http_listen or https_listen".into(),
            });
        }
        if !(1..=3650).contains(&self.auth.api_token_days) {
            return Err(ConfigError::Invalid {
                key: "auth.api_token_days",
                message: format!("{} days is outside 1 to 3650", self.auth.api_token_days),
            });
        }
        self.live_stream.validate()?;
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err(ConfigError::Invalid {
                key: "tls.cert",
                message: "tls.cert and tls.key go together; set both or neither".into(),
            });
        }
        if self.documents.max_upload_mib == 0 || self.documents.max_upload_mib > 16 * 1024 {
            return Err(ConfigError::Invalid {
                key: "documents.max_upload_mib",
                message: format!(
                    "{} MiB is outside 1 to 16384",
                    self.documents.max_upload_mib
                ),
            });
        }
        if self.meetings.open_before_minutes > 24 * 60 {
            return Err(ConfigError::Invalid {
                key: "meetings.open_before_minutes",
                message: format!(
                    "{} minutes is more than a day; use 0 to 1440",
                    self.meetings.open_before_minutes
                ),
            });
        }
        if self.media.audio_slots_max == 0 || self.media.audio_slots_max > 16 {
            return Err(ConfigError::Invalid {
                key: "media.audio_slots_max",
                message: format!("{} is out of range 1..=16", self.media.audio_slots_max),
            });
        }
        if let Some(t) = &self.demo.token
            && t.len() < 4
        {
            return Err(ConfigError::Invalid {
                key: "demo.token",
                message: "a token needs at least 4 characters".into(),
            });
        }
        for a in &self.media.advertise {
            if a.ip.is_unspecified() || a.port == Some(0) {
                return Err(ConfigError::Invalid {
                    key: "media.advertise",
                    message: format!("{a} cannot be advertised; name a reachable address"),
                });
            }
        }
        self.cascade.validate()?;
        self.objects.validate()?;
        self.signatures.validate()?;
        self.sip.validate()?;
        let url = self.database.url.trim();
        if !url.is_empty() && database::Backend::of_url(url).is_none() {
            return Err(ConfigError::Invalid {
                key: "database.url",
                message: format!(
                    "{:?} is not a database URL; leave it empty for the SQLite file in data_dir, \
                     or write sqlite://PATH or postgres://USER:PASSWORD@HOST/DB",
                    database::redact_url(url)
                ),
            });
        }
        Ok(())
    }

    /// The audit key file: `audit.key_file`, or `audit.key` in `data_dir`.
    pub fn audit_key_path(&self) -> PathBuf {
        self.audit
            .key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join(AUDIT_KEY_FILE_NAME))
    }

    /// The audit anchor file: `audit.anchor_file`, or
    /// `audit-anchors.log` in `data_dir`.
    pub fn audit_anchor_path(&self) -> PathBuf {
        self.audit
            .anchor_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join(AUDIT_ANCHOR_FILE_NAME))
    }

    /// The database to open: `database.url`, or the SQLite file in `data_dir`
    /// (created on first open).
    pub fn database_url(&self) -> String {
        let url = self.database.url.trim();
        if url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("diemcau.db").display()
            )
        } else if url.starts_with("sqlite:") && !url.contains("mode=") {
            // Without mode=rwc sqlx refuses to create the file on first run.
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        } else {
            url.to_string()
        }
    }

    /// Worker threads to run: the configured number, or one per core.
    pub fn media_workers(&self) -> usize {
        if self.media.workers > 0 {
            self.media.workers
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }
    }
}

/// Env values are TOML scalars when they parse as such (numbers, booleans,
/// arrays like `["10.0.0.2"]`), strings otherwise.
fn parse_env_value(raw: &str) -> toml::Value {
    let probe = format!("v = {raw}");
    match probe.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.into()),
    }
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = keys.split_last().ok_or("empty key")?;
    let mut cur = table;
    for k in parents {
        let entry = cur
            .entry(k.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{k}` is not a section"))?;
    }
    cur.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_with_no_file() {
        let c = Config::load(None, Vec::new()).unwrap();
        assert_eq!(c.media.udp_port, 50000);
        assert_eq!(c.media.audio_slots_max, 3);
    }

    #[test]
    fn env_overrides_nested_keys_with_typed_values() {
        let env = vec![
            ("DIEMCAU_MEDIA__UDP_PORT".to_string(), "40000".to_string()),
            ("DIEMCAU_DEMO__TOKEN".to_string(), "secret".to_string()),
            (
                "DIEMCAU_MEDIA__ADVERTISE".to_string(),
                r#"["127.0.0.1"]"#.to_string(),
            ),
            ("UNRELATED".to_string(), "x".to_string()),
        ];
        let c = Config::load(None, env).unwrap();
        assert_eq!(c.media.udp_port, 40000);
        assert_eq!(c.demo.token.as_deref(), Some("secret"));
        assert_eq!(
            c.media.advertise,
            vec!["127.0.0.1".parse::<AdvertiseAddr>().unwrap()]
        );
    }

    #[test]
    fn unknown_key_is_refused_naming_it() {
        let env = vec![("DIEMCAU_MEDIA__UDP_PROT".to_string(), "1".to_string())];
        let err = Config::load(None, env).unwrap_err().to_string();
        assert!(err.contains("udp_prot"), "{err}");
    }

    #[test]
    fn a_listener_is_switched_off_with_off_and_round_trips() {
        let env = vec![("DIEMCAU_HTTP__HTTPS_LISTEN".to_string(), "off".to_string())];
        let c = Config::load(None, env).unwrap();
        assert_eq!(c.http.https_listen, None);
        assert!(c.http.http_listen.is_some());
        let text = toml::to_string(&c).unwrap();
        assert!(text.contains("https_listen = \"off\""), "{text}");
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back, c);
        let env = vec![(
            "DIEMCAU_HTTP__HTTPS_LISTEN".to_string(),
            "\"nowhere\"".to_string(),
        )];
        let err = Config::load(None, env).unwrap_err().to_string();
        assert!(err.contains("nowhere") && err.contains("off"), "{err}");
    }

    #[test]
    fn plain_http_off_loopback_is_refused() {
        let env = vec![(
            "DIEMCAU_HTTP__HTTP_LISTEN".to_string(),
            "\"0.0.0.0:80\"".to_string(),
        )];
        let err = Config::load(None, env).unwrap_err().to_string();
        assert!(err.contains("http.http_listen"), "{err}");
    }

    #[test]
    fn database_defaults_to_sqlite_in_data_dir_and_env_sets_postgres() {
        let c = Config::load(None, vec![("DIEMCAU_DATA_DIR".into(), "/srv/dc".into())]).unwrap();
        assert_eq!(c.database_url(), "sqlite:///srv/dc/diemcau.db?mode=rwc");
        let env = vec![(
            "DIEMCAU_DATABASE__URL".to_string(),
            "postgres://dc:pw@db/diemcau".to_string(),
        )];
        let c = Config::load(None, env).unwrap();
        assert_eq!(c.database_url(), "postgres://dc:pw@db/diemcau");
    }

    #[test]
    fn unknown_database_url_is_refused_naming_the_key_without_the_password() {
        let env = vec![(
            "DIEMCAU_DATABASE__URL".to_string(),
            "mysql://dc:hunter2@db/diemcau".to_string(),
        )];
        let err = Config::load(None, env).unwrap_err().to_string();
        assert!(err.contains("database.url"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}

#[cfg(test)]
mod cascade_tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load(
            None,
            env.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn absent_cascade_is_a_standalone_node() {
        let c = load(&[]).unwrap();
        assert_eq!(c.cascade, CascadeConfig::default());
        assert_eq!(c.cascade.uplink_kbps, 20_000);
    }

    #[test]
    fn a_parent_with_id_and_credential_from_env_is_accepted() {
        let c = load(&[
            ("DIEMCAU_CASCADE__NODE_ID", "tinh-lao-cai"),
            ("DIEMCAU_CASCADE__NAME", "Tỉnh ủy Lào Cai"),
            ("DIEMCAU_CASCADE__PARENT", "http://127.0.0.1:9080"),
            ("DIEMCAU_CASCADE__CREDENTIAL", "dcn_x"),
            ("DIEMCAU_CASCADE__UPLINK_KBPS", "8000"),
        ])
        .unwrap();
        assert_eq!(c.cascade.node_id.as_deref(), Some("tinh-lao-cai"));
        assert_eq!(c.cascade.uplink_kbps, 8000);
        assert_eq!(
            c.cascade.parent_credential().unwrap().as_deref(),
            Some("dcn_x")
        );
    }

    #[test]
    fn an_https_parent_with_its_ca_pinned_is_accepted() {
        let c = load(&[
            ("DIEMCAU_CASCADE__NODE_ID", "tinh-lao-cai"),
            ("DIEMCAU_CASCADE__PARENT", "https://10.0.0.1:8443"),
            ("DIEMCAU_CASCADE__PARENT_CA", "/etc/diemcau/parent-ca.pem"),
            ("DIEMCAU_CASCADE__CREDENTIAL", "dcn_x"),
        ])
        .unwrap();
        assert_eq!(
            c.cascade.parent_ca.as_deref(),
            Some(std::path::Path::new("/etc/diemcau/parent-ca.pem"))
        );
    }

    #[test]
    fn bad_cascade_values_are_refused_naming_the_key() {
        let parent = ("DIEMCAU_CASCADE__PARENT", "http://127.0.0.1:9080");
        let id = ("DIEMCAU_CASCADE__NODE_ID", "a");
        let cred = ("DIEMCAU_CASCADE__CREDENTIAL", "dcn_x");
        for (env, key) in [
            (
                vec![("DIEMCAU_CASCADE__NODE_ID", "Tỉnh")],
                "cascade.node_id",
            ),
            (
                vec![("DIEMCAU_CASCADE__NODE_ID", "\"\"")],
                "cascade.node_id",
            ),
            (vec![parent, cred], "cascade.node_id"),
            (vec![parent, id], "cascade.credential"),
            (
                vec![parent, id, cred, ("DIEMCAU_CASCADE__CREDENTIAL_FILE", "/x")],
                "cascade.credential",
            ),
            (vec![cred], "cascade.credential"),
            (
                vec![("DIEMCAU_CASCADE__PARENT", "ftp://h/"), id, cred],
                "cascade.parent",
            ),
            (
                vec![("DIEMCAU_CASCADE__PARENT", "http://"), id, cred],
                "cascade.parent",
            ),
            (
                vec![
                    ("DIEMCAU_CASCADE__PARENT", "https://10.0.0.1:8443"),
                    id,
                    cred,
                ],
                "cascade.parent_ca",
            ),
            (
                vec![parent, id, cred, ("DIEMCAU_CASCADE__PARENT_CA", "/ca.pem")],
                "cascade.parent_ca",
            ),
            (
                vec![("DIEMCAU_CASCADE__PARENT_CA", "/ca.pem")],
                "cascade.parent_ca",
            ),
            (
                vec![("DIEMCAU_CASCADE__UPLINK_KBPS", "99")],
                "cascade.uplink_kbps",
            ),
            (
                vec![("DIEMCAU_CASCADE__UPLINK_KBPS", "1000001")],
                "cascade.uplink_kbps",
            ),
        ] {
            let err = load(&env).unwrap_err().to_string();
            assert!(err.contains(key), "{env:?}: {err}");
        }
    }

    #[test]
    fn the_credential_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cred");
        std::fs::write(&path, "  dcn_secret\n").unwrap();
        let c = CascadeConfig {
            node_id: Some("a".into()),
            parent: Some("http://127.0.0.1:1".into()),
            credential_file: Some(path.clone()),
            ..CascadeConfig::default()
        };
        assert_eq!(
            c.parent_credential().unwrap().as_deref(),
            Some("dcn_secret")
        );
        std::fs::write(&path, " \n").unwrap();
        let err = c.parent_credential().unwrap_err().to_string();
        assert!(err.contains("cascade.credential_file"), "{err}");
    }
}

#[cfg(test)]
mod example_file_tests {
    use super::*;

    #[test]
    fn shipped_example_config_parses_to_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/diemcau.toml");
        let c = Config::load(Some(&path), Vec::new()).unwrap();
        assert_eq!(
            c,
            Config::default(),
            "configs/diemcau.toml must document the defaults"
        );
    }

    #[test]
    fn an_advertised_address_may_carry_the_outside_port_of_a_port_forward() {
        let a: AdvertiseAddr = "203.0.113.5:40000".parse().unwrap();
        assert_eq!(a.ip, "203.0.113.5".parse::<IpAddr>().unwrap());
        assert_eq!(a.port, Some(40000));
        assert_eq!(a.to_string(), "203.0.113.5:40000");
        let b: AdvertiseAddr = "10.0.0.7".parse().unwrap();
        assert_eq!((b.port, b.to_string().as_str()), (None, "10.0.0.7"));
        assert!("example.org".parse::<AdvertiseAddr>().is_err());
        let env = vec![(
            "DIEMCAU_MEDIA__ADVERTISE".to_string(),
            "[\"0.0.0.0\"]".to_string(),
        )];
        let e = Config::load(None, env).unwrap_err().to_string();
        assert!(e.contains("media.advertise"), "{e}");
    }

    #[test]
    fn automatic_recording_can_be_limited_to_kinds_of_meeting() {
        use diemcau_live::kind::MeetingKind;
        let env = vec![(
            "DIEMCAU_RECORDING__AUTOMATIC_KINDS".to_string(),
            r#"["bch", "btv"]"#.to_string(),
        )];
        let c = Config::load(None, env).unwrap();
        assert!(c.recording.records_automatically(MeetingKind::Bch));
        assert!(!c.recording.records_automatically(MeetingKind::GiaoBan));
        assert!(
            Config::default()
                .recording
                .records_automatically(MeetingKind::GiaoBan)
        );
        let env = vec![(
            "DIEMCAU_RECORDING__AUTOMATIC_KINDS".to_string(),
            r#"["party"]"#.to_string(),
        )];
        let e = Config::load(None, env).unwrap_err().to_string();
        assert!(e.contains("party") && e.contains("giao_ban"), "{e}");
    }
}
