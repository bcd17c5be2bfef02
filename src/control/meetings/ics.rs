//! Meetings as an iCalendar file (RFC 5545) for calendar programs on the
//! internal network: one VEVENT per meeting, times in UTC, text escaped and
//! long lines folded without ever splitting a UTF-8 character (Vietnamese
//! titles are full of multi-byte letters).

use std::collections::HashMap;
use std::fmt::Write;

use time::OffsetDateTime;

use super::{Meeting, MeetingState, Meetings, ResolvedParticipant};
use crate::store::now_ms;

/// RFC 5545 §3.1: lines longer than 75 octets are folded.
const FOLD_OCTETS: usize = 75;
const PRODID: &str = "-//diemcau//Hoi nghi truc tuyen//VI";

/// A `YYYYMMDDTHHMMSSZ` UTC time (RFC 5545 §3.3.5, form #2).
fn utc(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Escape a TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and
/// line breaks; other control characters are not allowed in TEXT and are
/// dropped.
pub(super) fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                // CRLF and a lone CR are one line break.
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Append one content line, folded: at most 75 octets per physical line,
/// each continuation starting with one space, every cut on a character
/// boundary. Ends with CRLF.
pub(super) fn push_folded(out: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = FOLD_OCTETS;
    loop {
        if rest.len() <= limit {
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        // The leading space counts towards the next line's 75 octets.
        limit = FOLD_OCTETS - 1;
    }
}

fn prop(out: &mut String, name: &str, value: &str) {
    push_folded(out, &format!("{name}:{value}"));
}

/// An iCalendar file of `meetings`. `participants` maps a meeting id to its
/// resolved rooms (for the description and, from the hub, the location);
/// a meeting missing from it is written without them. `generated_at_ms`
/// is the DTSTAMP: when this file was made.
pub fn ics_for(
    meetings: &[Meeting],
    participants: &HashMap<String, Vec<ResolvedParticipant>>,
    generated_at_ms: i64,
) -> String {
    let mut out = String::new();
    prop(&mut out, "BEGIN", "VCALENDAR");
    prop(&mut out, "VERSION", "2.0");
    prop(&mut out, "PRODID", PRODID);
    prop(&mut out, "CALSCALE", "GREGORIAN");
    prop(&mut out, "METHOD", "PUBLISH");
    let stamp = utc(generated_at_ms);
    for m in meetings {
        let rooms = participants.get(&m.id).map(Vec::as_slice).unwrap_or(&[]);
        prop(&mut out, "BEGIN", "VEVENT");
        prop(&mut out, "UID", &format!("{}@diemcau", m.id));
        prop(&mut out, "DTSTAMP", &stamp);
        prop(&mut out, "DTSTART", &utc(m.starts_at_ms));
        prop(&mut out, "DTEND", &utc(m.ends_at_ms));
        prop(&mut out, "CREATED", &utc(m.created_at_ms));
        prop(&mut out, "LAST-MODIFIED", &utc(m.updated_at_ms));
        prop(&mut out, "SEQUENCE", &m.sequence.to_string());
        prop(&mut out, "SUMMARY", &escape_text(&m.title));
        let mut description = format!("Loại: {}", m.kind.label_vi());
        if !m.description.is_empty() {
            let _ = write!(description, "\n\n{}", m.description);
        }
        if let Some(number) = &m.sip_dial_in {
            // Room codecs (SIP) dial this number from their remote control.
            let _ = write!(description, "\n\nSố quay SIP: {number}");
        }
        if !rooms.is_empty() {
            let names: Vec<&str> = rooms.iter().map(|p| p.endpoint_name.as_str()).collect();
            let _ = write!(
                description,
                "\n\nĐiểm cầu ({}): {}",
                names.len(),
                names.join(", ")
            );
        }
        prop(&mut out, "DESCRIPTION", &escape_text(&description));
        if let Some(number) = &m.sip_dial_in {
            // Not a standard property: the dial-in for calendar tools to read.
            prop(&mut out, "X-DIEMCAU-SIP-DIAL-IN", number);
        }
        let hub = m
            .hub_endpoint_id
            .as_deref()
            .and_then(|h| rooms.iter().find(|p| p.endpoint_id == h));
        if let Some(hub) = hub {
            let place = if hub.room.trim().is_empty() {
                hub.endpoint_name.clone()
            } else {
                format!("{} – {}", hub.endpoint_name, hub.room)
            };
            prop(&mut out, "LOCATION", &escape_text(&place));
        }
        let status = if m.state == MeetingState::Cancelled {
            "CANCELLED"
        } else {
            "CONFIRMED"
        };
        prop(&mut out, "STATUS", status);
        if let Some(series) = &m.series_id {
            // Not a standard property: lets a reader group a series' meetings.
            prop(&mut out, "X-DIEMCAU-SERIES", &escape_text(series));
        }
        prop(&mut out, "END", "VEVENT");
    }
    prop(&mut out, "END", "VCALENDAR");
    out
}

impl Meetings {
    /// An iCalendar file of `meetings` with their participants resolved now.
    pub async fn ics(&self, meetings: &[Meeting]) -> Result<String, super::MeetingError> {
        let mut rooms = HashMap::with_capacity(meetings.len());
        for m in meetings {
            rooms.insert(m.id.clone(), self.participants(&m.id).await?);
        }
        Ok(ics_for(meetings, &rooms, now_ms()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unfold(s: &str) -> String {
        s.replace("\r\n ", "")
    }

    fn unescape(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                match chars.next() {
                    Some('n') | Some('N') => out.push('\n'),
                    Some(other) => out.push(other),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    const TITLE: &str = "Hội nghị Ban Chấp hành Đảng bộ tỉnh lần thứ năm, nhiệm kỳ 2025–2030: \
        quán triệt, triển khai Nghị quyết số 57-NQ/TW về đột phá phát triển khoa học, công nghệ; \
        đổi mới sáng tạo và chuyển đổi số quốc gia";

    #[test]
    fn folding_keeps_lines_within_75_octets_and_unfolds_to_the_exact_text() {
        for shift in 0..8 {
            let line = format!("SUMMARY:{}{}", "ắ".repeat(shift), TITLE);
            let mut out = String::new();
            push_folded(&mut out, &line);
            assert!(out.ends_with("\r\n"));
            let body = &out[..out.len() - 2];
            for physical in body.split("\r\n") {
                assert!(
                    physical.len() <= 75,
                    "{} octets: {physical:?}",
                    physical.len()
                );
            }
            assert!(body.split("\r\n").skip(1).all(|l| l.starts_with(' ')));
            assert_eq!(unfold(body), line, "shift {shift}");
        }
        let mut short = String::new();
        push_folded(&mut short, "VERSION:2.0");
        assert_eq!(short, "VERSION:2.0\r\n");
    }

    #[test]
    fn escaping_round_trips() {
        let text = "Điểm cầu: xã A, xã B; phòng \\ họp\nDòng hai\r\nDòng ba";
        let escaped = escape_text(text);
        assert_eq!(
            escaped,
            "Điểm cầu: xã A\\, xã B\\; phòng \\\\ họp\\nDòng hai\\nDòng ba"
        );
        assert!(!escaped.contains('\n') && !escaped.contains('\r'));
        assert_eq!(unescape(&escaped), text.replace("\r\n", "\n"));
        assert_eq!(
            escape_text("a\u{7}b"),
            "ab",
            "control characters are dropped"
        );
    }

    #[test]
    fn utc_times_use_the_basic_format() {
        assert_eq!(utc(1_756_688_400_000), "20250901T010000Z");
        assert_eq!(utc(0), "19700101T000000Z");
    }
}
