//! Meetings on both backends: planning and re-planning, series in local
//! time, the lifecycle and its refusals, opening by the clock, participants
//! resolved as of each meeting's date across the 2025 reorganisation,
//! sub-operator scope, and the iCalendar export.

use std::collections::HashMap;

use diemcau::control::endpoints::{Endpoint, EndpointDetails, Endpoints, LinkProfile};
use diemcau::control::meetings::{
    Freq, LOCAL_OFFSET, Meeting, MeetingDraft, MeetingError, MeetingFilter, MeetingKind,
    MeetingState, Meetings, ParticipantVia, Recurrence, ResolvedParticipant, UnitQuery, Weekday,
    ics_for,
};
use diemcau::control::org::{MergeTarget, NewUnit, OrgKind, OrgTree, OrgUnit};
use diemcau::control::people::{People, Role, UserDetails};
use diemcau::store::audit;
use time::PrimitiveDateTime;
use time::macros::datetime;

use crate::support::db::{audit_count, both_backends, d, operator};

const HOUR: i64 = 3_600_000;

/// Unix ms of a wall-clock time in the province (UTC+07:00).
fn local(t: PrimitiveDateTime) -> i64 {
    (t.assume_offset(LOCAL_OFFSET).unix_timestamp_nanos() / 1_000_000) as i64
}

fn draft(title: &str, starts_at_ms: i64) -> MeetingDraft {
    MeetingDraft {
        title: title.into(),
        kind: MeetingKind::GiaoBan,
        description: String::new(),
        starts_at_ms,
        ends_at_ms: starts_at_ms + 2 * HOUR,
        recurrence: None,
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
    }
}

fn query(unit: &OrgUnit, kinds: &[OrgKind], include_self: bool) -> UnitQuery {
    UnitQuery {
        unit_id: unit.id.clone(),
        kinds: kinds.to_vec(),
        include_self,
    }
}

/// A province with two communes (merged into a third on 2025-07-01 by the
/// tests that need it) and the police committee, one room in each.
struct Province {
    org: OrgTree,
    p: OrgUnit,
    a: OrgUnit,
    b: OrgUnit,
    hub: Endpoint,
    room_a: Endpoint,
    room_b: Endpoint,
    room_police: Endpoint,
}

async fn unit(
    org: &OrgTree,
    code: &str,
    name: &str,
    kind: OrgKind,
    parent: Option<&OrgUnit>,
) -> OrgUnit {
    let new = NewUnit {
        code: code.into(),
        name: name.into(),
        kind,
        parent_id: parent.map(|p| p.id.clone()),
    };
    org.create(&operator(), new, d("2000-01-01"))
        .await
        .unwrap_or_else(|e| panic!("create {code}: {e}"))
}

async fn room(eps: &Endpoints, name: &str, unit: &OrgUnit) -> Endpoint {
    let details = EndpointDetails {
        name: name.into(),
        room: "Phòng họp trực tuyến, tầng 2".into(),
        technician_name: "Lê Thị Hoa".into(),
        technician_phone: "0912 345 678".into(),
        link: LinkProfile::FourG,
    };
    eps.create(&operator(), details, &unit.id, d("2020-01-01"))
        .await
        .unwrap()
        .0
}

async fn province(store: &diemcau::store::Store) -> Province {
    let org = OrgTree::new(store.clone());
    let eps = Endpoints::new(store.clone());
    let p = unit(&org, "45", "Tỉnh Quảng Trị", OrgKind::Province, None).await;
    let a = unit(&org, "19333", "Xã Triệu Thượng", OrgKind::Commune, Some(&p)).await;
    let b = unit(&org, "19336", "Xã Triệu Ái", OrgKind::Commune, Some(&p)).await;
    let police = unit(
        &org,
        "45-CA",
        "Đảng ủy Công an tỉnh",
        OrgKind::Sector,
        Some(&p),
    )
    .await;
    let hub = room(&eps, "Hội trường Tỉnh ủy", &p).await;
    let room_a = room(&eps, "Điểm cầu xã Triệu Thượng", &a).await;
    let room_b = room(&eps, "Điểm cầu xã Triệu Ái", &b).await;
    let room_police = room(&eps, "Điểm cầu Công an tỉnh", &police).await;
    Province {
        org,
        p,
        a,
        b,
        hub,
        room_a,
        room_b,
        room_police,
    }
}

async fn user(store: &diemcau::store::Store, login: &str, roles: &[Role]) -> String {
    let details = UserDetails {
        display_name: login.into(),
        roles: roles.iter().copied().collect(),
        scope_unit_id: None,
    };
    People::new(store.clone())
        .create(&operator(), login, details, "Hội nghị 2025 an toàn")
        .await
        .unwrap()
        .id
}

fn ids(ps: &[ResolvedParticipant]) -> Vec<&str> {
    ps.iter().map(|p| p.endpoint_id.as_str()).collect()
}

fn field_of(result: Result<Vec<Meeting>, MeetingError>) -> String {
    match result {
        Err(MeetingError::Invalid { field, .. }) => field,
        other => panic!("expected a field error, got {other:?}"),
    }
}

both_backends! {
    async fn meetings_are_created_read_listed_and_updated_with_an_audit_record_each(db) {
        let pv = province(&db.store).await;
        let meetings = Meetings::new(db.store.clone());
        let chair = user(&db.store, "chutich", &[Role::Chair, Role::Delegate]).await;
        let secretary = user(&db.store, "thuky", &[Role::Secretary]).await;
        let before = audit_count(&db.store).await;

        let start = local(datetime!(2025-09-15 08:00));
        let mut plan = draft("  Hội nghị Ban Chấp hành Đảng bộ tỉnh lần thứ 5  ", start);
        plan.kind = MeetingKind::Bch;
        plan.description = "Thảo luận dự thảo Nghị quyết".into();
        plan.hub_endpoint_id = Some(pv.hub.id.clone());
        plan.endpoint_ids = vec![pv.room_police.id.clone()];
        plan.unit_queries = vec![query(&pv.p, &[OrgKind::Commune], false)];
        plan.chair_user_id = Some(chair.clone());
        plan.secretary_user_id = Some(secretary.clone());
        plan.expected_people = Some(52);
        let made = meetings.create(&operator(), plan.clone()).await.unwrap();
        assert_eq!(made.len(), 1);
        let m = &made[0];
        assert_eq!(m.title, "Hội nghị Ban Chấp hành Đảng bộ tỉnh lần thứ 5", "the title is trimmed");
        assert_eq!((m.state, m.series_id.as_deref(), m.occurrence), (MeetingState::Scheduled, None, 1));
        assert_eq!((m.quorum_percent, m.expected_people, m.sequence), (67, Some(52), 0));
        assert_eq!(m.local_date, d("2025-09-15"));
        assert_eq!(m.endpoint_ids, plan.endpoint_ids);
        assert_eq!(m.unit_queries, plan.unit_queries);
        assert_eq!(m.created_by, operator().id);
        assert_eq!(meetings.get(&m.id).await.unwrap(), *m);
        assert!(matches!(meetings.get("mtg_nope").await, Err(MeetingError::Unknown(_))));

        let log = audit::list(&db.store, before, 100).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!((log[0].action.as_str(), log[0].target.clone()), ("meeting.create", format!("meeting:{}", m.id)));

        let other = meetings.create(&operator(), draft("Giao ban tuần", start + 48 * HOUR)).await.unwrap().remove(0);
        let all = meetings.list(&MeetingFilter::default()).await.unwrap();
        assert_eq!(all.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(), [m.id.as_str(), other.id.as_str()], "by start");
        let window = MeetingFilter { from_ms: Some(start + HOUR), to_ms: Some(start + 24 * HOUR), ..Default::default() };
        assert_eq!(meetings.list(&window).await.unwrap(), std::slice::from_ref(m), "a meeting running at from_ms is listed");
        let later = MeetingFilter { from_ms: Some(start + 3 * HOUR), ..Default::default() };
        assert_eq!(meetings.list(&later).await.unwrap()[0].id, other.id);
        let too_many = MeetingFilter { limit: Some(501), ..Default::default() };
        assert!(matches!(meetings.list(&too_many).await, Err(MeetingError::Invalid { field, .. }) if field == "limit"));

        let mut edit = m.draft();
        edit.title = "Hội nghị Ban Chấp hành (mở rộng)".into();
        edit.endpoint_ids = vec![pv.room_a.id.clone(), pv.room_police.id.clone()];
        edit.unit_queries = vec![];
        edit.quorum_percent = Some(50);
        let updated = meetings.update(&operator(), &m.id, edit).await.unwrap();
        assert_eq!(updated.title, "Hội nghị Ban Chấp hành (mở rộng)");
        assert_eq!(updated.endpoint_ids, [pv.room_a.id.clone(), pv.room_police.id.clone()]);
        assert!(updated.unit_queries.is_empty());
        assert_eq!((updated.quorum_percent, updated.sequence), (50, 1));
        assert_eq!(meetings.get(&m.id).await.unwrap(), updated);
        let last = audit::list(&db.store, 0, 1000).await.unwrap().pop().unwrap();
        assert_eq!(last.action, "meeting.update");

        // An edit may not turn a one-off into a series, nor edit an ended meeting.
        let mut series = updated.draft();
        series.recurrence = Some(Recurrence { freq: Freq::Daily, interval: 1, by_weekday: vec![], count: Some(3), until: None });
        let err = meetings.update(&operator(), &m.id, series).await.unwrap_err();
        assert!(matches!(&err, MeetingError::Invalid { field, .. } if field == "recurrence"), "{err:?}");
        meetings.open(&operator(), &m.id).await.unwrap();
        meetings.update(&operator(), &m.id, updated.draft()).await.expect("an open meeting is still editable");
        meetings.start(&operator(), &m.id).await.unwrap();
        meetings.end(&operator(), &m.id).await.unwrap();
        let records = audit_count(&db.store).await;
        let err = meetings.update(&operator(), &m.id, updated.draft()).await.unwrap_err();
        assert!(matches!(err, MeetingError::NotEditable { state: MeetingState::Ended, .. }), "{err:?}");
        assert_eq!(audit_count(&db.store).await, records);
    }
}

both_backends! {
    async fn meetings_refuse_every_illegal_transition_and_change_nothing(db) {
        use MeetingState::*;
        let meetings = Meetings::new(db.store.clone());
        let start = local(datetime!(2025-09-15 08:00));
        // One meeting in each state.
        let mut in_state = HashMap::new();
        for (i, state) in MeetingState::ALL.into_iter().enumerate() {
            let m = meetings.create(&operator(), draft(&format!("Hội nghị {i}"), start)).await.unwrap().remove(0);
            let path: &[MeetingState] = match state {
                Scheduled => &[],
                Open => &[Open],
                Live => &[Open, Live],
                Ended => &[Open, Live, Ended],
                Cancelled => &[Cancelled],
            };
            for step in path {
                match step {
                    Open => meetings.open(&operator(), &m.id).await.map(|_| ()),
                    Live => meetings.start(&operator(), &m.id).await.map(|_| ()),
                    Ended => meetings.end(&operator(), &m.id).await.map(|_| ()),
                    _ => meetings.cancel(&operator(), &m.id, false).await.map(|_| ()),
                }
                .unwrap();
            }
            let m = meetings.get(&m.id).await.unwrap();
            assert_eq!(m.state, state);
            in_state.insert(state, m);
        }
        let ended = &in_state[&Ended];
        assert!(ended.opened_at_ms.is_some() && ended.started_at_ms.is_some() && ended.ended_at_ms.is_some());
        assert!(in_state[&Cancelled].cancelled_at_ms.is_some());

        let mut refused = 0;
        for (from, m) in &in_state {
            for to in [Open, Live, Ended, Cancelled] {
                if from.can_become(to) {
                    continue;
                }
                let records = audit::list(&db.store, 0, 10_000).await.unwrap().len();
                let result = match to {
                    Open => meetings.open(&operator(), &m.id).await.map(|_| ()),
                    Live => meetings.start(&operator(), &m.id).await.map(|_| ()),
                    Ended => meetings.end(&operator(), &m.id).await.map(|_| ()),
                    _ => meetings.cancel(&operator(), &m.id, true).await.map(|_| ()),
                };
                match result {
                    Err(MeetingError::IllegalTransition { id, from: f, to: t }) => {
                        assert_eq!((id.as_str(), f, t), (m.id.as_str(), *from, to));
                    }
                    other => panic!("{from} → {to}: {other:?}"),
                }
                assert_eq!(audit::list(&db.store, 0, 10_000).await.unwrap().len(), records, "{from} → {to}");
                assert_eq!(meetings.get(&m.id).await.unwrap(), *m, "{from} → {to} changed the meeting");
                refused += 1;
            }
        }
        assert_eq!(refused, 15, "20 pairs, 5 legal");
        let err = meetings.open(&operator(), "mtg_nope").await.unwrap_err();
        assert!(matches!(err, MeetingError::Unknown(_)), "{err:?}");
    }
}

both_backends! {
    async fn meetings_weekly_series_on_monday_and_thursday_at_eight_local_makes_six_meetings(db) {
        let meetings = Meetings::new(db.store.clone());
        let mut plan = draft("Giao ban Thường trực Tỉnh ủy", local(datetime!(2025-09-01 08:00)));
        plan.recurrence = Some(Recurrence {
            freq: Freq::Weekly, interval: 1, by_weekday: vec![Weekday::Mo, Weekday::Th], count: Some(6), until: None,
        });
        let series = meetings.create(&operator(), plan).await.unwrap();
        let starts: Vec<i64> = series.iter().map(|m| m.starts_at_ms).collect();
        // 08:00 in the province is 01:00 UTC.
        assert_eq!(starts, [
            1_756_688_400_000, // Mon 2025-09-01
            1_756_947_600_000, // Thu 2025-09-04
            1_757_293_200_000, // Mon 2025-09-08
            1_757_552_400_000, // Thu 2025-09-11
            1_757_898_000_000, // Mon 2025-09-15
            1_758_157_200_000, // Thu 2025-09-18
        ]);
        assert!(series.iter().all(|m| m.ends_at_ms - m.starts_at_ms == 2 * HOUR));
        let series_id = series[0].series_id.clone().expect("a series id");
        assert!(series.iter().all(|m| m.series_id.as_deref() == Some(series_id.as_str())));
        assert_eq!(series.iter().map(|m| m.occurrence).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
        assert!(series.iter().all(|m| m.recurrence.as_ref().is_some_and(|r| r.count == Some(6))));
        let listed = meetings.list(&MeetingFilter { series_id: Some(series_id), ..Default::default() }).await.unwrap();
        assert_eq!(listed, series);
        assert_eq!(audit_count(&db.store).await, 6, "one record per meeting");
    }
}

both_backends! {
    async fn meetings_cancelling_a_series_from_its_third_leaves_the_first_two_and_live_ones_alone(db) {
        use MeetingState::*;
        let meetings = Meetings::new(db.store.clone());
        let mut plan = draft("Giao ban hằng tuần", local(datetime!(2025-09-01 08:00)));
        plan.recurrence = Some(Recurrence { freq: Freq::Weekly, interval: 1, by_weekday: vec![], count: Some(6), until: None });
        let s = meetings.create(&operator(), plan).await.unwrap();
        meetings.open(&operator(), &s[3].id).await.unwrap();
        meetings.open(&operator(), &s[4].id).await.unwrap();
        meetings.start(&operator(), &s[4].id).await.unwrap();

        let cancelled = meetings.cancel(&operator(), &s[2].id, true).await.unwrap();
        let got: Vec<u32> = cancelled.iter().map(|m| m.occurrence).collect();
        assert_eq!(got, [3, 4, 6], "the live fifth is left alone");
        assert!(cancelled.iter().all(|m| m.state == Cancelled && m.sequence == 1 && m.cancelled_at_ms.is_some()));
        let states: Vec<MeetingState> = meetings
            .list(&MeetingFilter { series_id: s[0].series_id.clone(), ..Default::default() })
            .await
            .unwrap()
            .iter()
            .map(|m| m.state)
            .collect();
        assert_eq!(states, [Scheduled, Scheduled, Cancelled, Cancelled, Live, Cancelled]);

        // Without whole_series only that one goes.
        let one = meetings.cancel(&operator(), &s[0].id, false).await.unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(meetings.get(&s[1].id).await.unwrap().state, Scheduled);
    }
}

both_backends! {
    async fn meetings_open_due_opens_only_what_is_due_once_even_when_racing(db) {
        use MeetingState::*;
        let meetings = Meetings::new(db.store.clone());
        let t = local(datetime!(2025-09-15 08:00));
        let mk = |title: &'static str, start: i64| {
            let meetings = meetings.clone();
            async move { meetings.create(&operator(), draft(title, start)).await.unwrap().remove(0) }
        };
        let due = mk("Đến giờ", t).await;
        let later = mk("Một giờ sau", t + HOUR).await;
        let missed = mk("Đã qua", t - 5 * HOUR).await;
        let cancelled = mk("Đã hủy", t).await;
        meetings.cancel(&operator(), &cancelled.id, false).await.unwrap();
        let lead = 15 * 60_000;

        assert!(meetings.open_due(&operator(), t - 20 * 60_000, lead).await.unwrap().is_empty(), "too early");
        let opened = meetings.open_due(&operator(), t - 10 * 60_000, lead).await.unwrap();
        assert_eq!(opened.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), [due.id.as_str()]);
        assert_eq!((opened[0].state, opened[0].opened_at_ms), (Open, Some(t - 10 * 60_000)));
        let records = audit_count(&db.store).await;
        assert!(meetings.open_due(&operator(), t - 10 * 60_000, lead).await.unwrap().is_empty(), "idempotent");
        assert_eq!(audit_count(&db.store).await, records);

        // Two nodes at once: the later meeting opens exactly once.
        let now = t + HOUR - 60_000;
        let actor = operator();
        let (x, y) = tokio::join!(meetings.open_due(&actor, now, lead), meetings.open_due(&actor, now, lead));
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x.len() + y.len(), 1, "{x:?} {y:?}");
        assert_eq!(x.iter().chain(&y).next().unwrap().id, later.id);
        assert_eq!(audit_count(&db.store).await, records + 1);
        assert_eq!(meetings.get(&missed.id).await.unwrap().state, Scheduled, "a meeting that already ended is not opened");
        assert_eq!(meetings.get(&cancelled.id).await.unwrap().state, Cancelled);
        assert_eq!(meetings.get(&due.id).await.unwrap().state, Open);
    }
}

both_backends! {
    async fn meetings_before_the_merge_reach_the_old_communes_and_after_it_the_merged_one(db) {
        let pv = province(&db.store).await;
        let meetings = Meetings::new(db.store.clone());
        let mut plan = draft("Quán triệt Nghị quyết", 0);
        plan.kind = MeetingKind::QuanTriet;
        plan.hub_endpoint_id = Some(pv.hub.id.clone());
        plan.unit_queries = vec![query(&pv.p, &[OrgKind::Commune], false)];
        let on = |start: i64| {
            let mut p = plan.clone();
            p.starts_at_ms = start;
            p.ends_at_ms = start + 3 * HOUR;
            p
        };
        let june = meetings.create(&operator(), on(local(datetime!(2025-06-20 08:00)))).await.unwrap().remove(0);
        let july = meetings.create(&operator(), on(local(datetime!(2025-07-10 08:00)))).await.unwrap().remove(0);
        // 06:00 on 1 July in the province is still 30 June in UTC: the local date counts.
        let dawn = meetings.create(&operator(), on(local(datetime!(2025-07-01 06:00)))).await.unwrap().remove(0);

        let c = pv.org
            .merge(&operator(), &[&pv.a.id, &pv.b.id], MergeTarget::New(NewUnit {
                code: "19334".into(), name: "Xã Ái Tử".into(), kind: OrgKind::Commune, parent_id: Some(pv.p.id.clone()),
            }), d("2025-07-01"))
            .await
            .unwrap();

        let before = meetings.participants(&june.id).await.unwrap();
        let units: Vec<(&str, Option<&str>, Option<&str>)> = before
            .iter()
            .map(|p| (p.endpoint_id.as_str(), p.unit_code.as_deref(), p.unit_name.as_deref()))
            .collect();
        assert_eq!(units, [
            (pv.room_a.id.as_str(), Some("19333"), Some("Xã Triệu Thượng")),
            (pv.room_b.id.as_str(), Some("19336"), Some("Xã Triệu Ái")),
            (pv.hub.id.as_str(), Some("45"), Some("Tỉnh Quảng Trị")),
        ], "ordered by unit code");
        assert_eq!(before[0].via, ParticipantVia::UnitQuery { query_unit_id: pv.p.id.clone() });
        assert_eq!(before[2].via, ParticipantVia::Hub);

        for m in [&july, &dawn] {
            let after = meetings.participants(&m.id).await.unwrap();
            let mut communes: Vec<(&str, Option<&str>)> = after
                .iter()
                .filter(|p| p.endpoint_id != pv.hub.id)
                .map(|p| (p.endpoint_id.as_str(), p.unit_id.as_deref()))
                .collect();
            communes.sort();
            let mut want = vec![(pv.room_a.id.as_str(), Some(c.id.as_str())), (pv.room_b.id.as_str(), Some(c.id.as_str()))];
            want.sort();
            assert_eq!(communes, want, "both rooms followed the merge into {} for {}", c.code, m.local_date);
            assert!(after.iter().filter(|p| p.endpoint_id != pv.hub.id).all(|p| p.unit_name.as_deref() == Some("Xã Ái Tử")));
        }
        assert_eq!(dawn.local_date, d("2025-07-01"));
        // A query on a commune merged away answers for its successor.
        let mut old = on(local(datetime!(2025-07-10 08:00)));
        old.hub_endpoint_id = None;
        old.unit_queries = vec![query(&pv.a, &[], true)];
        let via_old = meetings.preview_participants(&old).await.unwrap();
        assert_eq!(via_old.len(), 2, "{via_old:?}");
    }
}

both_backends! {
    async fn meetings_unit_queries_filter_by_kind_include_self_and_yield_to_explicit_rooms(db) {
        let pv = province(&db.store).await;
        let meetings = Meetings::new(db.store.clone());
        let start = local(datetime!(2025-09-15 08:00));
        let resolve = |queries: Vec<UnitQuery>, explicit: Vec<String>| {
            let meetings = meetings.clone();
            let mut plan = draft("Hội nghị chuyên đề", start);
            plan.unit_queries = queries;
            plan.endpoint_ids = explicit;
            async move {
                let m = meetings.create(&operator(), plan).await.unwrap().remove(0);
                meetings.participants(&m.id).await.unwrap()
            }
        };
        let communes = resolve(vec![query(&pv.p, &[OrgKind::Commune], false)], vec![]).await;
        assert_eq!(ids(&communes), [pv.room_a.id.as_str(), pv.room_b.id.as_str()]);
        let police_only = resolve(vec![query(&pv.p, &[OrgKind::Sector], false)], vec![]).await;
        assert_eq!(ids(&police_only), [pv.room_police.id.as_str()]);
        let everything = resolve(vec![query(&pv.p, &[], true)], vec![]).await;
        assert_eq!(
            ids(&everything),
            [pv.room_a.id.as_str(), pv.room_b.id.as_str(), pv.hub.id.as_str(), pv.room_police.id.as_str()],
            "codes 19333 < 19336 < 45 < 45-CA"
        );
        let mixed = resolve(
            vec![query(&pv.p, &[OrgKind::Commune], false), query(&pv.a, &[], true)],
            vec![pv.room_a.id.clone()],
        )
        .await;
        assert_eq!(ids(&mixed), [pv.room_a.id.as_str(), pv.room_b.id.as_str()], "each room once");
        assert_eq!(mixed[0].via, ParticipantVia::Explicit, "explicit wins over a unit query");
        assert_eq!(mixed[0].unit_id.as_deref(), Some(pv.a.id.as_str()));
        assert_eq!(mixed[1].via, ParticipantVia::UnitQuery { query_unit_id: pv.p.id.clone() });
        assert_eq!(mixed[1].link, LinkProfile::FourG);
    }
}

both_backends! {
    async fn meetings_bad_drafts_name_the_field_and_write_nothing(db) {
        let pv = province(&db.store).await;
        let meetings = Meetings::new(db.store.clone());
        let operator_only = user(&db.store, "dieuhanh", &[Role::Operator]).await;
        let secretary = user(&db.store, "thuky", &[Role::Secretary]).await;
        People::new(db.store.clone()).set_disabled(&operator(), &secretary, true).await.unwrap();
        let records = audit_count(&db.store).await;
        let start = local(datetime!(2025-09-15 08:00));
        let good = || {
            let mut p = draft("Hội nghị Ban Thường vụ", start);
            p.kind = MeetingKind::Btv;
            p.hub_endpoint_id = Some(pv.hub.id.clone());
            p.endpoint_ids = vec![pv.room_a.id.clone()];
            p.unit_queries = vec![query(&pv.p, &[OrgKind::Commune], false)];
            p
        };
        let cases: Vec<(&str, MeetingDraft)> = vec![
            ("ends_at_ms", { let mut p = good(); p.ends_at_ms = start - HOUR; p }),
            ("starts_at_ms", { let mut p = good(); p.starts_at_ms = 1_757_898_000; p.ends_at_ms = p.starts_at_ms + 1; p }),
            ("title", { let mut p = good(); p.title = " \n ".into(); p }),
            ("endpoint_ids[1]", { let mut p = good(); p.endpoint_ids.push("ep_nope".into()); p }),
            ("endpoint_ids[1]", { let mut p = good(); p.endpoint_ids.push(pv.room_a.id.clone()); p }),
            ("hub_endpoint_id", { let mut p = good(); p.hub_endpoint_id = Some("ep_nope".into()); p }),
            ("unit_queries[1].unit_id", { let mut p = good(); p.unit_queries.push(UnitQuery { unit_id: "ou_nope".into(), kinds: vec![], include_self: false }); p }),
            ("chair_user_id", { let mut p = good(); p.chair_user_id = Some(operator_only.clone()); p }),
            ("chair_user_id", { let mut p = good(); p.chair_user_id = Some("usr_nope".into()); p }),
            ("secretary_user_id", { let mut p = good(); p.secretary_user_id = Some(secretary.clone()); p }),
            ("recurrence.interval", { let mut p = good(); p.recurrence = Some(Recurrence { freq: Freq::Weekly, interval: 0, by_weekday: vec![], count: Some(3), until: None }); p }),
            ("recurrence", { let mut p = good(); p.recurrence = Some(Recurrence { freq: Freq::Daily, interval: 1, by_weekday: vec![], count: Some(3), until: Some(d("2025-09-30")) }); p }),
            ("quorum_percent", { let mut p = good(); p.quorum_percent = Some(0); p }),
        ];
        for (want, plan) in cases {
            let got = field_of(meetings.create(&operator(), plan).await);
            assert_eq!(got, want);
        }
        // A unit that does not exist yet on the meeting's date.
        let later = pv.org.create(&operator(), NewUnit {
            code: "19999".into(), name: "Phường Mới".into(), kind: OrgKind::Ward, parent_id: Some(pv.p.id.clone()),
        }, d("2026-01-01")).await.unwrap();
        let records = records + 1;
        let mut p = good();
        p.unit_queries = vec![query(&later, &[], true)];
        let err = meetings.create(&operator(), p).await.unwrap_err();
        assert_eq!(err.to_string(), "unit_queries[0].unit_id: unit 19999 does not exist on 2025-09-15");

        assert_eq!(audit_count(&db.store).await, records, "refused drafts write no audit record");
        assert!(meetings.list(&MeetingFilter::default()).await.unwrap().is_empty(), "and no meeting");
        meetings.create(&operator(), good()).await.expect("the good draft itself is accepted");
    }
}

both_backends! {
    async fn meetings_stay_in_a_sub_operators_subtree_as_of_their_date(db) {
        let pv = province(&db.store).await;
        let meetings = Meetings::new(db.store.clone());
        let start = local(datetime!(2025-06-20 08:00));
        let mut own = draft("Giao ban xã", start);
        own.unit_queries = vec![query(&pv.a, &[], true)];
        own.endpoint_ids = vec![pv.room_a.id.clone()];
        assert!(meetings.units_in_scope(&own, &pv.a.id).await.unwrap());
        assert!(meetings.units_in_scope(&own, &pv.p.id).await.unwrap(), "the province contains the commune");
        assert!(!meetings.units_in_scope(&own, &pv.b.id).await.unwrap());

        let mut reach = own.clone();
        reach.endpoint_ids.push(pv.room_b.id.clone());
        assert!(!meetings.units_in_scope(&reach, &pv.a.id).await.unwrap(), "a room of another commune");
        let mut wide = own.clone();
        wide.unit_queries.push(query(&pv.p, &[OrgKind::Commune], false));
        assert!(!meetings.units_in_scope(&wide, &pv.a.id).await.unwrap(), "a query above the scope");
        let mut hub = own.clone();
        hub.hub_endpoint_id = Some(pv.hub.id.clone());
        assert!(!meetings.units_in_scope(&hub, &pv.a.id).await.unwrap(), "the provincial hub is outside a commune");
        let mut ghost = own.clone();
        ghost.unit_queries.push(UnitQuery { unit_id: "ou_nope".into(), kinds: vec![], include_self: false });
        assert!(!meetings.units_in_scope(&ghost, &pv.a.id).await.unwrap());

        // After the merge, commune A's operator acts for the merged commune:
        // B's room is bound to it now, so a July meeting with it is in scope.
        pv.org.merge(&operator(), &[&pv.a.id, &pv.b.id], MergeTarget::New(NewUnit {
            code: "19334".into(), name: "Xã Ái Tử".into(), kind: OrgKind::Commune, parent_id: Some(pv.p.id.clone()),
        }), d("2025-07-01")).await.unwrap();
        let mut july = reach.clone();
        july.starts_at_ms = local(datetime!(2025-07-10 08:00));
        july.ends_at_ms = july.starts_at_ms + HOUR;
        assert!(meetings.units_in_scope(&july, &pv.a.id).await.unwrap());
        assert!(!meetings.units_in_scope(&reach, &pv.a.id).await.unwrap(), "in June they were still two communes");
        // A weekly series across the merge date is checked on every date.
        let mut series = reach.clone();
        series.recurrence = Some(Recurrence { freq: Freq::Weekly, interval: 1, by_weekday: vec![], count: Some(4), until: None });
        let merged_scope = meetings.units_in_scope(&series, &pv.a.id).await.unwrap();
        assert!(!merged_scope, "its June meetings reach commune B");
        // A saved meeting is checked at its own date.
        let saved = meetings.create(&operator(), july.clone()).await.unwrap().remove(0);
        assert!(meetings.units_in_scope(&saved, &pv.a.id).await.unwrap());
    }
}

both_backends! {
    async fn meetings_export_to_icalendar_with_a_vietnamese_title(db) {
        let pv = province(&db.store).await;
        let meetings = Meetings::new(db.store.clone());
        let title = "Hội nghị Ban Chấp hành Đảng bộ tỉnh lần thứ năm, nhiệm kỳ 2025–2030; quán triệt Nghị quyết số 57-NQ/TW";
        let mut plan = draft(title, local(datetime!(2025-09-15 08:00)));
        plan.kind = MeetingKind::Bch;
        plan.description = "Chương trình:\n1. Khai mạc\n2. Thảo luận".into();
        plan.hub_endpoint_id = Some(pv.hub.id.clone());
        plan.unit_queries = vec![query(&pv.p, &[OrgKind::Commune], false)];
        let m = meetings.create(&operator(), plan).await.unwrap().remove(0);
        let ics = meetings.ics(std::slice::from_ref(&m)).await.unwrap();

        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert!(!ics.replace("\r\n", "").contains('\n'), "every line ends in CRLF");
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        }
        let unfolded = ics.replace("\r\n ", "");
        let lines: Vec<&str> = unfolded.split("\r\n").collect();
        let value = |name: &str| {
            lines.iter().find_map(|l| l.strip_prefix(&format!("{name}:"))).unwrap_or_else(|| panic!("no {name}"))
        };
        for required in ["CALSCALE:GREGORIAN", "METHOD:PUBLISH", "BEGIN:VEVENT", "END:VEVENT", "STATUS:CONFIRMED", "SEQUENCE:0"] {
            assert!(lines.contains(&required), "{required}");
        }
        assert_eq!(value("UID"), format!("{}@diemcau", m.id));
        assert_eq!(value("DTSTART"), "20250915T010000Z");
        assert_eq!(value("DTEND"), "20250915T030000Z");
        assert_eq!(
            value("SUMMARY"),
            "Hội nghị Ban Chấp hành Đảng bộ tỉnh lần thứ năm\\, nhiệm kỳ 2025–2030\\; quán triệt Nghị quyết số 57-NQ/TW"
        );
        assert_eq!(value("LOCATION"), "Hội trường Tỉnh ủy – Phòng họp trực tuyến\\, tầng 2");
        let description = value("DESCRIPTION");
        assert!(description.starts_with("Loại: Hội nghị Ban Chấp hành\\n\\nChương trình:\\n1. Khai mạc"), "{description}");
        assert!(description.ends_with("Điểm cầu (3): Điểm cầu xã Triệu Thượng\\, Điểm cầu xã Triệu Ái\\, Hội trường Tỉnh ủy"), "{description}");
        assert!(value("DTSTAMP").ends_with('Z'));

        let cancelled = meetings.cancel(&operator(), &m.id, false).await.unwrap();
        let ics = ics_for(&cancelled, &HashMap::new(), 0);
        assert!(ics.contains("\r\nSTATUS:CANCELLED\r\n") && ics.contains("\r\nSEQUENCE:1\r\n"));
        assert!(ics.contains("\r\nDTSTAMP:19700101T000000Z\r\n"));
    }
}
