//! The SIP listener (UDP, and TCP and TLS through `tcp`): one tokio task that parses each datagram, runs
//! it through the transaction and dialog layers, answers, and drives their
//! timers. Calls run in tasks of their own (`call`); the listener never
//! waits on media. Requests that need the store (INVITE, REGISTER) are
//! rate-limited per source before any lookup, so a flood costs a parse.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::config::SipConfig;
use super::dialog::{DialogId, Dialogs, InDialog};
use super::dialout::{DialOrder, Dialer};
use super::limit::Limiter;
use super::message::{Message, Method, ParseError, StartLine};
use super::metrics::SipMetrics;
use super::outbound::Outbound;
use super::tcp::TcpEvent;
use super::transaction::{Received, ServerTransactions};
use super::transport::Transport;
use super::uas::Uas;
use crate::conference::Conference;

/// Largest datagram read; bigger ones arrive cut and are refused as
/// oversized (513) by the parser's cap below this.
const RECV_BUFFER_BYTES: usize = 65_535;

/// The running listener.
pub struct SipServer {
    pub udp_addr: Option<SocketAddr>,
    pub tcp_addr: Option<SocketAddr>,
    pub tls_addr: Option<SocketAddr>,
    pub metrics: Arc<SipMetrics>,
    task: tokio::task::JoinHandle<()>,
    stream_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl SipServer {
    pub fn abort(&self) {
        self.task.abort();
        for t in &self.stream_tasks {
            t.abort();
        }
    }
}

/// Bind `[sip] udp_listen` (and `tcp_listen`, `tls_listen`) and start
/// answering. `tls`: the `[tls]` server configuration, needed for
/// `tls_listen`.
pub async fn start(
    conference: Conference,
    cfg: SipConfig,
    metrics: Arc<SipMetrics>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> std::io::Result<Option<SipServer>> {
    let Some(listen) = cfg.udp_listen else {
        return Ok(None);
    };
    let sock = UdpSocket::bind(listen).await?;
    let local = sock.local_addr()?;
    let (tcp_tx, tcp_rx) = mpsc::channel(256);
    let mut tcp_addr = None;
    let mut tls_addr = None;
    let mut stream_tasks = Vec::new();
    if let Some(addr) = cfg.tcp_listen {
        let l = tokio::net::TcpListener::bind(addr).await?;
        tcp_addr = Some(l.local_addr()?);
        stream_tasks.push(tokio::spawn(super::tcp::accept(l, tcp_tx.clone(), None)));
        tracing::info!(local = ?tcp_addr, "sip: listening (tcp)");
    }
    if let Some(addr) = cfg.tls_listen {
        let Some(tls) = tls else {
            return Err(std::io::Error::other(
                "sip.tls_listen is set but no tls certificate was loaded",
            ));
        };
        let l = tokio::net::TcpListener::bind(addr).await?;
        tls_addr = Some(l.local_addr()?);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        stream_tasks.push(tokio::spawn(super::tcp::accept(
            l,
            tcp_tx.clone(),
            Some(acceptor),
        )));
        tracing::info!(local = ?tls_addr, "sip: listening (tls)");
    }
    drop(tcp_tx);
    let (ended_tx, ended_rx) = mpsc::channel(64);
    // Dial-out's orders come from the live rooms (a meeting opening, an
    // operator's "Gọi lại").
    let (dialer, dial_rx) = Dialer::new();
    conference.live().set_dialer(dialer.clone());
    let outbound = Outbound::new(
        conference.clone(),
        cfg.clone(),
        dialer.clone(),
        ended_tx.clone(),
        metrics.clone(),
    );
    let mut uas = Uas::new(
        conference,
        cfg.clone(),
        local,
        ended_tx,
        metrics.clone(),
        dialer,
    );
    uas.set_stream_ports(tcp_addr.map(|a| a.port()), tls_addr.map(|a| a.port()));
    let limiter = Limiter::new(cfg.requests_per_minute_per_source);
    let task = tokio::spawn(run(sock, uas, outbound, limiter, ended_rx, tcp_rx, dial_rx));
    tracing::info!(%local, "sip: listening (udp)");
    Ok(Some(SipServer {
        udp_addr: Some(local),
        tcp_addr,
        tls_addr,
        metrics,
        task,
        stream_tasks,
    }))
}

struct Loop {
    sock: UdpSocket,
    /// Open TCP and TLS connections by peer: answers to them go on the
    /// connection.
    tcp: HashMap<SocketAddr, (mpsc::Sender<Vec<u8>>, Transport)>,
    txns: ServerTransactions,
    dialogs: Dialogs,
    uas: Uas,
    outbound: Outbound,
    limiter: Limiter,
}

async fn run(
    sock: UdpSocket,
    uas: Uas,
    outbound: Outbound,
    limiter: Limiter,
    mut ended: mpsc::Receiver<DialogId>,
    mut tcp_rx: mpsc::Receiver<TcpEvent>,
    mut dial_rx: mpsc::Receiver<DialOrder>,
) {
    let mut l = Loop {
        sock,
        tcp: HashMap::new(),
        txns: ServerTransactions::default(),
        dialogs: Dialogs::default(),
        uas,
        outbound,
        limiter,
    };
    let mut buf = vec![0u8; RECV_BUFFER_BYTES];
    loop {
        let now = Instant::now();
        let wake = [
            l.txns.next_timeout(),
            l.dialogs.next_timeout(),
            l.outbound.next_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + Duration::from_secs(1))
        .max(now);
        tokio::select! {
            r = l.sock.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    l.datagram(Instant::now(), &buf[..n], from, Transport::Udp).await;
                }
            }
            Some(ev) = tcp_rx.recv() => match ev {
                TcpEvent::Opened(peer, tx, transport) => {
                    l.tcp.insert(peer, (tx, transport));
                }
                TcpEvent::Message(peer, data) => {
                    let transport = l.tcp.get(&peer).map_or(Transport::Tcp, |c| c.1);
                    l.datagram(Instant::now(), &data, peer, transport).await
                }
                TcpEvent::Refused(peer, data) => {
                    l.uas.metrics.count_malformed();
                    let e = if data.len() > super::message::MAX_MESSAGE_BYTES {
                        ParseError::TooLarge(data.len())
                    } else {
                        ParseError::ContentLength
                    };
                    if let Some(resp) = refusal_for(&data, &e) {
                        l.send(peer, &resp.to_bytes()).await;
                    }
                }
                TcpEvent::Closed(peer) => {
                    l.tcp.remove(&peer);
                }
            },
            Some(order) = dial_rx.recv() => l.outbound.order(order).await,
            Some(id) = ended.recv() => {
                // The call ended on its own (removed, engine gone): BYE.
                l.end_call(&id).await;
                let via = l.uas.via_host();
                let branch = super::uas::new_branch();
                if let Some((to, bye)) = l.dialogs.hang_up(&id, &via, &branch) {
                    l.send(to, &bye.to_bytes()).await;
                }
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
        }
        let now = Instant::now();
        for (to, bytes) in l.txns.poll(now) {
            l.send(to, &bytes).await;
        }
        let due = l.dialogs.poll(now, &l.uas.via_host());
        for (to, bytes) in due.transmit {
            l.send(to, &bytes).await;
        }
        let (via, contacts) = (l.uas.via_host(), l.uas.contacts());
        for (to, bytes) in l.outbound.poll(now, &via, &contacts).await {
            l.send(to, &bytes).await;
        }
        for (id, bye) in due.ended {
            l.end_call(&id).await;
            if let Some(to) = l.uas.peer_of_ended(&id) {
                l.send(to, &bye.to_bytes()).await;
            }
        }
    }
}

impl Loop {
    /// A call is over: its task goes, and a dialled room's wall tile is told.
    async fn end_call(&mut self, id: &DialogId) {
        self.uas.end_call(id);
        self.outbound.call_ended(id).await;
    }

    async fn send(&self, to: SocketAddr, bytes: &[u8]) {
        if let Some((conn, _)) = self.tcp.get(&to) {
            // A stuck connection's full queue drops it (TCP: no retransmit).
            let _ = conn.try_send(bytes.to_vec());
            return;
        }
        // A full socket buffer drops it; the transaction layer retransmits.
        let _ = self.sock.send_to(bytes, to).await;
    }

    async fn datagram(
        &mut self,
        now: Instant,
        data: &[u8],
        from: SocketAddr,
        transport: Transport,
    ) {
        let reliable = transport.is_reliable();
        // RFC 5626 keep-alives (CRLF) from codecs behind NAT.
        if data.iter().all(|b| *b == b'\r' || *b == b'\n') {
            return;
        }
        let m = self.uas.metrics.clone();
        let req = match Message::parse(data) {
            Ok(msg) => msg,
            Err(e) => {
                m.count_malformed();
                if let Some(resp) = refusal_for(data, &e) {
                    self.send(from, &resp.to_bytes()).await;
                }
                return;
            }
        };
        let Some(method) = req.method().cloned() else {
            // A response: to one of our INVITEs (dial-out), or our BYEs.
            let sends = self
                .outbound
                .response(now, &req, &mut self.dialogs, &mut self.uas)
                .await;
            for (to, bytes) in sends {
                self.send(to, &bytes).await;
            }
            return;
        };
        if matches!(method, Method::Invite | Method::Register)
            && req.to_tag().is_none()
            && !self.limiter.allow(now, from.ip())
        {
            m.count_rate_limited();
            let mut r = Message::response_to(
                &req,
                503,
                "Service Unavailable",
                Some(&super::uas::new_tag()),
            );
            r.push_header("Retry-After", "60");
            self.send(from, &r.to_bytes()).await;
            return;
        }
        let key = match self.txns.receive(now, &req, from, reliable) {
            Received::New(key) => key,
            Received::Retransmission(Some(bytes)) => return self.send(from, &bytes).await,
            Received::Retransmission(None) | Received::Absorbed => return,
            Received::Full => {
                let r = Message::response_to(&req, 503, "Service Unavailable", None);
                return self.send(from, &r.to_bytes()).await;
            }
            Received::Unmatchable => {
                let r = Message::response_to(&req, 400, "Bad Request", None);
                return self.send(from, &r.to_bytes()).await;
            }
        };
        if method == Method::Ack {
            self.dialogs.receive(now, &req);
            return;
        }
        if req.to_tag().is_some() {
            let resp = self.in_dialog(now, &req, &method, transport).await;
            let bytes = self.txns.respond(now, &key, &resp);
            return self.send(from, &bytes).await;
        }
        let resp = match method {
            Method::Invite => {
                let trying = Message::response_to(&req, 100, "Trying", None);
                let bytes = self.txns.respond(now, &key, &trying);
                self.send(from, &bytes).await;
                match self.uas.invite(&req, from, transport).await {
                    Ok((ok, call)) => {
                        let now = Instant::now();
                        match self.dialogs.accept(now, &req, &ok, from, transport) {
                            Some((id, bytes)) => {
                                self.txns.respond(now, &key, &ok);
                                self.uas.keep_call(id, call, from);
                                return self.send(from, &bytes).await;
                            }
                            None => Message::response_to(
                                &req,
                                503,
                                "Service Unavailable",
                                Some(&super::uas::new_tag()),
                            ),
                        }
                    }
                    Err(resp) => resp,
                }
            }
            Method::Register => self.uas.register(&req, from, transport).await,
            Method::Options => self.uas.options(&req),
            Method::Cancel | Method::Bye => Message::response_to(
                &req,
                481,
                "Call/Transaction Does Not Exist",
                Some(&super::uas::new_tag()),
            ),
            Method::Info | Method::Update => Message::response_to(
                &req,
                481,
                "Call/Transaction Does Not Exist",
                Some(&super::uas::new_tag()),
            ),
            Method::Ack => return,
            Method::Other(_) => {
                let mut r = Message::response_to(
                    &req,
                    501,
                    "Not Implemented",
                    Some(&super::uas::new_tag()),
                );
                r.push_header("Allow", super::uas::ALLOW);
                r
            }
        };
        let bytes = self.txns.respond(Instant::now(), &key, &resp);
        self.send(from, &bytes).await;
    }

    async fn in_dialog(
        &mut self,
        now: Instant,
        req: &Message,
        method: &Method,
        transport: Transport,
    ) -> Message {
        let ok = |code, reason| Message::response_to(req, code, reason, None);
        match self.dialogs.receive(now, req) {
            InDialog::Bye => {
                if let Some(id) = super::dialog::DialogId::of_request(req) {
                    self.end_call(&id).await;
                }
                ok(200, "OK")
            }
            InDialog::Request(Method::Invite) => {
                // A session refresh (RFC 4028) or a re-offer: the call keeps
                // its media as negotiated; the answer repeats ours.
                let id = super::dialog::DialogId::of_request(req);
                self.uas.reinvite_answer(req, id.as_ref(), transport)
            }
            InDialog::Request(_) => ok(200, "OK"),
            InDialog::Ack | InDialog::Stale if *method == Method::Ack => ok(200, "OK"),
            InDialog::Stale => ok(500, "Server Internal Error"),
            _ => ok(481, "Call/Transaction Does Not Exist"),
        }
    }
}

/// What to answer a message that did not parse: 513 when too large, 400
/// when its headers still name where to answer; else nothing (§18.3: a
/// malformed datagram is discarded).
fn refusal_for(data: &[u8], e: &ParseError) -> Option<Message> {
    let req = Message::parse_head_of_refused(data)?;
    if !matches!(req.start, StartLine::Request { .. }) || req.method() == Some(&Method::Ack) {
        return None;
    }
    let (code, reason) = match e {
        ParseError::TooLarge(_) => (513, "Message Too Large"),
        _ => (400, "Bad Request"),
    };
    Some(Message::response_to(
        &req,
        code,
        reason,
        Some(&super::uas::new_tag()),
    ))
}
