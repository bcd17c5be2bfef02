//! The web client's asset table: every file under `web/` the server may
//! serve, embedded with `include_bytes!` (the binary stays self-contained
//! for the provinces' isolated networks; no node toolchain at build time).
//! Emits `$OUT_DIR/assets.rs`: `ASSETS`, sorted by path, each entry
//! (path under web/, content type, bytes). `src/api/assets.rs` serves it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Content types by file extension; a file with another extension (a
/// `tsconfig.json`, notes) is not served.
const TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("ico", "image/x-icon"),
    ("woff2", "font/woff2"),
];

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, &'static str, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry of web/").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // A developer's `npm install` for the optional type check.
        if name.starts_with('.') || name == "node_modules" {
            continue;
        }
        if path.is_dir() {
            walk(&path, root, out);
            continue;
        }
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let Some((_, ty)) = TYPES.iter().find(|(e, _)| *e == ext) else {
            continue;
        };
        let rel = path
            .strip_prefix(root)
            .expect("under web/")
            .to_str()
            .expect("web/ file names are UTF-8")
            .replace('\\', "/");
        out.push((rel, ty, path));
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let web = manifest.join("web");
    println!("cargo::rerun-if-changed=web");
    let mut files = Vec::new();
    walk(&web, &web, &mut files);
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut src = String::from("pub static ASSETS: &[(&str, &str, &[u8])] = &[\n");
    for (rel, ty, path) in &files {
        let _ = writeln!(
            src,
            "    ({rel:?}, {ty:?}, include_bytes!({:?})),",
            path.to_str().expect("UTF-8 path")
        );
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("assets.rs");
    std::fs::write(&out, src).unwrap_or_else(|e| panic!("write {}: {e}", out.display()));
}
