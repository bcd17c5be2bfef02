//! SIP room systems in the store, on both backends: a room's SIP password
//! is shown once and only its digest HA1s are kept; each meeting has its
//! own dial-in number, found by it.

use diemcau::control::endpoints::{EndpointDetails, Endpoints, LinkProfile};
use diemcau::control::meetings::{Freq, MeetingDraft, MeetingKind, Meetings, Recurrence, Weekday};
use diemcau::control::org::{NewUnit, OrgKind, OrgTree};
use diemcau::sip::digest::{Algorithm, ha1};
use sqlx::Row;

use crate::support::db::{both_backends, d, operator};

const REALM: &str = "diemcau";

async fn room(db_store: &diemcau::store::Store) -> String {
    let org = OrgTree::new(db_store.clone());
    let unit = org
        .create(
            &operator(),
            NewUnit {
                code: "19334".into(),
                name: "Xã Đông Hưng".into(),
                kind: OrgKind::Commune,
                parent_id: None,
            },
            d("2025-07-01"),
        )
        .await
        .unwrap();
    let details = EndpointDetails {
        name: "Phòng họp xã (Poly Group 500)".into(),
        room: "Nhà B".into(),
        technician_name: String::new(),
        technician_phone: String::new(),
        link: LinkProfile::Fibre,
    };
    let eps = Endpoints::new(db_store.clone());
    eps.create(&operator(), details, &unit.id, d("2025-07-01"))
        .await
        .unwrap()
        .0
        .id
}

both_backends! {
    async fn sip_password_is_shown_once_and_only_its_digest_ha1s_are_stored(db) {
        let eps = Endpoints::new(db.store.clone());
        let id = room(&db.store).await;
        let (user, pw) = eps.issue_sip_password(&operator(), &id, REALM).await.unwrap();
        assert_eq!(pw.expose().len(), 24);
        assert_eq!(format!("{pw:?}"), "SipPassword(***)");
        let acc = eps.sip_account(&user).await.unwrap().expect("the account is found by its user");
        assert_eq!(acc.endpoint_id, id);
        assert_eq!(acc.ha1(Algorithm::Md5), ha1(Algorithm::Md5, &user, REALM, pw.expose()));
        assert_eq!(acc.ha1(Algorithm::Sha256), ha1(Algorithm::Sha256, &user, REALM, pw.expose()));
        // Neither the password nor an HA1 is in the audit log; the password is nowhere.
        let audit: Vec<String> = sqlx::query("SELECT details FROM audit_log")
            .fetch_all(db.store.pool()).await.unwrap().iter().map(|r| r.get(0)).collect();
        assert!(audit.iter().any(|a| a.contains(&user)), "the issue is audited");
        assert!(audit.iter().all(|a| !a.contains(pw.expose()) && !a.contains(&acc.ha1_md5)));
        let row = sqlx::query("SELECT * FROM endpoint_sip_accounts").fetch_one(db.store.pool()).await.unwrap();
        for i in 0..row.len() {
            let v: Option<String> = row.try_get(i).unwrap_or(None);
            assert!(v.is_none_or(|v| !v.contains(pw.expose())), "column {i} holds no password");
        }
        // A new password retires the old HA1s; a revoked room has no account.
        let (_, pw2) = eps.issue_sip_password(&operator(), &id, REALM).await.unwrap();
        let acc2 = eps.sip_account(&user).await.unwrap().unwrap();
        assert_ne!(pw, pw2);
        assert_eq!(acc2.ha1_md5, ha1(Algorithm::Md5, &user, REALM, pw2.expose()));
        eps.revoke(&operator(), &id).await.unwrap();
        assert!(eps.sip_account(&user).await.unwrap().is_none());
        assert!(eps.issue_sip_password(&operator(), "ep_nope", REALM).await.is_err());
    }
}

both_backends! {
    async fn each_meeting_of_a_series_gets_its_own_dial_in_number_found_by_it(db) {
        let meetings = Meetings::new(db.store.clone());
        let plan = MeetingDraft {
            title: "Giao ban".into(),
            kind: MeetingKind::GiaoBan,
            description: String::new(),
            starts_at_ms: 1_756_688_400_000,
            ends_at_ms: 1_756_688_400_000 + 3_600_000,
            recurrence: Some(Recurrence {
                freq: Freq::Weekly, interval: 1, by_weekday: vec![Weekday::Mo], count: Some(3), until: None,
            }),
            hub_endpoint_id: None,
            endpoint_ids: Vec::new(),
            unit_queries: Vec::new(),
            chair_user_id: None,
            secretary_user_id: None,
            expected_people: None,
            quorum_percent: None,
            access_policy: None,
            mute_on_entry: None,
            body_id: None,
            members: Vec::new(),
        };
        let series = meetings.create(&operator(), plan).await.unwrap();
        let numbers: Vec<String> = series.iter().map(|m| m.sip_dial_in.clone().expect("a number")).collect();
        assert_eq!(numbers, ["700001", "700002", "700003"]);
        let found = meetings.by_dial_in("700002").await.unwrap().expect("found by its number");
        assert_eq!(found.id, series[1].id);
        for bad in ["700009", "", "7000a1", "1234567890123", "700001 OR 1=1"] {
            assert!(meetings.by_dial_in(bad).await.unwrap().is_none(), "{bad:?}");
        }
        let ics = meetings.ics(&series[..1]).await.unwrap();
        assert!(ics.contains("X-DIEMCAU-SIP-DIAL-IN:700001"));
        let json = serde_json::to_value(&series[0]).unwrap();
        assert_eq!(json["sip_dial_in"], "700001");
    }
}

both_backends! {
    async fn an_operator_issues_a_rooms_sip_password_over_the_api_shown_once_and_kept_as_hashes(db) {
        let w = crate::support::api::world(db).await;
        let op = w.as_role("operator");
        let ep = w.endpoint("a");
        let r = op.post(&format!("/api/v1/endpoints/{ep}/sip-password"), serde_json::json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let (user, pw, realm) = (
            r.body["sip_user"].as_str().unwrap().to_string(),
            r.body["password"].as_str().unwrap().to_string(),
            r.body["realm"].as_str().unwrap().to_string(),
        );
        assert!(pw.len() >= 16, "{pw}");
        let acct = Endpoints::new(w.db.store.clone()).sip_account(&user).await.unwrap().expect("the account");
        assert_eq!(acct.endpoint_id, ep);
        assert_eq!(acct.ha1_md5, ha1(Algorithm::Md5, &user, &realm, &pw));
        // The audit log names the account, never the password.
        let audit = w.admin().get("/api/v1/audit?limit=500").await;
        assert!(audit.text.contains("endpoint.sip_password"), "{}", audit.text);
        assert!(!audit.text.contains(&pw));
        // An endpoint that does not exist, and a delegate: refused.
        let none = op.post("/api/v1/endpoints/ep_nope/sip-password", serde_json::json!({})).await;
        assert_eq!(none.status, 404, "{}", none.text);
        let delegate = w.as_role("delegate").post(&format!("/api/v1/endpoints/{ep}/sip-password"), serde_json::json!({})).await;
        assert_eq!(delegate.status, 403, "{}", delegate.text);
    }
}
