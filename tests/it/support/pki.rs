//! A test PKI made in the test (rcgen): a root CA, an intermediate, signers
//! with Vietnamese names, CRLs; and pyHanko, the independent signer and
//! validator (installed by `.ci/setup`, `DIEMCAU_TEST_PYHANKO`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SerialNumber,
};

pub fn pyhanko() -> PathBuf {
    std::env::var_os("DIEMCAU_TEST_PYHANKO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/diemcau-pyhanko/bin/pyhanko"))
}

const DAY: Duration = Duration::from_secs(86_400);

/// A CA that can issue certificates and CRLs.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A signer's key and certificate as PEM files.
pub struct Signer {
    pub key: PathBuf,
    pub cert: PathBuf,
    pub serial: u64,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name
        .push(DnType::OrganizationName, "Ban Cơ yếu (thử nghiệm)");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.key_identifier_method = KeyIdMethod::Sha256;
    p.use_authority_key_identifier_extension = true;
    let now = SystemTime::now();
    p.not_before = (now - DAY).into();
    p.not_after = (now + 3650 * DAY).into();
    p
}

impl Ca {
    /// A self-signed root.
    pub fn root(cn: &str) -> Ca {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = ca_params(cn);
        let pem = params.self_signed(&key).unwrap().pem();
        Ca {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A sub-CA under this one.
    pub fn intermediate(&self, cn: &str) -> Ca {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = ca_params(cn);
        let pem = params.signed_by(&key, &self.issuer).unwrap().pem();
        Ca {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A person's or organisation's signing certificate, written to `dir`.
    pub fn signer(&self, dir: &Path, name: &str, org: &str, serial: u64) -> Signer {
        self.signer_valid(dir, name, org, serial, 365)
    }

    /// As `signer`, valid from yesterday for `days` (negative: expired).
    pub fn signer_valid(
        &self,
        dir: &Path,
        name: &str,
        org: &str,
        serial: u64,
        days: i64,
    ) -> Signer {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::default();
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, name);
        p.distinguished_name.push(DnType::OrganizationName, org);
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        p.serial_number = Some(SerialNumber::from(serial));
        p.use_authority_key_identifier_extension = true;
        let now = SystemTime::now();
        if days >= 0 {
            p.not_before = (now - DAY).into();
            p.not_after = (now + DAY * days as u32).into();
        } else {
            p.not_before = (now - DAY * (10 + days.unsigned_abs() as u32)).into();
            p.not_after = (now - DAY * days.unsigned_abs() as u32).into();
        }
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        let key_path = dir.join(format!("signer-{serial}.key"));
        let cert_path = dir.join(format!("signer-{serial}.pem"));
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        std::fs::write(&cert_path, cert.pem()).unwrap();
        Signer {
            key: key_path,
            cert: cert_path,
            serial,
        }
    }

    /// A CRL revoking `serials`, issued `age` ago and current for `valid`
    /// from its issue (a `valid` shorter than `age`: already stale).
    pub fn crl(&self, serials: &[u64], age: Duration, valid: Duration) -> String {
        let now = SystemTime::now();
        let params = CertificateRevocationListParams {
            this_update: (now - age).into(),
            next_update: (now - age + valid).into(),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from(*s),
                    revocation_time: (now - age).into(),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params.signed_by(&self.issuer).unwrap().pem().unwrap()
    }

    /// A CRL that lists nobody, current for a week.
    pub fn fresh_crl(&self) -> String {
        self.crl(&[], Duration::from_secs(60), 7 * DAY)
    }
}

/// Sign `input` with pyHanko as `signer` (chain: `chain` PEM files) into a
/// new file; a visible-less signature field `field`.
pub fn pyhanko_sign(
    dir: &Path,
    input: &[u8],
    signer: &Signer,
    chain: &[&Path],
    field: &str,
) -> Vec<u8> {
    let src = dir.join(format!("in-{field}.pdf"));
    let out = dir.join(format!("out-{field}.pdf"));
    std::fs::write(&src, input).unwrap();
    let mut cmd = Command::new(pyhanko());
    cmd.args([
        "sign",
        "addsig",
        "--field",
        field,
        "pemder",
        "--no-pass",
        "--key",
    ])
    .arg(&signer.key)
    .arg("--cert")
    .arg(&signer.cert);
    for c in chain {
        cmd.arg("--chain").arg(c);
    }
    cmd.arg(&src).arg(&out);
    let res = cmd.output().expect("pyhanko runs (installed by .ci/setup)");
    assert!(
        res.status.success(),
        "pyhanko sign failed: {}{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    std::fs::read(&out).unwrap()
}

/// Append an incremental update that is not a signature (a new /Info), as
/// an editor saving the file would.
pub fn append_unsigned_revision(pdf: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(pdf);
    let at = text.rfind("startxref").expect("a startxref");
    let prev: u64 = text[at + 9..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("the last xref offset");
    let size_at = text.rfind("/Size").expect("a /Size");
    let size: u64 = text[size_at + 5..]
        .split(|c: char| !c.is_ascii_digit() && c != ' ')
        .find_map(|n| n.trim().parse().ok())
        .expect("the trailer's size");
    let mut out = pdf.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let obj_at = out.len();
    out.extend_from_slice(
        format!("{size} 0 obj\n<< /Producer (edited after signing) >>\nendobj\n").as_bytes(),
    );
    let xref_at = out.len();
    out.extend_from_slice(format!("xref\n{size} 1\n{obj_at:010} 00000 n \n").as_bytes());
    let root_at = text.rfind("/Root").expect("a /Root");
    let root: String = text[root_at..].split('R').next().unwrap_or("").to_string() + "R";
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} {root} /Info {size} 0 R /Prev {prev} >>\nstartxref\n{xref_at}\n%%EOF\n",
            size + 1
        )
        .as_bytes(),
    );
    out
}
