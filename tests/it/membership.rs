//! Closed meetings stay closed: every principal against every meeting
//! route, as a member of the meeting, as a stranger to it, and (the
//! sub-operator) outside their subtree; a hostile room's token against
//! every route and media path of a closed meeting it is not planned for.
//!
//! The rule (`conference::access`): a caller with no standing in a meeting
//! gets exactly what it would get for a meeting that does not exist.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::permissions::{PRINCIPALS, table};
use crate::support::api::{ApiWorld, Client, fingerprint, media_probe, world};
use crate::support::db::both_backends;
use crate::support::rtc_client::WsClient;

fn hour_from_now() -> i64 {
    diemcau::store::now_ms() + 3_600_000
}

/// Where membership refuses what the role table allows, for a member: in
/// the member meeting the chair chairs, the secretary keeps the record,
/// the delegate votes, room `a` is planned, and the sub-operator's subtree
/// (commune A) holds every room. `method path role code`.
const MEMBER_REFUSED: &str = "
POST /api/v1/meetings/{id}/motions/{motion}/open    secretary not_the_chair
POST /api/v1/meetings/{id}/motions/{motion}/close   secretary not_the_chair
POST /api/v1/meetings/{id}/motions/{motion}/publish secretary not_the_chair
POST /api/v1/meetings/{id}/checks                   admin     not_a_room
";

/// Roles with standing in every meeting: those who run the province's
/// meetings and the auditor.
const EVERYWHERE: [&str; 3] = ["admin", "operator", "auditor"];

fn member_refusal(method: &str, path: &str, who: &str) -> Option<String> {
    MEMBER_REFUSED
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|p| p[0] == method && p[1] == path && p[2] == who)
        .map(|p| p[3].to_string())
}

/// Plan and open a closed (BTV) meeting from `body`; its id.
async fn closed_meeting(w: &ApiWorld, body: Value) -> String {
    let mut plan = json!({
        "title": "Hội nghị Ban Thường vụ (họp kín)",
        "kind": "btv",
        "starts_at_ms": hour_from_now(),
        "ends_at_ms": hour_from_now() + 3 * 3_600_000,
    });
    for (k, v) in body.as_object().unwrap() {
        plan[k] = v.clone();
    }
    let made = w.as_role("operator").post("/api/v1/meetings", plan).await;
    assert_eq!(made.status, 201, "{}", made.text);
    assert_eq!(made.body["meetings"][0]["access_policy"], "closed");
    let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
    let r = w
        .as_role("operator")
        .post(&format!("/api/v1/meetings/{id}/open"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

fn concrete(path: &str, meeting: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{id}" => meeting,
            s if s.starts_with('{') => "zz_none",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

both_backends! {
    async fn membership_decides_which_meetings_each_principal_reaches(db) {
        let w = world(db).await;
        let member = closed_meeting(&w, json!({
            "endpoint_ids": [w.endpoint("a")],
            "chair_user_id": w.users["chair"],
            "secretary_user_id": w.users["secretary"],
            "members": [{"user_id": w.users["delegate"], "role": "voting"}],
        })).await;
        // Nobody named, room B only: outside the sub-operator's commune A.
        let stranger = closed_meeting(&w, json!({"endpoint_ids": [w.endpoint("b")]})).await;
        let endpoint = w.as_endpoint("a");
        let mut wrong = Vec::new();
        for ((method, path), allowed) in &table() {
            if !path.starts_with("/api/v1/meetings/{id}") {
                continue;
            }
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let body = (m != Method::GET && m != Method::DELETE).then(|| json!({}));
            // Every principal with credentials (anonymous is the matrix's).
            for who in PRINCIPALS.into_iter().filter(|p| *p != "anonymous") {
                let client: &Client = match who {
                    "endpoint" => &endpoint,
                    other => w.as_role(other),
                };
                let mine = client.call(m.clone(), &concrete(path, &member), body.as_ref()).await;
                let theirs = client.call(m.clone(), &concrete(path, &stranger), body.as_ref()).await;
                let none = client.call(m.clone(), &concrete(path, "zz_none"), body.as_ref()).await;
                let at = format!("{who:>12} {method} {path}");
                if !allowed.contains(who) {
                    // The role table refuses before any meeting is looked at.
                    for a in [&mine, &theirs, &none] {
                        if (a.status.as_u16(), a.code()) != (403, "forbidden") {
                            wrong.push(format!("{at}: role table should refuse, got {} {}", a.status, a.text));
                        }
                    }
                    continue;
                }
                match member_refusal(method, path, who) {
                    Some(code) if (mine.status.as_u16(), mine.code()) != (403, code.as_str()) => {
                        wrong.push(format!("{at} as a member: expected 403 {code}, got {} {}", mine.status, mine.text));
                    }
                    Some(_) => {}
                    None => {
                        if [401, 403, 500].contains(&mine.status.as_u16()) || mine.code() == "unknown_meeting" {
                            wrong.push(format!("{at} as a member: expected allowed, got {} {}", mine.status, mine.text));
                        }
                    }
                }
                if EVERYWHERE.contains(&who) {
                    continue;
                }
                // A stranger (or a sub-operator out of scope) learns nothing:
                // the answer is the one for a meeting that does not exist.
                if theirs.status.is_success()
                    || (theirs.status, theirs.code()) != (none.status, none.code())
                {
                    wrong.push(format!(
                        "{at} as a stranger: got {} {}, for no meeting {} {}",
                        theirs.status, theirs.text, none.status, none.text
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "membership matrix mismatches:\n{}", wrong.join("\n"));

        // Lists show only the meetings one belongs to.
        for who in ["secretary", "chair", "delegate", "sub_operator"] {
            let ids = list_ids(w.as_role(who)).await;
            assert!(!ids.contains(&stranger), "{who} lists the stranger meeting");
        }
        assert!(!list_ids(&endpoint).await.contains(&stranger));
        assert!(list_ids(w.as_role("auditor")).await.contains(&stranger));
    }
}

async fn list_ids(c: &Client) -> Vec<String> {
    let r = c.get("/api/v1/meetings").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["meetings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

/// Join `/ws` with a token in a role; the first answer (`joined` or
/// `error`).
async fn ws_join(w: &ApiWorld, meeting: &str, token: &str, role: &str) -> Value {
    let ws = WsClient::connect(&w.srv.base_url())
        .await
        .expect("ws connects");
    ws.send_json(&json!({
        "type": "join",
        "v": diemcau::signal::wire::PROTOCOL_VERSION,
        "meeting": meeting,
        "token": token,
        "role": role,
        "offer": "v=0\r\n",
    }))
    .await
    .unwrap();
    ws.wait_message(0, Duration::from_secs(10), |m: &Value| {
        m["type"] == "error" || m["type"] == "joined"
    })
    .await
    .expect("an answer to the join")
}

both_backends! {
    async fn hostile_room_reaches_nothing_of_a_closed_meeting_it_is_not_planned_for(db) {
        let w = world(db).await;
        let closed = closed_meeting(&w, json!({
            "hub_endpoint_id": w.endpoint("hub"),
            "endpoint_ids": [w.endpoint("a")],
        })).await;
        let hostile = w.as_endpoint("b");
        let token = w.province.endpoint_tokens["b"].clone();
        let before = fingerprint(&w.db.store).await;
        // Every documented route, as the hostile room: nothing succeeds and
        // nothing tells it the meeting exists.
        let mut wrong = Vec::new();
        for (method, path) in table().keys() {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let body = (m != Method::GET && m != Method::DELETE).then(|| json!({}));
            let mine = hostile.call(m.clone(), &concrete(path, &closed), body.as_ref()).await;
            let none = hostile.call(m, &concrete(path, "zz_none"), body.as_ref()).await;
            if mine.status.is_success() && path.contains("{id}") {
                wrong.push(format!("{method} {path}: {} {}", mine.status, mine.text));
            }
            if (mine.status, mine.code()) != (none.status, none.code()) {
                wrong.push(format!("{method} {path}: {} {} differs from no meeting: {} {}", mine.status, mine.text, none.status, none.text));
            }
        }
        assert!(wrong.is_empty(), "the hostile room reached:\n{}", wrong.join("\n"));
        assert!(!list_ids(&hostile).await.contains(&closed));
        // Media: WHIP, WHEP, the room page as a room and as a console.
        for kind in ["whip", "whep"] {
            let answer = media_probe(&w.srv.base_url(), kind, &closed, &token).await;
            assert_eq!(answer, (404, "unknown_meeting".to_string()), "{kind}");
        }
        for role in ["room", "console", "viewer"] {
            let answer = ws_join(&w, &closed, &token, role).await;
            assert_eq!(answer["type"], "error", "{role}: {answer}");
            assert!(
                ["unknown_meeting", "forbidden"].contains(&answer["code"].as_str().unwrap_or("")),
                "{role}: {answer}"
            );
        }
        // The planned room gets as far as its offer.
        let planned = w.province.endpoint_tokens["a"].clone();
        assert_eq!(media_probe(&w.srv.base_url(), "whip", &closed, &planned).await.0, 400);
        // Nothing changed but the refusals' own audit records.
        assert_eq!(fingerprint(&w.db.store).await.into_iter().filter(|(t, _)| t != "audit_log" && t != "audit_head.seq").collect::<Vec<_>>(),
            before.into_iter().filter(|(t, _)| t != "audit_log" && t != "audit_head.seq").collect::<Vec<_>>());
        let audit = w.as_role("auditor").get("/api/v1/audit?limit=500").await;
        assert!(audit.text.contains("access.refused"), "refusals are audited: {}", audit.text);
    }
}

both_backends! {
    async fn an_open_meeting_keeps_an_unplanned_room_in_the_lobby_until_admitted(db) {
        let w = world(db).await;
        let made = w.as_role("operator").post("/api/v1/meetings", json!({
            "title": "Giao ban trực tuyến", "kind": "giao_ban",
            "starts_at_ms": hour_from_now(), "ends_at_ms": hour_from_now() + 3_600_000,
            "endpoint_ids": [w.endpoint("a")],
        })).await;
        assert_eq!(made.body["meetings"][0]["access_policy"], "open", "{}", made.text);
        let id = made.body["meetings"][0]["id"].as_str().unwrap().to_string();
        let op = w.as_role("operator");
        assert_eq!(op.post(&format!("/api/v1/meetings/{id}/open"), json!({})).await.status, 200);
        let token = w.province.endpoint_tokens["b"].clone();
        let answer = media_probe(&w.srv.base_url(), "whip", &id, &token).await;
        assert_eq!(answer, (403, "in_lobby".to_string()));
        let live = op.get(&format!("/api/v1/meetings/{id}/live")).await;
        assert_eq!(live.body["lobby"][0]["endpoint_id"], w.endpoint("b"), "{}", live.text);
        // The lobby is not a way in to the meeting's record.
        assert_eq!(w.as_endpoint("b").get(&format!("/api/v1/meetings/{id}/documents")).await.status, 404);
        let r = op.post(&format!("/api/v1/meetings/{id}/live/lobby/admit"), json!({"endpoint_id": w.endpoint("b")})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["lobby"], json!([]));
        assert_eq!(media_probe(&w.srv.base_url(), "whip", &id, &token).await.0, 400, "admitted: its offer is read");
        let audit = w.as_role("auditor").get("/api/v1/audit?limit=500").await;
        assert!(audit.text.contains("live.lobby_admit"), "{}", audit.text);
    }
}

/// DELETE a WHIP session resource as `token`; the status.
async fn hang_up(base: &str, url_path: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .delete(format!("{base}{url_path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn a_whip_session_is_hung_up_only_by_its_creator_or_the_meetings_operators() {
    use crate::support::db::run_sqlite;
    use crate::support::rtc_client::{PublishConfig, run_in_loopback_netns, whip_publisher};
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let base = w.srv.base_url();
        let id = closed_meeting(
            &w,
            json!({
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("a"), w.endpoint("b")],
                "members": [{"user_id": w.users["delegate"], "role": "voting"}],
            }),
        )
        .await;
        let hub_token = w.province.endpoint_tokens["hub"].clone();
        let (hub, session) = whip_publisher(
            &base,
            &id,
            &hub_token,
            "Hội trường",
            PublishConfig::default(),
        )
        .await;
        let path = session.location.trim_start_matches(&base).to_string();
        let participant = session.participant.clone().expect("X-Diemcau-Participant");
        // The resource is not the participant id: guessing that gets nothing.
        assert!(!path.ends_with(&format!("/{participant}")), "{path}");
        let b = w.province.endpoint_tokens["b"].clone();
        assert_eq!(
            hang_up(&base, &format!("/whip/{id}/{participant}"), &b).await,
            404
        );
        // Another room of the meeting, a member who does not run it: 404.
        assert_eq!(hang_up(&base, &path, &b).await, 404);
        let delegate = w.as_role("delegate").bearer.clone().unwrap();
        assert_eq!(hang_up(&base, &path, &delegate).await, 404);
        let live = w
            .as_role("operator")
            .get(&format!("/api/v1/meetings/{id}/live"))
            .await;
        assert!(
            live.text.contains(&w.endpoint("hub").to_string()),
            "{}",
            live.text
        );
        // The meeting's operator throws it out, on the record.
        let operator = w.as_role("operator").bearer.clone().unwrap();
        assert_eq!(hang_up(&base, &path, &operator).await, 200);
        assert_eq!(hang_up(&base, &path, &operator).await, 404, "once");
        let audit = w.as_role("auditor").get("/api/v1/audit?limit=500").await;
        assert!(audit.text.contains("media.hung_up"), "{}", audit.text);
        hub.close().await;
    }));
}
