//! The pages' dictionaries (`web/i18n/{vi,en}/<page>.js`) say the same
//! things in both languages: a key in one is in the other, with the same
//! `{placeholders}` — a page that switches to English never shows a bare
//! key or a `{name}` left unfilled. One exception, by design: a refusal
//! (`errors.<code>`) may have no English sentence, because in English the
//! pages show the server's own message, which is English.

use std::collections::BTreeMap;
use std::path::Path;

/// Key path (`errors.forbidden`) → its placeholders, in order of appearance.
type Keys = BTreeMap<String, Vec<String>>;

/// The keys of one dictionary module, read line by line: the modules are
/// written as one `key: "text",` per line, nested objects two spaces
/// deeper (`errors: {` … `},`).
fn keys_of(text: &str) -> Keys {
    let mut out = Keys::new();
    let mut stack: Vec<String> = Vec::new();
    for line in text.lines() {
        let depth = (line.len() - line.trim_start().len()) / 2;
        let t = line.trim_start();
        let Some((key, rest)) = t.split_once(':') else {
            continue;
        };
        let key = key.trim_matches('"');
        if depth == 0
            || key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_alphanumeric() || "_.-".contains(c))
        {
            continue;
        }
        stack.truncate(depth - 1);
        let path = stack
            .iter()
            .chain([&key.to_string()])
            .cloned()
            .collect::<Vec<_>>()
            .join(".");
        let rest = rest.trim();
        if rest == "{" {
            stack.push(key.to_string());
            continue;
        }
        out.insert(path, placeholders(rest));
    }
    out
}

fn placeholders(value: &str) -> Vec<String> {
    let mut out: Vec<String> = value
        .split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name))
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .map(String::from)
        .collect();
    out.sort();
    out.dedup();
    out
}

fn dictionaries() -> Vec<(String, Keys, Keys)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/i18n");
    let mut pages: Vec<String> = std::fs::read_dir(dir.join("vi"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".js"))
        .collect();
    pages.sort();
    pages
        .into_iter()
        .map(|page| {
            let read = |lang: &str| {
                let path = dir.join(lang).join(&page);
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                keys_of(&text)
            };
            (page.clone(), read("vi"), read("en"))
        })
        .collect()
}

#[test]
fn every_key_of_a_page_dictionary_is_in_both_languages_with_the_same_placeholders() {
    let dicts = dictionaries();
    assert!(dicts.len() >= 10, "pages found: {}", dicts.len());
    let mut problems = Vec::new();
    for (page, vi, en) in &dicts {
        assert!(vi.len() >= 10, "{page}: only {} keys read", vi.len());
        for (key, places) in vi {
            match en.get(key) {
                None if key.starts_with("errors.") => {}
                None => problems.push(format!("{page}: {key} has no English text")),
                Some(p) if p != places => problems.push(format!(
                    "{page}: {key} fills {places:?} in Vietnamese, {p:?} in English"
                )),
                Some(_) => {}
            }
        }
        for key in en.keys().filter(|k| !vi.contains_key(*k)) {
            problems.push(format!("{page}: {key} has no Vietnamese text"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_dictionary_reader_sees_nested_keys_and_placeholders() {
    // The reader must be able to fail: a missing key and a different
    // placeholder in a nested object are found.
    let vi =
        keys_of("export default {\n  a: \"x {n}\",\n  errors: {\n    gone: \"y\",\n  },\n};\n");
    let en = keys_of("export default {\n  a: \"x {m}\",\n};\n");
    assert_eq!(vi.get("a"), Some(&vec!["n".to_string()]));
    assert_eq!(vi.get("errors.gone"), Some(&vec![]));
    assert_eq!(en.get("a"), Some(&vec!["m".to_string()]));
    assert!(!en.contains_key("errors.gone"));
}
