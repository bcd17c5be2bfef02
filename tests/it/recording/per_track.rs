//! A live meeting recorded per track and as a program that ffprobe reads.

use super::*;

#[test]
fn a_live_meeting_is_recorded_per_track_and_as_a_program_that_ffprobe_reads() {
    let layers = default_layers();
    let clips = vp8_source::testsrc_clips(&layers);
    run_in_loopback_netns(run_sqlite(|db| async move {
        // By hand here, to know exactly when it starts and stops.
        let w = world_with(db, |c| c.recording.automatic = false).await;
        let id = live_meeting(&w).await;
        let op = w.as_role("operator").clone();
        let base = w.srv.base_url();

        // Refusals first: nothing is running, nothing to stop; a meeting
        // that is not live cannot be recorded.
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings/stop"), json!({}))
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (409, "not_recording"),
            "{}",
            r.text
        );

        let (hub, _ws) = hub_in_room(
            &layers,
            &clips,
            &base,
            &id,
            &w.province.endpoint_tokens["hub"],
        )
        .await;
        // A commune speaks too, louder than the hub: the program's mix
        // hears both; the index names the speaker.
        let mut commune = commune_speaker(&layers, &clips).await;
        let (_ws_a, _) = ws_join(&mut commune, &base, &id, &w.province.endpoint_tokens["a"])
            .await
            .unwrap();
        commune
            .wait_connected(Duration::from_secs(20))
            .await
            .unwrap();
        // The hub holds the stage (the program's video) while the commune
        // speaks.
        let r = op
            .post(
                &format!("/api/v1/meetings/{id}/live/stage"),
                json!({"endpoint_ids": [w.endpoint("hub")]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        // Let the publishers ramp up before the recording starts.
        tokio::time::sleep(Duration::from_secs(2)).await;

        let started = Instant::now();
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings"), json!({}))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let rec = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(r.body["state"], "recording");
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings"), json!({}))
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (409, "already_recording"),
            "{}",
            r.text
        );
        // The agenda moves while recording: a chapter.
        let sec = w.as_role("secretary");
        let item = sec
            .post(
                &format!("/api/v1/meetings/{id}/agenda"),
                json!({"title": "Báo cáo tình hình kinh tế - xã hội", "presenter": "Đồng chí Phó Chủ tịch", "planned_minutes": 15}),
            )
            .await;
        assert_eq!(item.status, 201, "{}", item.text);
        let r = sec
            .post(
                &format!("/api/v1/meetings/{id}/agenda/current"),
                json!({"item_id": item.body["id"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);

        tokio::time::sleep(Duration::from_secs(6)).await;
        let r = op
            .post(&format!("/api/v1/meetings/{id}/recordings/stop"), json!({}))
            .await;
        let recorded_for = started.elapsed().as_secs_f64();
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["state"], "stopped");
        let r2 = op
            .post(&format!("/api/v1/meetings/{id}/recordings/stop"), json!({}))
            .await;
        assert_eq!(
            (r2.status.as_u16(), r2.code()),
            (409, "not_recording"),
            "{}",
            r2.text
        );

        // The listing carries the index: files and chapters.
        let list = w
            .as_role("secretary")
            .get(&format!("/api/v1/meetings/{id}/recordings"))
            .await;
        assert_eq!(list.status, 200, "{}", list.text);
        let one = &list.body["recordings"][0];
        assert_eq!(one["id"], rec.as_str());
        let index = &one["index"];
        let files: Vec<(String, String)> = index["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["file"].as_str().unwrap().to_string(),
                    s["kind"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(files.iter().any(|f| f.0 == "program.webm"), "{files:?}");
        assert!(files.iter().any(|f| f.1 == "video"), "{files:?}");
        assert!(files.iter().any(|f| f.1 == "audio"), "{files:?}");
        let chapters = index["chapters"].as_array().unwrap();
        assert!(
            chapters.iter().any(
                |c| c["kind"] == "agenda" && c["title"] == "Báo cáo tình hình kinh tế - xã hội"
            ),
            "{chapters:?}"
        );
        assert!(
            chapters
                .iter()
                .any(|c| c["kind"] == "program" && c["title"] == "Hội trường Tỉnh ủy"),
            "{chapters:?}"
        );
        assert!(
            chapters
                .iter()
                .any(|c| c["kind"] == "speaker" && c["title"] == "Điểm cầu xã An Phú"),
            "the louder room is indexed as the speaker: {chapters:?}"
        );
        assert_eq!(
            w.as_role("delegate")
                .get(&format!("/api/v1/meetings/{id}/recordings"))
                .await
                .status,
            403
        );

        // Download every file through the API (Range works) and probe it.
        let dir = tempfile::tempdir().unwrap();
        for (file, kind) in &files {
            let url = format!("{base}/api/v1/meetings/{id}/recordings/{rec}/{file}");
            let c = w.as_role("secretary");
            let body = c
                .http
                .get(&url)
                .bearer_auth(c.bearer.as_ref().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(body.status(), 200);
            let bytes = body.bytes().await.unwrap();
            let part = c
                .http
                .get(&url)
                .bearer_auth(c.bearer.as_ref().unwrap())
                .header("range", "bytes=100-")
                .send()
                .await
                .unwrap();
            assert_eq!(part.status(), 206);
            assert_eq!(&part.bytes().await.unwrap()[..], &bytes[100..]);
            let path = dir.path().join(file);
            std::fs::write(&path, &bytes).unwrap();
            decodes_cleanly(&path);
            let probe = ffprobe(&path);
            let codecs: Vec<&str> = probe["streams"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["codec_name"].as_str().unwrap())
                .collect();
            match kind.as_str() {
                "program" => assert_eq!(codecs, vec!["vp8", "opus"], "{file}"),
                "video" => assert_eq!(codecs, vec!["vp8"], "{file}"),
                // The composite picture (tests/it/live_stream.rs looks at it).
                "composite" => assert_eq!(codecs, vec!["h264", "opus"], "{file}"),
                _ => assert_eq!(codecs, vec!["opus"], "{file}"),
            }
            let duration = seconds(&probe["format"]["duration"]);
            // The composite starts at the first keyframe its encoder makes
            // after the start (it is asked for one at once); a camera's
            // track at the publisher's first keyframe after the start (a
            // PLI's round trip, slower on a busy machine); sound at once.
            let slack = match kind.as_str() {
                "composite" => 1.5,
                "video" => 1.0,
                _ => 0.5,
            };
            assert!(
                (duration - recorded_for).abs() < slack,
                "{file}: {duration:.2} s recorded of {recorded_for:.2} s"
            );
            if kind == "program" {
                let starts: Vec<f64> = probe["streams"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| seconds(&s["start_time"]))
                    .collect();
                assert!(
                    (starts[0] - starts[1]).abs() < 0.1,
                    "program audio/video start offsets {starts:?}"
                );
                // One mono mix in which both rooms are heard, throughout.
                let pcm = audio_samples(&path);
                assert!(pcm.len() > 4 * 48_000, "{} samples", pcm.len());
                for (n, second) in pcm[48_000..pcm.len() - 48_000].chunks(48_000).enumerate() {
                    let (hub, commune, neither) = (
                        tone_power(second, HUB_TONE_HZ),
                        tone_power(second, COMMUNE_TONE_HZ),
                        tone_power(second, 700.0),
                    );
                    assert!(
                        hub > 50.0 * neither && commune > 50.0 * neither,
                        "second {n} of the program: hub {hub:e}, commune {commune:e}, other {neither:e}"
                    );
                }
            }
        }
        let bad = w
            .as_role("secretary")
            .get(&format!(
                "/api/v1/meetings/{id}/recordings/{rec}/..%2Fdiemcau.db"
            ))
            .await;
        assert_eq!(bad.status, 404);
        let bad = w
            .as_role("secretary")
            .get(&format!(
                "/api/v1/meetings/{id}/recordings/rec_none/program.webm"
            ))
            .await;
        assert_eq!(
            (bad.status.as_u16(), bad.code()),
            (404, "unknown_recording")
        );
        hub.close().await;
    }));
}
