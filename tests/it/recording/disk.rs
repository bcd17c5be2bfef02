//! The disk: a full one stops the recording cleanly while the meeting goes
//! on; without enough free space a recording does not start.

use super::*;

/// A file system of `bytes` at `at`, seen by this test process only: a new
/// mount namespace (made before any thread of the test starts, so the
/// server's threads inherit it) with a tmpfs mounted there. It goes away
/// with the process.
fn small_disk(at: &Path, bytes: u64) {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |s: &str| CString::new(s).unwrap();
    std::fs::create_dir_all(at).unwrap();
    let target = CString::new(at.as_os_str().as_bytes()).unwrap();
    let opts = c(&format!("size={bytes}"));
    // SAFETY: plain system calls with valid NUL-terminated strings.
    unsafe {
        assert_eq!(
            libc::unshare(libc::CLONE_NEWNS),
            0,
            "unshare(CLONE_NEWNS): {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(
            libc::mount(
                c("none").as_ptr(),
                c("/").as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null()
            ),
            0,
            "make / private: {}",
            std::io::Error::last_os_error()
        );
        assert_eq!(
            libc::mount(
                c("tmpfs").as_ptr(),
                target.as_ptr(),
                c("tmpfs").as_ptr(),
                0,
                opts.as_ptr().cast()
            ),
            0,
            "mount tmpfs: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// The disk fills up mid-meeting: the recording stops cleanly with its
/// files playable, the row says why, the consoles are told — and the
/// meeting and its media go on.
#[test]
fn a_full_disk_stops_the_recording_cleanly_and_the_meeting_goes_on() {
    let layers = default_layers();
    let clips = vp8_source::testsrc_clips(&layers);
    let data = tempfile::tempdir().unwrap();
    let recordings = data.path().join("recordings");
    small_disk(&recordings, 300 * 1024);
    let data_dir = data.path().to_path_buf();
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world_with(db, move |c| {
            c.data_dir = data_dir;
            c.recording.automatic = false;
            c.recording.min_free_mib = 0;
        })
        .await;
        let id = live_meeting(&w).await;
        let op = w.as_role("operator").clone();
        let base = w.srv.base_url();
        let ws = format!(
            "{}/api/v1/meetings/{id}/live/events",
            base.replacen("http", "ws", 1)
        );
        let console = WsClient::connect_url(&ws, op.bearer.as_deref())
            .await
            .unwrap();
        let (hub, _ws) = hub_in_room(
            &layers,
            &clips,
            &base,
            &id,
            &w.province.endpoint_tokens["hub"],
        )
        .await;
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings"), json!({}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);

        // A few hundred KiB of video fill it in seconds.
        let failed = console
            .wait_type(0, "recording_failed", Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no recording_failed event: {:?}", console.received()));
        assert_eq!(failed["reason"], "disk_full", "{failed}");
        assert!(
            failed["message"]
                .as_str()
                .unwrap()
                .contains("hội nghị vẫn tiếp tục")
        );
        let list = op.get(&format!("/api/v1/meetings/{id}/recordings")).await;
        let rec = &list.body["recordings"][0];
        assert_eq!(
            (rec["state"].as_str(), rec["failure"].as_str()),
            (Some("failed"), Some("disk_full")),
            "{}",
            list.text
        );
        // What was written before the disk filled plays.
        let program = recordings
            .join(rec["dir"].as_str().unwrap())
            .join("program.webm");
        if program.exists() && std::fs::metadata(&program).unwrap().len() > 0 {
            let out = std::process::Command::new("ffprobe")
                .args(["-v", "error", "-show_streams"])
                .arg(&program)
                .output()
                .unwrap();
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("codec_name=vp8"),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // The meeting is still live and still recordable later; the room
        // is still connected and receiving.
        let m = op.get(&format!("/api/v1/meetings/{id}")).await;
        assert_eq!(m.body["state"], "live", "{}", m.text);
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings/stop"), json!({}))
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (409, "not_recording"),
            "{}",
            r.text
        );
        assert_eq!(
            hub.connection_state(),
            crate::support::rtc_client::RTCPeerConnectionState::Connected,
            "the room stays connected"
        );
        hub.close().await;
    }));
}

/// Under the free-space threshold a recording does not start (507), and
/// nothing is recorded.
#[test]
fn a_recording_does_not_start_without_enough_free_disk() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world_with(db, |c| {
            c.recording.automatic = false;
            c.recording.min_free_mib = u64::MAX >> 21;
        })
        .await;
        let id = live_meeting(&w).await;
        let op = w.as_role("operator");
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings"), json!({}))
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (507, "disk_full"),
            "{}",
            r.text
        );
        let list = op.get(&format!("/api/v1/meetings/{id}/recordings")).await;
        assert_eq!(list.body["recordings"], json!([]), "{}", list.text);
    }));
}
