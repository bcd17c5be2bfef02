//! Which transport a SIP message came over, and what that means for the
//! rest of the stack: retransmissions (none over a stream), the Via and
//! Contact we write, and whether the call may carry SDES keys (only TLS
//! keeps them from whoever reads the signalling).

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// A stream transport: no retransmission timers (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// Signalling no one on the path can read: SDES keys may travel in it.
    pub fn is_secure(self) -> bool {
        matches!(self, Transport::Tls)
    }

    /// The Via's transport token.
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// The `;transport=` parameter of a SIP URI naming us over it.
    pub fn uri_param(self) -> &'static str {
        match self {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        }
    }
}
