//! The org tree on both backends: dated changes, the 2025 reorganisation,
//! refusals that change nothing, CSV/JSON import and export.

use diemcau::control::endpoints::{EndpointDetails, Endpoints, LinkProfile};
use diemcau::control::org::{
    Ending, ImportError, MergeTarget, NewUnit, OrgError, OrgKind, OrgTree, OrgUnit, UnitAt,
};

use crate::support::db::{audit_count, both_backends, d, operator};

fn codes(units: &[UnitAt]) -> Vec<&str> {
    units.iter().map(|u| u.code.as_str()).collect()
}

async fn unit(
    org: &OrgTree,
    code: &str,
    name: &str,
    kind: OrgKind,
    parent: Option<&OrgUnit>,
    on: &str,
) -> OrgUnit {
    org.create(
        &operator(),
        NewUnit {
            code: code.into(),
            name: name.into(),
            kind,
            parent_id: parent.map(|p| p.id.clone()),
        },
        d(on),
    )
    .await
    .unwrap_or_else(|e| panic!("create {code}: {e}"))
}

fn room(name: &str) -> EndpointDetails {
    EndpointDetails {
        name: name.into(),
        room: "Hội trường UBND xã, tầng 2".into(),
        technician_name: "Lê Thị Hoa".into(),
        technician_phone: "0912 345 678".into(),
        link: LinkProfile::FourG,
    }
}

both_backends! {
    async fn two_communes_merged_on_2025_07_01_resolve_by_date(db) {
        let org = OrgTree::new(db.store.clone());
        let eps = Endpoints::new(db.store.clone());
        let p = unit(&org, "45", "Tỉnh Quảng Trị", OrgKind::Province, None, "2000-01-01").await;
        let a = unit(&org, "19333", "Xã Triệu Thượng", OrgKind::Commune, Some(&p), "2000-01-01").await;
        let b = unit(&org, "19336", "Xã Triệu Ái", OrgKind::Commune, Some(&p), "2000-01-01").await;
        let police = unit(&org, "45-CA", "Đảng ủy Công an tỉnh", OrgKind::Sector, Some(&p), "2000-01-01").await;
        let (ep, _token) = eps.create(&operator(), room("Điểm cầu xã Triệu Thượng"), &a.id, d("2020-03-01")).await.unwrap();

        let merged = org
            .merge(
                &operator(),
                &[&a.id, &b.id],
                MergeTarget::New(NewUnit {
                    code: "19334".into(), name: "Xã Ái Tử".into(), kind: OrgKind::Commune, parent_id: Some(p.id.clone()),
                }),
                d("2025-07-01"),
            )
            .await
            .unwrap();

        let before = org.descendants(&p.id, d("2025-06-30"), &[OrgKind::Commune]).await.unwrap();
        assert_eq!(codes(&before), ["19333", "19336"]);
        let after = org.descendants(&p.id, d("2025-07-02"), &[OrgKind::Commune]).await.unwrap();
        assert_eq!(codes(&after), ["19334"]);
        assert_eq!(after[0].name, "Xã Ái Tử");
        let all_after = org.descendants(&p.id, d("2025-07-02"), &[]).await.unwrap();
        assert_eq!(codes(&all_after), ["19334", "45-CA"], "the police committee is untouched");
        assert_eq!(all_after[1].id, police.id);

        // The endpoint follows its commune into the merged one, keeping its history.
        assert_eq!(eps.unit_at(&ep.id, d("2025-06-30")).await.unwrap().unwrap().id, a.id);
        assert_eq!(eps.unit_at(&ep.id, d("2025-07-02")).await.unwrap().unwrap().id, merged.id);
        let bindings = eps.bindings(&ep.id).await.unwrap();
        assert_eq!(bindings.len(), 2);
        assert_eq!((bindings[0].unit_id.as_str(), bindings[0].valid_to), (a.id.as_str(), Some(d("2025-07-01"))));
        assert_eq!((bindings[1].unit_id.as_str(), bindings[1].valid_from), (merged.id.as_str(), d("2025-07-01")));
        assert_eq!(codes_of(&eps.bound_to(&merged.id, d("2025-07-02")).await.unwrap()), [ep.id.as_str()]);

        // An old commune answers for its successor after the date.
        assert_eq!(org.resolve(&b.id, d("2025-07-02")).await.unwrap().unwrap().id, merged.id);
        assert_eq!(org.resolve(&b.id, d("2025-06-30")).await.unwrap().unwrap().id, b.id);
        let history = org.history(&a.id).await.unwrap();
        assert_eq!(history.unit.ended, Some(Ending::Merged { on: d("2025-07-01"), successor: merged.id.clone() }));
        assert_eq!(history.versions.last().unwrap().valid_to, Some(d("2025-07-01")));
        assert!(org.tree_at(d("2025-07-01")).await.unwrap().iter().all(|u| u.id != a.id));
    }
}

fn codes_of(eps: &[diemcau::control::endpoints::Endpoint]) -> Vec<&str> {
    eps.iter().map(|e| e.id.as_str()).collect()
}

both_backends! {
    async fn merge_into_an_existing_unit_moves_its_sub_units_on_that_date(db) {
        let org = OrgTree::new(db.store.clone());
        let p = unit(&org, "01", "Thành phố Hà Nội", OrgKind::Province, None, "2000-01-01").await;
        let a = unit(&org, "00001", "Phường Phúc Xá", OrgKind::Ward, Some(&p), "2000-01-01").await;
        let b = unit(&org, "00004", "Phường Trúc Bạch", OrgKind::Ward, Some(&p), "2000-01-01").await;
        let cell = unit(&org, "00001-QS", "Chi bộ Quân sự phường", OrgKind::Sector, Some(&a), "2010-05-01").await;
        org.merge(&operator(), &[&a.id], MergeTarget::Existing(b.id.clone()), d("2025-07-01")).await.unwrap();

        let at = |date: &'static str| {
            let org = org.clone();
            async move { org.tree_at(d(date)).await.unwrap() }
        };
        let parent_of = |tree: &[UnitAt], id: &str| tree.iter().find(|u| u.id == id).unwrap().parent_id.clone();
        assert_eq!(parent_of(&at("2025-06-30").await, &cell.id), Some(a.id.clone()));
        assert_eq!(parent_of(&at("2025-07-01").await, &cell.id), Some(b.id.clone()));
        let wards = org.descendants(&p.id, d("2025-07-01"), &[OrgKind::Ward]).await.unwrap();
        assert_eq!(codes(&wards), ["00004"]);
        // Asking about the old ward after the merge answers for the one that absorbed it.
        let under_old = org.descendants(&a.id, d("2025-08-01"), &[]).await.unwrap();
        assert_eq!(codes(&under_old), ["00001-QS"]);
    }
}

both_backends! {
    async fn rename_keeps_the_old_name_for_earlier_dates(db) {
        let org = OrgTree::new(db.store.clone());
        let p = unit(&org, "46", "Tỉnh Thừa Thiên Huế", OrgKind::Province, None, "2000-01-01").await;
        org.rename(&operator(), &p.id, "Thành phố Huế", d("2025-01-01")).await.unwrap();

        assert_eq!(org.tree_at(d("2024-12-31")).await.unwrap()[0].name, "Tỉnh Thừa Thiên Huế");
        assert_eq!(org.tree_at(d("2025-01-01")).await.unwrap()[0].name, "Thành phố Huế");
        let h = org.history(&p.id).await.unwrap();
        let names: Vec<_> = h.versions.iter().map(|v| (v.name.as_str(), v.valid_from, v.valid_to)).collect();
        assert_eq!(names, [
            ("Tỉnh Thừa Thiên Huế", d("2000-01-01"), Some(d("2025-01-01"))),
            ("Thành phố Huế", d("2025-01-01"), None),
        ]);
    }
}

both_backends! {
    async fn moving_a_unit_under_its_own_descendant_is_refused_and_changes_nothing(db) {
        let org = OrgTree::new(db.store.clone());
        let p = unit(&org, "P", "Tỉnh A", OrgKind::Province, None, "2000-01-01").await;
        let c = unit(&org, "C", "Xã B", OrgKind::Commune, Some(&p), "2000-01-01").await;
        let s = unit(&org, "S", "Chi bộ C", OrgKind::Sector, Some(&c), "2000-01-01").await;
        let records = audit_count(&db.store).await;

        let err = org.move_to(&operator(), &p.id, Some(&s.id), d("2025-07-01")).await.unwrap_err();
        assert!(matches!(err, OrgError::Cycle { .. }), "{err:?}");
        assert_eq!(err.to_string(), "putting P under S on 2025-07-01 would make a cycle: S is inside P");
        let self_parent = org.move_to(&operator(), &c.id, Some(&c.id), d("2025-07-01")).await.unwrap_err();
        assert!(matches!(self_parent, OrgError::Cycle { .. }), "{self_parent:?}");
        assert_eq!(org.history(&p.id).await.unwrap().versions.len(), 1);
        assert_eq!(audit_count(&db.store).await, records, "a refused change writes no audit record");

        // A later scheduled move is checked too: S under P from 2026 is fine,
        // then P under C from 2025 would close a loop only from 2026.
        org.move_to(&operator(), &c.id, None, d("2026-01-01")).await.unwrap();
        org.move_to(&operator(), &s.id, Some(&p.id), d("2026-01-01")).await.unwrap();
        let err = org.move_to(&operator(), &p.id, Some(&c.id), d("2025-07-01")).await.unwrap_err();
        assert!(matches!(err, OrgError::Cycle { .. }), "{err:?}");
    }
}

both_backends! {
    async fn dated_rules_refuse_impossible_changes_naming_the_unit(db) {
        let org = OrgTree::new(db.store.clone());
        let p = unit(&org, "P", "Tỉnh A", OrgKind::Province, None, "2020-01-01").await;

        let orphan = NewUnit { code: "C".into(), name: "Xã B".into(), kind: OrgKind::Commune, parent_id: Some(p.id.clone()) };
        let err = org.create(&operator(), orphan.clone(), d("2019-12-31")).await.unwrap_err();
        assert_eq!(err.to_string(), "parent P does not exist on 2019-12-31");

        let err = org.rename(&operator(), &p.id, "Tỉnh Mới", d("2019-06-01")).await.unwrap_err();
        assert_eq!(err.to_string(), "P did not exist on 2019-06-01; it was created on 2020-01-01");

        let c = org.create(&operator(), orphan.clone(), d("2020-01-01")).await.unwrap();
        let err = org.create(&operator(), orphan, d("2021-01-01")).await.unwrap_err();
        assert!(matches!(err, OrgError::DuplicateCode(ref c) if c == "C"), "{err:?}");

        let err = org.dissolve(&operator(), &p.id, d("2025-07-01")).await.unwrap_err();
        assert!(matches!(err, OrgError::HasChildren { count: 1, .. }), "{err:?}");

        org.dissolve(&operator(), &c.id, d("2025-07-01")).await.unwrap();
        let err = org.rename(&operator(), &c.id, "Xã C", d("2025-08-01")).await.unwrap_err();
        assert_eq!(err.to_string(), "C was dissolved on 2025-07-01; it cannot be changed on 2025-08-01");
        assert!(org.resolve(&c.id, d("2025-08-01")).await.unwrap().is_none());
        // Still renamable before it ended: history can be corrected.
        org.rename(&operator(), &c.id, "Xã Bình", d("2024-01-01")).await.unwrap();

        let err = org.rename(&operator(), &p.id, "  ", d("2025-01-01")).await.unwrap_err();
        assert!(matches!(err, OrgError::Invalid { field: "name", .. }), "{err:?}");
    }
}

/// Parents before children, siblings by code: the order export writes.
/// A comma forces quoting; one name is in decomposed Unicode (NFD), which
/// must come back as the same bytes, not normalised.
const PROVINCE_CSV: &str = "code,name,kind,parent_code,valid_from\n\
45,Tỉnh Quảng Trị,province,,2025-07-01\n\
19186,\"Phường Đông Hà, trung tâm\",ward,45,2025-07-01\n\
19334,Xã Ái Tử,commune,45,2025-07-01\n\
19500,Xa\u{302}\u{303} Gio Linh,commune,45,2025-07-01\n\
19999,Đặc khu Cồn Cỏ,special_zone,45,2025-07-01\n\
45-CA,Đảng ủy Công an tỉnh,sector,45,2025-07-01\n\
45-QS,Đảng ủy Quân sự tỉnh,sector,45,2025-07-01\n";

both_backends! {
    async fn csv_import_then_export_round_trips_vietnamese_names_byte_for_byte(db) {
        let org = OrgTree::new(db.store.clone());
        let imported = org.import_csv(&operator(), PROVINCE_CSV).await.unwrap();
        assert_eq!(imported.len(), 7);
        let exported = org.export_csv(d("2025-07-01")).await.unwrap();
        assert_eq!(exported.as_bytes(), PROVINCE_CSV.as_bytes());

        let json = org.export_json(d("2025-07-01")).await.unwrap();
        assert!(json.contains("Đặc khu Cồn Cỏ"), "JSON keeps UTF-8 unescaped: {json}");
        let back: Vec<diemcau::control::org::UnitRecord> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, org.export_records(d("2025-07-01")).await.unwrap());
        assert_eq!(back[3].name.as_bytes(), "Xa\u{302}\u{303} Gio Linh".as_bytes());
        let communes = org.descendants(&imported[0].id, d("2025-07-01"), &[OrgKind::Commune]).await.unwrap();
        assert_eq!(codes(&communes), ["19334", "19500"]);
        assert_eq!(audit_count(&db.store).await, 1, "one import, one audit record");
    }
}

both_backends! {
    async fn import_with_a_bad_row_changes_nothing_and_names_the_row(db) {
        let org = OrgTree::new(db.store.clone());
        // Children listed before their parent are fine; row 4 names a parent nobody has.
        let csv = "code,name,kind,parent_code,valid_from\n\
19334,Xã Ái Tử,commune,45,2025-07-01\n\
45,Tỉnh Quảng Trị,province,,2025-07-01\n\
19500,Xã Gio Linh,commune,99,2025-07-01\n";
        let err = org.import_csv(&operator(), csv).await.unwrap_err();
        assert!(matches!(err, ImportError::Row { index: 4, column: "parent_code", .. }), "{err:?}");
        assert!(err.to_string().starts_with("row 4, column `parent_code`: no unit has code \"99\""), "{err}");
        assert!(org.tree_at(d("2025-07-01")).await.unwrap().is_empty(), "nothing imported");
        assert_eq!(audit_count(&db.store).await, 0);

        let bad_date = "code,name,kind,parent_code,valid_from\n45,Tỉnh Quảng Trị,province,,1/7/2025\n";
        let err = org.import_csv(&operator(), bad_date).await.unwrap_err().to_string();
        assert!(err.starts_with("row 2, column `valid_from`: \"1/7/2025\" is not a date"), "{err}");

        let bad_kind = r#"[{"code":"45","name":"Tỉnh Quảng Trị","kind":"province","valid_from":"2025-07-01"},
                           {"code":"45-01","name":"Huyện Cam Lộ","kind":"district","parent_code":"45","valid_from":"2025-07-01"}]"#;
        let err = org.import_json(&operator(), bad_kind).await.unwrap_err().to_string();
        assert!(err.starts_with("item 2, column `kind`: \"district\" is not a unit kind"), "{err}");

        let dup = "code,name,kind,parent_code,valid_from\n45,A,province,,2025-07-01\n45,B,province,,2025-07-01\n";
        let err = org.import_csv(&operator(), dup).await.unwrap_err().to_string();
        assert!(err.starts_with("row 3, column `code`: code \"45\" already appears at row 2"), "{err}");

        let missing = "code,name,kind,valid_from\n45,A,province,2025-07-01\n";
        let err = org.import_csv(&operator(), missing).await.unwrap_err().to_string();
        assert!(err.contains("no `parent_code` column"), "{err}");
        assert!(org.tree_at(d("2025-07-01")).await.unwrap().is_empty());
    }
}
