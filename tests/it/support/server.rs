//! Boot the real server in-process on ephemeral ports, loopback only.

use std::net::SocketAddr;

use diemcau::config::Config;

/// Bearer token of the seeded `demo` meeting in test servers.
pub const DEMO_TOKEN: &str = "test-token";

pub struct TestServer {
    pub server: diemcau::Server,
    pub http: SocketAddr,
    pub media: SocketAddr,
    _data: tempfile::TempDir,
}

impl TestServer {
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// The metrics listener, `http://127.0.0.1:PORT` (`/metrics` lives
    /// there only).
    pub fn metrics_url(&self) -> String {
        let addr = self.server.metrics_addr().expect("a metrics listener");
        format!("http://{addr}")
    }
}

/// Config for a test server: plain HTTP and media on 127.0.0.1, ports picked
/// by the kernel, demo meeting seeded with [`DEMO_TOKEN`].
pub fn test_config(data_dir: &std::path::Path) -> Config {
    let mut c = Config {
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    };
    c.http.http_listen = Some("127.0.0.1:0".parse().unwrap());
    c.http.https_listen = None;
    c.http.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    c.media.bind = "127.0.0.1".parse().unwrap();
    c.media.udp_port = 0;
    // ICE-TCP on, on a free port: every test's rooms get a TCP candidate
    // too, as in production.
    c.media.tcp_port = 0;
    c.media.advertise = vec!["127.0.0.1".parse().unwrap()];
    c.media.workers = 2;
    c.demo.token = Some(DEMO_TOKEN.into());
    // Nodes sharing a database need one audit key (another refuses the
    // start): every test server shares this one, as an operator would
    // give every node the same key file.
    c.audit.key_file = Some(test_audit_key());
    // A small, slow composite: the test server is a debug build (the
    // composite's drawing unoptimised) on 2 shared cores.
    c.live_stream.width = 320;
    c.live_stream.height = 180;
    c.live_stream.fps = 10;
    c.live_stream.segment_s = 1;
    c
}

/// The test servers' audit key file (made 0600 by the first server).
pub fn test_audit_key() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("audit.key")
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let data = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(data.path());
    tweak(&mut config);
    let server = diemcau::Server::start(config).await.expect("server starts");
    let http = server.http_addr().expect("http listener");
    let media = server.media_addrs()[0];
    TestServer {
        server,
        http,
        media,
        _data: data,
    }
}

/// A free loopback TCP port (in the test's own namespace, or the host's
/// loopback for tests without one).
pub fn free_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    l.local_addr().expect("local addr").port()
}
