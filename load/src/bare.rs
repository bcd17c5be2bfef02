//! The bare relay: the physical limit of forwarding on this machine, in the
//! same run as the servers. One relay thread: `recvmmsg` a batch of
//! 1200-byte packets, and per packet and per subscriber copy it, seal it
//! with AES-128-GCM (aws-lc-rs, 12-byte RTP-like header as AAD, 16-byte tag,
//! as SRTP does) and `sendmmsg` the sealed copies in batches to N subscriber
//! sockets. A sender thread paces plain UDP in; a receiver thread drains the
//! N sockets (`poll` + `recvmmsg`). The relay's own thread CPU time
//! (CLOCK_THREAD_CPUTIME_ID) divided by the packets it sent is the cost per
//! forwarded packet — the denominator of "diemcau / bare".

use std::mem::zeroed;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_lc_rs::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use serde::Serialize;

const BATCH: usize = 32;
const PACKET_BYTES: usize = 1200;
const HEADER_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
const SOCKET_BUFFER_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, Serialize)]
pub struct BareOptions {
    pub fanout: usize,
    pub in_pps: u64,
    pub secs: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BareResult {
    pub fanout: usize,
    pub in_pps: u64,
    pub packet_bytes: usize,
    pub packets_in: u64,
    pub packets_out: u64,
    pub packets_received_by_subscribers: u64,
    pub relay_cpu_s: f64,
    pub wall_s: f64,
    pub relay_cpu_cores: f64,
    pub relay_ns_per_packet: f64,
}

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn bind(buffer: bool) -> anyhow::Result<UdpSocket> {
    let s = UdpSocket::bind("127.0.0.1:0")?;
    if buffer {
        let size = SOCKET_BUFFER_BYTES as libc::c_int;
        for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
            // SAFETY: setsockopt with a c_int option on our own socket.
            unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    &size as *const _ as *const libc::c_void,
                    size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
    }
    Ok(s)
}

fn sockaddr(addr: &SocketAddr) -> libc::sockaddr_in {
    let SocketAddr::V4(a) = addr else {
        unreachable!("the bare relay binds 127.0.0.1 only")
    };
    // SAFETY: sockaddr_in is plain data.
    let mut sa: libc::sockaddr_in = unsafe { zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = a.port().to_be();
    sa.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
    sa
}

/// Receive up to BATCH datagrams into `bufs`; returns their lengths.
fn recv_batch(fd: i32, bufs: &mut [Vec<u8>], lens: &mut Vec<usize>, flags: i32) -> usize {
    let mut iovs: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    let mut hdrs: Vec<libc::mmsghdr> = iovs
        .iter_mut()
        .map(|iov| {
            // SAFETY: mmsghdr is plain data; the iovec outlives the call.
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect();
    // SAFETY: hdrs and the buffers they point into live across the call.
    let n = unsafe {
        libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            hdrs.len() as u32,
            flags,
            std::ptr::null_mut(),
        )
    };
    lens.clear();
    if n <= 0 {
        return 0;
    }
    lens.extend(hdrs[..n as usize].iter().map(|h| h.msg_len as usize));
    n as usize
}

/// sendmmsg `bufs[..n]` to `addrs[..n]`; returns datagrams sent.
fn send_batch(fd: i32, bufs: &[Vec<u8>], addrs: &[libc::sockaddr_in]) -> usize {
    let mut iovs: Vec<libc::iovec> = bufs
        .iter()
        .map(|b| libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    let mut hdrs: Vec<libc::mmsghdr> = iovs
        .iter_mut()
        .zip(addrs)
        .map(|(iov, a)| {
            // SAFETY: plain data pointing at live buffers and addresses.
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_name = a as *const _ as *mut libc::c_void;
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h
        })
        .collect();
    let mut sent = 0;
    while sent < hdrs.len() {
        // SAFETY: as above.
        let n =
            unsafe { libc::sendmmsg(fd, hdrs[sent..].as_mut_ptr(), (hdrs.len() - sent) as u32, 0) };
        if n <= 0 {
            break;
        }
        sent += n as usize;
    }
    sent
}

struct Relay {
    key: LessSafeKey,
    counter: u64,
    out: Vec<Vec<u8>>,
    out_addrs: Vec<libc::sockaddr_in>,
    sent: u64,
}

impl Relay {
    fn forward(&mut self, fd: i32, packet: &[u8], subs: &[libc::sockaddr_in]) {
        for sub in subs {
            let mut buf = Vec::with_capacity(packet.len() + TAG_BYTES);
            buf.extend_from_slice(packet);
            self.counter += 1;
            let mut iv = [0u8; 12];
            iv[4..].copy_from_slice(&self.counter.to_be_bytes());
            let (hdr, body) = buf.split_at_mut(HEADER_BYTES.min(packet.len()));
            let tag = self
                .key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(iv),
                    Aad::from(&*hdr),
                    body,
                )
                .expect("AES-GCM seal");
            buf.extend_from_slice(tag.as_ref());
            self.out.push(buf);
            self.out_addrs.push(*sub);
            if self.out.len() == BATCH {
                self.flush(fd);
            }
        }
    }

    fn flush(&mut self, fd: i32) {
        if !self.out.is_empty() {
            self.sent += send_batch(fd, &self.out, &self.out_addrs) as u64;
            self.out.clear();
            self.out_addrs.clear();
        }
    }
}

pub fn run(opts: &BareOptions) -> anyhow::Result<BareResult> {
    let relay_sock = bind(true)?;
    relay_sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let relay_addr = relay_sock.local_addr()?;
    let subs: Vec<UdpSocket> = (0..opts.fanout)
        .map(|_| bind(true))
        .collect::<anyhow::Result<_>>()?;
    let sub_addrs: Vec<libc::sockaddr_in> = subs
        .iter()
        .map(|s| s.local_addr().map(|a| sockaddr(&a)))
        .collect::<Result<_, _>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));

    let (st, rc) = (stop.clone(), received.clone());
    let receiver = std::thread::spawn(move || {
        let mut bufs = vec![vec![0u8; 2048]; BATCH];
        let mut lens = Vec::new();
        let mut fds: Vec<libc::pollfd> = subs
            .iter()
            .map(|s| libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        while !st.load(Ordering::Relaxed) {
            // SAFETY: fds is a live array of pollfd.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 50) };
            if n <= 0 {
                continue;
            }
            for p in fds.iter_mut().filter(|p| p.revents != 0) {
                loop {
                    let k = recv_batch(p.fd, &mut bufs, &mut lens, libc::MSG_DONTWAIT);
                    rc.fetch_add(k as u64, Ordering::Relaxed);
                    if k < BATCH {
                        break;
                    }
                }
            }
        }
        drop(subs);
    });

    let st = stop.clone();
    let in_pps = opts.in_pps.max(1);
    let sender = std::thread::spawn(move || -> anyhow::Result<u64> {
        let s = bind(false)?;
        let mut pkt = vec![0x80u8; PACKET_BYTES];
        let start = Instant::now();
        let mut n: u64 = 0;
        while !st.load(Ordering::Relaxed) {
            let due = (start.elapsed().as_secs_f64() * in_pps as f64) as u64;
            while n < due {
                pkt[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                s.send_to(&pkt, relay_addr)?;
                n += 1;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        Ok(n)
    });

    let key = LessSafeKey::new(
        UnboundKey::new(&AES_128_GCM, &rand_key()).map_err(|_| anyhow::anyhow!("AES key"))?,
    );
    let mut relay = Relay {
        key,
        counter: 0,
        out: Vec::with_capacity(BATCH),
        out_addrs: Vec::with_capacity(BATCH),
        sent: 0,
    };
    let fd = relay_sock.as_raw_fd();
    let mut bufs = vec![vec![0u8; 2048]; BATCH];
    let mut lens = Vec::new();
    let mut packets_in = 0u64;
    let cpu0 = thread_cpu_ns();
    let t0 = Instant::now();
    let run_for = Duration::from_secs_f64(opts.secs);
    while t0.elapsed() < run_for {
        let n = recv_batch(fd, &mut bufs, &mut lens, 0);
        packets_in += n as u64;
        for (b, &len) in bufs.iter().zip(lens.iter()) {
            relay.forward(fd, &b[..len], &sub_addrs);
        }
        relay.flush(fd);
    }
    let cpu_s = (thread_cpu_ns() - cpu0) as f64 / 1e9;
    let wall_s = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    sender
        .join()
        .map_err(|_| anyhow::anyhow!("sender thread panicked"))?
        .context("bare relay sender")?;
    std::thread::sleep(Duration::from_millis(100));
    receiver
        .join()
        .map_err(|_| anyhow::anyhow!("receiver thread panicked"))?;
    Ok(BareResult {
        fanout: opts.fanout,
        in_pps: opts.in_pps,
        packet_bytes: PACKET_BYTES,
        packets_in,
        packets_out: relay.sent,
        packets_received_by_subscribers: received.load(Ordering::Relaxed),
        relay_cpu_s: cpu_s,
        wall_s,
        relay_cpu_cores: cpu_s / wall_s,
        relay_ns_per_packet: if relay.sent > 0 {
            cpu_s * 1e9 / relay.sent as f64
        } else {
            0.0
        },
    })
}

fn rand_key() -> [u8; 16] {
    let mut k = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut k);
    k
}
