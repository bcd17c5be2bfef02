//! The province the API benches load: a province of `communes` communes
//! with one endpoint each, an admin with an API token, and a meeting of all
//! the rooms, open. Shared by `api_load` and `book_download`.

use diemcau::control::endpoints::{EndpointDetails, Endpoints, LinkProfile};
use diemcau::control::org::{NewUnit, OrgKind, OrgTree};
use diemcau::control::people::{People, Role, UserDetails};
use diemcau::store::{Actor, Store};

pub struct Province {
    pub admin_token: String,
    pub units: Vec<String>,
    pub endpoints: Vec<String>,
    pub endpoint_tokens: Vec<String>,
    pub meeting: String,
}

pub async fn seed(store: &Store, communes: usize, title: &str) -> Province {
    let actor = Actor::command_line();
    let tree = OrgTree::new(store.clone());
    let on = diemcau::store::date::parse("2020-01-01").unwrap();
    let p = tree
        .create(
            &actor,
            NewUnit {
                code: "P".into(),
                name: "Tỉnh Thử Nghiệm".into(),
                kind: OrgKind::Province,
                parent_id: None,
            },
            on,
        )
        .await
        .unwrap();
    let eps = Endpoints::new(store.clone());
    let mut units = Vec::with_capacity(communes);
    let mut endpoints = Vec::with_capacity(communes);
    let mut endpoint_tokens = Vec::with_capacity(communes);
    for i in 0..communes {
        let u = tree
            .create(
                &actor,
                NewUnit {
                    code: format!("X{i:03}"),
                    name: format!("Xã Số {i}"),
                    kind: OrgKind::Commune,
                    parent_id: Some(p.id.clone()),
                },
                on,
            )
            .await
            .unwrap();
        let (e, token) = eps
            .create(
                &actor,
                EndpointDetails {
                    name: format!("Điểm cầu xã Số {i}"),
                    room: "Hội trường".into(),
                    technician_name: "Kỹ thuật viên".into(),
                    technician_phone: "0912 000 000".into(),
                    link: LinkProfile::FourG,
                },
                &u.id,
                on,
            )
            .await
            .unwrap();
        units.push(u.id);
        endpoints.push(e.id);
        endpoint_tokens.push(token.expose().to_string());
    }
    let people = People::new(store.clone());
    let user = people
        .create(
            &actor,
            "bench_admin",
            UserDetails {
                display_name: "Bench".into(),
                roles: [Role::Admin].into(),
                scope_unit_id: None,
            },
            "mật khẩu đủ dài cho bench",
        )
        .await
        .unwrap();
    let (_, secret) = people
        .create_api_token(&actor, &user.id, "bench")
        .await
        .unwrap();
    // A meeting of all the rooms, open, so live reads and writes have a room.
    let meetings = diemcau::control::meetings::Meetings::new(store.clone());
    let now = diemcau::store::now_ms();
    let m = meetings
        .create(
            &actor,
            diemcau::control::meetings::MeetingDraft {
                title: title.into(),
                kind: diemcau::control::meetings::MeetingKind::GiaoBan,
                description: String::new(),
                starts_at_ms: now + 60_000,
                ends_at_ms: now + 3_600_000,
                recurrence: None,
                hub_endpoint_id: None,
                endpoint_ids: Vec::new(),
                unit_queries: vec![diemcau::control::meetings::UnitQuery {
                    unit_id: p.id.clone(),
                    kinds: Vec::new(),
                    include_self: false,
                }],
                chair_user_id: None,
                secretary_user_id: None,
                expected_people: None,
                quorum_percent: None,
                access_policy: None,
                mute_on_entry: None,
                body_id: None,
                members: Vec::new(),
            },
        )
        .await
        .unwrap();
    let meeting = m[0].id.clone();
    meetings.open(&actor, &meeting).await.unwrap();
    Province {
        admin_token: secret.expose().to_string(),
        units,
        endpoints,
        endpoint_tokens,
        meeting,
    }
}
