//! Batched UDP syscalls: `recvmmsg`/`sendmmsg` move up to [`BATCH`]
//! datagrams per kernel crossing. On a fan-out server the kernel is the
//! largest cost per packet (a third of Janus's CPU), so batching pays first.

use std::io;
use std::mem::{MaybeUninit, size_of, zeroed};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// Datagrams per syscall. 32 keeps a batch within a few hundred microseconds
/// of work while cutting syscalls ~30x under load.
pub const BATCH: usize = 32;
/// Largest datagram we accept; WebRTC keeps packets under ~1200 bytes.
pub const MAX_DATAGRAM: usize = 2048;

/// Receive buffers reused across calls (no allocation per packet).
pub struct RecvBatch {
    bufs: Vec<[u8; MAX_DATAGRAM]>,
    addrs: Vec<libc::sockaddr_storage>,
    lens: Vec<usize>,
    /// Ancillary data per datagram: room for the kernel's receive time
    /// (`SCM_TIMESTAMPNS`, 32 bytes on 64-bit Linux), 8-byte aligned.
    ctrl: Vec<[u64; 8]>,
    /// When the kernel received each datagram (ns since the Unix epoch,
    /// `CLOCK_REALTIME`); 0 when the socket gave none.
    stamps: Vec<u64>,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            bufs: vec![[0u8; MAX_DATAGRAM]; BATCH],
            // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
            addrs: vec![unsafe { zeroed() }; BATCH],
            lens: vec![0; BATCH],
            ctrl: vec![[0u64; 8]; BATCH],
            stamps: vec![0; BATCH],
        }
    }
}

/// Ask the kernel to stamp each datagram with the time it received it
/// (`SO_TIMESTAMPNS`): the start of a packet's time in the server, before
/// it waits in the socket's queue for the receive thread. Best effort: a
/// socket without it gives no stamps, and nothing is timed.
pub fn enable_receive_timestamps(sock: &UdpSocket) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads a c_int we own.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Now on the clock the kernel stamps received datagrams with
/// (`CLOCK_REALTIME`), ns since the Unix epoch.
pub fn realtime_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The receive time in a message's ancillary data, if the kernel put one.
fn stamp_of(h: &libc::msghdr) -> u64 {
    // SAFETY: walks the control buffer the kernel filled, within
    // `msg_controllen` (CMSG_FIRSTHDR/NXTHDR check the bounds).
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                return u64::try_from(ts.tv_sec)
                    .ok()
                    .and_then(|s| s.checked_mul(1_000_000_000))
                    .and_then(|n| n.checked_add(u64::try_from(ts.tv_nsec).ok()?))
                    .unwrap_or(0);
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    0
}

impl RecvBatch {
    /// Block (up to the socket's read timeout) for at least one datagram;
    /// return how many arrived.
    pub fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        let mut iovs: [MaybeUninit<libc::iovec>; BATCH] = [const { MaybeUninit::uninit() }; BATCH];
        let mut hdrs: [MaybeUninit<libc::mmsghdr>; BATCH] =
            [const { MaybeUninit::uninit() }; BATCH];
        for i in 0..BATCH {
            iovs[i].write(libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: MAX_DATAGRAM,
            });
            // SAFETY: zeroed msghdr is valid; we fill the pointers we use.
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as u32;
            h.msg_hdr.msg_iov = iovs[i].as_mut_ptr();
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = self.ctrl[i].as_mut_ptr().cast();
            h.msg_hdr.msg_controllen = size_of::<[u64; 8]>();
            hdrs[i].write(h);
        }
        // SAFETY: hdrs/iovs point into buffers owned by self that outlive the call.
        let n = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                hdrs.as_mut_ptr().cast(),
                BATCH as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        for (i, h) in hdrs.iter().take(n as usize).enumerate() {
            // SAFETY: the kernel initialised the first n headers.
            let h = unsafe { h.assume_init_ref() };
            self.lens[i] = h.msg_len as usize;
            self.stamps[i] = stamp_of(&h.msg_hdr);
        }
        Ok(n as usize)
    }

    /// The i-th received datagram and its source (None for an unknown family).
    pub fn get(&self, i: usize) -> Option<(SocketAddr, &[u8])> {
        let addr = from_storage(&self.addrs[i])?;
        Some((addr, &self.bufs[i][..self.lens[i]]))
    }

    /// When the kernel received the i-th datagram (`realtime_ns`'s
    /// clock); 0 when unknown.
    pub fn stamp(&self, i: usize) -> u64 {
        self.stamps[i]
    }
}

/// Datagrams one `sendmmsg` call is handed at most (several per message
/// with GSO).
const SEND_CHUNK: usize = 4 * BATCH;
/// Segments the kernel takes in one GSO send (`UDP_MAX_SEGMENTS`).
const MAX_SEGMENTS: usize = 64;
/// Bytes of one GSO send: an IP datagram's payload, with room for headers.
const MAX_GSO_BYTES: usize = 65_000;
/// Set when the kernel has no UDP GSO (before 4.18: probed once) or a NIC
/// refused a GSO send (EIO: a driver without checksum offload): from then
/// on every datagram is a message of its own, as before GSO.
static GSO_OFF: AtomicBool = AtomicBool::new(false);
static GSO_PROBE: Once = Once::new();

/// Whether datagrams to one destination leave as one GSO send.
pub fn gso_enabled(sock: &UdpSocket) -> bool {
    GSO_PROBE.call_once(|| {
        let mut v: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes a c_int into `v`, which we own.
        let r = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::SOL_UDP,
                libc::UDP_SEGMENT,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if r != 0 {
            GSO_OFF.store(true, Ordering::Relaxed);
        }
    });
    !GSO_OFF.load(Ordering::Relaxed)
}

/// Where the next message ends: consecutive datagrams to `items[start]`'s
/// destination, all as long as the first but a last one that may be
/// shorter (what UDP GSO cuts them back into). A subscriber's frame leaves
/// as one run: the kernel's path per datagram (the route, the IP layer,
/// the device) is then walked once per run.
fn run_end(items: &[(SocketAddr, &[u8])], start: usize, gso: bool) -> usize {
    let (dst, first) = items[start];
    let mut end = start + 1;
    if !gso {
        return end;
    }
    let mut bytes = first.len();
    while end < items.len() && end - start < MAX_SEGMENTS {
        let (d, b) = items[end];
        if d != dst || b.len() > first.len() || bytes + b.len() > MAX_GSO_BYTES {
            break;
        }
        bytes += b.len();
        end += 1;
        if b.len() < first.len() {
            break;
        }
    }
    end
}

/// Send `items` (destination, bytes) in batches; returns how many were sent.
/// Consecutive datagrams to one destination go as one message with UDP GSO
/// (`UDP_SEGMENT`); the receiver gets the same datagrams either way. A
/// message the kernel refuses (e.g. unreachable) is skipped, not retried.
/// Put each destination's datagrams together, in their order, so a frame
/// to one subscriber is one GSO run (`send_batch`). The engine emits a
/// forwarded packet to every subscriber before the next packet of the
/// frame (it sends each as it is written, str0m patch "direct-send"):
/// unsorted, a frame of five packets to 150 subscribers would be 750
/// messages of one datagram instead of 150 of five. Stable, so nothing to
/// one peer is reordered.
pub fn group_by_destination(items: &mut [(SocketAddr, &[u8])]) {
    items.sort_by_key(|(addr, _)| *addr);
}

pub fn send_batch(sock: &UdpSocket, items: &[(SocketAddr, &[u8])]) -> usize {
    let gso = gso_enabled(sock);
    items
        .chunks(SEND_CHUNK)
        .map(|c| send_chunk(sock, c, gso))
        .sum()
}

fn send_chunk(sock: &UdpSocket, chunk: &[(SocketAddr, &[u8])], gso: bool) -> usize {
    let mut addrs: [MaybeUninit<libc::sockaddr_storage>; SEND_CHUNK] =
        [const { MaybeUninit::uninit() }; SEND_CHUNK];
    let mut iovs: [MaybeUninit<libc::iovec>; SEND_CHUNK] =
        [const { MaybeUninit::uninit() }; SEND_CHUNK];
    // One `cmsghdr` + the u16 segment size per message, 8-byte aligned.
    let mut cmsgs = [[0u64; 4]; SEND_CHUNK];
    let mut hdrs: [MaybeUninit<libc::mmsghdr>; SEND_CHUNK] =
        [const { MaybeUninit::uninit() }; SEND_CHUNK];
    // (first datagram, datagrams) of each message.
    let mut runs: [(usize, usize); SEND_CHUNK] = [(0, 0); SEND_CHUNK];
    for (i, (_, bytes)) in chunk.iter().enumerate() {
        iovs[i].write(libc::iovec {
            iov_base: bytes.as_ptr() as *mut _,
            iov_len: bytes.len(),
        });
    }
    let mut msgs = 0;
    let mut start = 0;
    while start < chunk.len() {
        let end = run_end(chunk, start, gso);
        let len = to_storage(&chunk[start].0, addrs[msgs].write(unsafe { zeroed() }));
        // SAFETY: zeroed msghdr is valid; the pointers set here live until
        // the calls below return.
        let mut h: libc::mmsghdr = unsafe { zeroed() };
        h.msg_hdr.msg_name = addrs[msgs].as_mut_ptr().cast();
        h.msg_hdr.msg_namelen = len;
        // From the array's pointer: the message spans `end - start` iovecs.
        // SAFETY: start < chunk.len() ≤ SEND_CHUNK.
        h.msg_hdr.msg_iov = unsafe { iovs.as_mut_ptr().add(start) }.cast();
        h.msg_hdr.msg_iovlen = end - start;
        if end - start > 1 {
            let buf = &mut cmsgs[msgs];
            // SAFETY: CMSG_* on a buffer of 32 aligned bytes, more than
            // CMSG_SPACE(2) (24 on 64-bit Linux).
            unsafe {
                h.msg_hdr.msg_control = buf.as_mut_ptr().cast();
                h.msg_hdr.msg_controllen = libc::CMSG_SPACE(size_of::<u16>() as u32) as usize;
                let c = libc::CMSG_FIRSTHDR(&h.msg_hdr);
                (*c).cmsg_level = libc::SOL_UDP;
                (*c).cmsg_type = libc::UDP_SEGMENT;
                (*c).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as usize;
                let seg = chunk[start].1.len() as u16;
                std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), seg);
            }
        }
        hdrs[msgs].write(h);
        runs[msgs] = (start, end - start);
        msgs += 1;
        start = end;
    }
    let (mut off, mut sent) = (0, 0);
    while off < msgs {
        // SAFETY: headers [off..msgs) were initialised above.
        let n = unsafe {
            libc::sendmmsg(
                sock.as_raw_fd(),
                hdrs[off..].as_mut_ptr().cast(),
                (msgs - off) as u32,
                0,
            )
        };
        if n > 0 {
            sent += runs[off..off + n as usize]
                .iter()
                .map(|r| r.1)
                .sum::<usize>();
            off += n as usize;
            continue;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            // Socket buffer full: yield briefly rather than drop a burst.
            Some(libc::EAGAIN) => std::thread::yield_now(),
            // A run the kernel would not segment (EINVAL: e.g. longer
            // than the route's MTU allows) goes datagram by datagram; a
            // NIC that cannot (EIO) gets no GSO from now on.
            Some(errno @ (libc::EIO | libc::EINVAL)) if runs[off].1 > 1 => {
                if errno == libc::EIO && !GSO_OFF.swap(true, Ordering::Relaxed) {
                    tracing::warn!("UDP GSO refused ({e}); one datagram per message from now on");
                }
                let (first, count) = runs[off];
                sent += send_chunk(sock, &chunk[first..first + count], false);
                off += 1;
            }
            // Skip the message the kernel refused.
            _ => off += 1,
        }
    }
    sent
}

fn from_storage(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match s.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: family says this storage holds a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(s as *const _ as *const libc::sockaddr_in) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                u32::from_be(a.sin_addr.s_addr).into(),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: family says this storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(s as *const _ as *const libc::sockaddr_in6) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                a.sin6_addr.s6_addr.into(),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn to_storage(addr: &SocketAddr, s: &mut libc::sockaddr_storage) -> u32 {
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large enough and aligned for sockaddr_in.
            let sin: &mut libc::sockaddr_in =
                unsafe { &mut *(s as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as u16;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            size_of::<libc::sockaddr_in>() as u32
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin: &mut libc::sockaddr_in6 =
                unsafe { &mut *(s as *mut _ as *mut libc::sockaddr_in6) };
            sin.sin6_family = libc::AF_INET6 as u16;
            sin.sin6_port = a.port().to_be();
            sin.sin6_addr.s6_addr = a.ip().octets();
            sin.sin6_flowinfo = a.flowinfo();
            sin.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>() as u32
        }
    }
}

/// Local IPv4 addresses of this machine (loopback included), for default
/// ICE candidates when `media.advertise` is empty.
pub fn local_ipv4_addrs() -> Vec<std::net::IpAddr> {
    let mut out = Vec::new();
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a linked list we free below.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return vec![std::net::Ipv4Addr::LOCALHOST.into()];
    }
    let mut cur = ifap;
    while !cur.is_null() {
        // SAFETY: cur walks the list returned by getifaddrs.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() && unsafe { (*ifa.ifa_addr).sa_family } as i32 == libc::AF_INET {
            // SAFETY: family checked above.
            let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
            let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            if !out.contains(&ip.into()) {
                out.push(ip.into());
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: ifap came from getifaddrs.
    unsafe { libc::freeifaddrs(ifap) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_send_and_receive_round_trip_on_loopback() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        b.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let payloads: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 100 + i as usize]).collect();
        let items: Vec<(SocketAddr, &[u8])> = payloads
            .iter()
            .map(|p| (b.local_addr().unwrap(), p.as_slice()))
            .collect();
        assert_eq!(send_batch(&a, &items), 40);
        let mut batch = RecvBatch::default();
        let mut got = Vec::new();
        while got.len() < 40 {
            let n = batch.recv(&b).unwrap();
            for i in 0..n {
                let (src, bytes) = batch.get(i).unwrap();
                assert_eq!(src, a.local_addr().unwrap());
                got.push(bytes.to_vec());
            }
        }
        assert_eq!(got, payloads);
    }

    /// The kernel's receive stamp lies between the send and the receive
    /// as our clock sees them (a second's slack: the wall clock may be
    /// slewed meanwhile); a socket not asked for stamps has none.
    #[test]
    fn a_datagram_carries_the_time_the_kernel_received_it_when_asked() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let plain = UdpSocket::bind("127.0.0.1:0").unwrap();
        enable_receive_timestamps(&b).unwrap();
        for s in [&b, &plain] {
            s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
        }
        let before = realtime_ns();
        a.send_to(b"x", b.local_addr().unwrap()).unwrap();
        a.send_to(b"y", plain.local_addr().unwrap()).unwrap();
        let mut batch = RecvBatch::default();
        assert_eq!(batch.recv(&b).unwrap(), 1);
        let after = realtime_ns();
        let stamp = batch.stamp(0);
        let slack = 1_000_000_000;
        assert!(
            before <= stamp + slack && stamp <= after + slack,
            "{before} {stamp} {after}"
        );
        assert_eq!(batch.recv(&plain).unwrap(), 1);
        assert_eq!(batch.get(0).unwrap().1, b"y");
        assert_eq!(batch.stamp(0), 0);
    }

    fn receive(sock: &UdpSocket, count: usize) -> Vec<Vec<u8>> {
        sock.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let mut batch = RecvBatch::default();
        let mut got = Vec::new();
        while got.len() < count {
            let n = batch.recv(sock).unwrap();
            for i in 0..n {
                got.push(batch.get(i).unwrap().1.to_vec());
            }
        }
        got
    }

    #[test]
    fn gso_runs_reach_each_receiver_as_the_datagrams_sent() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (b, c) = (
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            UdpSocket::bind("127.0.0.1:0").unwrap(),
        );
        let (to_b, to_c) = (b.local_addr().unwrap(), c.local_addr().unwrap());
        // A frame to b (equal packets, a shorter last), two to c, one to b,
        // then 70 full-size to c: more than one GSO send may carry.
        let mut plan: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
        let mut k = 0u8;
        let mut push = |dst, len| {
            k = k.wrapping_add(1);
            plan.push((dst, vec![k; len]));
        };
        for len in [1000, 1000, 1000, 1000, 300, 500, 500, 1000] {
            push(if len == 500 { to_c } else { to_b }, len);
        }
        for _ in 0..70 {
            push(to_c, 1200);
        }
        let items: Vec<(SocketAddr, &[u8])> =
            plan.iter().map(|(d, p)| (*d, p.as_slice())).collect();
        assert_eq!(send_batch(&a, &items), plan.len());
        let of = |dst| -> Vec<Vec<u8>> {
            plan.iter()
                .filter(|(d, _)| *d == dst)
                .map(|(_, p)| p.clone())
                .collect()
        };
        assert_eq!(receive(&b, 6), of(to_b));
        assert_eq!(receive(&c, 72), of(to_c));
    }

    /// A frame's packets written to each subscriber in turn (packet 1 to
    /// all, then packet 2 to all) come out one destination after another,
    /// each in the order written: one GSO run per subscriber.
    #[test]
    fn a_batch_is_grouped_by_destination_keeping_each_ones_order() {
        let subs: Vec<SocketAddr> = (0..5)
            .map(|i| format!("127.0.0.1:{}", 9000 - i).parse().unwrap())
            .collect();
        let packets: Vec<[u8; 3]> = (0..4u8).map(|p| [p, p, p]).collect();
        let mut items: Vec<(SocketAddr, &[u8])> = Vec::new();
        for p in &packets {
            for s in &subs {
                items.push((*s, p));
            }
        }
        group_by_destination(&mut items);
        for (i, chunk) in items.chunks(packets.len()).enumerate() {
            assert!(
                chunk.iter().all(|(a, _)| *a == chunk[0].0),
                "destination {i} is not contiguous"
            );
            let order: Vec<u8> = chunk.iter().map(|(_, b)| b[0]).collect();
            assert_eq!(order, vec![0, 1, 2, 3], "destination {i} reordered");
            assert_eq!(
                run_end(&items, i * packets.len(), true),
                (i + 1) * packets.len()
            );
        }
    }

    #[test]
    fn a_run_stops_at_a_new_destination_a_longer_datagram_or_the_limits() {
        let d1: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let d2: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let (full, short, long) = ([0u8; 1000], [0u8; 400], [0u8; 1100]);
        let items: Vec<(SocketAddr, &[u8])> = vec![
            (d1, &full),
            (d1, &full),
            (d1, &short),
            (d1, &full),
            (d1, &long),
            (d2, &full),
        ];
        assert_eq!(run_end(&items, 0, true), 3, "ends after the shorter one");
        assert_eq!(
            run_end(&items, 3, true),
            4,
            "a longer datagram starts a run"
        );
        assert_eq!(
            run_end(&items, 4, true),
            5,
            "a new destination starts a run"
        );
        assert_eq!(run_end(&items, 0, false), 1, "without GSO one per message");
        let many: Vec<(SocketAddr, &[u8])> = vec![(d1, &full[..]); 100];
        assert_eq!(run_end(&many, 0, true), 64, "UDP_MAX_SEGMENTS");
        let big = [0u8; 1400];
        let bigs: Vec<(SocketAddr, &[u8])> = vec![(d1, &big[..]); 60];
        assert_eq!(run_end(&bigs, 0, true), 46, "65 000 bytes");
    }
}
