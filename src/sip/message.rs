//! SIP messages (RFC 3261 §7), pure: a strict, bounded parser and the
//! serializer. Every byte comes from the network, so the parser caps the
//! message size and the header count, never panics and names what it
//! refused (fuzz target `sip_message`).
//!
//! Header names are kept in their long lower-case form (compact forms such
//! as `v`, `i`, `l` are expanded), values as they came, trimmed.

use std::fmt::Write as _;

/// Largest SIP message accepted, bytes. A room codec's INVITE with an SDP
/// for audio and H.264 is 1–3 KiB; 16 KiB leaves room for long Via chains
/// while a flood of oversized datagrams costs us little (answered 513).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// Most header lines in one message. Real INVITEs carry 10–25; the cap
/// keeps a hostile message from making us build a long vector.
pub const MAX_HEADERS: usize = 64;

/// Longest method token accepted (extension methods are answered 501).
const MAX_METHOD_BYTES: usize = 32;

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("sip message is {0} bytes, more than the {MAX_MESSAGE_BYTES} accepted")]
    TooLarge(usize),
    #[error("sip message has more than {MAX_HEADERS} header lines")]
    TooManyHeaders,
    #[error("sip message ends before its headers do")]
    Incomplete,
    #[error("sip start line is malformed: {0}")]
    StartLine(&'static str),
    #[error("sip header line {0} is malformed")]
    Header(usize),
    #[error("sip header {0} is missing or malformed")]
    Missing(&'static str),
    #[error("sip content-length does not match the body")]
    ContentLength,
}

/// A SIP method; extension methods are kept by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Info,
    Update,
    Register,
    Other(String),
}

impl Method {
    pub fn parse(s: &str) -> Method {
        match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "REGISTER" => Method::Register,
            other => Method::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Register => "REGISTER",
            Method::Other(s) => s,
        }
    }
}

/// The first line: a request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request { method: Method, uri: String },
    Response { code: u16, reason: String },
}

/// A parsed (or to-be-sent) SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub start: StartLine,
    /// (long lower-case name, value) in order of appearance.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// RFC 3261 §7.3.3 compact forms.
fn long_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let long = match lower.as_str() {
        "i" => "call-id",
        "m" => "contact",
        "e" => "content-encoding",
        "l" => "content-length",
        "c" => "content-type",
        "f" => "from",
        "s" => "subject",
        "k" => "supported",
        "t" => "to",
        "v" => "via",
        "x" => "session-expires",
        _ => return lower,
    };
    long.to_owned()
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// Where the header block ends (index just past the blank line), if it does.
fn header_end(data: &[u8]) -> Option<usize> {
    memchr::memmem::find(data, b"\r\n\r\n").map(|i| i + 4)
}

/// For a stream transport (TCP): the length of the first whole message in
/// `buf`, `Ok(None)` if more bytes are needed. Errors once the headers alone
/// pass the cap or the content-length is unreadable.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    let Some(end) = header_end(buf) else {
        return if buf.len() > MAX_MESSAGE_BYTES {
            Err(ParseError::TooLarge(buf.len()))
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| ParseError::Header(0))?;
    let mut len = None;
    for line in head.split("\r\n").skip(1) {
        if let Some((n, v)) = line.split_once(':')
            && long_name(n.trim()) == "content-length"
        {
            len = Some(
                v.trim()
                    .parse::<usize>()
                    .map_err(|_| ParseError::ContentLength)?,
            );
        }
    }
    // RFC 3261 §18.3: over a stream transport content-length is mandatory.
    let len = len.ok_or(ParseError::Missing("content-length"))?;
    let total = end.saturating_add(len);
    if total > MAX_MESSAGE_BYTES {
        return Err(ParseError::TooLarge(total));
    }
    Ok((buf.len() >= total).then_some(total))
}

impl Message {
    /// Parse one whole message (a UDP datagram, or a frame from
    /// [`frame_len`]). A body longer than content-length is cut to it; a
    /// shorter one is an error.
    pub fn parse(data: &[u8]) -> Result<Message, ParseError> {
        if data.len() > MAX_MESSAGE_BYTES {
            return Err(ParseError::TooLarge(data.len()));
        }
        Self::parse_within(data, true)
    }

    /// The start line and headers of a message refused by [`parse`]
    /// (oversized, or a body at odds with its content-length), to address
    /// the refusal (513, 400) to. `data` is one datagram (at most 64 KiB);
    /// the header count cap still holds.
    pub fn parse_head_of_refused(data: &[u8]) -> Option<Message> {
        Self::parse_within(data, false).ok()
    }

    fn parse_within(data: &[u8], with_body: bool) -> Result<Message, ParseError> {
        let end = header_end(data).ok_or(ParseError::Incomplete)?;
        let head = std::str::from_utf8(&data[..end - 4]).map_err(|_| ParseError::Header(0))?;
        let mut lines = head.split("\r\n");
        let start = parse_start(lines.next().unwrap_or_default())?;
        let mut headers: Vec<(String, String)> = Vec::new();
        for (i, line) in lines.enumerate() {
            if line.starts_with([' ', '\t']) {
                // Folded continuation of the previous header (§7.3.1).
                let (_, v) = headers.last_mut().ok_or(ParseError::Header(i + 1))?;
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            if headers.len() == MAX_HEADERS {
                return Err(ParseError::TooManyHeaders);
            }
            let (name, value) = line.split_once(':').ok_or(ParseError::Header(i + 1))?;
            let name = name.trim_end();
            if !is_token(name) {
                return Err(ParseError::Header(i + 1));
            }
            headers.push((long_name(name), value.trim().to_owned()));
        }
        let rest = &data[end..];
        let body = match headers.iter().find(|(n, _)| n == "content-length") {
            _ if !with_body => Vec::new(),
            Some((_, v)) => {
                let len: usize = v.parse().map_err(|_| ParseError::ContentLength)?;
                rest.get(..len).ok_or(ParseError::ContentLength)?.to_vec()
            }
            None => rest.to_vec(),
        };
        let msg = Message {
            start,
            headers,
            body,
        };
        msg.check_mandatory()?;
        Ok(msg)
    }

    /// §8.1.1: the headers every request and response carries.
    fn check_mandatory(&self) -> Result<(), ParseError> {
        for name in ["via", "from", "to", "call-id"] {
            if self.header(name).is_none_or(str::is_empty) {
                return Err(ParseError::Missing(match name {
                    "via" => "via",
                    "from" => "from",
                    "to" => "to",
                    _ => "call-id",
                }));
            }
        }
        let (_, method) = self.cseq().ok_or(ParseError::Missing("cseq"))?;
        if let StartLine::Request { method: m, .. } = &self.start
            && *m != method
        {
            return Err(ParseError::Missing("cseq"));
        }
        Ok(())
    }

    /// The first value of a header (long lower-case name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn call_id(&self) -> &str {
        self.header("call-id").unwrap_or_default()
    }

    /// CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, Method)> {
        let v = self.header("cseq")?;
        let (n, m) = v.split_once(char::is_whitespace)?;
        let m = m.trim();
        if m.len() > MAX_METHOD_BYTES || !is_token(m) {
            return None;
        }
        Some((n.trim().parse().ok()?, Method::parse(m)))
    }

    /// The top Via's branch parameter.
    pub fn branch(&self) -> Option<&str> {
        param(self.header("via")?, "branch")
    }

    pub fn from_tag(&self) -> Option<&str> {
        param(self.header("from")?, "tag")
    }

    pub fn to_tag(&self) -> Option<&str> {
        param(self.header("to")?, "tag")
    }

    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// A response to `req` (§8.2.6): its Vias, From, To (with `to_tag`
    /// added when it has none), Call-ID and CSeq.
    pub fn response_to(req: &Message, code: u16, reason: &str, to_tag: Option<&str>) -> Message {
        let mut headers = Vec::new();
        for (n, v) in &req.headers {
            match n.as_str() {
                "via" | "from" | "call-id" | "cseq" => headers.push((n.clone(), v.clone())),
                "to" => {
                    let mut to = v.clone();
                    if let Some(tag) = to_tag
                        && param(v, "tag").is_none()
                    {
                        to.push_str(";tag=");
                        to.push_str(tag);
                    }
                    headers.push((n.clone(), to));
                }
                _ => {}
            }
        }
        Message {
            start: StartLine::Response {
                code,
                reason: reason.to_owned(),
            },
            headers,
            body: Vec::new(),
        }
    }

    pub fn push_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
    }

    /// Serialize; content-length is always written from the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::with_capacity(512 + self.body.len());
        match &self.start {
            StartLine::Request { method, uri } => {
                let _ = write!(s, "{} {uri} SIP/2.0\r\n", method.as_str());
            }
            StartLine::Response { code, reason } => {
                let _ = write!(s, "SIP/2.0 {code} {reason}\r\n");
            }
        }
        for (n, v) in &self.headers {
            if n != "content-length" {
                let _ = write!(s, "{}: {v}\r\n", display_name(n));
            }
        }
        let _ = write!(s, "Content-Length: {}\r\n\r\n", self.body.len());
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// Canonical capitalisation for the headers we write.
fn display_name(n: &str) -> String {
    match n {
        "call-id" => "Call-ID".to_owned(),
        "cseq" => "CSeq".to_owned(),
        "www-authenticate" => "WWW-Authenticate".to_owned(),
        _ => n
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

fn parse_start(line: &str) -> Result<StartLine, ParseError> {
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code: u16 = code
            .parse()
            .map_err(|_| ParseError::StartLine("status code"))?;
        if !(100..700).contains(&code) {
            return Err(ParseError::StartLine("status code"));
        }
        return Ok(StartLine::Response {
            code,
            reason: reason.to_owned(),
        });
    }
    let mut parts = line.split(' ');
    let (Some(m), Some(uri), Some(ver), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::StartLine(
            "request line needs method, uri, version",
        ));
    };
    if ver != "SIP/2.0" {
        return Err(ParseError::StartLine("version is not SIP/2.0"));
    }
    if m.len() > MAX_METHOD_BYTES || !is_token(m) {
        return Err(ParseError::StartLine("method"));
    }
    if uri.is_empty() || !uri.contains(':') {
        return Err(ParseError::StartLine("request uri"));
    }
    Ok(StartLine::Request {
        method: Method::parse(m),
        uri: uri.to_owned(),
    })
}

/// A `;name=value` parameter of a header value (outside `<…>` and quotes).
pub fn param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let tail = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    tail.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The URI inside a name-addr (`"Name" <sip:a@b>;tag=x`) or an addr-spec.
pub fn addr_uri(value: &str) -> &str {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or_default().trim(),
    }
}

/// The parts of a `sip:` / `sips:` URI we route on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl SipUri {
    pub fn parse(uri: &str) -> Option<SipUri> {
        let rest = uri
            .strip_prefix("sip:")
            .or_else(|| uri.strip_prefix("sips:"))?;
        let rest = rest.split([';', '?']).next()?;
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u.split(':').next()?.to_owned()), h),
            None => (None, rest),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, p) = v6.split_once(']')?;
            (h, p.strip_prefix(':'))
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return None;
        }
        let port = match port {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        };
        Some(SipUri {
            user,
            host: host.to_owned(),
            port,
        })
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
pub(crate) mod tests;
