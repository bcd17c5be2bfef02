//! The files the config names or the server keeps: TLS certificates and
//! their expiry, the parent's CA, the seal's certificate, trust anchors,
//! the audit key and anchors. Read only.

use std::path::Path;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::Report;
use crate::config::Config;

/// A certificate expiring within this many days is a warning: the window
/// the server itself warns in (and renews a generated one).
const CERT_WARN_DAYS: i64 = 30;

const DAY_SECS: i64 = 86_400;

pub fn check(r: &mut Report, c: &Config) {
    tls(r, c);
    if let Some(ca) = &c.cascade.parent_ca {
        expiry(r, ca, "CA của nút cấp trên", "the parent node's CA");
    }
    if let Err(e) = c.cascade.parent_credential() {
        r.fail(
            "Không đọc được thông tin xác thực với nút cấp trên",
            e.to_string(),
        );
    }
    if let Some(cert) = &c.signatures.cert_file {
        expiry(r, cert, "chứng thư con dấu", "the seal's certificate");
    }
    for (path, vi, en) in [
        (&c.signatures.key_file, "khóa con dấu", "the seal's key"),
        (
            &c.signatures.pin_file,
            "tệp PIN con dấu",
            "the seal's PIN file",
        ),
        (
            &c.objects.secret_access_key_file,
            "tệp khóa bí mật S3",
            "the S3 secret key file",
        ),
    ] {
        if let Some(p) = path
            && let Err(e) = std::fs::File::open(p)
        {
            r.fail(
                format!("Không đọc được {vi} {}", p.display()),
                format!("cannot read {en} {}: {e}", p.display()),
            );
        }
    }
    match crate::control::trust::TrustStore::load(&c.signatures, &c.data_dir, &[]) {
        Ok(_) if c.signatures.trust.is_empty() => r.ok(
            "Chưa cấu hình chứng thư gốc tin cậy cho chữ ký số (signatures.trust)",
            "no trust anchors for digital signatures configured (signatures.trust)",
        ),
        Ok(_) => r.ok(
            "Đọc được các chứng thư gốc tin cậy và CRL",
            "trust anchors and CRLs are readable",
        ),
        Err(e) => r.fail(
            "Không đọc được chứng thư gốc tin cậy (signatures.trust)",
            format!("cannot load the trust anchors: {e}"),
        ),
    }
    audit(r, c);
}

fn tls(r: &mut Report, c: &Config) {
    if c.http.https_listen.is_none() {
        return;
    }
    match (&c.tls.cert, &c.tls.key) {
        (Some(cert), Some(key)) => {
            match crate::tls::load_or_generate(Some(cert), Some(key), &[], &c.data_dir) {
                Ok(_) => expiry(r, cert, "chứng thư TLS", "the TLS certificate"),
                Err(e) => r.fail(
                    format!("Chứng thư TLS {} không dùng được", cert.display()),
                    format!("the TLS certificate cannot be used: {e}"),
                ),
            }
        }
        _ => {
            let dir = c.data_dir.join("tls");
            let ca = dir.join("ca.pem");
            if ca.exists() {
                expiry(r, &ca, "CA nội bộ", "the local CA");
                let server = dir.join("server.pem");
                if server.exists() {
                    expiry(
                        r,
                        &server,
                        "chứng thư máy chủ (tự cấp lại khi khởi động)",
                        "the generated server certificate (reissued at start)",
                    );
                }
            } else {
                r.ok(
                    "CA nội bộ và chứng thư TLS sẽ được tạo khi khởi động lần đầu",
                    format!(
                        "a local CA and TLS certificate will be made at first start in {}",
                        dir.display()
                    ),
                );
            }
        }
    }
}

/// The first certificate in a PEM file: valid now, and for how long.
fn expiry(r: &mut Report, path: &Path, vi: &str, en: &str) {
    let shown = path.display();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            r.fail(
                format!("Không đọc được {vi} {shown}"),
                format!("cannot read {en} {shown}: {e}"),
            );
            return;
        }
    };
    let first = CertificateDer::pem_slice_iter(&bytes).next();
    let parsed = first.and_then(Result::ok).and_then(|der| {
        x509_parser::parse_x509_certificate(&der)
            .ok()
            .map(|(_, c)| {
                (
                    c.validity().not_before.timestamp(),
                    c.validity().not_after.timestamp(),
                )
            })
    });
    let Some((not_before, not_after)) = parsed else {
        r.fail(
            format!("{vi} {shown} không phải chứng thư PEM"),
            format!("{en} {shown} holds no PEM certificate"),
        );
        return;
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let until = time::OffsetDateTime::from_unix_timestamp(not_after)
        .map(|t| t.date().to_string())
        .unwrap_or_default();
    let days = (not_after - now) / DAY_SECS;
    if now < not_before {
        r.fail(
            format!("{vi} {shown} chưa có hiệu lực (kiểm tra đồng hồ)"),
            format!("{en} {shown} is not valid yet (check the clock)"),
        );
    } else if not_after <= now {
        r.fail(
            format!("{vi} {shown} đã hết hạn ngày {until}"),
            format!("{en} {shown} expired on {until}"),
        );
    } else if days < CERT_WARN_DAYS {
        r.warn(
            format!("{vi} {shown} hết hạn sau {days} ngày ({until}): cần gia hạn"),
            format!("{en} {shown} expires in {days} days ({until}): renew it"),
        );
    } else {
        r.ok(
            format!("{vi} {shown} còn hạn {days} ngày (đến {until})"),
            format!("{en} {shown} is valid for {days} more days (until {until})"),
        );
    }
}

fn audit(r: &mut Report, c: &Config) {
    let key = c.audit_key_path();
    match crate::store::audit::AuditKey::load(&key) {
        Ok(Some(_)) => r.ok(
            format!(
                "Khóa nhật ký kiểm toán {} đọc được, quyền 0600",
                key.display()
            ),
            format!("the audit key {} is readable and private", key.display()),
        ),
        Ok(None) => r.ok(
            format!(
                "Khóa nhật ký kiểm toán sẽ được tạo khi khởi động lần đầu ({})",
                key.display()
            ),
            format!(
                "the audit key will be made at first start ({})",
                key.display()
            ),
        ),
        Err(e) => r.fail(
            format!("Khóa nhật ký kiểm toán {} không dùng được", key.display()),
            e.to_string(),
        ),
    }
    let anchors = c.audit_anchor_path();
    if let Err(e) = crate::store::audit::read_anchors(&anchors) {
        r.fail(
            format!("Tệp mốc kiểm toán {} hỏng", anchors.display()),
            e.to_string(),
        );
    }
}

/// With an S3 store, the bucket answers (as the server's start requires).
/// The store is opened on a scratch folder, not the data directory: the
/// check writes nothing there.
pub async fn objects(r: &mut Report, c: &Config) {
    if c.objects.kind != crate::objects::ObjectsKind::S3 {
        return;
    }
    let scratch = std::env::temp_dir().join(format!("diemcau-check-{}", std::process::id()));
    let opened = crate::objects::Objects::open(&c.objects, &scratch).await;
    let _ = std::fs::remove_dir_all(&scratch);
    let bucket = c.objects.bucket.as_deref().unwrap_or_default();
    match opened {
        Ok(_) => r.ok(
            format!("Kho S3 {bucket} trả lời"),
            format!("the S3 bucket {bucket} answers"),
        ),
        Err(e) => r.fail(format!("Kho S3 {bucket} không dùng được"), e),
    }
}
