//! The `/api/v1` control API over real HTTP, on SQLite and on PostgreSQL:
//! the OpenAPI document, org and endpoint administration, people, the
//! one error format, and sub-operator scope.

use serde_json::{Value, json};

use crate::support::api::{PASSWORD, fingerprint, world};
use crate::support::db::both_backends;

/// Every `$ref` in `v` points at a schema that exists.
fn refs_resolve(doc: &Value, v: &Value, missing: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                let name = r.trim_start_matches("#/components/schemas/");
                if doc["components"]["schemas"].get(name).is_none() {
                    missing.push(r.to_string());
                }
            }
            m.values().for_each(|x| refs_resolve(doc, x, missing));
        }
        Value::Array(a) => a.iter().for_each(|x| refs_resolve(doc, x, missing)),
        _ => {}
    }
}

both_backends! {
    async fn openapi_document_is_3_1_and_describes_every_route_with_its_permission(db) {
        let w = world(db).await;
        let doc = w.as_role("anonymous").get("/api/v1/openapi.json").await;
        assert_eq!(doc.status, 200, "{}", doc.text);
        let doc = doc.body;
        assert_eq!(doc["openapi"], "3.1.0");
        let mut ids = std::collections::HashSet::new();
        let mut n = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            assert!(path.starts_with("/api/v1/"), "{path}");
            for (method, op) in item.as_object().unwrap() {
                n += 1;
                assert!(op["x-diemcau-permission"].is_string(), "{method} {path}");
                assert!(!op["summary"].as_str().unwrap().is_empty(), "{method} {path} has a summary");
                assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()), "unique operationId");
                assert!(op["responses"]["4XX"].is_object());
            }
        }
        assert!(n >= 30, "only {n} operations documented");
        let mut missing = Vec::new();
        refs_resolve(&doc, &doc, &mut missing);
        assert!(missing.is_empty(), "dangling $refs: {missing:?}");
        // A request body schema carries the real field names.
        let body = &doc["paths"]["/api/v1/endpoints"]["post"]["requestBody"]["content"]["application/json"]["schema"];
        let name = body["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
        let schema = &doc["components"]["schemas"][name];
        for f in ["name", "link", "unit_id", "technician_phone"] {
            assert!(schema["properties"].get(f).is_some(), "NewEndpoint.{f}");
        }
    }
}

both_backends! {
    async fn operator_builds_the_province_over_http_and_reorganises_it(db) {
        let w = world(db).await;
        let op = w.as_role("operator");
        let p = w.unit("P").to_string();
        let made = op.post("/api/v1/org/units", json!({
            "code": "C", "name": "Xã Cẩm Lý", "kind": "commune", "parent_id": p, "on": "2021-01-01"
        })).await;
        assert_eq!(made.status, 201, "{}", made.text);
        let c = made.body["id"].as_str().unwrap().to_string();
        let renamed = op.post(&format!("/api/v1/org/units/{c}/rename"), json!({"name": "Xã Cẩm Lý Mới", "on": "2023-05-01"})).await;
        assert_eq!(renamed.status, 204, "{}", renamed.text);
        let hist = op.get(&format!("/api/v1/org/units/{c}")).await;
        assert_eq!(hist.body["versions"].as_array().unwrap().len(), 2);
        assert_eq!(hist.body["versions"][0]["valid_from"], "2021-01-01", "dates are YYYY-MM-DD");

        // Two communes merge on 2025-07-01 into a new one.
        let merged = op.post("/api/v1/org/merge", json!({
            "sources": [w.unit("A"), w.unit("B")],
            "into": {"new": {"code": "AB", "name": "Xã An Bình", "kind": "commune", "parent_id": p}},
            "on": "2025-07-01"
        })).await;
        assert_eq!(merged.status, 200, "{}", merged.text);
        let ab = merged.body["id"].as_str().unwrap().to_string();
        let communes = |on: &'static str| {
            let op = op.clone();
            let p = p.clone();
            async move {
                let r = op.get(&format!("/api/v1/org/units/{p}/descendants?on={on}&kinds=commune")).await;
                assert_eq!(r.status, 200, "{}", r.text);
                r.body["units"].as_array().unwrap().iter().map(|u| u["code"].as_str().unwrap().to_string()).collect::<Vec<_>>()
            }
        };
        assert_eq!(communes("2025-06-30").await, ["A", "B", "C"]);
        assert_eq!(communes("2025-07-01").await, ["AB", "C"]);
        // Endpoints followed the merge.
        let eps = op.get("/api/v1/endpoints?on=2025-07-02").await;
        let a = eps.body["endpoints"].as_array().unwrap().iter()
            .find(|e| e["id"] == w.endpoint("a")).unwrap().clone();
        assert_eq!(a["unit"]["id"], ab);
        assert_eq!(a["max_kbps"], 1500, "4G link cap");

        // CSV export carries the Vietnamese names; bad format names the field.
        let csv = op.get("/api/v1/org/export?on=2025-07-02&format=csv").await;
        assert_eq!(csv.status, 200);
        assert!(csv.text.contains("Xã An Bình"), "{}", csv.text);
        let bad = op.get("/api/v1/org/export?format=xlsx").await;
        assert_eq!((bad.status.as_u16(), bad.field()), (422, "format"));
    }
}

both_backends! {
    async fn refused_writes_name_the_field_and_change_nothing(db) {
        let w = world(db).await;
        let op = w.as_role("operator");
        let before = fingerprint(&w.db.store).await;
        let cases = [
            ("/api/v1/org/units", json!({"code": "X", "name": "", "kind": "commune", "parent_id": w.unit("P"), "on": "2021-01-01"}), 422, "name"),
            ("/api/v1/org/units", json!({"code": "X", "name": "Xã X", "kind": "huyen", "parent_id": w.unit("P"), "on": "2021-01-01"}), 422, "kind"),
            ("/api/v1/org/units", json!({"code": "X", "name": "Xã X", "kind": "commune", "parent_id": w.unit("P"), "on": "2021-13-01"}), 422, "on"),
            ("/api/v1/org/units", json!({"code": "X", "name": "Xã X", "kind": "commune", "parent_id": "ou_nope", "on": "2021-01-01"}), 404, ""),
            ("/api/v1/org/units", json!({"code": "A", "name": "Xã X", "kind": "commune", "parent_id": w.unit("P"), "on": "2021-01-01"}), 409, ""),
            ("/api/v1/org/units", json!({"code": "X", "name": 5, "kind": "commune", "on": "2021-01-01"}), 422, "name"),
            ("/api/v1/org/units", json!({"code": "X", "kind": "commune", "on": "2021-01-01"}), 422, "name"),
            ("/api/v1/org/units", json!({"code": "X", "name": "Xã X", "kind": "commune", "on": "2021-01-01", "extra": 1}), 422, "extra"),
            ("/api/v1/endpoints", json!({"name": "E", "link": "5g", "unit_id": w.unit("A")}), 422, "link"),
            ("/api/v1/endpoints", json!({"name": "E", "link": "4g", "unit_id": w.unit("A"), "technician_phone": "gọi tôi"}), 422, "technician_phone"),
            ("/api/v1/endpoints", json!({"name": "E", "link": "4g", "unit_id": "ou_nope"}), 404, "unit_id"),
            ("/api/v1/users", json!({"login": "x", "password": "short", "display_name": "X", "roles": ["operator"]}), 403, ""),
        ];
        for (path, body, status, field) in cases {
            let r = op.post(path, body.clone()).await;
            assert_eq!(r.status.as_u16(), status, "{path} {body}: {}", r.text);
            assert!(r.body["error"]["message"].is_string(), "{}", r.text);
            if !field.is_empty() {
                assert_eq!(r.field(), field, "{path} {body}: {}", r.text);
            }
        }
        let syntax = op.http.post(format!("{}/api/v1/org/units", op.base))
            .bearer_auth(op.bearer.as_ref().unwrap())
            .header("content-type", "application/json").body("{not json").send().await.unwrap();
        assert_eq!(syntax.status(), 400);
        assert_eq!(fingerprint(&w.db.store).await, before, "refusals changed the database");
    }
}

both_backends! {
    async fn endpoint_token_is_shown_once_rotates_and_revokes_over_http(db) {
        let w = world(db).await;
        let op = w.as_role("operator");
        let made = op.post("/api/v1/endpoints", json!({
            "name": "Điểm cầu Đặc khu Cô Tô", "link": "vsat", "unit_id": w.unit("W"),
            "room": "Nhà văn hóa", "technician_name": "Lê Thị Hoa", "technician_phone": "+84 203 3888 123"
        })).await;
        assert_eq!(made.status, 201, "{}", made.text);
        let id = made.body["endpoint"]["id"].as_str().unwrap().to_string();
        let token = made.body["token"].as_str().unwrap().to_string();
        let shown = op.get(&format!("/api/v1/endpoints/{id}")).await;
        assert!(!shown.text.contains(&token), "the token is never shown again");
        assert_eq!(shown.body["max_kbps"], 384);

        let room = crate::support::api::Client { bearer: Some(token.clone()), ..op.clone() };
        assert_eq!(room.get("/api/v1/meetings").await.status.as_u16() / 100, 2, "the room's token authenticates it");
        let rotated = op.post(&format!("/api/v1/endpoints/{id}/token"), json!({})).await;
        assert_eq!(rotated.status, 200);
        assert_eq!(room.get("/api/v1/meetings").await.status, 401, "old token dead after rotation");
        let room2 = crate::support::api::Client { bearer: Some(rotated.body["token"].as_str().unwrap().into()), ..op.clone() };
        assert_eq!(room2.get("/api/v1/meetings").await.status.as_u16() / 100, 2);
        assert_eq!(op.delete(&format!("/api/v1/endpoints/{id}/token")).await.status, 204);
        assert_eq!(room2.get("/api/v1/meetings").await.status, 401, "revoked");
        // A room cannot administer endpoints.
        let r = w.as_endpoint("a").post("/api/v1/endpoints", json!({"name": "x", "link": "4g", "unit_id": w.unit("A")})).await;
        assert_eq!(r.status, 403);
    }
}

both_backends! {
    async fn sub_operator_works_only_inside_their_subtree(db) {
        let w = world(db).await;
        let sub = w.as_role("sub_operator");
        let before = fingerprint(&w.db.store).await;
        let outside = sub.post("/api/v1/endpoints", json!({"name": "E", "link": "4g", "unit_id": w.unit("B")})).await;
        assert_eq!((outside.status.as_u16(), outside.code()), (403, "out_of_scope"), "{}", outside.text);
        let other = sub.patch(&format!("/api/v1/endpoints/{}", w.endpoint("b")), json!({"room": "x"})).await;
        assert_eq!(other.status, 403);
        let rot = sub.post(&format!("/api/v1/endpoints/{}/token", w.endpoint("w")), json!({})).await;
        assert_eq!(rot.status, 403);
        let org = sub.post("/api/v1/org/units", json!({"code": "Z", "name": "Z", "kind": "commune", "parent_id": w.unit("A"), "on": "2021-01-01"})).await;
        assert_eq!(org.status, 403, "org changes are province-level");
        assert_eq!(fingerprint(&w.db.store).await, before);
        let inside = sub.patch(&format!("/api/v1/endpoints/{}", w.endpoint("a")), json!({"technician_phone": "0209 111 222"})).await;
        assert_eq!(inside.status, 200, "{}", inside.text);
        assert_eq!(inside.body["technician_phone"], "0209 111 222");
    }
}

both_backends! {
    async fn admin_manages_people_and_nobody_else_can(db) {
        let w = world(db).await;
        let admin = w.admin();
        let made = admin.post("/api/v1/users", json!({
            "login": "thu_ky_2", "password": PASSWORD, "display_name": "Phạm Thị Thư", "roles": ["secretary"]
        })).await;
        assert_eq!(made.status, 201, "{}", made.text);
        let id = made.body["id"].as_str().unwrap().to_string();
        let scoped_without_scope = admin.patch(&format!("/api/v1/users/{id}"), json!({"roles": ["sub_operator"]})).await;
        assert_eq!(scoped_without_scope.status, 422, "{}", scoped_without_scope.text);
        assert_eq!(scoped_without_scope.field(), "scope_unit_id");
        let scoped = admin.patch(&format!("/api/v1/users/{id}"), json!({"roles": ["sub_operator"], "scope_unit_id": w.unit("W")})).await;
        assert_eq!(scoped.status, 200, "{}", scoped.text);
        assert_eq!(scoped.body["scope_unit_id"], w.unit("W"));
        let disabled = admin.patch(&format!("/api/v1/users/{id}"), json!({"disabled": true})).await;
        assert_eq!(disabled.body["disabled"], true);
        let me = admin.get("/api/v1/auth/me").await;
        let self_lock = admin.patch(&format!("/api/v1/users/{}", me.body["user"]["id"].as_str().unwrap()), json!({"roles": ["auditor"]})).await;
        assert_eq!((self_lock.status.as_u16(), self_lock.code()), (409, "self_lockout"));
        let dup = admin.post("/api/v1/users", json!({
            "login": "thu_ky_2", "password": PASSWORD, "display_name": "X", "roles": ["secretary"]
        })).await;
        assert_eq!(dup.status, 409);
        for role in ["operator", "secretary", "auditor"] {
            let r = w.as_role(role).post("/api/v1/users", json!({"login": "y", "password": PASSWORD, "display_name": "Y", "roles": ["delegate"]})).await;
            assert_eq!(r.status, 403, "{role}");
        }
        // The auditor reads the log and can verify it.
        let audit = w.as_role("auditor").get("/api/v1/audit?limit=5").await;
        assert_eq!(audit.status, 200);
        assert_eq!(audit.body["records"].as_array().unwrap().len(), 5);
        let verify = w.as_role("auditor").get("/api/v1/audit/verify").await;
        assert_eq!(verify.body["intact"], true, "{}", verify.text);
    }
}
