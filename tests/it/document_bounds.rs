//! Bounds on what a document costs: the watermark plan's page cap (a PDF
//! over it is refused at upload with 413 `pdf_too_large`, storing nothing)
//! and the per-reader tail cache (a second download lays nothing out).

use diemcau::pdf::stamp::MAX_PLAN_PAGES;
use diemcau::pdf::write::Objects;

use crate::documents::{fetch, pdf, plan, upload};
use crate::support::api::{fingerprint, world};
use crate::support::db::both_backends;

/// A valid PDF of `n` empty pages.
fn pages(n: usize) -> Vec<u8> {
    let mut o = Objects::new(1);
    let catalog = o.reserve();
    let tree = o.reserve();
    let kids: Vec<String> = (0..n)
        .map(|_| {
            let k = o.add(format!(
                "<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 595 842] >>"
            ));
            format!("{k} 0 R")
        })
        .collect();
    o.set(
        tree,
        format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")),
    );
    o.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    o.finish_document(catalog, None)
}

both_backends! {
    async fn document_over_the_watermark_page_cap_is_refused_naming_the_limit(db) {
        let w = world(db).await;
        let m = plan(&w).await;
        let sec = w.as_role("secretary");
        let ok = [("title", "Báo cáo dày"), ("classification", "thuong")];
        let before = fingerprint(&w.db.store).await;
        let (s, d) = upload(sec, &m, &ok, pages(MAX_PLAN_PAGES + 1)).await;
        assert_eq!((s.as_u16(), d["error"]["code"].as_str()), (413, Some("pdf_too_large")), "{d}");
        let msg = d["error"]["message"].as_str().unwrap();
        assert!(msg.contains(&format!("the limit is {MAX_PLAN_PAGES}")), "{msg}");
        assert!(msg.contains(&format!("pages: {}", MAX_PLAN_PAGES + 1)), "{msg}");
        assert_eq!(fingerprint(&w.db.store).await, before, "nothing stored");
        // At the cap it is taken.
        let (s, d) = upload(sec, &m, &ok, pages(MAX_PLAN_PAGES)).await;
        assert_eq!(s, 201, "{d}");
    }
}

both_backends! {
    async fn document_download_again_reuses_the_readers_watermark_tail(db) {
        let w = world(db).await;
        let m = plan(&w).await;
        let sec = w.as_role("secretary");
        let (s, d) = upload(sec, &m, &[("title", "Nghị quyết"), ("classification", "thuong")], pdf("Nghi quyet")).await;
        assert_eq!(s, 201, "{d}");
        let doc = d["id"].as_str().unwrap().to_string();
        let docs = &w.srv.server.state().documents;
        let reader = w.admin();
        let before = docs.tails_made();
        let (s, _, first) = fetch(reader, &m, &doc, &[]).await;
        assert_eq!(s, 200);
        assert_eq!(docs.tails_made(), before + 1);
        let (s, _, second) = fetch(reader, &m, &doc, &[]).await;
        let (s2, _, part) = fetch(reader, &m, &doc, &[("range", "bytes=10-99")]).await;
        assert_eq!((s.as_u16(), s2.as_u16()), (200, 206));
        assert_eq!(second, first, "the same copy");
        assert_eq!(part, first[10..100]);
        assert_eq!(docs.tails_made(), before + 1, "laid out once");
        // Another reader gets their own.
        let (s, _, theirs) = fetch(w.as_role("operator"), &m, &doc, &[]).await;
        assert_eq!(s, 200);
        assert_ne!(theirs, first);
        assert_eq!(docs.tails_made(), before + 2);
    }
}
