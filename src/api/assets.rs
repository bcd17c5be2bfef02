//! The web client's files, from the table `build.rs` makes of `web/`
//! (embedded: the server runs on isolated networks and needs nothing
//! beside its binary). `/assets/{*path}` serves the scripts (native ES
//! modules, relative imports: they stay same-origin under the CSP's
//! `script-src 'self'`), styles and images; the page routes serve the HTML.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::ApiError;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The embedded file at `path` (relative to `web/`): its content type and bytes.
pub fn find(path: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .binary_search_by(|(p, _, _)| (*p).cmp(path))
        .ok()
        .map(|i| (ASSETS[i].1, ASSETS[i].2))
}

/// One file as an answer. `no-cache`: a browser revalidates each load, so
/// an upgraded server's pages never run an old module beside new ones.
fn answer(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /assets/{*path}`: a script, style or image; pages are not assets
/// (they have their own URLs).
pub async fn serve(Path(path): Path<String>) -> Response {
    match find(&path) {
        Some((ty, body)) if !path.ends_with(".html") => answer(ty, body),
        _ => ApiError::not_found("no_asset", format!("no asset {path:?}")).into_response(),
    }
}

/// A page's HTML (`page` relative to `web/`, e.g. `console.html`).
pub fn page(page: &str) -> &'static str {
    find(page)
        .and_then(|(_, body)| std::str::from_utf8(body).ok())
        .unwrap_or_else(|| panic!("web/{page} is missing from the asset table: a build error"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module this long cannot be read in one sitting; split it by view.
    const MAX_SCRIPT_LINES: usize = 700;

    #[test]
    fn every_page_file_is_in_the_asset_table_with_its_content_type() {
        for (path, ty) in [
            ("index.html", "text/html; charset=utf-8"),
            ("console/main.js", "text/javascript; charset=utf-8"),
            ("lib/api.js", "text/javascript; charset=utf-8"),
            ("console.css", "text/css; charset=utf-8"),
        ] {
            assert_eq!(find(path).map(|(t, _)| t), Some(ty), "{path}");
        }
        assert!(
            ASSETS.windows(2).all(|w| w[0].0 < w[1].0),
            "the table is sorted"
        );
    }

    #[test]
    fn no_web_script_is_longer_than_the_readable_limit() {
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut long = Vec::new();
        let mut seen = 0;
        let mut dirs = vec![web.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("read web/") {
                let path = entry.expect("entry").path();
                if path.file_name().is_some_and(|n| n == "node_modules") {
                    continue;
                }
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "js") {
                    seen += 1;
                    let lines = std::fs::read_to_string(&path)
                        .expect("read")
                        .lines()
                        .count();
                    if lines > MAX_SCRIPT_LINES {
                        long.push(format!("{} ({lines} lines)", path.display()));
                    }
                }
            }
        }
        assert!(seen > 20, "walked web/: {seen} scripts");
        assert!(
            long.is_empty(),
            "scripts over {MAX_SCRIPT_LINES} lines: {long:?}"
        );
        // Every script on disk is served (build.rs walked the same tree).
        let served = ASSETS.iter().filter(|(p, _, _)| p.ends_with(".js")).count();
        assert_eq!(served, seen, "scripts in the asset table");
    }
}
