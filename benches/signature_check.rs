//! Checking the signature of a large signed PDF: a 50 MiB file (one page
//! and a big incompressible image, as a scanned decision is) signed by
//! pyHanko with a test CA, checked by `sign::verify::verify_pdf`.
//!
//! Comparison in the same invocation: a bare SHA-256 of the whole file (the
//! digest any check must compute) and a full lopdf parse (what reading the
//! structure naively costs). Peak memory above the file itself is read from
//! the kernel (VmHWM) after each step, in a fresh child process per step so
//! one step's peak does not hide the next.
//!
//! `cargo bench --bench signature_check -- [--mib 50] [--runs 5]`
//! (needs pyHanko: `.ci/setup`, or DIEMCAU_TEST_PYHANKO).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, SerialNumber,
};

fn arg(name: &str, default: usize) -> usize {
    let v: Vec<String> = std::env::args().collect();
    v.iter()
        .position(|a| a == name)
        .and_then(|i| v.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn vm(key: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A PDF of about `mib` MiB: one page showing a big incompressible image.
fn big_pdf(mib: usize) -> Vec<u8> {
    let n = mib * 1024 * 1024;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut img = Vec::with_capacity(n);
    while img.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        img.extend_from_slice(&x.to_le_bytes());
    }
    let side = ((n / 3) as f64).sqrt() as usize;
    let img = &img[..side * side * 3];
    let content = b"q 500 0 0 500 50 200 cm /Im1 Do Q".to_vec();
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /XObject << /Im1 5 0 R >> >> >>".to_vec(),
    ];
    let mut c = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    c.extend_from_slice(&content);
    c.extend_from_slice(b"\nendstream");
    objects.push(c);
    let mut i = format!(
        "<< /Type /XObject /Subtype /Image /Width {side} /Height {side} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length {} >>\nstream\n",
        img.len()
    )
    .into_bytes();
    i.extend_from_slice(img);
    i.extend_from_slice(b"\nendstream");
    objects.push(i);
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (k, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", k + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

/// A test CA, a signer, the CA's CRL; the signed file's path.
fn signed_file(dir: &Path, mib: usize) -> (PathBuf, String, String) {
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, "Bench CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_pem = p.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(p, ca_key);
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut s = CertificateParams::default();
    s.distinguished_name = DistinguishedName::new();
    s.distinguished_name.push(DnType::CommonName, "Người ký");
    s.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    s.use_authority_key_identifier_extension = true;
    let cert = s.signed_by(&key, &issuer).unwrap();
    let now = std::time::SystemTime::now();
    let crl = CertificateRevocationListParams {
        this_update: (now - std::time::Duration::from_secs(60)).into(),
        next_update: (now + std::time::Duration::from_secs(86_400)).into(),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&issuer)
    .unwrap()
    .pem()
    .unwrap();
    std::fs::write(dir.join("k.pem"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("c.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("in.pdf"), big_pdf(mib)).unwrap();
    let pyhanko = std::env::var("DIEMCAU_TEST_PYHANKO").unwrap_or_else(|_| "/opt/diemcau-pyhanko/bin/pyhanko".into());
    let out = dir.join("signed.pdf");
    let st = Command::new(pyhanko)
        .args(["sign", "addsig", "--field", "Sig1", "pemder", "--no-pass", "--key"])
        .arg(dir.join("k.pem"))
        .arg("--cert")
        .arg(dir.join("c.pem"))
        .arg(dir.join("in.pdf"))
        .arg(&out)
        .status()
        .expect("pyhanko runs");
    assert!(st.success());
    (out, ca_pem, crl)
}

/// One step in this (child) process: prints `seconds peak_extra_kib`.
fn child(step: &str, file: &Path, ca: &Path, crl: &Path, runs: usize) {
    let bytes = std::fs::read(file).unwrap();
    let base = vm("VmRSS:");
    let trust = diemcau::sign::trust::Trust {
        anchors: diemcau::sign::trust::parse_certificates(&std::fs::read(ca).unwrap()).unwrap(),
        crls: vec![diemcau::sign::trust::parse_crl(&std::fs::read(crl).unwrap()).unwrap()],
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        match step {
            "verify" => {
                let r = diemcau::sign::verify::verify_pdf(&bytes, &trust, now).unwrap();
                assert_eq!(r[0].status, diemcau::sign::SignatureStatus::Valid, "{r:?}");
            }
            "sha256" => {
                let d = diemcau::sign::crypto::DigestAlg::Sha256.digest(&bytes);
                assert_eq!(d.len(), 32);
            }
            "lopdf" => {
                let d = lopdf::Document::load_mem(&bytes).unwrap();
                assert!(!d.objects.is_empty());
            }
            other => panic!("unknown step {other}"),
        }
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let peak = vm("VmHWM:").saturating_sub(base);
    println!("{} {}", times[times.len() / 2], peak);
}

fn main() {
    let v: Vec<String> = std::env::args().collect();
    if let Some(i) = v.iter().position(|a| a == "--child") {
        let p = |k: usize| PathBuf::from(&v[i + k]);
        child(&v[i + 1], &p(2), &p(3), &p(4), arg("--runs", 5));
        return;
    }
    let mib = arg("--mib", 50);
    let runs = arg("--runs", 5);
    let dir = tempfile::tempdir().unwrap();
    let (file, ca, crl) = signed_file(dir.path(), mib);
    std::fs::write(dir.path().join("ca.pem"), ca).unwrap();
    std::fs::write(dir.path().join("ca.crl"), crl).unwrap();
    let size = std::fs::metadata(&file).unwrap().len();
    println!("file: {:.1} MiB signed by pyHanko; median of {runs} runs per step", size as f64 / 1048576.0);
    println!("{:<8} {:>10} {:>12} {:>22}", "step", "ms", "MiB/s", "peak above file (MiB)");
    let exe = std::env::current_exe().unwrap();
    let mut sha = 0.0;
    for step in ["sha256", "verify", "lopdf"] {
        let out = Command::new(&exe)
            .arg("--child")
            .arg(step)
            .arg(&file)
            .arg(dir.path().join("ca.pem"))
            .arg(dir.path().join("ca.crl"))
            .args(["--runs", &runs.to_string()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text.split_whitespace();
        let secs: f64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN);
        let peak: f64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN);
        if step == "sha256" {
            sha = secs;
        }
        println!(
            "{step:<8} {:>10.1} {:>12.0} {:>22.1}   ({:.2}× the bare SHA-256)",
            secs * 1000.0,
            size as f64 / 1048576.0 / secs,
            peak / 1024.0,
            secs / sha
        );
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
    }
}
