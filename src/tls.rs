//! TLS for the HTTP and WebSocket listener.
//!
//! Browsers grant a page camera and microphone only in a secure context, so rooms must reach
//! diemcau over HTTPS/WSS, even on an isolated network with no public CA. This module owns turning
//! configuration into a `rustls::ServerConfig`: either the operator's certificate and key, or a
//! local CA plus a server certificate it signs, generated and kept under `<data_dir>/tls/`.
//! It never listens on a socket and never writes outside `<data_dir>/tls/`.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData,
    SanType,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, DnsName, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{InconsistentKeys, RootCertStore, ServerConfig};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

const DAY_SECS: u64 = 86_400;
/// Every room imports the CA by hand once; ten years keeps that a one-time chore.
const CA_VALIDITY_SECS: u64 = 3_650 * DAY_SECS;
/// Two years stays under Apple's 825-day cap on TLS server certificates, which applies to
/// privately trusted CAs too.
const SERVER_VALIDITY_SECS: u64 = 730 * DAY_SECS;
/// Renewal happens only at start-up, so leave a month for a server that runs without restart.
const RENEW_BEFORE_SECS: u64 = 30 * DAY_SECS;
/// Isolated networks often lack NTP: a room whose clock lags ours must not see a certificate
/// that is not yet valid.
const BACKDATE_SECS: u64 = DAY_SECS;

const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca.key";
const SERVER_CERT_FILE: &str = "server.pem";
const SERVER_KEY_FILE: &str = "server.key";
/// Anyone holding a private key can impersonate the server (or, with `ca.key`, any site) to
/// every room that imported the CA.
const KEY_FILE_MODE: u32 = 0o600;
const CERT_FILE_MODE: u32 = 0o644;

/// What the HTTPS listener needs, ready to serve.
pub struct TlsMaterial {
    pub server_config: Arc<ServerConfig>,
    /// PEM of the CA that signed the served certificate when diemcau generated it
    /// (rooms import it to trust the server); None for an operator-supplied certificate.
    pub ca_pem: Option<String>,
    /// Path of the certificate file in use (for logs).
    pub cert_path: PathBuf,
}

impl fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("cert_path", &self.cert_path)
            .field("generated", &self.ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "tls certificate {cert} is configured without a key: set both certificate and key, \
         or neither to let diemcau generate them"
    )]
    CertWithoutKey { cert: PathBuf },
    #[error(
        "tls key {key} is configured without a certificate: set both certificate and key, \
         or neither to let diemcau generate them"
    )]
    KeyWithoutCert { key: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot parse {path} as PEM: {source}")]
    Pem {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("no certificate in {path}: expected PEM blocks `-----BEGIN CERTIFICATE-----`")]
    NoCertificate { path: PathBuf },
    #[error(
        "no private key in {path}: expected a PEM `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` \
         (PKCS#1) or `EC PRIVATE KEY` (SEC1) block"
    )]
    NoKey { path: PathBuf },
    #[error(
        "tls key {key} does not match certificate {cert}: configure the key the certificate \
         was issued for"
    )]
    KeyMismatch { key: PathBuf, cert: PathBuf },
    #[error("cannot use tls key {key} with certificate {cert}: {source}")]
    Unusable {
        key: PathBuf,
        cert: PathBuf,
        source: rustls::Error,
    },
    #[error(
        "invalid tls name {name:?}: expected a DNS name such as `room.example` or an IP address"
    )]
    InvalidName { name: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "{present} exists but {missing} does not: restore {missing} from a backup, or delete \
         {present} to create a new CA that every room must then import again"
    )]
    CaIncomplete { present: PathBuf, missing: PathBuf },
    #[error(
        "cannot use the local CA {path}: {reason}; restore it from a backup, or delete ca.pem \
         and ca.key to create a new CA that every room must then import again"
    )]
    CaUnusable { path: PathBuf, reason: String },
    #[error("cannot generate the {what}: {source}")]
    Generate {
        what: &'static str,
        source: rcgen::Error,
    },
    #[error("cannot build the tls configuration: {0}")]
    Config(rustls::Error),
}

/// `cert`/`key`: operator-supplied PEM files (both or neither). `names`: extra DNS names/IPs
/// for a generated certificate. `data_dir`: where generated material lives (`<data_dir>/tls/`).
pub fn load_or_generate(
    cert: Option<&Path>,
    key: Option<&Path>,
    names: &[String],
    data_dir: &Path,
) -> Result<TlsMaterial, TlsError> {
    // Validate names even when unused, so a typo fails now rather than after switching modes.
    let extra = parse_names(names)?;
    match (cert, key) {
        (Some(cert), Some(key)) => {
            if !extra.is_empty() {
                tracing::warn!(cert = %cert.display(), "tls names apply only to a generated certificate; ignoring them");
            }
            let server_config = load_server_config(cert, key)?;
            warn_if_expiring(cert, SystemTime::now());
            Ok(TlsMaterial {
                server_config,
                ca_pem: None,
                cert_path: cert.to_owned(),
            })
        }
        (Some(cert), None) => Err(TlsError::CertWithoutKey {
            cert: cert.to_owned(),
        }),
        (None, Some(key)) => Err(TlsError::KeyWithoutCert {
            key: key.to_owned(),
        }),
        (None, None) => generated(&extra, data_dir, SystemTime::now()),
    }
}

fn generated(
    extra: &BTreeSet<San>,
    data_dir: &Path,
    now: SystemTime,
) -> Result<TlsMaterial, TlsError> {
    let dir = data_dir.join("tls");
    create_private_dir(&dir)?;
    let host = hostname();
    let wanted = wanted_sans(host.as_deref(), &local_ip_addrs(), extra);
    let ca = LocalCa::load_or_create(&dir, host.as_deref(), now)?;
    let cert_path = dir.join(SERVER_CERT_FILE);
    let key_path = dir.join(SERVER_KEY_FILE);
    match reissue_reason(&ca, &cert_path, &key_path, &wanted, now) {
        None => {
            tracing::debug!(cert = %cert_path.display(), "reusing the generated tls certificate")
        }
        Some(reason) => {
            tracing::info!(cert = %cert_path.display(), %reason, "issuing a tls server certificate");
            ca.issue_server(&dir, &wanted, now, SERVER_VALIDITY_SECS)?;
        }
    }
    Ok(TlsMaterial {
        server_config: load_server_config(&cert_path, &key_path)?,
        ca_pem: Some(ca.pem.clone()),
        cert_path,
    })
}

fn provider() -> Arc<CryptoProvider> {
    // Explicit, so the choice never depends on which other crate installed a process default.
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn load_server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let certified = load_certified_key(cert, key, &provider)?;
    // The provider's default suites are all ECDHE with AES-GCM or ChaCha20-Poly1305.
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn load_certified_key(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = read_chain(cert)?;
    let key_der = read_key(key)?;
    CertifiedKey::from_der(chain, key_der, provider).map_err(|source| match source {
        rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => TlsError::KeyMismatch {
            key: key.to_owned(),
            cert: cert.to_owned(),
        },
        source => TlsError::Unusable {
            key: key.to_owned(),
            cert: cert.to_owned(),
            source,
        },
    })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(&read(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            path: path.to_owned(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    use rustls::pki_types::pem::Error;
    PrivateKeyDer::from_pem_slice(&read(path)?).map_err(|source| match source {
        Error::NoItemsFound => TlsError::NoKey {
            path: path.to_owned(),
        },
        source => TlsError::Pem {
            path: path.to_owned(),
            source,
        },
    })
}

/// An operator's certificate is theirs to renew; say so before rooms start failing.
fn warn_if_expiring(cert: &Path, now: SystemTime) {
    let Ok(chain) = read_chain(cert) else { return };
    let Some(not_after) = parse(&chain[0]).map(|c| c.validity().not_after.timestamp()) else {
        return;
    };
    if not_after < unix_secs(now + Duration::from_secs(RENEW_BEFORE_SECS)) {
        tracing::warn!(cert = %cert.display(), not_after, "the tls certificate expires within 30 days (or has expired): renew it");
    }
}

/// Why the stored server certificate cannot be served as is, or None when it can.
fn reissue_reason(
    ca: &LocalCa,
    cert: &Path,
    key: &Path,
    wanted: &BTreeSet<San>,
    now: SystemTime,
) -> Option<String> {
    if !cert.exists() || !key.exists() {
        return Some("no server certificate yet".into());
    }
    let certified = match load_certified_key(cert, key, &provider()) {
        Ok(certified) => certified,
        Err(err) => return Some(err.to_string()),
    };
    if let Err(err) = verify_like_a_room(&ca.der, &certified.cert, "localhost", now) {
        return Some(format!("it does not verify against the local CA: {err}"));
    }
    let Some(parsed) = parse(&certified.cert[0]) else {
        return Some("it is not a parseable X.509 certificate".into());
    };
    let not_after = parsed.validity().not_after.timestamp();
    if not_after < unix_secs(now + Duration::from_secs(RENEW_BEFORE_SECS)) {
        return Some(format!(
            "it expires within 30 days (not after {not_after} unix time)"
        ));
    }
    let current = cert_sans(&parsed);
    if current != *wanted {
        let added: Vec<_> = wanted.difference(&current).map(San::to_string).collect();
        let removed: Vec<_> = current.difference(wanted).map(San::to_string).collect();
        return Some(format!(
            "names changed: added {added:?}, removed {removed:?}"
        ));
    }
    None
}

/// Verifies `chain` for `name` exactly as a room that imported only our CA would.
fn verify_like_a_room(
    ca: &CertificateDer<'static>,
    chain: &[CertificateDer<'static>],
    name: &str,
    now: SystemTime,
) -> Result<(), rustls::Error> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone())?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|err| rustls::Error::General(err.to_string()))?;
    let name = ServerName::try_from(name)
        .map_err(|err| rustls::Error::General(err.to_string()))?
        .to_owned();
    let (end_entity, intermediates) = chain
        .split_first()
        .ok_or(rustls::Error::NoCertificatesPresented)?;
    let now = UnixTime::since_unix_epoch(Duration::from_secs(unix_secs(now).max(0) as u64));
    verifier
        .verify_server_cert(end_entity, intermediates, &name, &[], now)
        .map(|_| ())
}

/// The CA that signs generated server certificates. Rooms import its certificate, so once it
/// exists it is only ever loaded, never replaced.
struct LocalCa {
    pem: String,
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl LocalCa {
    fn load_or_create(dir: &Path, host: Option<&str>, now: SystemTime) -> Result<Self, TlsError> {
        let cert = dir.join(CA_CERT_FILE);
        let key = dir.join(CA_KEY_FILE);
        match (exists(&cert)?, exists(&key)?) {
            (true, true) => Self::load(&cert, &key),
            (false, false) => Self::create(&cert, &key, host, now),
            (true, false) => Err(TlsError::CaIncomplete {
                present: cert,
                missing: key,
            }),
            (false, true) => Err(TlsError::CaIncomplete {
                present: key,
                missing: cert,
            }),
        }
    }

    fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let unusable = |path: &Path, reason: String| TlsError::CaUnusable {
            path: path.to_owned(),
            reason,
        };
        let pem =
            String::from_utf8(read(cert)?).map_err(|_| unusable(cert, "not UTF-8 PEM".into()))?;
        let der = CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(|err| unusable(cert, err.to_string()))?;
        let key_pem =
            String::from_utf8(read(key)?).map_err(|_| unusable(key, "not UTF-8 PEM".into()))?;
        let key_pair = KeyPair::from_pem(&key_pem).map_err(|err| unusable(key, err.to_string()))?;
        let parsed =
            parse(&der).ok_or_else(|| unusable(cert, "not an X.509 certificate".into()))?;
        if parsed.public_key().raw != key_pair.subject_public_key_info().as_slice() {
            return Err(unusable(
                key,
                format!("it does not match {}", cert.display()),
            ));
        }
        let mut params = CertificateParams::default();
        params.distinguished_name =
            distinguished_name(&parsed).map_err(|reason| unusable(cert, reason))?;
        // Reuse the CA's own key identifier so new certificates' authority key id matches it.
        params.key_identifier_method = match subject_key_id(&parsed) {
            Some(id) => KeyIdMethod::PreSpecified(id),
            None => KeyIdMethod::Sha256,
        };
        params.key_usages = ca_key_usages();
        Ok(Self {
            pem,
            der,
            issuer: Issuer::new(params, key_pair),
        })
    }

    fn create(
        cert: &Path,
        key: &Path,
        host: Option<&str>,
        now: SystemTime,
    ) -> Result<Self, TlsError> {
        let generate = |source| TlsError::Generate {
            what: "local CA",
            source,
        };
        let key_pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(generate)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        let cn = format!("diemcau local CA ({})", host.unwrap_or("unknown host"));
        params
            .distinguished_name
            .push(DnType::CommonName, cn.as_str());
        params
            .distinguished_name
            .push(DnType::OrganizationName, "diemcau");
        // Path length 0: this CA signs server certificates only, never another CA.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = ca_key_usages();
        params.not_before = (now - Duration::from_secs(BACKDATE_SECS)).into();
        params.not_after = (now + Duration::from_secs(CA_VALIDITY_SECS)).into();
        let pem = params.self_signed(&key_pair).map_err(generate)?.pem();
        // Key first: a crash in between leaves ca.key alone, which load_or_create reports,
        // whereas a lone ca.pem might already have been handed to rooms.
        write_file(key, key_pair.serialize_pem().as_bytes(), KEY_FILE_MODE)?;
        write_file(cert, pem.as_bytes(), CERT_FILE_MODE)?;
        tracing::info!(ca = %cert.display(), name = %cn, "created a local CA: import it in every room's browser");
        let der =
            CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|err| TlsError::CaUnusable {
                path: cert.to_owned(),
                reason: err.to_string(),
            })?;
        Ok(Self {
            pem,
            der,
            issuer: Issuer::new(params, key_pair),
        })
    }

    /// Writes a fresh key and a certificate for `sans` valid for `validity_secs` from `now`.
    fn issue_server(
        &self,
        dir: &Path,
        sans: &BTreeSet<San>,
        now: SystemTime,
        validity_secs: u64,
    ) -> Result<(), TlsError> {
        let generate = |source| TlsError::Generate {
            what: "tls server certificate",
            source,
        };
        let key_pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(generate)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "diemcau server");
        params.subject_alt_names = sans
            .iter()
            .map(San::to_rcgen)
            .collect::<Result<_, _>>()
            .map_err(generate)?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = (now - Duration::from_secs(BACKDATE_SECS)).into();
        params.not_after = (now + Duration::from_secs(validity_secs)).into();
        let cert = params
            .signed_by(&key_pair, &self.issuer)
            .map_err(generate)?;
        // The CA rides along so a client missing it can still be shown the whole chain.
        let chain = format!("{}{}", cert.pem(), self.pem);
        // Key first: a crash in between leaves a key that does not match, which forces a re-issue.
        write_file(
            &dir.join(SERVER_KEY_FILE),
            key_pair.serialize_pem().as_bytes(),
            KEY_FILE_MODE,
        )?;
        write_file(
            &dir.join(SERVER_CERT_FILE),
            chain.as_bytes(),
            CERT_FILE_MODE,
        )
    }
}

fn ca_key_usages() -> Vec<KeyUsagePurpose> {
    vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ]
}

fn parse<'a>(der: &'a CertificateDer<'_>) -> Option<X509Certificate<'a>> {
    x509_parser::parse_x509_certificate(der)
        .ok()
        .map(|(_, cert)| cert)
}

/// The subject exactly as encoded, since a verifier matches issuer to subject byte for byte.
fn distinguished_name(cert: &X509Certificate<'_>) -> Result<DistinguishedName, String> {
    use x509_parser::der_parser::asn1_rs::Tag;
    let mut dn = DistinguishedName::new();
    for attr in cert.subject().iter_attributes() {
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or("subject has an oversized OID")?
            .collect();
        let value = attr.attr_value();
        let text =
            std::str::from_utf8(value.data).map_err(|_| "subject is not text".to_string())?;
        let value = match value.header.tag() {
            Tag::Utf8String => DnValue::Utf8String(text.to_owned()),
            Tag::PrintableString => {
                DnValue::PrintableString(text.try_into().map_err(|e| format!("{e}"))?)
            }
            Tag::Ia5String => DnValue::Ia5String(text.try_into().map_err(|e| format!("{e}"))?),
            tag => return Err(format!("subject uses unsupported string type {tag}")),
        };
        dn.push(DnType::from_oid(&oid), value);
    }
    Ok(dn)
}

fn subject_key_id(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    use x509_parser::extensions::ParsedExtension;
    cert.iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        })
}

fn cert_sans(cert: &X509Certificate<'_>) -> BTreeSet<San> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return BTreeSet::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(San::Dns(dns.to_ascii_lowercase())),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes)
                    .ok()
                    .map(|b| San::Ip(Ipv4Addr::from(b).into())),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(|b| San::Ip(Ipv6Addr::from(b).into())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// A subject alternative name, normalised so sets of them compare meaningfully.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum San {
    Dns(String),
    Ip(IpAddr),
}

impl San {
    fn to_rcgen(&self) -> Result<SanType, rcgen::Error> {
        Ok(match self {
            San::Dns(name) => SanType::DnsName(name.as_str().try_into()?),
            San::Ip(ip) => SanType::IpAddress(*ip),
        })
    }
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(name) => f.write_str(name),
            San::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

fn parse_names(names: &[String]) -> Result<BTreeSet<San>, TlsError> {
    names
        .iter()
        .map(|name| parse_name(name).ok_or_else(|| TlsError::InvalidName { name: name.clone() }))
        .collect()
}

fn parse_name(name: &str) -> Option<San> {
    let name = name.trim();
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Some(San::Ip(ip));
    }
    let name = name.to_ascii_lowercase();
    DnsName::try_from(name.as_str()).ok()?;
    Some(San::Dns(name))
}

fn wanted_sans(host: Option<&str>, local_ips: &[IpAddr], extra: &BTreeSet<San>) -> BTreeSet<San> {
    let mut sans = BTreeSet::from([
        San::Dns("localhost".into()),
        San::Ip(Ipv4Addr::LOCALHOST.into()),
        San::Ip(Ipv6Addr::LOCALHOST.into()),
    ]);
    if let Some(host) = host.and_then(parse_name) {
        // Rooms on a network without DNS often find the server by mDNS (Avahi, Bonjour).
        if let San::Dns(name) = &host
            && !name.contains('.')
            && let Some(local) = parse_name(&format!("{name}.local"))
        {
            sans.insert(local);
        }
        sans.insert(host);
    }
    sans.extend(local_ips.iter().copied().map(San::Ip));
    sans.extend(extra.iter().cloned());
    sans
}

fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`, which outlives the call.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..end])
        .ok()?
        .trim()
        .to_ascii_lowercase();
    (!name.is_empty()).then_some(name)
}

/// Every address a room might type into its browser to reach this machine.
fn local_ip_addrs() -> Vec<IpAddr> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list that we release with freeifaddrs below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        tracing::warn!(error = %io::Error::last_os_error(), "cannot list local addresses for the tls certificate");
        return Vec::new();
    }
    let mut addrs = Vec::new();
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: `cursor` is a node of the list getifaddrs returned, not yet freed; each
        // sockaddr is read as the type its family field announces.
        let ip = unsafe {
            let ifa = &*cursor;
            cursor = ifa.ifa_next;
            match ifa.ifa_addr.as_ref().map(|sa| i32::from(sa.sa_family)) {
                Some(libc::AF_INET) => {
                    let sin = &*ifa.ifa_addr.cast::<libc::sockaddr_in>();
                    Some(IpAddr::from(Ipv4Addr::from(u32::from_be(
                        sin.sin_addr.s_addr,
                    ))))
                }
                Some(libc::AF_INET6) => {
                    let sin6 = &*ifa.ifa_addr.cast::<libc::sockaddr_in6>();
                    Some(IpAddr::from(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
                }
                _ => None,
            }
        };
        // IPv6 link-local addresses need a zone id, which browsers do not accept in a URL.
        // IPv4 link-local (169.254/16) stays: without DHCP that may be the only address.
        if let Some(ip) =
            ip.filter(|ip| !matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local()))
        {
            addrs.push(ip);
        }
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(head) };
    addrs
}

fn exists(path: &Path) -> Result<bool, TlsError> {
    path.try_exists().map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn create_private_dir(dir: &Path) -> Result<(), TlsError> {
    let write_err = |source| TlsError::Write {
        path: dir.to_owned(),
        source,
    };
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent).map_err(write_err)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(err) if err.kind() != io::ErrorKind::AlreadyExists => Err(write_err(err)),
        _ => Ok(()),
    }
}

/// Writes a sibling file then renames it, so a crash never leaves half a certificate or key.
fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let write_err = |source| TlsError::Write {
        path: path.to_owned(),
        source,
    };
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    match fs::remove_file(&tmp) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(write_err(err)),
        _ => {}
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(write_err)?;
    file.write_all(contents).map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    fs::rename(&tmp, path).map_err(write_err)
}

fn unix_secs(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn generate(data_dir: &Path, names: &[&str]) -> TlsMaterial {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        load_or_generate(None, None, &names, data_dir).expect("generate tls material")
    }

    fn tls_file(data_dir: &Path, name: &str) -> Vec<u8> {
        fs::read(data_dir.join("tls").join(name)).expect("read generated file")
    }

    fn served_chain(material: &TlsMaterial) -> Vec<CertificateDer<'static>> {
        read_chain(&material.cert_path).expect("read served chain")
    }

    fn ca_der(material: &TlsMaterial) -> CertificateDer<'static> {
        let pem = material
            .ca_pem
            .as_ref()
            .expect("generated material has a CA");
        CertificateDer::from_pem_slice(pem.as_bytes()).expect("CA PEM parses")
    }

    fn verifies(material: &TlsMaterial, name: &str) -> bool {
        verify_like_a_room(
            &ca_der(material),
            &served_chain(material),
            name,
            SystemTime::now(),
        )
        .is_ok()
    }

    /// A self-signed certificate and its key, as an operator might bring them.
    fn operator_pair(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = CertificateParams::new(vec!["meet.example".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (cert_path, key_path) = (
            dir.join(format!("{stem}.crt")),
            dir.join(format!("{stem}.key")),
        );
        fs::write(&cert_path, cert.pem()).unwrap();
        fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }

    #[test]
    fn generated_material_is_reused_on_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let first = generate(dir.path(), &[]);
        let (ca, server) = (
            tls_file(dir.path(), "ca.pem"),
            tls_file(dir.path(), "server.pem"),
        );
        let second = generate(dir.path(), &[]);
        assert_eq!(first.ca_pem, second.ca_pem);
        assert_eq!(tls_file(dir.path(), "ca.pem"), ca);
        assert_eq!(tls_file(dir.path(), "server.pem"), server);
        assert_eq!(second.cert_path, dir.path().join("tls/server.pem"));
    }

    #[test]
    fn changed_names_reissue_the_server_certificate_but_keep_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let first = generate(dir.path(), &[]);
        let server = tls_file(dir.path(), "server.pem");
        assert!(!verifies(&first, "room.example"));

        let second = generate(dir.path(), &["Room.Example", "10.9.8.7"]);
        assert_eq!(first.ca_pem, second.ca_pem);
        assert_ne!(tls_file(dir.path(), "server.pem"), server);
        assert!(verifies(&second, "room.example"));
        assert!(verifies(&second, "10.9.8.7"));
    }

    #[test]
    fn generated_certificate_chains_to_the_ca_for_localhost_and_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let material = generate(dir.path(), &[]);
        for name in ["localhost", "127.0.0.1", "::1"] {
            assert!(verifies(&material, name), "{name} should verify");
        }
        assert!(!verifies(&material, "not-this-server.example"));

        let other = tempfile::tempdir().unwrap();
        let stranger = generate(other.path(), &[]);
        let verdict = verify_like_a_room(
            &ca_der(&stranger),
            &served_chain(&material),
            "localhost",
            SystemTime::now(),
        );
        assert!(
            verdict.is_err(),
            "a different CA must not vouch for this server"
        );
    }

    #[test]
    fn server_certificate_close_to_expiry_is_reissued_under_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let first = generate(dir.path(), &[]);
        let tls_dir = dir.path().join("tls");
        let ca = LocalCa::load(&tls_dir.join("ca.pem"), &tls_dir.join("ca.key")).unwrap();
        let wanted = wanted_sans(hostname().as_deref(), &local_ip_addrs(), &BTreeSet::new());
        ca.issue_server(&tls_dir, &wanted, SystemTime::now(), 10 * DAY_SECS)
            .unwrap();
        let short_lived = tls_file(dir.path(), "server.pem");
        assert!(
            verifies(&first, "localhost"),
            "the short-lived cert is still valid today"
        );

        let second = generate(dir.path(), &[]);
        assert_eq!(first.ca_pem, second.ca_pem);
        assert_ne!(tls_file(dir.path(), "server.pem"), short_lived);
        let renewed = parse(&served_chain(&second)[0])
            .unwrap()
            .validity()
            .not_after
            .timestamp();
        assert!(renewed > unix_secs(SystemTime::now()) + 365 * DAY_SECS as i64);
    }

    #[test]
    fn existing_ca_is_never_replaced_when_its_key_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), &[]);
        let ca = tls_file(dir.path(), "ca.pem");
        fs::remove_file(dir.path().join("tls/ca.key")).unwrap();

        let err = load_or_generate(None, None, &[], dir.path()).unwrap_err();
        assert!(matches!(err, TlsError::CaIncomplete { .. }), "{err}");
        assert!(err.to_string().contains("ca.key"), "{err}");
        assert_eq!(tls_file(dir.path(), "ca.pem"), ca);
    }

    #[test]
    fn generated_key_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), &[]);
        for name in ["ca.key", "server.key"] {
            let mode = fs::metadata(dir.path().join("tls").join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name} has mode {mode:o}");
        }
    }

    #[test]
    fn operator_certificate_and_key_load() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = operator_pair(dir.path(), "meet");
        let material = load_or_generate(Some(&cert), Some(&key), &[], dir.path()).unwrap();
        assert_eq!(material.cert_path, cert);
        assert!(material.ca_pem.is_none());
        assert_eq!(
            material.server_config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(
            !dir.path().join("tls").exists(),
            "nothing is generated for an operator certificate"
        );
    }

    #[test]
    fn operator_key_that_does_not_match_is_refused_naming_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = operator_pair(dir.path(), "meet");
        let (_, other_key) = operator_pair(dir.path(), "other");
        let err = load_or_generate(Some(&cert), Some(&other_key), &[], dir.path()).unwrap_err();
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
        assert!(
            err.to_string().contains(&other_key.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn missing_certificate_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let (_, key) = operator_pair(dir.path(), "meet");
        let missing = dir.path().join("absent.crt");
        let err = load_or_generate(Some(&missing), Some(&key), &[], dir.path()).unwrap_err();
        assert!(matches!(err, TlsError::Read { .. }), "{err}");
        assert!(
            err.to_string().contains(&missing.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn file_without_a_certificate_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let (_, key) = operator_pair(dir.path(), "meet");
        let err = load_or_generate(Some(&key), Some(&key), &[], dir.path()).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
        assert!(
            err.to_string().contains(&key.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn certificate_without_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = operator_pair(dir.path(), "meet");
        let err = load_or_generate(Some(&cert), None, &[], dir.path()).unwrap_err();
        assert!(matches!(err, TlsError::CertWithoutKey { .. }), "{err}");
    }

    #[test]
    fn invalid_name_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_or_generate(None, None, &["bad name!".into()], dir.path()).unwrap_err();
        assert!(err.to_string().contains("bad name!"), "{err}");
        assert!(
            !dir.path().join("tls").exists(),
            "bad input changes nothing"
        );
    }

    /// Runs one real handshake on loopback; returns what the client negotiated.
    async fn handshake(
        material: &TlsMaterial,
        version: &'static rustls::SupportedProtocolVersion,
    ) -> (
        rustls::ProtocolVersion,
        Option<Vec<u8>>,
        rustls::CipherSuite,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(material.server_config.clone());
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(tcp).await.expect("server handshake");
            tls.write_all(b"ok").await.unwrap();
            tls.shutdown().await.unwrap();
        });

        let mut roots = RootCertStore::empty();
        roots.add(ca_der(material)).unwrap();
        let mut client = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = connector
            .connect(name, tcp)
            .await
            .expect("client handshake");
        let mut reply = Vec::new();
        tls.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"ok");
        server.await.unwrap();
        let (_, conn) = tls.get_ref();
        (
            conn.protocol_version().unwrap(),
            conn.alpn_protocol().map(<[u8]>::to_vec),
            conn.negotiated_cipher_suite().unwrap().suite(),
        )
    }

    #[tokio::test]
    async fn clients_trusting_only_the_ca_complete_tls13_and_tls12_handshakes() {
        let dir = tempfile::tempdir().unwrap();
        let material = generate(dir.path(), &[]);

        let (version, alpn, _) = handshake(&material, &rustls::version::TLS13).await;
        assert_eq!(version, rustls::ProtocolVersion::TLSv1_3);
        assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));

        let (version, _, suite) = handshake(&material, &rustls::version::TLS12).await;
        assert_eq!(version, rustls::ProtocolVersion::TLSv1_2);
        let suite = format!("{suite:?}");
        assert!(suite.starts_with("TLS_ECDHE_ECDSA_WITH_"), "{suite}");
        assert!(
            suite.contains("_GCM_") || suite.contains("CHACHA20_POLY1305"),
            "{suite}"
        );
    }
}
