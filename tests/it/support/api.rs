//! API test support: the real server on a test database (SQLite file or
//! PostgreSQL), a small province to work on, and one authenticated client
//! per role (each holding its own API token) plus a room endpoint.

use std::collections::HashMap;

use diemcau::control::endpoints::{EndpointDetails, Endpoints, LinkProfile};
use diemcau::control::org::{NewUnit, OrgKind, OrgTree};
use diemcau::control::people::{People, Role, UserDetails};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::db::{TestDb, d, operator};
use super::server::{TestServer, start_with};

pub const PASSWORD: &str = "mật khẩu đủ dài 2025";

/// An HTTP client acting as one principal.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub bearer: Option<String>,
}

/// A response: status and JSON body (`Null` when there is none or it is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// The error code of a refusal.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or("")
    }
}

impl Client {
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.bearer {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, body, text }
    }
    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(&body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(&body)).await
    }
    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }
}

/// Ids of the fixture province.
///
/// ```text
/// P  Tỉnh Thử Nghiệm (province)
/// ├── A  Xã An Phú (commune)        endpoint ep_a
/// ├── B  Xã Bình Minh (commune)     endpoint ep_b
/// ├── W  Phường Hòa Bình (ward)     endpoint ep_w
/// └── S  Đảng ủy Công an tỉnh (sector) endpoint ep_s
/// hub endpoint bound to P
/// ```
pub struct Province {
    pub units: HashMap<&'static str, String>,
    pub endpoints: HashMap<&'static str, String>,
    /// Endpoint tokens by the same keys.
    pub endpoint_tokens: HashMap<&'static str, String>,
}

pub struct ApiWorld {
    pub srv: TestServer,
    pub db: TestDb,
    pub province: Province,
    /// One client per role, by role name; the sub-operator is scoped to
    /// commune A. Also "anonymous" (no credentials).
    pub clients: HashMap<String, Client>,
    /// User ids by role name.
    pub users: HashMap<String, String>,
}

impl ApiWorld {
    pub fn as_role(&self, role: &str) -> &Client {
        self.clients
            .get(role)
            .unwrap_or_else(|| panic!("no client for {role}"))
    }
    pub fn admin(&self) -> &Client {
        self.as_role("admin")
    }
    pub fn unit(&self, key: &str) -> &str {
        &self.province.units[key]
    }
    pub fn endpoint(&self, key: &str) -> &str {
        &self.province.endpoints[key]
    }
    /// A client acting as the endpoint `key`.
    /// The secretary plans a BCH meeting `title` starting in `starts_in_ms`
    /// for three hours: the hub and communes A and B, the world's chair,
    /// its delegate as a voting member. Its id.
    pub async fn plan_bch_meeting(&self, title: &str, starts_in_ms: i64) -> String {
        let start = diemcau::store::now_ms() + starts_in_ms;
        let made = self
            .as_role("secretary")
            .post(
                "/api/v1/meetings",
                serde_json::json!({
                    "title": title,
                    "kind": "bch",
                    "starts_at_ms": start,
                    "ends_at_ms": start + 3 * 3_600_000,
                    "hub_endpoint_id": self.endpoint("hub"),
                    "endpoint_ids": [self.endpoint("a"), self.endpoint("b")],
                    "chair_user_id": self.users["chair"],
                    "members": [{"user_id": self.users["delegate"], "role": "voting"}],
                    "secretary_user_id": self.users["secretary"],
                }),
            )
            .await;
        assert_eq!(made.status, 201, "{}", made.text);
        made.body["meetings"][0]["id"]
            .as_str()
            .expect("meeting id")
            .to_string()
    }

    pub fn as_endpoint(&self, key: &str) -> Client {
        Client {
            bearer: Some(self.province.endpoint_tokens[key].clone()),
            ..self.clients["anonymous"].clone()
        }
    }
}

/// Boot the server on `db` and build the fixture.
pub async fn world(db: TestDb) -> ApiWorld {
    world_with(db, |_| {}).await
}

/// The same fixture on a server whose configuration `f` adjusts.
pub async fn world_with(
    db: TestDb,
    f: impl FnOnce(&mut diemcau::config::Config) + Send + 'static,
) -> ApiWorld {
    let url = db.url.clone();
    let srv = start_with(move |c| {
        c.database.url = url;
        f(c)
    })
    .await;
    let store = db.store.clone();
    let actor = operator();
    let tree = OrgTree::new(store.clone());
    let from = d("2020-01-01");
    let mut units = HashMap::new();
    let p = tree
        .create(
            &actor,
            NewUnit {
                code: "P".into(),
                name: "Tỉnh Thử Nghiệm".into(),
                kind: OrgKind::Province,
                parent_id: None,
            },
            from,
        )
        .await
        .unwrap();
    units.insert("P", p.id.clone());
    for (key, name, kind) in [
        ("A", "Xã An Phú", OrgKind::Commune),
        ("B", "Xã Bình Minh", OrgKind::Commune),
        ("W", "Phường Hòa Bình", OrgKind::Ward),
        ("S", "Đảng ủy Công an tỉnh", OrgKind::Sector),
    ] {
        let u = tree
            .create(
                &actor,
                NewUnit {
                    code: key.into(),
                    name: name.into(),
                    kind,
                    parent_id: Some(p.id.clone()),
                },
                from,
            )
            .await
            .unwrap();
        units.insert(key, u.id);
    }
    let eps = Endpoints::new(store.clone());
    let mut endpoints = HashMap::new();
    let mut endpoint_tokens = HashMap::new();
    for (key, unit, name, link) in [
        ("hub", "P", "Hội trường Tỉnh ủy", LinkProfile::Fibre),
        ("a", "A", "Điểm cầu xã An Phú", LinkProfile::FourG),
        ("b", "B", "Điểm cầu xã Bình Minh", LinkProfile::ThreeG),
        ("w", "W", "Điểm cầu phường Hòa Bình", LinkProfile::Fibre),
        ("s", "S", "Điểm cầu Công an tỉnh", LinkProfile::Vsat),
    ] {
        let (ep, token) = eps
            .create(
                &actor,
                EndpointDetails {
                    name: name.into(),
                    room: "Phòng họp trực tuyến".into(),
                    technician_name: "Trần Văn Kỹ".into(),
                    technician_phone: "0912 345 678".into(),
                    link,
                },
                &units[unit],
                from,
            )
            .await
            .unwrap();
        endpoints.insert(key, ep.id);
        endpoint_tokens.insert(key, token.expose().to_string());
    }
    let people = People::new(store.clone());
    let http = reqwest::Client::new();
    let base = srv.base_url();
    let mut clients = HashMap::new();
    let mut users = HashMap::new();
    clients.insert(
        "anonymous".to_string(),
        Client {
            http: http.clone(),
            base: base.clone(),
            bearer: None,
        },
    );
    for role in Role::ALL {
        let user = people
            .create(
                &actor,
                &format!("test_{}", role.as_str()),
                UserDetails {
                    display_name: format!("Người dùng {}", role.as_str()),
                    roles: [role].into(),
                    scope_unit_id: (role == Role::SubOperator).then(|| units["A"].clone()),
                },
                PASSWORD,
            )
            .await
            .unwrap();
        let (_, secret) = people
            .create_api_token(&actor, &user.id, "tests")
            .await
            .unwrap();
        users.insert(role.as_str().to_string(), user.id);
        clients.insert(
            role.as_str().to_string(),
            Client {
                http: http.clone(),
                base: base.clone(),
                bearer: Some(secret.expose().to_string()),
            },
        );
    }
    ApiWorld {
        srv,
        db,
        province: Province {
            units,
            endpoints,
            endpoint_tokens,
        },
        clients,
        users,
    }
}

/// Every table's row count plus the audit tip: equal fingerprints before
/// and after a refused request mean it changed nothing. A refusal that
/// concerns a meeting is itself audited (`access.refused`, rate-limited):
/// that record is the refusal's trace, not a change, so it is left out.
pub async fn fingerprint(store: &diemcau::store::Store) -> Vec<(String, i64)> {
    use sqlx::Row;
    let tables: Vec<String> = match store.backend() {
        diemcau::store::Backend::Sqlite => sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect(),
        diemcau::store::Backend::Postgres => sqlx::query(
            "SELECT tablename::TEXT FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
        )
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect(),
    };
    let mut out = Vec::new();
    for t in tables {
        let filter = match t.as_str() {
            "audit_log" => " WHERE action <> 'access.refused'",
            _ => "",
        };
        let n: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM {t}{filter}"))
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get(0);
        out.push((t, n));
    }
    let tip: i64 =
        sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM audit_log WHERE action <> 'access.refused'")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get(0);
    out.push(("audit_head.seq".into(), tip));
    out
}

/// POST a body that is not an SDP offer to `{base}/{kind}/{meeting}` (WHIP
/// or WHEP) with `token`: an admitted caller gets its offer refused (400
/// `bad_sdp`), a refused one the admission's status and code — a probe of
/// media admission that needs no WebRTC stack.
pub async fn media_probe(base: &str, kind: &str, meeting: &str, token: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/{kind}/{meeting}"))
        .bearer_auth(token)
        .header("content-type", "application/sdp")
        .body("not an offer")
        .send()
        .await
        .expect("the server answers");
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_string(),
    )
}
