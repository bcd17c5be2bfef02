//! What is recorded without anyone asking (the kinds of meeting configured)
//! and how long it is kept (retention).

use super::*;

crate::support::db::both_backends! {
    async fn automatic_recording_follows_the_kinds_of_meeting_configured(db) {
        use diemcau::control::meetings::MeetingKind;
        let w = world_with(db, |c| c.recording.automatic_kinds = vec![MeetingKind::Bch]).await;
        let op = w.as_role("operator");
        // A standing committee meeting is not among the kinds: not recorded.
        let btv = live_meeting_of_kind(&w, "btv").await;
        let r = op.get(&format!("/api/v1/meetings/{btv}/recordings")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["recordings"].as_array().unwrap().len(), 0, "{}", r.text);
        // An executive committee plenum is: recording from the moment it is live.
        let bch = live_meeting_of_kind(&w, "bch").await;
        let r = op.get(&format!("/api/v1/meetings/{bch}/recordings")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let recs = r.body["recordings"].as_array().unwrap();
        assert_eq!(recs.len(), 1, "{}", r.text);
        assert_eq!(recs[0]["state"], "recording");
        // Either can still be recorded by hand.
        let r = op.post(&format!("/api/v1/meetings/{btv}/recordings"), json!({})).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
}

crate::support::db::both_backends! {
    async fn retention_expires_only_finished_recordings_past_their_time(db) {
        use diemcau::control::recordings::{RecordingState, Recordings};
        // Automatic recording would start one as the meeting goes live.
        let w = world_with(db, |c| c.recording.automatic = false).await;
        let id = live_meeting(&w).await;
        let recs = Recordings::new(w.db.store.clone());
        let actor = crate::support::db::operator();
        let running = recs.create(&actor, &id).await.unwrap();
        // A running recording is never due.
        assert!(recs.due_for_expiry(diemcau::store::now_ms() + 1000).await.unwrap().is_empty());
        recs.finish(&actor, &id, RecordingState::Stopped, None).await.unwrap();
        let due = recs.due_for_expiry(diemcau::store::now_ms() + 1000).await.unwrap();
        assert_eq!(due.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec![running.id.as_str()]);
        assert!(recs.due_for_expiry(diemcau::store::now_ms() - 60_000).await.unwrap().is_empty(), "not before its time");
        recs.expire(&actor, &running.id).await.unwrap();
        assert_eq!(recs.get(&id, &running.id).await.unwrap().state, RecordingState::Expired);
        assert!(recs.expire(&actor, &running.id).await.is_err(), "expired once");
        assert!(recs.due_for_expiry(diemcau::store::now_ms() + 1000).await.unwrap().is_empty());
    }
}
