//! Meeting documents over real HTTP: real files made here (a PDF by hand,
//! a DOCX as a ZIP with `[Content_Types].xml`, a PNG), streamed uploads,
//! downloads with Range and ETag, versions, classification, the held state
//! of a stamped PDF, recall, and refusals that store nothing.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::api::{ApiWorld, Client, fingerprint, world, world_with};
use crate::support::db::both_backends;

fn hour_from_now() -> i64 {
    diemcau::store::now_ms() + 3_600_000
}

/// A meeting reaching the hub, ward W and the communes (not the sector S).
pub(crate) async fn plan(w: &ApiWorld) -> String {
    let made = w
        .as_role("secretary")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Thường vụ Tỉnh ủy",
                "kind": "btv",
                "starts_at_ms": hour_from_now(),
                "ends_at_ms": hour_from_now() + 3 * 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("w")],
                "unit_queries": [{"unit_id": w.unit("P"), "kinds": ["commune"]}],
                "chair_user_id": w.users["chair"],
                "members": [{"user_id": w.users["delegate"], "role": "voting"}],
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    made.body["meetings"][0]["id"].as_str().unwrap().to_string()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A small valid PDF whose page shows `text` (plain ASCII or already
/// escaped), with a correct cross-reference table.
pub(crate) fn pdf(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    pdf_file(&objects)
}

/// A PDF file of `objects` (numbered from 1, the first the catalogue),
/// with a correct cross-reference table.
pub(crate) fn pdf_file(objects: &[String]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A ZIP of stored (uncompressed) entries.
fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let mut header = Vec::new();
        header.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, method 0, time, date
        header.extend_from_slice(&crc.to_le_bytes());
        header.extend_from_slice(&(data.len() as u32).to_le_bytes());
        header.extend_from_slice(&(data.len() as u32).to_le_bytes());
        header.extend_from_slice(&(name.len() as u16).to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&header);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&[20, 0]); // made by
        central.extend_from_slice(&header);
        central.extend_from_slice(&[0; 10]); // comment, disk, attrs
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let dir_at = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&dir_at.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

pub(crate) fn docx() -> Vec<u8> {
    zip(&[
        (
            "[Content_Types].xml",
            br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#,
        ),
        ("_rels/.rels", b"<Relationships/>"),
        (
            "word/document.xml",
            "<w:document><w:body><w:p><w:r><w:t>Dự thảo nghị quyết</w:t></w:r></w:p></w:body></w:document>"
                .as_bytes(),
        ),
    ])
}

/// A 1×1 grey PNG.
fn png() -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32(&c).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
    // zlib, one stored block: filter 0, pixel 0x80; Adler-32 of [0, 0x80].
    chunk(
        &mut out,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x02, 0x00, 0xfd, 0xff, 0x00, 0x80, 0x00, 0x82, 0x00, 0x81,
        ],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(crate) async fn upload(
    c: &Client,
    meeting: &str,
    query: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut req = c
        .http
        .post(format!("{}/api/v1/meetings/{meeting}/documents", c.base))
        .query(query)
        .body(body);
    if let Some(t) = &c.bearer {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("request reaches the server");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub(crate) async fn fetch(
    c: &Client,
    meeting: &str,
    doc: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = c.http.get(format!(
        "{}/api/v1/meetings/{meeting}/documents/{doc}/content",
        c.base
    ));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(t) = &c.bearer {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("request reaches the server");
    let status = r.status();
    let h = r.headers().clone();
    (status, h, r.bytes().await.unwrap_or_default().to_vec())
}

/// The text of a PDF as poppler's `pdftotext` reads it (through the
/// fonts' Unicode maps, as a reader's viewer would).
pub fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (Debian poppler-utils, installed by .ci/setup) runs");
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `qpdf --check` finds the file's structure sound.
fn qpdf_check(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("qpdf")
        .arg("--check")
        .arg(&path)
        .output()
        .expect("qpdf (Debian qpdf, installed by .ci/setup) runs");
    assert!(
        out.status.success(),
        "qpdf --check: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn docs_dir(w: &ApiWorld) -> PathBuf {
    diemcau::control::documents::documents_dir(&w.srv.server.state().data_dir)
}

both_backends! {
    async fn documents_upload_list_download_with_range_etag_and_versions(db) {
        let w = world(db).await;
        let m = plan(&w).await;
        let sec = w.as_role("secretary");
        let files = [("Dự thảo Nghị quyết", pdf("Du thao nghi quyet"), "pdf"),
                     ("Báo cáo chính trị", docx(), "docx"),
                     ("Sơ đồ hội trường", png(), "png")];
        let mut ids = Vec::new();
        for (title, bytes, kind) in &files {
            let (s, d) = upload(sec, &m, &[("title", title), ("classification", "thuong")], bytes.clone()).await;
            assert_eq!(s, 201, "{d}");
            assert_eq!(d["kind"], *kind);
            assert_eq!(d["sha256"], sha(bytes));
            assert_eq!(d["size_bytes"], bytes.len());
            assert_eq!(d["version"], 1);
            assert_eq!(d["state"], "available");
            assert_eq!(d["classification"], "thuong");
            ids.push(d["id"].as_str().unwrap().to_string());
        }
        // A delegate and a participating room list and read them.
        let delegate = w.as_role("delegate");
        let room = w.as_endpoint("a");
        for (reader, name) in [(delegate, "Người dùng delegate"), (&room, "Điểm cầu xã An Phú")] {
            let list = reader.get(&format!("/api/v1/meetings/{m}/documents")).await;
            assert_eq!(list.status, 200, "{}", list.text);
            assert_eq!(list.body["documents"].as_array().unwrap().len(), 3);
            for ((_, bytes, kind), id) in files.iter().zip(&ids) {
                let (s, h, got) = fetch(reader, &m, id, &[]).await;
                assert_eq!(s, 200);
                assert_eq!(h["accept-ranges"], "bytes");
                if *kind == "pdf" {
                    // The reader's own copy: the stored bytes, then their watermark.
                    assert!(got.starts_with(bytes) && got.len() > bytes.len());
                    assert_ne!(h["etag"], format!("\"{}\"", sha(bytes)).as_str());
                    let text = pdf_text(&got);
                    assert!(text.contains(name), "watermark names {name}: {text}");
                    assert!(text.contains("Du thao nghi quyet"), "the page's own text stays: {text}");
                    qpdf_check(&got);
                    // Asked again: the very same bytes.
                    let (_, h2, again) = fetch(reader, &m, id, &[]).await;
                    assert_eq!((h2["etag"].clone(), again), (h["etag"].clone(), got));
                } else {
                    assert_eq!(&got, bytes);
                    assert_eq!(h["etag"], format!("\"{}\"", sha(bytes)).as_str());
                }
            }
        }
        // The room's copy names its unit; the delegate's names their role.
        let room_copy = pdf_text(&fetch(&room, &m, &ids[0], &[]).await.2);
        assert!(room_copy.contains("Xã An Phú"), "{room_copy}");
        // Range resume of the reader's copy: the first half (the stored
        // bytes and part of the watermark), then the rest.
        let bytes = &fetch(delegate, &m, &ids[0], &[]).await.2;
        let half = bytes.len() / 2;
        let (s, h, first) = fetch(delegate, &m, &ids[0], &[("range", &format!("bytes=0-{}", half - 1))]).await;
        assert_eq!(s, 206);
        assert_eq!(h["content-range"], format!("bytes 0-{}/{}", half - 1, bytes.len()).as_str());
        let etag = h["etag"].to_str().unwrap().to_string();
        let (s, _, rest) = fetch(delegate, &m, &ids[0], &[("range", &format!("bytes={half}-")), ("if-range", &etag)]).await;
        assert_eq!(s, 206);
        assert_eq!([first, rest].concat(), *bytes);
        // A stale If-Range gets the whole file; a range past the end is 416.
        let (s, _, all) = fetch(delegate, &m, &ids[0], &[("range", "bytes=10-"), ("if-range", "\"stale\"")]).await;
        assert_eq!((s, all.len()), (StatusCode::OK, bytes.len()));
        let (s, h, _) = fetch(delegate, &m, &ids[0], &[("range", &format!("bytes={}-", bytes.len()))]).await;
        assert_eq!(s, 416);
        assert_eq!(h["content-range"], format!("bytes */{}", bytes.len()).as_str());
        // ETag revalidation.
        let (s, _, body) = fetch(delegate, &m, &ids[0], &[("if-none-match", &etag)]).await;
        assert_eq!(s, 304);
        assert!(body.is_empty());

        // Version 2 supersedes version 1; readers see that it changed.
        let v2 = pdf("Du thao nghi quyet (sua doi)");
        let (s, d) = upload(sec, &m, &[("title", "Dự thảo Nghị quyết (sửa)"), ("classification", "thuong"), ("supersedes", &ids[0])], v2.clone()).await;
        assert_eq!(s, 201, "{d}");
        assert_eq!(d["version"], 2);
        assert_eq!(d["lineage_id"], ids[0].as_str());
        let v2_id = d["id"].as_str().unwrap().to_string();
        let list = delegate.get(&format!("/api/v1/meetings/{m}/documents")).await.body;
        let old = list["documents"].as_array().unwrap().iter().find(|d| d["id"] == ids[0].as_str()).unwrap().clone();
        assert_eq!(old["superseded_by"], v2_id.as_str());
        let (_, _, got) = fetch(delegate, &m, &v2_id, &[]).await;
        assert!(got.starts_with(&v2));
        assert!(pdf_text(&got).contains("(sua doi)"));
        // Superseding the old version again is a conflict; nothing is stored.
        let before = files_under(&docs_dir(&w));
        let (s, d) = upload(sec, &m, &[("title", "x"), ("classification", "thuong"), ("supersedes", &ids[0])], v2.clone()).await;
        assert_eq!((s.as_u16(), d["error"]["code"].as_str()), (409, Some("superseded")));
        assert_eq!(files_under(&docs_dir(&w)), before);

        // The meeting book: latest available versions, sizes, hashes, and who fetched them.
        let book = w.as_role("operator").get(&format!("/api/v1/meetings/{m}/book")).await;
        assert_eq!(book.status, 200, "{}", book.text);
        let entries = book.body["documents"].as_array().unwrap();
        let in_book: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(in_book, [ids[1].as_str(), ids[2].as_str(), v2_id.as_str()]);
        assert_eq!(book.body["total_bytes"], files[1].1.len() + files[2].1.len() + v2.len());
        assert_eq!(entries[0]["sha256"], sha(&files[1].1));
        assert_eq!(entries[0]["fetched_by"], json!([w.endpoint("a")]));
        assert_eq!(entries[2]["fetched_by"], json!([]));
        let url = entries[2]["url"].as_str().unwrap().to_string();
        // Room W fetches v2 in two ranges: fetched once the last byte went out.
        let room_w = w.as_endpoint("w");
        let (s, _, _) = fetch(&room_w, &m, &v2_id, &[("range", "bytes=0-9")]).await;
        assert_eq!(s, 206);
        let wb = room_w.get(&format!("/api/v1/meetings/{m}/book")).await.body;
        assert_eq!(wb["documents"][2]["fetched_by"], json!([]));
        let (s, _, _) = fetch(&room_w, &m, &v2_id, &[("range", "bytes=10-")]).await;
        assert_eq!(s, 206);
        let wb = room_w.get(&format!("/api/v1/meetings/{m}/book")).await.body;
        assert_eq!(wb["documents"][2]["fetched_by"], json!([w.endpoint("w")]));
        // A room sees only itself in the book.
        assert_eq!(wb["documents"][0]["fetched_by"], json!([]));
        assert_eq!(room_w.get(&url).await.status, 200);
        // A room outside the meeting learns nothing; an auditor and a delegate cannot upload.
        let outsider = w.as_endpoint("s");
        assert_eq!(outsider.get(&format!("/api/v1/meetings/{m}/documents")).await.status, 404);
        assert_eq!(fetch(&outsider, &m, &ids[1], &[]).await.0, 404);
        for role in ["auditor", "delegate", "chair"] {
            let (s, d) = upload(w.as_role(role), &m, &[("title", "x"), ("classification", "thuong")], pdf("x")).await;
            assert_eq!(s, 403, "{role}: {d}");
        }
        assert_eq!(upload(&room, &m, &[("title", "x"), ("classification", "thuong")], pdf("x")).await.0, 403);
        // The auditor reads.
        assert_eq!(fetch(w.as_role("auditor"), &m, &ids[1], &[]).await.0, 200);
    }
}

both_backends! {
    async fn documents_refused_uploads_store_nothing(db) {
        // The smallest limit the configuration can state: 1 MiB.
        const LIMIT: usize = 1024 * 1024;
        let w = world_with(db, |c| c.documents.max_upload_mib = 1).await;
        let m = plan(&w).await;
        let sec = w.as_role("secretary");
        let before_rows = fingerprint(&w.db.store).await;
        let before_files = files_under(&docs_dir(&w));
        let ok = [("title", "Tài liệu"), ("classification", "thuong")];
        // Wrong types, by content: text, an executable, a ZIP that is no office file, nothing.
        for body in [b"just some text".to_vec(), b"MZ\x90\x00\x03\x00\x00\x00".to_vec(), zip(&[("a.txt", b"hello")]), Vec::new()] {
            let (s, d) = upload(sec, &m, &ok, body).await;
            assert_eq!((s.as_u16(), d["error"]["code"].as_str()), (415, Some("unsupported_type")), "{d}");
        }
        // Confidential classifications are refused with a clear message.
        for level in ["mat", "toi_mat", "tuyet_mat"] {
            let (s, d) = upload(sec, &m, &[("title", "Tài liệu"), ("classification", level)], pdf("x")).await;
            assert_eq!((s.as_u16(), d["error"]["code"].as_str()), (422, Some("classified")), "{d}");
            let msg = d["error"]["message"].as_str().unwrap();
            assert!(msg.contains("không được đưa lên hệ thống") && msg.contains("may not be uploaded"), "{msg}");
        }
        let (s, _) = upload(sec, &m, &[("title", "Tài liệu")], pdf("x")).await;
        assert_eq!(s, 400);
        let (s, d) = upload(sec, &m, &[("title", "Tài liệu"), ("classification", "secret")], pdf("x")).await;
        assert_eq!((s.as_u16(), d["error"]["field"].as_str()), (422, Some("classification")));
        let (s, d) = upload(sec, &m, &[("title", "Tài liệu"), ("classification", "thuong"), ("agenda_item_id", "ai_none")], pdf("x")).await;
        assert_eq!((s.as_u16(), d["error"]["field"].as_str()), (422, Some("agenda_item_id")), "{d}");
        let (s, d) = upload(sec, &m, &[("title", "Tài liệu"), ("classification", "thuong"), ("supersedes", "doc_none")], pdf("x")).await;
        assert_eq!((s.as_u16(), d["error"]["field"].as_str()), (422, Some("supersedes")), "{d}");
        let (s, _) = upload(w.admin(), "mt_none", &ok, pdf("x")).await;
        assert_eq!(s, 404);
        // Over the limit: declared (Content-Length) and streamed (chunked).
        let mut big = pdf("x");
        big.resize(LIMIT + 1000, b' ');
        let (s, d) = upload(sec, &m, &ok, big.clone()).await;
        assert_eq!((s.as_u16(), d["error"]["code"].as_str()), (413, Some("too_large")), "{d}");
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
        let r = sec.http.post(format!("{}/api/v1/meetings/{m}/documents", sec.base))
            .query(&ok)
            .bearer_auth(sec.bearer.as_ref().unwrap())
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
            .send().await.unwrap();
        assert_eq!(r.status(), 413);
        // A client that disconnects mid-body.
        {
            use tokio::io::AsyncWriteExt;
            let mut s = tokio::net::TcpStream::connect(w.srv.http).await.unwrap();
            let head = format!(
                "POST /api/v1/meetings/{m}/documents?title=t&classification=thuong HTTP/1.1\r\nhost: x\r\n\
                 authorization: Bearer {}\r\ncontent-length: 3000\r\n\r\n",
                sec.bearer.as_ref().unwrap()
            );
            s.write_all(head.as_bytes()).await.unwrap();
            s.write_all(&pdf("x")[..200]).await.unwrap();
            s.flush().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            drop(s);
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        assert_eq!(fingerprint(&w.db.store).await, before_rows);
        assert_eq!(files_under(&docs_dir(&w)), before_files);
        // Under the limit it is accepted.
        let (s, _) = upload(sec, &m, &ok, pdf("x")).await;
        assert_eq!(s, 201);
    }
}

both_backends! {
    async fn documents_stamped_pdf_is_held_until_confirmed_and_recall_revokes_access(db) {
        let w = world(db).await;
        let m = plan(&w).await;
        let sec = w.as_role("secretary");
        let delegate = w.as_role("delegate");
        // "MẬT" as a PDF text string (UTF-16BE in hex).
        let stamped = pdf(") Tj <FEFF004D1EAC0054> Tj (");
        let (s, d) = upload(sec, &m, &[("title", "Báo cáo"), ("classification", "thuong")], stamped.clone()).await;
        assert_eq!(s, 201, "{d}");
        assert_eq!(d["state"], "held");
        let held = d["id"].as_str().unwrap().to_string();
        let (s, d) = upload(sec, &m, &[("title", "Chương trình"), ("classification", "thuong")], pdf("Chuong trinh")).await;
        assert_eq!((s.as_u16(), d["state"].as_str()), (201, Some("available")));
        let plain = d["id"].as_str().unwrap().to_string();
        // Readers neither see nor read it; the secretary does.
        let listed = delegate.get(&format!("/api/v1/meetings/{m}/documents")).await.body;
        assert_eq!(listed["documents"].as_array().unwrap().len(), 1);
        assert_eq!(fetch(delegate, &m, &held, &[]).await.0, 404);
        assert_eq!(sec.get(&format!("/api/v1/meetings/{m}/documents")).await.body["documents"].as_array().unwrap().len(), 2);
        assert!(fetch(sec, &m, &held, &[]).await.2.starts_with(&stamped));
        // Confirmed: readable.
        let c = sec.post(&format!("/api/v1/meetings/{m}/documents/{held}/confirm"), json!({})).await;
        assert_eq!((c.status.as_u16(), c.body["state"].as_str()), (200, Some("available")), "{}", c.text);
        assert_eq!(sec.post(&format!("/api/v1/meetings/{m}/documents/{held}/confirm"), json!({})).await.status, 409);
        assert!(fetch(delegate, &m, &held, &[]).await.2.starts_with(&stamped));
        // A new version that is held does not take the old one out of the
        // rooms' book until the secretary confirms it.
        let book_ids = |b: Value| -> Vec<String> {
            b["documents"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
        };
        let (s, d) = upload(sec, &m, &[("title", "Chương trình (sửa)"), ("classification", "thuong"), ("supersedes", &plain)], stamped.clone()).await;
        assert_eq!((s.as_u16(), d["state"].as_str()), (201, Some("held")), "{d}");
        let v2 = d["id"].as_str().unwrap().to_string();
        let book = book_ids(delegate.get(&format!("/api/v1/meetings/{m}/book")).await.body);
        assert!(book.contains(&plain) && !book.contains(&v2), "{book:?}");
        assert_eq!(sec.post(&format!("/api/v1/meetings/{m}/documents/{v2}/confirm"), json!({})).await.status, 200);
        let book = book_ids(delegate.get(&format!("/api/v1/meetings/{m}/book")).await.body);
        assert!(!book.contains(&plain) && book.contains(&v2), "{book:?}");
        // Recall waits for the end of the meeting.
        let r = sec.post(&format!("/api/v1/meetings/{m}/documents/recall"), json!({})).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "meeting_not_over"));
        let op = w.as_role("operator");
        for step in ["open", "start", "end"] {
            let r = op.post(&format!("/api/v1/meetings/{m}/{step}"), json!({})).await;
            assert_eq!(r.status, 200, "{step}: {}", r.text);
        }
        // No uploads after the meeting.
        let (s, d) = upload(sec, &m, &[("title", "Muộn"), ("classification", "thuong")], pdf("x")).await;
        assert_eq!((s.as_u16(), d["error"]["code"].as_str()), (409, Some("meeting_over")));
        assert_eq!(w.as_role("delegate").post(&format!("/api/v1/meetings/{m}/documents/recall"), json!({})).await.status, 403);
        let r = sec.post(&format!("/api/v1/meetings/{m}/documents/recall"), json!({})).await;
        assert_eq!((r.status.as_u16(), r.body["recalled"].as_u64()), (200, Some(3)), "{}", r.text);
        for id in [&held, &plain, &v2] {
            assert_eq!(fetch(delegate, &m, id, &[]).await.0, 410);
            assert_eq!(fetch(&w.as_endpoint("a"), &m, id, &[]).await.0, 410);
        }
        let audit = w.admin().get("/api/v1/audit?limit=1000").await;
        let actions: Vec<&str> = audit.body["records"].as_array().map(|a| a.iter().filter_map(|r| r["action"].as_str()).collect()).unwrap_or_default();
        for a in ["document.upload", "document.confirm", "document.recall"] {
            assert!(actions.contains(&a), "{a} missing from {}", audit.text.chars().take(300).collect::<String>());
        }
    }
}

/// A process's resident-set figure from /proc/self/status, in KiB.
fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// 100 MiB go up and come back down as streams. The server runs in this
/// test's own process (nextest gives every test a process), so the peak
/// resident set (VmHWM, reset first through /proc/self/clear_refs) bounds
/// what the upload and the download held at once: it must stay far below
/// the file's size.
#[tokio::test]
async fn documents_100_mib_upload_and_download_stream_with_flat_memory() {
    crate::support::db::run_sqlite(|db| async move {
        const SIZE: usize = 100 * 1024 * 1024;
        const CHUNK: usize = 256 * 1024;
        let w = world(db).await;
        let m = plan(&w).await;
        let sec = w.as_role("secretary");
        // A PNG signature and then filler: sniffing reads the head only.
        let chunk_at = |i: usize| {
            let mut c = vec![(i % 251) as u8; CHUNK];
            if i == 0 {
                c[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
            }
            c
        };
        let mut expected = Sha256::new();
        for i in 0..SIZE / CHUNK {
            expected.update(chunk_at(i));
        }
        let expected = hex::encode(expected.finalize());
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let rss_before = status_kib("VmRSS:");
        let body = futures_util::stream::iter(
            (0..SIZE / CHUNK).map(move |i| Ok::<_, std::io::Error>(chunk_at(i))),
        );
        let r = sec
            .http
            .post(format!("{}/api/v1/meetings/{m}/documents", sec.base))
            .query(&[("title", "Phim tư liệu"), ("classification", "thuong")])
            .bearer_auth(sec.bearer.as_ref().unwrap())
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let d: Value = r.json().await.unwrap();
        assert_eq!(d["size_bytes"], SIZE);
        assert_eq!(d["sha256"], expected.as_str());
        let id = d["id"].as_str().unwrap();
        // Download as a stream, hashing as it comes.
        let mut resp = w
            .as_role("delegate")
            .http
            .get(format!(
                "{}/api/v1/meetings/{m}/documents/{id}/content",
                sec.base
            ))
            .bearer_auth(w.as_role("delegate").bearer.as_ref().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let mut got = Sha256::new();
        let mut n = 0usize;
        while let Some(c) = resp.chunk().await.unwrap() {
            n += c.len();
            got.update(&c);
        }
        assert_eq!((n, hex::encode(got.finalize())), (SIZE, expected));
        let peak = status_kib("VmHWM:");
        let grew_mib = peak.saturating_sub(rss_before) / 1024;
        eprintln!(
            "VmRSS before {} MiB, VmHWM after {} MiB (reset: {reset}): grew {grew_mib} MiB for a 100 MiB round trip",
            rss_before / 1024,
            peak / 1024
        );
        if reset {
            assert!(grew_mib < 48, "memory grew {grew_mib} MiB");
        }
    })
    .await;
}

/// A one-page PDF written like real office output: compressed content,
/// an embedded subset font addressed by glyph ids, text only readable
/// through the font's Unicode map.
fn vietnamese_pdf(lines: &[&str]) -> Vec<u8> {
    use diemcau::pdf::font::{Face, FontUse};
    use diemcau::pdf::write::Objects;
    let mut font = FontUse::new(Face::Regular);
    let mut content = String::from("BT /F1 20 Tf 72 760 Td 26 TL\n");
    for l in lines {
        content.push_str(&format!("{} Tj T*\n", font.encode(l)));
    }
    content.push_str("ET\n");
    let mut o = Objects::new(1);
    let catalog = o.reserve();
    let pages = o.reserve();
    let f1 = o.reserve();
    let c = o.stream("", content.as_bytes(), true);
    let page = o.add(format!(
        "<< /Type /Page /Parent {pages} 0 R /MediaBox [0 0 595 842] /Contents {c} 0 R \
         /Resources << /Font << /F1 {f1} 0 R >> >> >>"
    ));
    font.embed(&mut o, f1).unwrap();
    o.set(
        pages,
        format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>"),
    );
    o.set(catalog, format!("<< /Type /Catalog /Pages {pages} 0 R >>"));
    o.finish_document(catalog, None)
}

/// The same PDF rewritten by qpdf with `args` (object streams and a
/// cross-reference stream, encryption, …).
fn qpdf(bytes: &[u8], args: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.pdf"), dir.path().join("out.pdf"));
    std::fs::write(&input, bytes).unwrap();
    let out = std::process::Command::new("qpdf")
        .args(args)
        .arg(&input)
        .arg(&output)
        .output()
        .expect("qpdf runs");
    assert!(
        out.status.success(),
        "qpdf: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(output).unwrap()
}

both_backends! {
    async fn documents_pdf_with_xref_stream_gets_watermark_and_compressed_mat_stamp_is_held(db) {
        let w = world(db).await;
        let m = plan(&w).await;
        let sec = w.as_role("secretary");
        let delegate = w.as_role("delegate");
        let modern = |lines: &[&str]| qpdf(&vietnamese_pdf(lines), &["--object-streams=generate"]);

        // Ordinary text, PDF 1.5 structure: accepted, and each reader's copy
        // carries their watermark through a cross-reference stream update.
        let plain = modern(&["Tỉnh ủy", "Báo cáo tình hình kinh tế - xã hội"]);
        assert!(String::from_utf8_lossy(&plain).contains("/XRef"), "qpdf wrote an xref stream");
        let (s, d) = upload(sec, &m, &[("title", "Báo cáo"), ("classification", "thuong")], plain.clone()).await;
        assert_eq!((s.as_u16(), d["state"].as_str()), (201, Some("available")), "{d}");
        let id = d["id"].as_str().unwrap().to_string();
        let (s, _, got) = fetch(delegate, &m, &id, &[]).await;
        assert_eq!(s, 200);
        assert!(got.starts_with(&plain));
        qpdf_check(&got);
        let text = pdf_text(&got);
        assert!(text.contains("Người dùng delegate") && text.contains("Đại biểu"), "{text}");
        assert!(text.contains("Báo cáo tình hình kinh tế"), "{text}");

        // "MẬT" only inside a compressed content stream, only readable
        // through the font's Unicode map: still found, the document is held.
        let secret = modern(&["ĐẢNG BỘ TỈNH", "MẬT", "Số 12-BC/TU"]);
        assert!(!String::from_utf8_lossy(&secret).contains("MẬT"));
        let (s, d) = upload(sec, &m, &[("title", "Báo cáo số 12"), ("classification", "thuong")], secret).await;
        assert_eq!((s.as_u16(), d["state"].as_str()), (201, Some("held")), "{d}");
        // "mật khẩu" in running text is not a stamp.
        let (s, d) = upload(sec, &m, &[("title", "Hướng dẫn"), ("classification", "thuong")], modern(&["Đổi mật khẩu định kỳ"])).await;
        assert_eq!((s.as_u16(), d["state"].as_str()), (201, Some("available")), "{d}");

        // A PDF we cannot put a watermark on is refused, and nothing is kept.
        let before_rows = fingerprint(&w.db.store).await;
        let before_files = files_under(&docs_dir(&w));
        let encrypted = qpdf(&vietnamese_pdf(&["Tài liệu"]), &["--encrypt", "u", "o", "256", "--"]);
        let broken = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n".to_vec();
        for bad in [encrypted, broken] {
            let (s, d) = upload(sec, &m, &[("title", "x"), ("classification", "thuong")], bad).await;
            assert_eq!((s.as_u16(), d["error"]["code"].as_str()), (422, Some("pdf_unreadable")), "{d}");
            assert!(d["error"]["message"].as_str().unwrap().contains("PDF"));
        }
        assert_eq!(fingerprint(&w.db.store).await, before_rows);
        assert_eq!(files_under(&docs_dir(&w)), before_files);
    }
}
