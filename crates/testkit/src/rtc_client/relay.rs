//! A lossy UDP relay between the client and the server, and the SDP
//! candidate rewriting that puts it in the path.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::LossConfig;

/// The first `a=candidate` with transport UDP: (ip, port).
pub fn first_udp_candidate(sdp: &str) -> Option<SocketAddr> {
    sdp.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("a=candidate:")?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() < 6 || !f[2].eq_ignore_ascii_case("udp") {
            return None;
        }
        format!("{}:{}", f[4], f[5]).parse().ok()
    })
}

/// Replace every candidate naming `from` by `to`.
pub fn rewrite_candidates(sdp: &str, from: SocketAddr, to: SocketAddr) -> String {
    let needle = format!(" {} {} ", from.ip(), from.port());
    let repl = format!(" {} {} ", to.ip(), to.port());
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        if line.starts_with("a=candidate:") {
            out.push_str(&line.replace(&needle, &repl));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Counters of the relay, shared with the test.
#[derive(Default, Debug)]
pub struct RelayStats {
    pub to_client: u64,
    pub to_server: u64,
    /// RTP datagrams dropped in the lossy direction, as (ssrc, seq, pt).
    pub dropped: Vec<(u32, u16, u8)>,
    /// RTP datagrams forwarded in the lossy direction, per payload type.
    pub rtp_by_pt: BTreeMap<u8, u64>,
}

/// A UDP relay on 127.0.0.1 between a client and the server that drops
/// server -> client RTP (never STUN, DTLS or RTCP) with a seeded PRNG.
/// Headers are readable under SRTP, so it knows which (ssrc, seq) it dropped.
pub struct LossRelay {
    pub addr: SocketAddr,
    pub stats: Arc<Mutex<RelayStats>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LossRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LossRelay {
    /// Relay to `server`, dropping RTP that comes from the server.
    pub async fn start(server: SocketAddr, loss: LossConfig) -> std::io::Result<Self> {
        Self::start_with(server, loss, true).await
    }

    /// Relay to `server`; `drop_from_server` picks which direction loses RTP.
    pub async fn start_with(
        server: SocketAddr,
        loss: LossConfig,
        drop_from_server: bool,
    ) -> std::io::Result<Self> {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
        let addr = sock.local_addr()?;
        let stats = Arc::new(Mutex::new(RelayStats::default()));
        let st = stats.clone();
        let task = tokio::spawn(async move {
            let mut rng = loss.seed ^ 0x9e37_79b9_7f4a_7c15;
            let mut client: Option<SocketAddr> = None;
            let mut buf = vec![0u8; 2048];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                    return;
                };
                let data = &buf[..n];
                let to_client = from == server;
                if !to_client {
                    client = Some(from);
                }
                let Some(c) = client else { continue };
                let is_rtp =
                    n >= 12 && (128..=191).contains(&data[0]) && !(192..=223).contains(&data[1]);
                if is_rtp && to_client == drop_from_server {
                    let pt = data[1] & 0x7f;
                    let seq = u16::from_be_bytes([data[2], data[3]]);
                    let ssrc = u32::from_be_bytes([data[8], data[9], data[10], data[11]]);
                    let r = (splitmix64(&mut rng) >> 11) as f64 / (1u64 << 53) as f64;
                    if r < loss.rate {
                        st.lock().unwrap().dropped.push((ssrc, seq, pt));
                        continue;
                    }
                    *st.lock().unwrap().rtp_by_pt.entry(pt).or_default() += 1;
                }
                if to_client {
                    st.lock().unwrap().to_client += 1;
                    let _ = sock.send_to(data, c).await;
                } else {
                    st.lock().unwrap().to_server += 1;
                    let _ = sock.send_to(data, server).await;
                }
            }
        });
        Ok(Self { addr, stats, task })
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
