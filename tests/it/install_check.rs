//! `diemcau check`, run as an installer runs it: a ready machine passes;
//! a taken port, each bad config key, an expired TLS certificate and a
//! database from a newer diemcau are each named, and the exit status is 1;
//! a certificate close to its end is a warning.

use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::Output;

fn run_check(dir: &Path, config: &str) -> Output {
    let file = dir.join("diemcau.toml");
    std::fs::write(&file, config).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_diemcau"))
        .arg("--config")
        .arg(&file)
        .arg("check")
        .env_remove("DIEMCAU_DATABASE__URL")
        .env_remove("DIEMCAU_DATA_DIR")
        .output()
        .expect("run diemcau check")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n{}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A loopback port nobody holds (for a moment).
fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A config on loopback with the given listeners, data in `dir/data`, and
/// a recording floor any test machine's disk clears; `media` adds keys to
/// `[media]`, `extra` sections at the end.
fn config(dir: &Path, http_port: u16, udp_port: u16, media: &str, extra: &str) -> String {
    format!(
        "data_dir = {data:?}\n\
         [http]\nhttps_listen = \"off\"\nhttp_listen = \"127.0.0.1:{http_port}\"\nmetrics_listen = \"off\"\n\
         [media]\nbind = \"127.0.0.1\"\nudp_port = {udp_port}\ntcp_port = 0\n{media}\
         [recording]\nmin_free_mib = 1\n{extra}",
        data = dir.join("data").display().to_string()
    )
}

#[test]
fn check_passes_on_a_fresh_install_with_free_ports() {
    let dir = tempfile::tempdir().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    drop(udp);
    let out = run_check(
        dir.path(),
        &config(dir.path(), free_tcp_port(), udp_port, "", ""),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Ready: no problems"), "{}", text(&out));
    assert!(stdout.contains("Sẵn sàng"), "{}", text(&out));
    // It made nothing: the data directory is still to be made at start.
    assert!(!dir.path().join("data").exists());
}

#[test]
fn check_names_a_taken_port_and_every_bad_config_key_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (tcp_port, udp_port) = (
        tcp.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port(),
    );
    // Out of range, the wrong type, a misspelt key: three kinds of mistake.
    let cfg = config(
        dir.path(),
        tcp_port,
        udp_port,
        "audio_slots_max = 99\n",
        "[documents]\nmax_upload_mib = \"nhiều\"\n[meetings]\nopen_before_mins = 30\n",
    );
    let out = run_check(dir.path(), &cfg);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .split_once("to fix before running:")
        .unwrap_or_else(|| panic!("no summary: {}", text(&out)))
        .1;
    for named in [
        format!("TCP port 127.0.0.1:{tcp_port} (http.http_listen) is taken"),
        format!("UDP port 127.0.0.1:{udp_port} (media.udp_port) is taken"),
        "key `media.audio_slots_max`".to_string(),
        "key `documents.max_upload_mib`".to_string(),
        "key `meetings.open_before_mins`".to_string(),
    ] {
        assert!(
            summary.contains(&named),
            "{named} not named: {}",
            text(&out)
        );
    }
    assert!(
        stdout.contains("Có 5 lỗi") && stdout.contains("5 problems"),
        "{}",
        text(&out)
    );
    drop((tcp, udp));
}

#[tokio::test]
async fn check_fails_on_a_database_from_a_newer_diemcau() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let url = format!("sqlite://{}?mode=rwc", data.join("diemcau.db").display());
    let store = diemcau::store::Store::open(&url).await.unwrap();
    let newer = diemcau::ops::binary_schema_version() + 1;
    sqlx::query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, 'later', '', 0)")
        .bind(newer)
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let out = run_check(dir.path(), &config(dir.path(), free_tcp_port(), 0, "", ""));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = format!("has schema {newer}, newer than this diemcau's");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&said),
        "{}",
        text(&out)
    );
}

/// A self-signed server certificate and key for `localhost`, valid from
/// `from` to `until` (seconds from now), written to `dir`.
fn server_cert(dir: &Path, from: i64, until: i64) -> (std::path::PathBuf, std::path::PathBuf) {
    let now = time::OffsetDateTime::now_utc();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.not_before = now + time::Duration::seconds(from);
    params.not_after = now + time::Duration::seconds(until);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (c, k) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

#[test]
fn check_fails_on_an_expired_tls_certificate_and_warns_before_it_expires() {
    const DAY: i64 = 86_400;
    for (from, until, code, said) in [
        (-30 * DAY, -DAY, 1, "expired on"),
        (-30 * DAY, 10 * DAY, 0, "expires in"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = server_cert(dir.path(), from, until);
        let https = free_tcp_port();
        let cfg = config(dir.path(), free_tcp_port(), 0, "", "").replace(
            "https_listen = \"off\"",
            &format!("https_listen = \"127.0.0.1:{https}\""),
        ) + &format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        );
        let out = run_check(dir.path(), &cfg);
        assert_eq!(out.status.code(), Some(code), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .contains(&format!("TLS certificate {} {said}", cert.display())),
            "{said}: {}",
            text(&out)
        );
    }
}

#[test]
fn check_fails_on_an_s3_bucket_that_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on a port just released.
    let s3 = free_tcp_port();
    let cfg = config(dir.path(), free_tcp_port(), 0, "", "")
        + &format!(
            "[objects]\nkind = \"s3\"\nendpoint = \"http://127.0.0.1:{s3}\"\nbucket = \"tinh-uy\"\n\
             access_key_id = \"test\"\nsecret_access_key = \"test-secret\"\n"
        );
    let out = run_check(dir.path(), &cfg);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Kho S3 tinh-uy không dùng được"),
        "{}",
        text(&out)
    );
    assert!(stdout.contains("1 problem to fix"), "{}", text(&out));
}
