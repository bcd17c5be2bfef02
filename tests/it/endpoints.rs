//! Endpoints on both backends: credentials shown once and stored hashed,
//! rotation and revocation, dated unit bindings.

use diemcau::control::endpoints::{EndpointDetails, EndpointError, Endpoints, LinkProfile};
use diemcau::control::org::{NewUnit, OrgKind, OrgTree, OrgUnit};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::support::db::{both_backends, d, operator};

fn details(name: &str, link: LinkProfile) -> EndpointDetails {
    EndpointDetails {
        name: name.into(),
        room: "Phòng họp trực tuyến, nhà B".into(),
        technician_name: "Trần Văn Bình".into(),
        technician_phone: "+84 233 3852 123".into(),
        link,
    }
}

async fn commune(org: &OrgTree, code: &str, on: &str) -> OrgUnit {
    org.create(
        &operator(),
        NewUnit {
            code: code.into(),
            name: format!("Xã {code}"),
            kind: OrgKind::Commune,
            parent_id: None,
        },
        d(on),
    )
    .await
    .unwrap()
}

both_backends! {
    async fn token_is_shown_once_stored_only_as_its_hash_and_authenticates(db) {
        let org = OrgTree::new(db.store.clone());
        let eps = Endpoints::new(db.store.clone());
        let c = commune(&org, "19334", "2025-07-01").await;
        let (ep, token) = eps.create(&operator(), details("Điểm cầu xã Ái Tử", LinkProfile::Vsat), &c.id, d("2025-07-01")).await.unwrap();
        assert_eq!(token.expose().len(), 43, "32 bytes in unpadded base64url");
        assert!(token.expose().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(format!("{token:?}"), "Token(***)");

        let stored: String = sqlx::query("SELECT token_hash FROM endpoints WHERE id = $1")
            .bind(&ep.id).fetch_one(db.store.pool()).await.unwrap().get(0);
        assert_eq!(stored, hex::encode(Sha256::digest(token.expose().as_bytes())));
        let audit: Vec<String> = sqlx::query("SELECT details FROM audit_log")
            .fetch_all(db.store.pool()).await.unwrap().iter().map(|r| r.get(0)).collect();
        assert!(audit.iter().all(|a| !a.contains(token.expose()) && !a.contains(&stored)), "no credential in the audit log");
        // Reading the endpoint back never yields the token again.
        assert!(!serde_json::to_string(&eps.get(&ep.id).await.unwrap()).unwrap().contains(token.expose()));

        let found = eps.authenticate(token.expose()).await.unwrap().expect("the token authenticates");
        assert_eq!(found, ep);
        assert_eq!(found.details.link.max_kbps(), 384);
        let mut wrong = token.expose().to_string();
        wrong.replace_range(0..1, if wrong.starts_with('A') { "B" } else { "A" });
        assert!(eps.authenticate(&wrong).await.unwrap().is_none());
        assert!(eps.authenticate("").await.unwrap().is_none());
        assert!(eps.authenticate(&stored).await.unwrap().is_none(), "the stored hash is not a credential");
    }
}

both_backends! {
    async fn rotation_invalidates_the_old_token_and_revocation_is_final(db) {
        let org = OrgTree::new(db.store.clone());
        let eps = Endpoints::new(db.store.clone());
        let c = commune(&org, "19334", "2025-07-01").await;
        let (ep, first) = eps.create(&operator(), details("Điểm cầu 1", LinkProfile::Fibre), &c.id, d("2025-07-01")).await.unwrap();

        let second = eps.rotate_token(&operator(), &ep.id).await.unwrap();
        assert_ne!(first, second);
        assert!(eps.authenticate(first.expose()).await.unwrap().is_none(), "rotation retires the old token");
        assert_eq!(eps.authenticate(second.expose()).await.unwrap().unwrap().id, ep.id);

        eps.revoke(&operator(), &ep.id).await.unwrap();
        assert!(eps.authenticate(second.expose()).await.unwrap().is_none());
        assert!(eps.get(&ep.id).await.unwrap().revoked_at_ms.is_some());

        // A new token re-enables the room; revoked ones stay dead.
        let third = eps.rotate_token(&operator(), &ep.id).await.unwrap();
        assert!(eps.authenticate(third.expose()).await.unwrap().is_some());
        for old in [&first, &second] {
            assert!(eps.authenticate(old.expose()).await.unwrap().is_none());
        }
        assert!(matches!(eps.revoke(&operator(), "ep_nope").await, Err(EndpointError::Unknown(_))));
    }
}

both_backends! {
    async fn rebinding_keeps_history_and_refuses_units_missing_on_the_date(db) {
        let org = OrgTree::new(db.store.clone());
        let eps = Endpoints::new(db.store.clone());
        let a = commune(&org, "A", "2000-01-01").await;
        let b = commune(&org, "B", "2024-01-01").await;
        let err = eps.create(&operator(), details("Điểm cầu", LinkProfile::ThreeG), &b.id, d("2023-01-01")).await.unwrap_err();
        assert_eq!(err.to_string(), "unit_id: unit B does not exist on 2023-01-01");
        assert!(eps.list().await.unwrap().is_empty(), "a refused create stores nothing");

        let (ep, _) = eps.create(&operator(), details("Điểm cầu", LinkProfile::ThreeG), &a.id, d("2020-01-01")).await.unwrap();
        eps.bind(&operator(), &ep.id, &b.id, d("2024-06-01")).await.unwrap();
        assert_eq!(eps.unit_at(&ep.id, d("2024-05-31")).await.unwrap().unwrap().id, a.id);
        assert_eq!(eps.unit_at(&ep.id, d("2024-06-01")).await.unwrap().unwrap().id, b.id);
        assert!(eps.unit_at(&ep.id, d("2019-01-01")).await.unwrap().is_none());
        let err = eps.bind(&operator(), &ep.id, &a.id, d("2024-06-01")).await.unwrap_err();
        assert!(matches!(err, EndpointError::BindingOrder { .. }), "{err:?}");
        assert_eq!(eps.bindings(&ep.id).await.unwrap().len(), 2);
    }
}

both_backends! {
    async fn bad_details_are_refused_naming_the_field(db) {
        let org = OrgTree::new(db.store.clone());
        let eps = Endpoints::new(db.store.clone());
        let a = commune(&org, "A", "2000-01-01").await;
        let mut bad = details("Điểm cầu", LinkProfile::FourG);
        bad.technician_phone = "gọi anh Bình".into();
        let err = eps.create(&operator(), bad, &a.id, d("2020-01-01")).await.unwrap_err();
        assert!(matches!(err, EndpointError::Invalid { field: "technician_phone", .. }), "{err:?}");
        let err = eps.create(&operator(), details(" ", LinkProfile::FourG), &a.id, d("2020-01-01")).await.unwrap_err();
        assert!(matches!(err, EndpointError::Invalid { field: "name", .. }), "{err:?}");
        let (ep, _) = eps.create(&operator(), details("Điểm cầu", LinkProfile::FourG), &a.id, d("2020-01-01")).await.unwrap();
        let updated = eps.update(&operator(), &ep.id, details("Điểm cầu xã A", LinkProfile::Fibre)).await.unwrap();
        assert_eq!((updated.details.name.as_str(), updated.details.link), ("Điểm cầu xã A", LinkProfile::Fibre));
    }
}

#[test]
fn link_profiles_cap_bandwidth_from_fibre_down_to_vsat() {
    let caps: Vec<u32> = [
        LinkProfile::Fibre,
        LinkProfile::FourG,
        LinkProfile::ThreeG,
        LinkProfile::Vsat,
    ]
    .iter()
    .map(|l| l.max_kbps())
    .collect();
    assert_eq!(caps, [4000, 1500, 600, 384]);
    assert_eq!("4g".parse::<LinkProfile>().unwrap(), LinkProfile::FourG);
    assert_eq!(
        serde_json::to_string(&LinkProfile::Vsat).unwrap(),
        "\"vsat\""
    );
    assert!(
        "adsl"
            .parse::<LinkProfile>()
            .unwrap_err()
            .contains("fibre, 4g, 3g or vsat")
    );
}
