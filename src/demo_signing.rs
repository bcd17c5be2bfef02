//! `diemcau demo`'s signing material: a demo CA under the data directory, an
//! organisation certificate for the seal (its subject says it is a demo and
//! has no legal value), and a fresh CRL of the CA at every start — so a
//! newcomer's finalised minutes come out signed and checked as valid.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, SerialNumber,
};

use crate::config::SignaturesConfig;

/// The folder under the data directory.
pub const DIR: &str = "demo-signing";
/// Said by every demo certificate: a reader must never mistake it.
pub const DEMO_NOTICE: &str = "TRÌNH DIỄN — không có giá trị pháp lý";

const DAY: Duration = Duration::from_secs(86_400);

#[derive(Debug, thiserror::Error)]
pub enum DemoSigningError {
    #[error("demo signing material in {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("demo signing material: {0}")]
    Generate(#[from] rcgen::Error),
}

fn write(path: &Path, data: &str, mode: u32) -> Result<(), DemoSigningError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |source| DemoSigningError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(path, data).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)
}

fn read(path: &Path) -> Result<String, DemoSigningError> {
    std::fs::read_to_string(path).map_err(|source| DemoSigningError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn name(cn: &str, org: &str) -> DistinguishedName {
    let mut n = DistinguishedName::new();
    n.push(DnType::CommonName, cn);
    n.push(DnType::OrganizationName, org);
    n.push(DnType::CountryName, "VN");
    n
}

/// Make (once) and refresh (the CRL, each start) the demo's signing
/// material in `data_dir`, and point `config` at it: the CA is trusted, its
/// CRL folder read, and — unless a real seal is configured — the demo
/// organisation certificate seals.
pub fn prepare(data_dir: &Path, config: &mut SignaturesConfig) -> Result<(), DemoSigningError> {
    let dir = data_dir.join(DIR);
    let crl_dir = dir.join("crl");
    std::fs::create_dir_all(&crl_dir).map_err(|source| DemoSigningError::Io {
        path: crl_dir.clone(),
        source,
    })?;
    let (ca_pem, ca_key) = (dir.join("ca.pem"), dir.join("ca.key"));
    let (seal_pem, seal_key) = (dir.join("seal.pem"), dir.join("seal.key"));
    let now = SystemTime::now();
    if !ca_pem.is_file() || !ca_key.is_file() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut p = CertificateParams::default();
        p.distinguished_name = name(
            &format!("diemcau CA chữ ký số — {DEMO_NOTICE}"),
            "diemcau (TRÌNH DIỄN)",
        );
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.key_identifier_method = KeyIdMethod::Sha256;
        p.not_before = (now - DAY).into();
        p.not_after = (now + 3650 * DAY).into();
        let cert = p.self_signed(&key)?;
        write(&ca_key, &key.serialize_pem(), 0o600)?;
        write(&ca_pem, &cert.pem(), 0o644)?;
        // A new CA invalidates any seal made under an old one.
        let _ = std::fs::remove_file(&seal_pem);
    }
    let ca_key_pair = KeyPair::from_pem(&read(&ca_key)?)?;
    let ca_text = read(&ca_pem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_text, ca_key_pair)?;
    if !seal_pem.is_file() || !seal_key.is_file() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut p = CertificateParams::default();
        p.distinguished_name = name(
            &format!("Văn phòng Tỉnh ủy Tỉnh Thử Nghiệm ({DEMO_NOTICE})"),
            &format!("Tỉnh ủy Tỉnh Thử Nghiệm — {DEMO_NOTICE}"),
        );
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        p.use_authority_key_identifier_extension = true;
        p.serial_number = Some(SerialNumber::from(
            now.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        ));
        p.not_before = (now - DAY).into();
        p.not_after = (now + 3 * 365 * DAY).into();
        let cert = p.signed_by(&key, &issuer)?;
        write(&seal_key, &key.serialize_pem(), 0o600)?;
        // Leaf first, then the CA: the chain the seal embeds.
        write(&seal_pem, &format!("{}{ca_text}", cert.pem()), 0o644)?;
    }
    // A CRL current for a week from this start: the demo's seal checks as
    // `valid`, not `revocation_unknown`.
    let crl = CertificateRevocationListParams {
        this_update: (now - Duration::from_secs(60)).into(),
        next_update: (now + 7 * DAY).into(),
        crl_number: SerialNumber::from(
            now.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        ),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&issuer)?;
    write(&crl_dir.join("demo-ca.crl"), &crl.pem()?, 0o644)?;
    config.trust.push(ca_pem);
    if config.crl_dir.is_none() {
        config.crl_dir = Some(crl_dir);
    }
    if !config.has_seal() {
        config.key_file = Some(seal_key);
        config.cert_file = Some(seal_pem);
    }
    Ok(())
}
