//! The test's CA (rcgen) and the independent validators, run as processes.

use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A root CA made for one test.
pub struct TestCa {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn name(cn: &str, org: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "VN");
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    dn.push(DnType::CommonName, cn);
    dn
}

impl TestCa {
    pub fn new(cn: &str) -> TestCa {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ca key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = name(cn, Some("diemcau test"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("ca cert");
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A signing certificate for `public_key`, as PEM.
    pub fn issue(
        &self,
        cn: &str,
        org: Option<&str>,
        public_key: &impl rcgen::PublicKeyData,
    ) -> String {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = name(cn, org);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        params.use_authority_key_identifier_extension = true;
        params
            .signed_by(public_key, &self.issuer)
            .expect("leaf")
            .pem()
    }

    /// A new key (RSA-2048 or P-256) as PKCS#8 PEM and its chain (leaf,
    /// CA) as PEM.
    pub fn issue_file_key(&self, org: &str, rsa: bool) -> (String, String) {
        let key = if rsa {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        } else {
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        }
        .expect("key");
        let leaf = self.issue(org, Some(org), &key);
        (key.serialize_pem(), format!("{leaf}{}", self.pem))
    }

    /// Our own verifier's trust: this CA, and a current CRL from it that
    /// revokes nothing.
    pub fn trust(&self) -> diemcau::sign::trust::Trust {
        let now = std::time::SystemTime::now();
        let crl = rcgen::CertificateRevocationListParams {
            this_update: (now - std::time::Duration::from_secs(60)).into(),
            next_update: (now + std::time::Duration::from_secs(86_400)).into(),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: Vec::new(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&self.issuer)
        .expect("crl");
        diemcau::sign::trust::Trust {
            anchors: diemcau::sign::trust::parse_certificates(self.pem.as_bytes()).expect("ca"),
            crls: vec![diemcau::sign::trust::parse_crl(crl.der()).expect("crl parses")],
        }
    }

    pub fn write_pem(&self, dir: &Path) -> PathBuf {
        let p = dir.join("test-ca.pem");
        std::fs::write(&p, &self.pem).expect("ca pem");
        p
    }
}

/// What a validator said.
pub struct Verdict {
    /// Signatures it called intact, trusted and valid.
    pub valid: usize,
    /// Signatures it called broken (digest or signature wrong).
    pub invalid: usize,
    pub output: String,
}

pub fn pyhanko() -> String {
    std::env::var("DIEMCAU_TEST_PYHANKO")
        .unwrap_or_else(|_| "/opt/diemcau-pyhanko/bin/pyhanko".into())
}

/// `pyhanko sign validate` with the CA as the only trust root (no
/// revocation check: the test CA publishes none).
pub fn pyhanko_validate(file: &Path, ca: &TestCa, dir: &Path) -> Verdict {
    let out = Command::new(pyhanko())
        .args([
            "sign",
            "validate",
            "--pretty-print",
            "--no-revocation-check",
            "--trust-replace",
            "--trust",
        ])
        .arg(ca.write_pem(dir))
        .arg(file)
        .output()
        .expect("pyhanko runs (install it with .ci/setup)");
    let output = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Verdict {
        valid: output.matches("The signature is judged VALID").count(),
        invalid: output.matches("The signature is judged INVALID").count(),
        output,
    }
}

/// poppler's `pdfsig` with an NSS database that trusts the CA.
pub fn pdfsig(file: &Path, ca: &TestCa, dir: &Path) -> Verdict {
    let db = dir.join("nssdb");
    if !db.exists() {
        std::fs::create_dir_all(&db).expect("nss dir");
        let db_arg = format!("sql:{}", db.display());
        let ok = Command::new("certutil")
            .args(["-N", "--empty-password", "-d", &db_arg])
            .status()
            .expect("certutil runs (libnss3-tools)");
        assert!(ok.success());
        let ok = Command::new("certutil")
            .args([
                "-A",
                "-n",
                "diemcau-test-ca",
                "-t",
                "CT,C,C",
                "-d",
                &db_arg,
                "-i",
            ])
            .arg(ca.write_pem(dir))
            .status()
            .expect("certutil runs");
        assert!(ok.success());
    }
    let out = Command::new("pdfsig")
        .arg("-nssdir")
        .arg(format!("sql:{}", db.display()))
        .arg(file)
        .output()
        .expect("pdfsig runs (poppler-utils)");
    let output = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let blocks: Vec<&str> = output.split("Signature #").skip(1).collect();
    Verdict {
        valid: blocks
            .iter()
            .filter(|b| {
                b.contains("Signature Validation: Signature is Valid.")
                    && b.contains("Certificate Validation: Certificate is Trusted.")
            })
            .count(),
        invalid: blocks
            .iter()
            .filter(|b| !b.contains("Signature Validation: Signature is Valid."))
            .count(),
        output,
    }
}

pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A SoftHSM2 token store in a temp dir, this process and the tools
/// pointed at it through `SOFTHSM2_CONF`.
pub struct SoftHsm {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
}

impl SoftHsm {
    pub fn new() -> SoftHsm {
        let dir = tempfile::tempdir().expect("tmp");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir_all(&tokens).expect("tokens dir");
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .expect("conf");
        // Each test runs in its own process (nextest): the module reads
        // this when the first context initialises it.
        // SAFETY: set before any thread of this test reads the environment.
        unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
        SoftHsm { dir, conf }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = Command::new(program)
            .env("SOFTHSM2_CONF", &self.conf)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program} runs (install it with .ci/setup): {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A token `label` (PIN `pin`) holding a new key (RSA-2048 or P-256)
    /// labelled `key_label` with its certificate from `ca` (same id).
    /// Returns the leaf certificate's PEM.
    #[allow(clippy::too_many_arguments)]
    pub fn token_with_key(
        &self,
        label: &str,
        pin: &str,
        key_label: &str,
        rsa: bool,
        ca: &TestCa,
        cn: &str,
        org: Option<&str>,
    ) -> String {
        self.run(
            "softhsm2-util",
            &[
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                pin,
                "--so-pin",
                "99999999",
            ],
        );
        let key = if rsa {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        } else {
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        }
        .expect("key");
        let leaf = ca.issue(cn, org, &key);
        let key_file = self.dir.path().join(format!("{label}.key"));
        std::fs::write(&key_file, key.serialize_pem()).expect("key file");
        self.run(
            "softhsm2-util",
            &[
                "--import",
                &key_file.display().to_string(),
                "--token",
                label,
                "--label",
                key_label,
                "--id",
                "01",
                "--pin",
                pin,
            ],
        );
        // The key leaves the disk once on the token, as with a real one.
        std::fs::remove_file(&key_file).expect("key file removed");
        let (_, der) = der_of_pem(&leaf);
        let cert_file = self.dir.path().join(format!("{label}.der"));
        std::fs::write(&cert_file, der).expect("cert file");
        self.run(
            "pkcs11-tool",
            &[
                "--module",
                SOFTHSM_MODULE,
                "--token-label",
                label,
                "--login",
                "--pin",
                pin,
                "--write-object",
                &cert_file.display().to_string(),
                "--type",
                "cert",
                "--id",
                "01",
                "--label",
                key_label,
            ],
        );
        leaf
    }
}

fn der_of_pem(pem: &str) -> (String, Vec<u8>) {
    let p = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>();
    use base64::Engine;
    (
        String::new(),
        base64::engine::general_purpose::STANDARD
            .decode(p)
            .expect("pem base64"),
    )
}

/// An RFC 3161 timestamp server on 127.0.0.1 for one test: pyHanko's own
/// `DummyTimeStamper` behind Python's http.server, with a TSA certificate
/// from the test CA. Stopped (by its PID) when dropped.
pub struct TestTsa {
    pub url: String,
    child: std::process::Child,
}

const TSA_PY: &str = r#"
import sys, http.server
from asn1crypto import tsp, x509, keys, pem
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
def load(path):
    return pem.unarmor(open(path, 'rb').read())[2]
cert = x509.Certificate.load(load(sys.argv[1]))
key = keys.PrivateKeyInfo.load(load(sys.argv[2]))
ca = x509.Certificate.load(load(sys.argv[3]))
stamper = DummyTimeStamper(tsa_cert=cert, tsa_key=key,
                           certs_to_embed=SimpleCertificateStore.from_certs([ca]))
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers['Content-Length'])
        req = tsp.TimeStampReq.load(self.rfile.read(n))
        body = stamper.request_tsa_response(req).dump()
        self.send_response(200)
        self.send_header('Content-Type', 'application/timestamp-reply')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(('127.0.0.1', 0), Handler)
print(server.server_port, flush=True)
server.serve_forever()
"#;

impl TestTsa {
    pub fn start(ca: &TestCa, dir: &Path) -> TestTsa {
        use std::io::BufRead;
        let key = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            .expect("tsa key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = name("Test TSA diemcau", Some("diemcau test"));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::TimeStamping];
        let cert = params.signed_by(&key, &ca.issuer).expect("tsa cert");
        let cert_file = dir.join("tsa.pem");
        let key_file = dir.join("tsa.key");
        let script = dir.join("tsa.py");
        std::fs::write(&cert_file, cert.pem()).expect("tsa cert file");
        std::fs::write(&key_file, key.serialize_pem()).expect("tsa key file");
        std::fs::write(&script, TSA_PY).expect("tsa script");
        let python = std::path::Path::new(&pyhanko())
            .with_file_name("python")
            .display()
            .to_string();
        let mut child = Command::new(python)
            .arg(&script)
            .arg(&cert_file)
            .arg(&key_file)
            .arg(ca.write_pem(dir))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the test TSA starts (pyHanko's python, .ci/setup)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the test TSA says its port");
        let port: u16 = line.trim().parse().expect("a port");
        TestTsa {
            url: format!("http://127.0.0.1:{port}/"),
            child,
        }
    }
}

impl Drop for TestTsa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
