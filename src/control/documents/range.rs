//! Pure: an HTTP `Range` header (RFC 9110 §14) against a file's length.

/// What to send for a `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No (usable) range: the whole file, 200.
    Full,
    /// `start..end` (end exclusive), 206.
    Part { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Decide for one `Range` header value and a file of `len` bytes. Only a
/// single byte range is served; a header we do not understand, or several
/// ranges, is ignored (the whole file), as the RFC allows.
pub fn answer(header: Option<&str>, len: u64) -> RangeAnswer {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Full;
    };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAnswer::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    match (a.is_empty(), b.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => {
            let Some(n) = b.parse::<u64>().ok().filter(|_| digits(b)) else {
                return RangeAnswer::Full;
            };
            if n == 0 || len == 0 {
                return RangeAnswer::Unsatisfiable;
            }
            RangeAnswer::Part {
                start: len.saturating_sub(n),
                end: len,
            }
        }
        (false, _) => {
            let Some(start) = a.parse::<u64>().ok().filter(|_| digits(a)) else {
                return RangeAnswer::Full;
            };
            let last = if b.is_empty() {
                u64::MAX
            } else {
                match b.parse::<u64>().ok().filter(|_| digits(b)) {
                    Some(l) if l >= start => l,
                    _ => return RangeAnswer::Full,
                }
            };
            if start >= len {
                return RangeAnswer::Unsatisfiable;
            }
            RangeAnswer::Part {
                start,
                end: last.saturating_add(1).min(len),
            }
        }
        (true, true) => RangeAnswer::Full,
    }
}

/// Whether an `If-None-Match` value matches `etag` (weak comparison).
pub fn none_match(header: &str, etag: &str) -> bool {
    let want = etag.trim_start_matches("W/");
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == want)
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeAnswer::*;

    #[test]
    fn single_ranges_and_their_edges() {
        assert_eq!(answer(None, 10), Full);
        assert_eq!(answer(Some("bytes=0-4"), 10), Part { start: 0, end: 5 });
        assert_eq!(answer(Some("bytes=5-"), 10), Part { start: 5, end: 10 });
        assert_eq!(answer(Some("bytes=5-100"), 10), Part { start: 5, end: 10 });
        assert_eq!(answer(Some("bytes=-3"), 10), Part { start: 7, end: 10 });
        assert_eq!(answer(Some("bytes=-30"), 10), Part { start: 0, end: 10 });
        assert_eq!(answer(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(answer(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(answer(Some("bytes=0-1,3-4"), 10), Full);
        assert_eq!(answer(Some("bytes=4-2"), 10), Full);
        assert_eq!(answer(Some("items=0-1"), 10), Full);
        assert_eq!(answer(Some("bytes=x-1"), 10), Full);
    }

    #[test]
    fn etags_match_strong_weak_and_star() {
        assert!(none_match("\"abc\"", "\"abc\""));
        assert!(none_match("W/\"abc\", \"x\"", "\"abc\""));
        assert!(none_match("*", "\"abc\""));
        assert!(!none_match("\"abd\"", "\"abc\""));
    }
}
