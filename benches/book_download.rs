//! Meeting-book download under load: N room endpoints fetch the book list
//! and download every document of an M MiB book at once, each with its own
//! endpoint token. Measures wall time, aggregate throughput, per-client
//! completion p50/p99, errors and the process's peak RSS growth.
//!
//! Comparison in the same invocation: a bare axum handler on another port
//! serving the very same stored file from the same disk (no auth, no
//! database, no audit, no object_store), downloaded by the same clients
//! with the same client code.
//!
//! Server, baseline and clients share this process (server on a 2-thread
//! runtime, clients on a 1-thread runtime) and the machine's cores; client
//! bodies are streamed and discarded, so their buffers stay small.
//!
//! `cargo bench --bench book_download -- [--clients 150] [--mib 50] [--docs 1] [--baseline-chunk-kib 64] [--baseline-first]`
//!
//! Peak RSS growth is measured from the RSS at the start of each run; the
//! allocator keeps what the first run freed, so the second run's growth is
//! understated. `--baseline-first` swaps the order.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use diemcau::config::Config;

// Each bench reads only part of the seeded province.
#[allow(dead_code)]
#[path = "support/province.rs"]
mod province;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

const MIB: u64 = 1024 * 1024;

struct Args {
    clients: usize,
    mib: u64,
    docs: usize,
    baseline_chunk: usize,
    baseline_first: bool,
}

fn args() -> Args {
    let mut a = Args {
        clients: 150,
        mib: 50,
        docs: 1,
        baseline_chunk: 64 * 1024,
        baseline_first: false,
    };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < v.len() {
        match v[i].as_str() {
            "--clients" => {
                a.clients = v[i + 1].parse().expect("--clients N");
                i += 1;
            }
            "--mib" => {
                a.mib = v[i + 1].parse().expect("--mib M");
                i += 1;
            }
            "--docs" => {
                a.docs = v[i + 1].parse().expect("--docs K");
                i += 1;
            }
            "--baseline-chunk-kib" => {
                a.baseline_chunk =
                    v[i + 1].parse::<usize>().expect("--baseline-chunk-kib K") * 1024;
                i += 1;
            }
            "--baseline-first" => a.baseline_first = true,
            _ => {} // cargo bench passes --bench
        }
        i += 1;
    }
    assert!(a.clients > 0 && a.mib > 0 && a.docs > 0);
    a
}

/// A real one-page PDF of about `len` bytes: its page content is mostly
/// comment lines of lowercase filler (so no MẬT stamp in any encoding can
/// appear), with a correct cross-reference table, so the server parses it
/// at upload and watermarks every reader's copy as it would a real book.
fn fake_pdf(len: usize, seed: u64) -> Vec<u8> {
    // Twice: the first pass measures the structure around the content, the
    // second sizes the content so the file is exactly `len` bytes.
    let first = pdf_around(len.saturating_sub(1000), seed);
    let overhead = first.len() - len.saturating_sub(1000);
    let out = pdf_around(len - overhead, seed);
    assert_eq!(out.len(), len, "fake PDF sized exactly");
    out
}

fn pdf_around(content_len: usize, seed: u64) -> Vec<u8> {
    let mut content = Vec::with_capacity(content_len);
    content.extend_from_slice(b"BT /F1 24 Tf 72 720 Td (Tai lieu hop) Tj ET\n");
    let mut x = seed | 1;
    while content.len() < content_len {
        if content.len() % 81 == 80 || content.len() + 1 == content_len {
            content.push(b'\n');
            continue;
        }
        if content.last() == Some(&b'\n') {
            content.push(b'%');
            continue;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        content.push(b'a' + (x % 26) as u8);
    }
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    let mut obj = |out: &mut Vec<u8>, body: &[u8]| {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    obj(&mut out, b"<< /Type /Catalog /Pages 2 0 R >>");
    obj(&mut out, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    obj(
        &mut out,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
          /Resources << /Font << /F1 5 0 R >> >> >>",
    );
    let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    stream.extend_from_slice(&content);
    stream.extend_from_slice(b"\nendstream");
    obj(&mut out, &stream);
    obj(
        &mut out,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    );
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for off in &offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// (VmRSS, VmHWM) of this process, in bytes.
fn rss() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Reset VmHWM to the current RSS; false if the kernel refused.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

struct BookDoc {
    url: String,
    size: u64,
    sha256: String,
}

#[derive(Default)]
struct Outcome {
    bytes: u64,
    errors: usize,
    first_error: Option<String>,
    done: Vec<Duration>,
    hash_ok: Option<bool>,
}

/// One room: fetch the book, download every document, count and discard.
/// Client 0 also hashes what it gets and checks it against the book.
async fn one_client(
    http: reqwest::Client,
    base: String,
    book_path: String,
    token: String,
    hash: bool,
) -> Result<(u64, Option<bool>), String> {
    let book: serde_json::Value = http
        .get(format!("{base}{book_path}"))
        .bearer_auth(&token)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("book: {e}"))?
        .json()
        .await
        .map_err(|e| format!("book body: {e}"))?;
    let docs: Vec<BookDoc> = book["documents"]
        .as_array()
        .ok_or("book without documents")?
        .iter()
        .map(|d| BookDoc {
            url: d["url"].as_str().unwrap_or_default().to_string(),
            size: d["size_bytes"].as_u64().unwrap_or(0),
            sha256: d["sha256"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    let mut total = 0;
    let mut hash_ok = hash.then_some(true);
    for d in docs {
        let r = http
            .get(format!("{base}{}", d.url))
            .bearer_auth(&token)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("content: {e}"))?;
        let mut body = r.bytes_stream();
        let mut got = 0u64;
        let mut h = hash.then(Sha256::new);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| format!("content body: {e}"))?;
            // A PDF comes back as the stored bytes plus this room's
            // watermark tail: the stored part must hash as uploaded.
            if let Some(h) = h.as_mut() {
                let keep = d.size.saturating_sub(got).min(chunk.len() as u64) as usize;
                h.update(&chunk[..keep]);
            }
            got += chunk.len() as u64;
        }
        if got < d.size || got > d.size + 256 * 1024 {
            return Err(format!("got {got} bytes for a stored {}", d.size));
        }
        if let Some(h) = h
            && hex::encode(h.finalize()) != d.sha256
        {
            hash_ok = Some(false);
        }
        total += got;
    }
    Ok((total, hash_ok))
}

/// All rooms at once; completion times count from one common start.
fn download_all(
    load_rt: &tokio::runtime::Runtime,
    base: &str,
    book_path: &str,
    tokens: &[String],
) -> (Outcome, Duration) {
    load_rt.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(tokens.len())
            .timeout(Duration::from_secs(900))
            .build()
            .unwrap();
        let start = Instant::now();
        let handles: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let fut = one_client(
                    http.clone(),
                    base.to_string(),
                    book_path.to_string(),
                    t.clone(),
                    i == 0,
                );
                tokio::spawn(async move { (fut.await, start.elapsed()) })
            })
            .collect();
        let mut out = Outcome::default();
        for h in handles {
            match h.await {
                Ok((Ok((bytes, hash_ok)), took)) => {
                    out.bytes += bytes;
                    out.done.push(took);
                    if hash_ok.is_some() {
                        out.hash_ok = hash_ok;
                    }
                }
                Ok((Err(e), _)) => {
                    out.errors += 1;
                    out.first_error.get_or_insert(e);
                }
                Err(e) => {
                    out.errors += 1;
                    out.first_error.get_or_insert(e.to_string());
                }
            }
        }
        (out, start.elapsed())
    })
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64()
}

struct Measured {
    mib_s: f64,
}

fn measure(
    label: &str,
    load_rt: &tokio::runtime::Runtime,
    base: &str,
    book_path: &str,
    tokens: &[String],
    expect_bytes: u64,
) -> Measured {
    let reset = reset_peak();
    let (rss0, _) = rss();
    let (mut out, wall) = download_all(load_rt, base, book_path, tokens);
    let (rss1, hwm) = rss();
    let secs = wall.as_secs_f64();
    let mib_s = out.bytes as f64 / MIB as f64 / secs;
    let gbit = out.bytes as f64 * 8.0 / 1e9 / secs;
    println!(
        "{label:>9}: {} clients, {:.1} MiB total ({}), wall {secs:.2} s, {mib_s:.0} MiB/s = {gbit:.2} Gbit/s | per-client done p50 {:.2} s p99 {:.2} s max {:.2} s | errors {}{} | sha256 {}",
        tokens.len(),
        out.bytes as f64 / MIB as f64,
        if out.bytes == expect_bytes {
            "complete".to_string()
        } else if out.bytes > expect_bytes {
            format!(
                "complete + {:.1} KiB of watermarks per client",
                (out.bytes - expect_bytes) as f64 / 1024.0 / tokens.len() as f64
            )
        } else {
            "SHORT".to_string()
        },
        pct(&mut out.done, 0.50),
        pct(&mut out.done, 0.99),
        pct(&mut out.done, 1.0),
        out.errors,
        out.first_error
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
        match out.hash_ok {
            Some(true) => "ok",
            Some(false) => "MISMATCH",
            None => "-",
        },
    );
    println!(
        "{:>9}  process RSS before {:.1} MiB, after {:.1} MiB, peak {:.1} MiB: peak growth {:.1} MiB ({:.0} KiB per client){}",
        "",
        rss0 as f64 / MIB as f64,
        rss1 as f64 / MIB as f64,
        hwm as f64 / MIB as f64,
        hwm.saturating_sub(rss0) as f64 / MIB as f64,
        hwm.saturating_sub(rss0) as f64 / 1024.0 / tokens.len() as f64,
        if reset {
            ""
        } else {
            " [clear_refs refused: peak is since process start]"
        },
    );
    Measured { mib_s }
}

/// The bare baseline: the same files, no auth, no database, no audit.
#[derive(Clone)]
struct Bare {
    files: Arc<Vec<PathBuf>>,
    book: Arc<String>,
    chunk: usize,
}

async fn bare_book(State(b): State<Bare>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        b.book.as_str().to_owned(),
    )
        .into_response()
}

async fn bare_file(State(b): State<Bare>, Path(i): Path<usize>) -> Response {
    let Some(path) = b.files.get(i) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(file) = tokio::fs::File::open(path).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let chunk = b.chunk;
    let stream = futures_util::stream::unfold(Some(file), move |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; chunk];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

fn main() {
    let a = args();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "Meeting-book download: {} rooms (own endpoint tokens) each fetch the book and download {} MiB in {} document(s) at once; server (2 threads), bare baseline and clients (1 thread) in one process on {cores} cores",
        a.clients, a.mib, a.docs
    );
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: data.path().to_path_buf(),
        ..Config::default()
    };
    config.http.http_listen = Some("127.0.0.1:0".parse().unwrap());
    config.http.https_listen = None;
    config.media.bind = "127.0.0.1".parse().unwrap();
    config.media.udp_port = 0;
    config.media.advertise = vec!["127.0.0.1".parse().unwrap()];
    config.media.workers = 1;
    let server = server_rt.block_on(diemcau::Server::start(config)).unwrap();
    let base = format!("http://{}", server.http_addr().unwrap());
    let store = server.state().store.clone();
    let t = Instant::now();
    let province::Province {
        admin_token: admin,
        endpoint_tokens: tokens,
        meeting,
        ..
    } = server_rt.block_on(province::seed(&store, a.clients, "Họp đo tải tài liệu"));
    println!(
        "seeded {} communes/endpoints and an open meeting in {:.1} s",
        a.clients,
        t.elapsed().as_secs_f64()
    );

    // Upload the book as the admin, document by document.
    let total = a.mib * MIB;
    let mut files = Vec::new();
    let t = Instant::now();
    load_rt.block_on(async {
        let http = reqwest::Client::new();
        for k in 0..a.docs {
            let len = if k + 1 == a.docs {
                total - (total / a.docs as u64) * k as u64
            } else {
                total / a.docs as u64
            };
            let body = fake_pdf(len as usize, 0x9e37_79b9_7f4a_7c15 ^ k as u64);
            let want = hex::encode(Sha256::digest(&body));
            let r = http
                .post(format!(
                    "{base}/api/v1/meetings/{meeting}/documents?title=T%C3%A0i%20li%E1%BB%87u%20{k}&classification=thuong"
                ))
                .bearer_auth(&admin)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let doc: serde_json::Value = r.json().await.unwrap();
            assert_eq!(status, StatusCode::CREATED, "upload refused: {doc}");
            assert_eq!(doc["state"], "available", "upload not available: {doc}");
            assert_eq!(doc["sha256"], want.as_str());
            let id = doc["id"].as_str().unwrap().to_string();
            let path = data.path().join("documents").join(&meeting).join(&id);
            assert!(path.is_file(), "stored file not at {}", path.display());
            files.push((path, len, want));
        }
    });
    println!(
        "uploaded {} MiB as {} document(s) in {:.2} s; stored under the tempdir's documents/",
        a.mib,
        a.docs,
        t.elapsed().as_secs_f64()
    );
    let expect = total * a.clients as u64;
    let book_path = format!("/api/v1/meetings/{meeting}/book");

    let mut served = None;
    if !a.baseline_first {
        served = Some(measure(
            "diemcau", &load_rt, &base, &book_path, &tokens, expect,
        ));
    }

    // The baseline, on its own port, on the same server runtime.
    let bare_book_json = serde_json::json!({
        "documents": files.iter().enumerate().map(|(i, (_, len, sha))| serde_json::json!({
            "url": format!("/files/{i}"),
            "size_bytes": len,
            "sha256": sha,
        })).collect::<Vec<_>>(),
    })
    .to_string();
    let bare = Bare {
        files: Arc::new(files.iter().map(|(p, _, _)| p.clone()).collect()),
        book: Arc::new(bare_book_json),
        chunk: a.baseline_chunk,
    };
    let app = axum::Router::new()
        .route("/book", axum::routing::get(bare_book))
        .route("/files/{i}", axum::routing::get(bare_file))
        .with_state(bare);
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let bare_base = format!("http://{}", listener.local_addr().unwrap());
    let bare_task = server_rt.spawn(async move { axum::serve(listener, app).await });
    let baseline = measure("baseline", &load_rt, &bare_base, "/book", &tokens, expect);
    let served =
        served.unwrap_or_else(|| measure("diemcau", &load_rt, &base, &book_path, &tokens, expect));
    println!(
        "ratio diemcau / baseline throughput: {:.2} (baseline streams the file with tokio::fs in {} KiB reads; diemcau reads through object_store's local store)",
        served.mib_s / baseline.mib_s,
        a.baseline_chunk / 1024
    );

    bare_task.abort();
    server_rt.block_on(server.shutdown());
}
