//! `diemcau demo`: a small province to try the control plane on — units,
//! room endpoints (one per unit, plus the hub), and a meeting that is open
//! now — next to the join-token `demo` room.
//!
//! Seeded once per data directory; every start rotates the endpoints'
//! tokens (a token is only ever shown when issued) so the banner can print
//! a working room link for each endpoint.

use crate::control::endpoints::{EndpointDetails, Endpoints, LinkProfile};
use crate::control::meetings::{MeetingDraft, MeetingKind, MeetingState, Meetings, UnitQuery};
use crate::control::org::{NewUnit, OrgError, OrgKind, OrgTree};
use crate::store::{Actor, Store, date, now_ms};

/// The demo province's unit code (codes are never reused, so this marks it).
const PROVINCE_CODE: &str = "DEMO";

/// A room a person can open, for the banner.
pub struct DemoRoom {
    pub name: String,
    pub endpoint_id: String,
    pub token: String,
    /// Its SIP user and password, issued by [`seed_sip`] when SIP is on.
    pub sip: Option<(String, String)>,
}

pub struct DemoProvince {
    pub meeting_id: String,
    pub meeting_title: String,
    /// The number a SIP room codec dials for the meeting.
    pub sip_dial_in: Option<String>,
    pub rooms: Vec<DemoRoom>,
}

fn actor() -> Actor {
    Actor {
        id: "demo".into(),
        name: "diemcau demo".into(),
        address: None,
    }
}

/// Seed (first run) and refresh (every run) the demo province.
pub async fn seed(store: &Store) -> anyhow::Result<DemoProvince> {
    let actor = actor();
    let tree = OrgTree::new(store.clone());
    let endpoints = Endpoints::new(store.clone());
    let from = date::parse("2025-07-01").map_err(anyhow::Error::msg)?;
    let province = match tree.unit_by_code(PROVINCE_CODE).await {
        Ok(p) => p,
        Err(OrgError::UnknownUnit(_)) => {
            let p = tree
                .create(
                    &actor,
                    NewUnit {
                        code: PROVINCE_CODE.into(),
                        name: "Tỉnh Mẫu (trình diễn)".into(),
                        kind: OrgKind::Province,
                        parent_id: None,
                    },
                    from,
                )
                .await?;
            let units = [
                (
                    "DEMO-01",
                    "Xã Tân Phú",
                    OrgKind::Commune,
                    LinkProfile::FourG,
                ),
                (
                    "DEMO-02",
                    "Xã An Bình",
                    OrgKind::Commune,
                    LinkProfile::ThreeG,
                ),
                (
                    "DEMO-03",
                    "Phường Đông Thành",
                    OrgKind::Ward,
                    LinkProfile::Fibre,
                ),
                (
                    "DEMO-04",
                    "Đặc khu Hòn Ngư",
                    OrgKind::SpecialZone,
                    LinkProfile::Vsat,
                ),
                (
                    "DEMO-05",
                    "Đảng ủy Công an tỉnh",
                    OrgKind::Sector,
                    LinkProfile::Fibre,
                ),
            ];
            endpoints
                .create(
                    &actor,
                    EndpointDetails {
                        name: "Hội trường Tỉnh ủy".into(),
                        room: "Hội trường A, tầng 2".into(),
                        technician_name: "Kỹ thuật viên trực".into(),
                        technician_phone: "0912 000 001".into(),
                        link: LinkProfile::Fibre,
                    },
                    &p.id,
                    from,
                )
                .await?;
            for (code, name, kind, link) in units {
                let u = tree
                    .create(
                        &actor,
                        NewUnit {
                            code: code.into(),
                            name: name.into(),
                            kind,
                            parent_id: Some(p.id.clone()),
                        },
                        from,
                    )
                    .await?;
                endpoints
                    .create(
                        &actor,
                        EndpointDetails {
                            name: format!("Điểm cầu {name}"),
                            room: "Phòng họp trực tuyến".into(),
                            technician_name: "Kỹ thuật viên trực".into(),
                            technician_phone: "0912 000 002".into(),
                            link,
                        },
                        &u.id,
                        from,
                    )
                    .await?;
            }
            p
        }
        Err(e) => return Err(e.into()),
    };

    // Today's meeting: open from now for eight hours (a new one each day).
    let meetings = Meetings::new(store.clone());
    let hub = endpoints
        .bound_to(&province.id, crate::api::v1::today())
        .await?
        .into_iter()
        .next();
    let now = now_ms();
    let title = "Giao ban trực tuyến (trình diễn)";
    let existing = meetings
        .list(&crate::control::meetings::MeetingFilter {
            from_ms: Some(now),
            ..Default::default()
        })
        .await?
        .into_iter()
        .find(|m| m.title == title && matches!(m.state, MeetingState::Open | MeetingState::Live));
    let meeting = match existing {
        Some(m) => m,
        None => {
            let made = meetings
                .create(
                    &actor,
                    MeetingDraft {
                        title: title.into(),
                        kind: MeetingKind::GiaoBan,
                        description: "Cuộc họp mẫu để thử điều hành: điểm danh, tắt tiếng, \
                                      sân khấu, đăng ký phát biểu."
                            .into(),
                        starts_at_ms: now + 60_000,
                        ends_at_ms: now + 8 * 3_600_000,
                        recurrence: None,
                        hub_endpoint_id: hub.as_ref().map(|h| h.id.clone()),
                        endpoint_ids: Vec::new(),
                        unit_queries: vec![UnitQuery {
                            unit_id: province.id.clone(),
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
                .await?;
            let m = made.into_iter().next().expect("one meeting made");
            meetings.open(&actor, &m.id).await?
        }
    };
    closed_meeting(store, &actor, hub.as_ref().map(|h| h.id.clone()), now).await?;
    let mut rooms = Vec::new();
    for p in meetings.participants(&meeting.id).await? {
        let token = endpoints.rotate_token(&actor, &p.endpoint_id).await?;
        rooms.push(DemoRoom {
            name: p.endpoint_name,
            endpoint_id: p.endpoint_id,
            token: token.expose().to_string(),
            sip: None,
        });
    }
    Ok(DemoProvince {
        meeting_id: meeting.id,
        meeting_title: meeting.title,
        sip_dial_in: meeting.sip_dial_in,
        rooms,
    })
}

/// Every demo room a SIP password under `realm` (rotated each start, like
/// the tokens), so the banner can print a dial string for a SIP client.
pub async fn seed_sip(
    store: &Store,
    province: &mut DemoProvince,
    realm: &str,
) -> anyhow::Result<()> {
    let endpoints = Endpoints::new(store.clone());
    for r in &mut province.rooms {
        let (user, password) = endpoints
            .issue_sip_password(&actor(), &r.endpoint_id, realm)
            .await?;
        r.sip = Some((user, password.expose().to_string()));
    }
    Ok(())
}

/// The Standing Committee of the demo province and a closed meeting of it
/// planned for the hub alone: the demo's communes cannot open it, its
/// documents or its votes (every refusal is audited); an admin names its
/// members in the console (people are never seeded: no default password).
async fn closed_meeting(
    store: &Store,
    actor: &Actor,
    hub: Option<String>,
    now: i64,
) -> anyhow::Result<()> {
    use crate::control::bodies::{Bodies, BodyDraft, BodyKind};
    let bodies = Bodies::new(store.clone());
    let name = "Ban Thường vụ Tỉnh ủy Mẫu (trình diễn)";
    let body = match bodies.list().await?.into_iter().find(|b| b.name == name) {
        Some(b) => b,
        None => {
            bodies
                .create(
                    actor,
                    BodyDraft {
                        name: name.into(),
                        kind: BodyKind::Btv,
                        term: "khóa XV, nhiệm kỳ 2025–2030".into(),
                    },
                )
                .await?
        }
    };
    let meetings = Meetings::new(store.clone());
    let title = "Hội nghị Ban Thường vụ (họp kín, trình diễn)";
    let planned = meetings
        .list(&crate::control::meetings::MeetingFilter {
            from_ms: Some(now),
            ..Default::default()
        })
        .await?
        .into_iter()
        .any(|m| m.title == title);
    if !planned {
        meetings
            .create(
                actor,
                MeetingDraft {
                    title: title.into(),
                    kind: MeetingKind::Btv,
                    description: "Họp kín: chỉ điểm cầu chủ trì và thành viên Ban Thường vụ \
                                  được xem, nghe, đọc tài liệu và biểu quyết."
                        .into(),
                    starts_at_ms: now + 2 * 3_600_000,
                    ends_at_ms: now + 4 * 3_600_000,
                    recurrence: None,
                    hub_endpoint_id: hub,
                    endpoint_ids: Vec::new(),
                    unit_queries: Vec::new(),
                    chair_user_id: None,
                    secretary_user_id: None,
                    expected_people: None,
                    quorum_percent: None,
                    access_policy: None,
                    mute_on_entry: None,
                    body_id: Some(body.id),
                    members: Vec::new(),
                },
            )
            .await?;
    }
    Ok(())
}
