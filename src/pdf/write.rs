//! Writing PDF objects: a whole new file (the minutes), or an incremental
//! update appended to an existing one (the per-reader watermark), with a
//! classic cross-reference table or a cross-reference stream.

use std::fmt::Write as _;
use std::io::Write as _;

/// Objects to write, numbered from `first` on; an update may also carry new
/// versions of existing objects (`replace`).
pub struct Objects {
    next: u32,
    /// (number, generation, body) in the order they are written.
    items: Vec<(u32, u16, Vec<u8>)>,
}

impl Objects {
    pub fn new(first: u32) -> Objects {
        Objects {
            next: first.max(1),
            items: Vec::new(),
        }
    }

    /// A number for an object written later with `set`.
    pub fn reserve(&mut self) -> u32 {
        let n = self.next;
        self.next += 1;
        n
    }

    pub fn set(&mut self, num: u32, body: impl Into<Vec<u8>>) {
        self.items.push((num, 0, body.into()));
    }

    pub fn add(&mut self, body: impl Into<Vec<u8>>) -> u32 {
        let n = self.reserve();
        self.set(n, body);
        n
    }

    /// A new version of an object of the file being updated.
    pub fn replace(&mut self, num: u32, generation: u16, body: impl Into<Vec<u8>>) {
        self.items.push((num, generation, body.into()));
    }

    /// A stream object; `extra` goes into its dictionary (e.g. `/Length1 n`).
    pub fn stream(&mut self, extra: &str, data: &[u8], compress: bool) -> u32 {
        let n = self.reserve();
        self.set_stream(n, extra, data, compress);
        n
    }

    pub fn set_stream(&mut self, num: u32, extra: &str, data: &[u8], compress: bool) {
        let packed;
        let (data, filter) = if compress && data.len() > 64 {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            // Writing into a Vec cannot fail.
            let _ = z.write_all(data);
            packed = z.finish().unwrap_or_default();
            (&packed[..], " /Filter /FlateDecode")
        } else {
            (data, "")
        };
        let mut body =
            format!("<< /Length {}{filter} {extra} >>\nstream\n", data.len()).into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\nendstream");
        self.set(num, body);
    }

    /// The next free object number (the `/Size` of the result).
    pub fn size(&self) -> u32 {
        self.next
    }

    fn write_objects(&self, out: &mut Vec<u8>, base: u64) -> Vec<(u32, u16, u64)> {
        let mut offsets = Vec::with_capacity(self.items.len());
        for (num, generation, body) in &self.items {
            offsets.push((*num, *generation, base + out.len() as u64));
            let _ = writeln!(out, "{num} {generation} obj");
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        offsets
    }

    /// A complete PDF file whose catalog is object `root`.
    pub fn finish_document(self, root: u32, info: Option<u32>) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
        let offsets = self.write_objects(&mut out, 0);
        let xref = out.len();
        let mut table = vec![None; self.next as usize];
        for (num, generation, off) in offsets {
            if let Some(slot) = table.get_mut(num as usize) {
                *slot = Some((generation, off));
            }
        }
        let _ = write!(out, "xref\n0 {}\n0000000000 65535 f \n", self.next);
        for entry in table.iter().skip(1) {
            match entry {
                Some((g, off)) => {
                    let _ = writeln!(out, "{off:010} {g:05} n ");
                }
                None => out.extend_from_slice(b"0000000000 65535 f \n"),
            }
        }
        let info = info.map(|i| format!(" /Info {i} 0 R")).unwrap_or_default();
        let _ = write!(
            out,
            "trailer\n<< /Size {} /Root {root} 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n",
            self.next
        );
        out
    }

    /// The bytes to append to a file of `base_len` bytes whose last
    /// cross-reference section starts at `prev`. `trailer` holds the
    /// entries to carry over (`/Root`, `/Info`, `/ID`); `size` is at least
    /// the old `/Size`. With `xref_stream` the new section is a
    /// cross-reference stream, as a file that uses them expects.
    pub fn finish_update(
        mut self,
        base_len: u64,
        prev: u64,
        trailer: &str,
        xref_stream: bool,
    ) -> Vec<u8> {
        // Start on a fresh line whatever the file ended with.
        let mut out = b"\n".to_vec();
        if !xref_stream {
            let offsets = self.write_objects(&mut out, base_len);
            let xref = base_len + out.len() as u64;
            out.extend_from_slice(b"xref\n");
            for run in runs(&offsets) {
                let _ = writeln!(out, "{} {}", run[0].0, run.len());
                for (_, g, off) in run {
                    let _ = writeln!(out, "{off:010} {g:05} n ");
                }
            }
            let _ = write!(
                out,
                "trailer\n<< /Size {} /Prev {prev} {trailer} >>\nstartxref\n{xref}\n%%EOF\n",
                self.next
            );
            return out;
        }
        let xref_num = self.reserve();
        let mut offsets = self.write_objects(&mut out, base_len);
        let xref = base_len + out.len() as u64;
        offsets.push((xref_num, 0, xref));
        let mut index = String::new();
        let mut rows = Vec::new();
        for run in runs(&offsets) {
            let _ = write!(index, "{} {} ", run[0].0, run.len());
            for (_, g, off) in run {
                rows.push(1u8);
                rows.extend_from_slice(&(u32::try_from(off).unwrap_or(u32::MAX)).to_be_bytes());
                rows.extend_from_slice(&g.to_be_bytes());
            }
        }
        let _ = write!(
            out,
            "{xref_num} 0 obj\n<< /Type /XRef /Size {} /Prev {prev} /W [1 4 2] /Index [{}] {trailer} /Length {} >>\nstream\n",
            self.next,
            index.trim_end(),
            rows.len()
        );
        out.extend_from_slice(&rows);
        let _ = write!(out, "\nendstream\nendobj\nstartxref\n{xref}\n%%EOF\n");
        out
    }
}

/// Offsets sorted by number and grouped into runs of consecutive numbers,
/// as both cross-reference forms list them.
fn runs(offsets: &[(u32, u16, u64)]) -> Vec<Vec<(u32, u16, u64)>> {
    let mut sorted = offsets.to_vec();
    sorted.sort_by_key(|o| o.0);
    sorted.dedup_by_key(|o| o.0);
    let mut out: Vec<Vec<(u32, u16, u64)>> = Vec::new();
    for o in sorted {
        match out.last_mut() {
            Some(run) if run.last().is_some_and(|l| l.0 + 1 == o.0) => run.push(o),
            _ => out.push(vec![o]),
        }
    }
    out
}

/// Bytes as a PDF hex string.
pub fn hex_string(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2 + 2);
    s.push('<');
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s.push('>');
    s
}

/// A parsed object written back as PDF syntax, ASCII only (strings as hex,
/// odd name bytes as `#xx`) so it can be kept in JSON. Streams cannot be
/// inlined: callers only pass dictionaries, arrays and scalars.
pub fn serialize(o: &lopdf::Object) -> String {
    let mut s = String::new();
    serialize_into(o, &mut s);
    s
}

fn serialize_into(o: &lopdf::Object, s: &mut String) {
    use lopdf::Object as O;
    match o {
        O::Null => s.push_str("null"),
        O::Boolean(b) => s.push_str(if *b { "true" } else { "false" }),
        O::Integer(i) => {
            let _ = write!(s, "{i}");
        }
        O::Real(r) => {
            let _ = write!(s, "{}", number(f64::from(*r)));
        }
        O::Name(n) => name_into(n, s),
        O::String(bytes, _) => s.push_str(&hex_string(bytes)),
        O::Array(items) => {
            s.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                serialize_into(item, s);
            }
            s.push(']');
        }
        O::Dictionary(d) => dict_into(d, s),
        // A stream inside a dictionary is not valid PDF; keep the
        // dictionary part so the result still parses.
        O::Stream(st) => dict_into(&st.dict, s),
        O::Reference((num, generation)) => {
            let _ = write!(s, "{num} {generation} R");
        }
    }
}

/// The entries of a dictionary without the surrounding `<< >>`.
pub fn dict_entries(d: &lopdf::Dictionary, skip: &[&[u8]]) -> String {
    let mut s = String::new();
    for (k, v) in d.iter() {
        if skip.contains(&k.as_slice()) {
            continue;
        }
        name_into(k, &mut s);
        s.push(' ');
        serialize_into(v, &mut s);
        s.push(' ');
    }
    s.trim_end().to_string()
}

fn dict_into(d: &lopdf::Dictionary, s: &mut String) {
    s.push_str("<< ");
    s.push_str(&dict_entries(d, &[]));
    s.push_str(" >>");
}

fn name_into(n: &[u8], s: &mut String) {
    s.push('/');
    for &b in n {
        let regular = b.is_ascii_graphic()
            && !matches!(
                b,
                b'#' | b'/' | b'%' | b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}'
            );
        if regular {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "#{b:02X}");
        }
    }
}

/// A number as PDF writes it: no exponent, at most 4 decimals.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "0".into();
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_strings_and_numbers_are_written_as_ascii_pdf_syntax() {
        let mut d = lopdf::Dictionary::new();
        d.set("Type", lopdf::Object::Name(b"Page".to_vec()));
        d.set("Odd Name", lopdf::Object::Name(b"A/B".to_vec()));
        d.set(
            "T",
            lopdf::Object::String("Đ".as_bytes().to_vec(), lopdf::StringFormat::Literal),
        );
        d.set("R", lopdf::Object::Reference((12, 0)));
        d.set("N", lopdf::Object::Real(0.5));
        let s = serialize(&lopdf::Object::Dictionary(d));
        assert!(s.is_ascii());
        assert!(s.contains("/Type /Page"));
        assert!(s.contains("/Odd#20Name /A#2FB"));
        assert!(s.contains("/T <C490>"));
        assert!(s.contains("/R 12 0 R"));
        assert!(s.contains("/N 0.5"));
        assert_eq!(number(-0.00001), "0");
        assert_eq!(number(12.0), "12");
    }

    #[test]
    fn update_sections_group_consecutive_numbers() {
        let r = runs(&[(7, 0, 1), (3, 0, 2), (4, 0, 3), (9, 0, 4), (8, 0, 5)]);
        let firsts: Vec<_> = r.iter().map(|run| (run[0].0, run.len())).collect();
        assert_eq!(firsts, vec![(3, 2), (7, 3)]);
    }
}
