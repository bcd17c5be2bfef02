//! After `kill -9` the recording plays to its last seconds, and a restart
//! records the gap.

use super::*;

/// The built server binary on `data`, listening on fixed loopback ports.
struct Binary {
    child: std::process::Child,
}

impl Binary {
    async fn start(config: &Path, base: &str) -> Binary {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_diemcau"))
            .arg("--config")
            .arg(config)
            .arg("serve")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the server binary starts");
        let b = Binary { child };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http
                .get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server at {base} did not come up");
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        // Our own child, by its handle (its PID).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The last presentation time ffprobe reads in a file, seconds.
fn last_packet_time(path: &Path) -> f64 {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok())
        .fold(0.0, f64::max)
}

/// `kill -9` of the server mid-recording: the files written so far play up
/// to their last seconds; the restarted server marks the recording
/// interrupted with the gap in its index, and — the meeting still being
/// live — records on in a new recording that begins with the gap.
#[test]
fn after_kill_9_the_recording_plays_to_its_last_seconds_and_restart_records_the_gap() {
    let layers = default_layers();
    let clips = vp8_source::testsrc_clips(&layers);
    run_in_loopback_netns(run_sqlite(|db| async move {
        let data = tempfile::tempdir().unwrap();
        let data_dir = data.path().to_path_buf();
        let db_url = db.url.clone();
        // Seed the province, people and a live meeting with the library
        // server, then hand the data directory to the binary.
        let w = world_with(db, {
            let d = data_dir.clone();
            move |c| {
                c.data_dir = d;
                c.recording.automatic = false;
            }
        })
        .await;
        let id = live_meeting(&w).await;
        let op_token = w.as_role("operator").bearer.clone().unwrap();
        let hub_token = w.province.endpoint_tokens["hub"].clone();
        let ApiWorld { srv, .. } = w;
        srv.server.shutdown().await;

        let (http_port, udp_port) = (free_tcp_port(), free_udp_port());
        let mut config = crate::support::server::test_config(&data_dir);
        config.http.http_listen = Some(format!("127.0.0.1:{http_port}").parse().unwrap());
        config.media.udp_port = udp_port;
        config.database.url = db_url;
        config.demo.token = None;
        config.recording.automatic = false;
        config.recording.min_free_mib = 0;
        let config_path = data_dir.join("diemcau.toml");
        std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
        let base = format!("http://127.0.0.1:{http_port}");
        let http = reqwest::Client::new();
        let post = |path: String| {
            let (http, token) = (http.clone(), op_token.clone());
            async move {
                let r = http
                    .post(path)
                    .bearer_auth(token)
                    .json(&json!({}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };

        let mut server = Binary::start(&config_path, &base).await;
        let (hub, _ws) = hub_in_room(&layers, &clips, &base, &id, &hub_token).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (status, rec) = post(format!("{base}/api/v1/meetings/{id}/recordings")).await;
        assert_eq!(status, 201, "{rec}");
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(6)).await;
        // SIGKILL: no chance to close anything.
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let recorded_for = started.elapsed().as_secs_f64();
        hub.close().await;

        let dir = data_dir
            .join("recordings")
            .join(rec["dir"].as_str().unwrap());
        let program = dir.join("program.webm");
        decodes_cleanly(&program);
        let program_end = last_packet_time(&program);
        // Clusters close at every keyframe (the clips have one a second):
        // what was lost is at most the cluster being built.
        assert!(
            program_end > recorded_for - 2.5,
            "the program plays to {program_end:.2} s of {recorded_for:.2} s recorded"
        );
        let mut tracks = 0;
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("track-") {
                decodes_cleanly(&e.path());
                tracks += 1;
            }
        }
        assert!(tracks >= 2, "a video and an audio track file");

        // Restart: the old recording is interrupted with its gap, a new
        // one runs (the meeting is still live) and starts with the gap.
        let server = Binary::start(&config_path, &base).await;
        let list: Value = http
            .get(format!("{base}/api/v1/meetings/{id}/recordings"))
            .bearer_auth(&op_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let recs = list["recordings"].as_array().unwrap();
        assert_eq!(recs.len(), 2, "{list}");
        assert_eq!(recs[0]["state"], "interrupted", "{list}");
        assert_eq!(recs[0]["index"]["failure"], "interrupted", "{list}");
        let gap = recs[0]["index"]["chapters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == "gap")
            .unwrap_or_else(|| panic!("a gap chapter: {list}"));
        let gap_at = gap["at_ms"].as_u64().unwrap() as f64 / 1000.0;
        assert!(
            (gap_at - recorded_for).abs() < 2.0,
            "gap at {gap_at} s, killed at {recorded_for} s"
        );
        assert_eq!(recs[1]["state"], "recording", "{list}");
        let resumed = recs[1]["index"]["chapters"].as_array().unwrap();
        assert!(
            resumed.iter().any(|c| c["kind"] == "gap"
                && c["title"]
                    .as_str()
                    .unwrap()
                    .contains(recs[0]["id"].as_str().unwrap())),
            "{list}"
        );
        let (status, _) = post(format!("{base}/api/v1/meetings/{id}/recordings/stop")).await;
        assert_eq!(status, 200);
        drop(server);
    }));
}
