//! Documents and recordings kept in an S3-compatible store (`[objects]
//! kind = "s3"`), against a real one: moto's server, started here on a free
//! loopback port (`DIEMCAU_TEST_MOTO`, else `/opt/diemcau-moto/bin/moto_server`,
//! installed by `.ci/setup`). Recordings are written to the spool, uploaded
//! when they end, and served from the bucket; a failed upload is retried
//! until it lands; a spool left by a crash goes up at the next start.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::documents::{docx, fetch, pdf, plan, upload};
use crate::recording::{decodes_cleanly, ffprobe, hub_in_room, live_meeting};
use crate::support::api::{ApiWorld, world_with};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::{default_layers, run_in_loopback_netns};
use crate::support::server::free_tcp_port;
use crate::support::vp8_source;

const BUCKET: &str = "diemcau-test";
const PREFIX: &str = "node-1/";

/// A moto S3 server on 127.0.0.1, killed (by its PID) on drop.
struct Moto {
    child: Child,
    port: u16,
}

fn moto_binary() -> PathBuf {
    std::env::var_os("DIEMCAU_TEST_MOTO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/diemcau-moto/bin/moto_server"))
}

impl Moto {
    async fn start() -> Moto {
        Moto::start_on(free_tcp_port()).await
    }

    /// Start on `port` (again, after a stop: moto keeps nothing, so the
    /// bucket is made anew) and wait until it answers.
    async fn start_on(port: u16) -> Moto {
        let bin = moto_binary();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} ({e}); run .ci/setup or set DIEMCAU_TEST_MOTO",
                    bin.display()
                )
            });
        let moto = Moto { child, port };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if http.get(moto.url()).send().await.is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "moto did not answer in 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let r = http
            .put(format!("{}/{BUCKET}", moto.url()))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "creating the bucket: {}",
            r.status()
        );
        moto
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every object under `prefix` with its size (a plain ListObjectsV2).
    async fn list(&self, prefix: &str) -> Vec<(String, u64)> {
        let text = reqwest::Client::new()
            .get(format!("{}/{BUCKET}", self.url()))
            .query(&[("list-type", "2"), ("prefix", prefix)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let tag = |s: &str, t: &str| -> Option<String> {
            let a = s.find(&format!("<{t}>"))? + t.len() + 2;
            let b = s[a..].find(&format!("</{t}>"))? + a;
            Some(s[a..b].to_string())
        };
        text.split("<Contents>")
            .skip(1)
            .filter_map(|c| Some((tag(c, "Key")?, tag(c, "Size")?.parse().ok()?)))
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s3_config(c: &mut diemcau::config::Config, moto_url: &str) {
    c.objects = diemcau::objects::ObjectsConfig {
        kind: diemcau::objects::ObjectsKind::S3,
        endpoint: Some(moto_url.to_string()),
        bucket: Some(BUCKET.into()),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
        prefix: PREFIX.into(),
        ..Default::default()
    };
}

fn spool(w: &ApiWorld, meeting: &str, rec: &str) -> PathBuf {
    w.srv
        .server
        .state()
        .data_dir
        .join("spool/recordings")
        .join(meeting)
        .join(rec)
}

async fn wait_gone(dir: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while dir.exists() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    true
}

/// GET a recording file through the API with an optional Range.
async fn get_file(
    w: &ApiWorld,
    url: &str,
    range: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let c = w.as_role("secretary");
    let mut req = c.http.get(url).bearer_auth(c.bearer.as_ref().unwrap());
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let r = req.send().await.unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (s, h, r.bytes().await.unwrap().to_vec())
}

async fn metric(w: &ApiWorld, name: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", w.srv.metrics_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

/// Record `seconds` of the hub publishing; returns the recording's id.
async fn record(w: &ApiWorld, meeting: &str, seconds: u64) -> String {
    let op = w.as_role("operator");
    let r = op
        .post(&format!("/api/v1/meetings/{meeting}/recordings"), json!({}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let rec = r.body["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    rec
}

async fn stop(w: &ApiWorld, meeting: &str) {
    let r = w
        .as_role("operator")
        .post(
            &format!("/api/v1/meetings/{meeting}/recordings/stop"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn a_recording_with_the_s3_store_lands_in_the_bucket_and_is_served_from_it_with_range() {
    let layers = default_layers();
    let clips = vp8_source::testsrc_clips(&layers);
    run_in_loopback_netns(run_sqlite(|db| async move {
        let moto = Moto::start().await;
        let url = moto.url();
        let w = world_with(db, move |c| {
            c.recording.automatic = false;
            s3_config(c, &url);
        })
        .await;
        let id = live_meeting(&w).await;
        let base = w.srv.base_url();
        let (hub, _ws) = hub_in_room(
            &layers,
            &clips,
            &base,
            &id,
            &w.province.endpoint_tokens["hub"],
        )
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;

        let rec = record(&w, &id, 2).await;
        // While it runs, the spool holds it and the API reads it there.
        let dir = spool(&w, &id, &rec);
        assert!(dir.join("index.json").exists(), "{}", dir.display());
        let list = w
            .as_role("secretary")
            .get(&format!("/api/v1/meetings/{id}/recordings"))
            .await;
        assert_eq!(
            list.body["recordings"][0]["index"]["recording_id"],
            rec.as_str()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop(&w, &id).await;

        // Uploaded, checked, and the spool deleted.
        assert!(
            wait_gone(&dir, Duration::from_secs(60)).await,
            "the spool {} was not emptied",
            dir.display()
        );
        let objects = moto.list(&format!("{PREFIX}recordings/{id}/{rec}/")).await;
        let names: Vec<&str> = objects
            .iter()
            .map(|(k, _)| k.rsplit('/').next().unwrap())
            .collect();
        assert!(names.contains(&"index.json"), "{objects:?}");
        assert!(names.contains(&"program.webm"), "{objects:?}");
        assert!(names.iter().any(|n| n.starts_with("track-")), "{objects:?}");
        assert!(objects.iter().all(|(_, size)| *size > 0), "{objects:?}");
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{objects:?}");
        assert_eq!(metric(&w, "diemcau_recording_uploads_total").await, 1);
        assert_eq!(metric(&w, "diemcau_recording_uploads_pending").await, 0);

        // The listing reads the index from the bucket.
        let list = w
            .as_role("secretary")
            .get(&format!("/api/v1/meetings/{id}/recordings"))
            .await;
        assert_eq!(list.status, 200, "{}", list.text);
        let index = &list.body["recordings"][0]["index"];
        assert_eq!(index["recording_id"], rec.as_str());
        assert!(
            index["chapters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["kind"] == "stopped"),
            "{index}"
        );

        // Files from the bucket: whole, by Range, and past the end.
        let file_url = |f: &str| format!("{base}/api/v1/meetings/{id}/recordings/{rec}/{f}");
        let program = objects
            .iter()
            .find(|(k, _)| k.ends_with("/program.webm"))
            .unwrap()
            .1;
        let (s, h, whole) = get_file(&w, &file_url("program.webm"), None).await;
        assert_eq!(s, 200);
        assert_eq!(whole.len() as u64, program);
        assert_eq!(h["content-type"], "video/webm");
        assert_eq!(h["accept-ranges"], "bytes");
        assert_eq!(h["content-length"], program.to_string().as_str());
        let (s, h, part) = get_file(&w, &file_url("program.webm"), Some("bytes=100-")).await;
        assert_eq!(s, 206);
        assert_eq!(
            h["content-range"],
            format!("bytes 100-{}/{program}", program - 1).as_str()
        );
        assert_eq!(part, whole[100..]);
        let (s, _, part) = get_file(&w, &file_url("program.webm"), Some("bytes=10-19")).await;
        assert_eq!((s, &part[..]), (206, &whole[10..20]));
        let (s, h, _) = get_file(
            &w,
            &file_url("program.webm"),
            Some(&format!("bytes={program}-")),
        )
        .await;
        assert_eq!(s, 416);
        assert_eq!(h["content-range"], format!("bytes */{program}").as_str());
        let (s, _, _) = get_file(&w, &file_url("track-99.webm"), None).await;
        assert_eq!(s, 404);
        let (s, _, text) = get_file(&w, &file_url("index.json"), None).await;
        assert_eq!(s, 200);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&text).unwrap()["recording_id"],
            rec.as_str()
        );

        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("program.webm");
        std::fs::write(&path, &whole).unwrap();
        decodes_cleanly(&path);
        let probe = ffprobe(&path);
        let codecs: Vec<&str> = probe["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["codec_name"].as_str().unwrap())
            .collect();
        assert_eq!(codecs, vec!["vp8", "opus"]);
        hub.close().await;
    }));
}

#[test]
fn a_failed_recording_upload_is_retried_until_it_lands_and_nothing_is_lost() {
    let layers = default_layers();
    let clips = vp8_source::testsrc_clips(&layers);
    run_in_loopback_netns(run_sqlite(|db| async move {
        let moto = Moto::start().await;
        let (url, port) = (moto.url(), moto.port);
        let w = world_with(db, move |c| {
            c.recording.automatic = false;
            s3_config(c, &url);
        })
        .await;
        let id = live_meeting(&w).await;
        let base = w.srv.base_url();
        let (hub, _ws) = hub_in_room(
            &layers,
            &clips,
            &base,
            &id,
            &w.province.endpoint_tokens["hub"],
        )
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rec = record(&w, &id, 3).await;

        // The store goes away before the recording ends.
        drop(moto);
        stop(&w, &id).await;
        let dir = spool(&w, &id, &rec);
        let deadline = Instant::now() + Duration::from_secs(30);
        while metric(&w, "diemcau_recording_upload_failures_total").await == 0 {
            assert!(Instant::now() < deadline, "no failed upload counted");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(dir.exists(), "the spool keeps a recording not uploaded");
        assert_eq!(metric(&w, "diemcau_recording_uploads_pending").await, 1);
        let sizes: Vec<(String, u64)> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .filter(|(n, _)| !n.ends_with(".tmp"))
            .collect();
        // Meanwhile the API serves it from the spool.
        let file_url = format!("{base}/api/v1/meetings/{id}/recordings/{rec}/program.webm");
        let (s, _, from_spool) = get_file(&w, &file_url, None).await;
        assert_eq!(s, 200);
        assert!(!from_spool.is_empty());
        let list = w
            .as_role("secretary")
            .get(&format!("/api/v1/meetings/{id}/recordings"))
            .await;
        assert_eq!(list.body["recordings"][0]["state"], "stopped");
        assert_eq!(
            list.body["recordings"][0]["index"]["recording_id"],
            rec.as_str()
        );

        // The store is back (empty: moto keeps nothing): the next retry lands.
        let moto = Moto::start_on(port).await;
        assert!(
            wait_gone(&dir, Duration::from_secs(90)).await,
            "the upload was not retried"
        );
        let mut landed: Vec<(String, u64)> = moto
            .list(&format!("{PREFIX}recordings/{id}/{rec}/"))
            .await
            .into_iter()
            .map(|(k, s)| (k.rsplit('/').next().unwrap().to_string(), s))
            .collect();
        let mut sizes = sizes;
        landed.sort();
        sizes.sort();
        assert_eq!(landed, sizes, "every file, whole");
        let (s, _, from_bucket) = get_file(&w, &file_url, None).await;
        assert_eq!(s, 200);
        assert_eq!(from_bucket, from_spool);
        assert_eq!(metric(&w, "diemcau_recording_uploads_pending").await, 0);
        hub.close().await;
    }));
}

#[tokio::test]
async fn a_spool_left_by_a_crash_is_uploaded_at_the_next_start_and_expiry_deletes_it_everywhere() {
    let moto = Moto::start().await;
    let url = moto.url();
    run_sqlite(|db| async move {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("spool/recordings/mt_old/rec_old");
        std::fs::create_dir_all(&dir).unwrap();
        // Bigger than one upload chunk: it goes up in parts.
        let big: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("track-1.webm"), &big).unwrap();
        std::fs::write(dir.join("index.json"), br#"{"recording_id":"rec_old"}"#).unwrap();
        std::fs::write(dir.join("index.json.tmp"), b"half").unwrap();
        let d = data.path().to_path_buf();
        let w = world_with(db, move |c| {
            c.data_dir = d;
            s3_config(c, &url);
        })
        .await;
        assert!(wait_gone(&dir, Duration::from_secs(60)).await);
        let mut got = moto.list(&format!("{PREFIX}recordings/mt_old/")).await;
        got.sort();
        assert_eq!(
            got,
            vec![
                (format!("{PREFIX}recordings/mt_old/rec_old/index.json"), 26),
                (
                    format!("{PREFIX}recordings/mt_old/rec_old/track-1.webm"),
                    big.len() as u64
                ),
            ]
        );
        let body = reqwest::get(format!(
            "{}/{BUCKET}/{PREFIX}recordings/mt_old/rec_old/track-1.webm",
            moto.url()
        ))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
        assert!(
            body[..] == big[..],
            "the multipart upload is byte-identical"
        );

        // Expiry (what the retention task calls) deletes it everywhere: the
        // bucket, and a spool copy should one be there.
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.json"), b"{}").unwrap();
        let files = &w.srv.server.state().objects.recordings;
        files.delete("mt_old/rec_old").await.unwrap();
        assert!(!dir.exists());
        assert_eq!(moto.list(&format!("{PREFIX}recordings/")).await, vec![]);
        assert!(files.read_index("mt_old/rec_old").await.is_none());
        files.delete("mt_old/rec_old").await.unwrap();
        drop(w);
    })
    .await;
}

#[tokio::test]
async fn documents_with_the_s3_store_download_byte_identical_and_pdfs_get_their_watermark() {
    let moto = Moto::start().await;
    let url = moto.url();
    run_sqlite(|db| async move {
        let w = world_with(db, move |c| s3_config(c, &url)).await;
        let m = plan(&w).await;
        let sec = w.as_role("secretary");
        let doc = docx();
        let (s, d) = upload(
            sec,
            &m,
            &[("title", "Báo cáo chính trị"), ("classification", "thuong")],
            doc.clone(),
        )
        .await;
        assert_eq!(s, 201, "{d}");
        let doc_id = d["id"].as_str().unwrap().to_string();
        let plain = pdf("Du thao nghi quyet");
        let (s, d) = upload(
            sec,
            &m,
            &[
                ("title", "Dự thảo Nghị quyết"),
                ("classification", "thuong"),
            ],
            plain.clone(),
        )
        .await;
        assert_eq!(s, 201, "{d}");
        let pdf_id = d["id"].as_str().unwrap().to_string();
        // They are in the bucket, under the prefix, not on local disk.
        let keys = moto.list(&format!("{PREFIX}documents/")).await;
        assert!(keys.len() >= 2, "{keys:?}");
        let local = w.srv.server.state().data_dir.join("documents");
        assert!(
            std::fs::read_dir(&local).map_or(true, |mut d| d.next().is_none()),
            "nothing under {}",
            local.display()
        );

        let delegate = w.as_role("delegate");
        let (s, _, got) = fetch(delegate, &m, &doc_id, &[]).await;
        assert_eq!(s, 200);
        assert_eq!(got, doc, "byte-identical");
        let (s, _, part) = fetch(delegate, &m, &doc_id, &[("range", "bytes=5-")]).await;
        assert_eq!((s.as_u16(), &part[..]), (206, &doc[5..]));
        let (s, _, copy) = fetch(delegate, &m, &pdf_id, &[]).await;
        assert_eq!(s, 200);
        assert!(copy.starts_with(&plain) && copy.len() > plain.len());
        let text = crate::documents::pdf_text(&copy);
        assert!(text.contains("Du thao nghi quyet"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn a_server_whose_s3_store_does_not_answer_refuses_to_start() {
    let port = free_tcp_port();
    let data = tempfile::tempdir().unwrap();
    let mut c = crate::support::server::test_config(data.path());
    s3_config(&mut c, &format!("http://127.0.0.1:{port}"));
    let started = Instant::now();
    let e = match diemcau::Server::start(c).await {
        Ok(_) => panic!("a server started without its object store"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("object store") && e.contains(BUCKET) && e.contains(&port.to_string()),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}
