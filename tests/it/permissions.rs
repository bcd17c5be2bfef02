//! The permission matrix: every principal against every documented route,
//! checked against one explicit allow table. The route list comes from the
//! server's own OpenAPI document, so a route added without a line here fails.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::json;

use crate::support::api::{Client, world};
use crate::support::db::both_backends;

/// Who may call each route. `public`: anyone, even without credentials;
/// `people`: every logged-in person (acting on themselves); `node`: a child
/// cascade node by its own credential only — every principal here is
/// refused with 401 `node_unauthorized`. Otherwise the roles, and
/// `endpoint` for a room endpoint's own token.
const TABLE: &str = "
POST   /api/v1/auth/login                       public
POST   /api/v1/auth/logout                      people
GET    /api/v1/auth/me                          people
POST   /api/v1/auth/password                    people
POST   /api/v1/auth/tokens                      people
GET    /api/v1/auth/tokens                      people
DELETE /api/v1/auth/tokens/{id}                 people
GET    /api/v1/openapi.json                     public
GET    /api/v1/users                            admin operator sub_operator secretary auditor
POST   /api/v1/users                            admin
GET    /api/v1/users/{id}                       admin operator sub_operator secretary auditor
PATCH  /api/v1/users/{id}                       admin
POST   /api/v1/users/{id}/password              admin
GET    /api/v1/org/units                        admin operator sub_operator secretary chair delegate auditor
POST   /api/v1/org/units                        admin operator
GET    /api/v1/org/units/{id}                   admin operator sub_operator secretary chair delegate auditor
GET    /api/v1/org/units/{id}/descendants       admin operator sub_operator secretary chair delegate auditor
POST   /api/v1/org/units/{id}/rename            admin operator
POST   /api/v1/org/units/{id}/move              admin operator
POST   /api/v1/org/units/{id}/dissolve          admin operator
POST   /api/v1/org/merge                        admin operator
POST   /api/v1/org/import                       admin operator
GET    /api/v1/org/export                       admin operator sub_operator secretary chair delegate auditor
GET    /api/v1/bodies                           admin operator sub_operator secretary chair delegate auditor
POST   /api/v1/bodies                           admin operator
GET    /api/v1/bodies/{id}                      admin operator sub_operator secretary chair delegate auditor
POST   /api/v1/bodies/{id}/members              admin operator
POST   /api/v1/bodies/{id}/members/{member}/end admin operator
POST   /api/v1/bodies/{id}/import               admin operator
GET    /api/v1/endpoints                        admin operator sub_operator secretary chair auditor
POST   /api/v1/endpoints                        admin operator sub_operator
GET    /api/v1/endpoints/{id}                   admin operator sub_operator secretary chair auditor
PATCH  /api/v1/endpoints/{id}                   admin operator sub_operator
POST   /api/v1/endpoints/{id}/bindings          admin operator sub_operator
POST   /api/v1/endpoints/{id}/token             admin operator sub_operator
POST   /api/v1/endpoints/{id}/sip-password      admin operator sub_operator
DELETE /api/v1/endpoints/{id}/token             admin operator sub_operator
GET    /api/v1/meetings                         admin operator sub_operator secretary chair delegate auditor endpoint
POST   /api/v1/meetings                         admin operator sub_operator secretary
GET    /api/v1/meetings/{id}                    admin operator sub_operator secretary chair delegate auditor endpoint
PATCH  /api/v1/meetings/{id}                    admin operator sub_operator secretary
POST   /api/v1/meetings/{id}/cancel             admin operator sub_operator secretary
POST   /api/v1/meetings/{id}/open               admin operator sub_operator
POST   /api/v1/meetings/{id}/start              admin operator sub_operator
POST   /api/v1/meetings/{id}/end                admin operator sub_operator
GET    /api/v1/meetings/{id}/participants       admin operator sub_operator secretary chair delegate auditor endpoint
GET    /api/v1/meetings/{id}/ics                admin operator sub_operator secretary chair delegate auditor endpoint
GET    /api/v1/meetings/{id}/live               admin operator sub_operator secretary chair delegate auditor endpoint
GET    /api/v1/meetings/{id}/live/events        admin operator sub_operator secretary chair delegate auditor endpoint
GET    /api/v1/meetings/{id}/live/links         admin operator sub_operator secretary chair delegate auditor endpoint
POST   /api/v1/meetings/{id}/live/mute          admin operator sub_operator
POST   /api/v1/meetings/{id}/live/mute-all      admin operator sub_operator
POST   /api/v1/meetings/{id}/live/unmute-all    admin operator sub_operator
POST   /api/v1/meetings/{id}/live/mute-on-entry admin operator sub_operator
POST   /api/v1/meetings/{id}/live/stream admin operator sub_operator
POST   /api/v1/meetings/{id}/live/output-layout admin operator sub_operator
POST   /api/v1/meetings/{id}/live/sip-call admin operator sub_operator
POST   /api/v1/meetings/{id}/checks             admin endpoint
POST   /api/v1/meetings/{id}/checks/start       admin operator sub_operator
GET    /api/v1/meetings/{id}/readiness          admin operator sub_operator auditor
GET    /api/v1/meetings/{id}/quality            admin operator sub_operator auditor
GET    /api/v1/reports/units                    admin operator auditor
POST   /api/v1/meetings/{id}/live/stage         admin operator sub_operator
POST   /api/v1/meetings/{id}/live/scan          admin operator sub_operator
POST   /api/v1/meetings/{id}/live/scan/stop     admin operator sub_operator
POST   /api/v1/meetings/{id}/live/lock          admin operator sub_operator
POST   /api/v1/meetings/{id}/live/unlock        admin operator sub_operator
POST   /api/v1/meetings/{id}/live/remove        admin operator sub_operator
POST   /api/v1/meetings/{id}/live/readmit       admin operator sub_operator
POST   /api/v1/meetings/{id}/live/lobby/admit   admin operator sub_operator
POST   /api/v1/meetings/{id}/live/lobby/deny    admin operator sub_operator
POST   /api/v1/meetings/{id}/live/connections/remove admin operator sub_operator
POST   /api/v1/meetings/{id}/live/connections/readmit admin operator sub_operator
POST   /api/v1/meetings/{id}/live/scene         admin operator sub_operator
POST   /api/v1/meetings/{id}/live/headcount     admin operator sub_operator secretary endpoint
POST   /api/v1/meetings/{id}/live/floor/request admin operator sub_operator delegate endpoint
POST   /api/v1/meetings/{id}/live/floor/withdraw admin operator sub_operator delegate endpoint
POST   /api/v1/meetings/{id}/live/floor/order   admin operator sub_operator chair
POST   /api/v1/meetings/{id}/live/floor/grant   admin operator sub_operator chair
POST   /api/v1/meetings/{id}/live/floor/revoke  admin operator sub_operator chair
GET    /api/v1/meetings/{id}/agenda             admin operator sub_operator secretary chair delegate auditor endpoint
POST   /api/v1/meetings/{id}/agenda             admin operator sub_operator secretary
PATCH  /api/v1/meetings/{id}/agenda/{item}      admin operator sub_operator secretary
DELETE /api/v1/meetings/{id}/agenda/{item}      admin operator sub_operator secretary
POST   /api/v1/meetings/{id}/agenda/order       admin operator sub_operator secretary
POST   /api/v1/meetings/{id}/agenda/current     admin operator sub_operator secretary chair
POST   /api/v1/meetings/{id}/agenda/next        admin operator sub_operator secretary chair
GET    /api/v1/meetings/{id}/presentation       admin operator sub_operator secretary chair delegate auditor endpoint
POST   /api/v1/meetings/{id}/presentation       admin operator sub_operator secretary chair
DELETE /api/v1/meetings/{id}/presentation       admin operator sub_operator secretary chair
GET    /api/v1/meetings/{id}/documents          admin operator sub_operator secretary chair delegate auditor endpoint
POST   /api/v1/meetings/{id}/documents          admin operator sub_operator secretary
POST   /api/v1/meetings/{id}/documents/recall   admin operator sub_operator secretary
GET    /api/v1/meetings/{id}/documents/{doc}    admin operator sub_operator secretary chair delegate auditor endpoint
GET    /api/v1/meetings/{id}/documents/{doc}/content admin operator sub_operator secretary chair delegate auditor endpoint
POST   /api/v1/meetings/{id}/documents/{doc}/confirm admin operator sub_operator secretary
GET    /api/v1/meetings/{id}/book               admin operator sub_operator secretary chair delegate auditor endpoint
GET    /api/v1/meetings/{id}/motions            admin operator sub_operator secretary chair delegate auditor endpoint
POST   /api/v1/meetings/{id}/motions            admin operator sub_operator secretary chair
GET    /api/v1/meetings/{id}/motions/{motion}   admin operator sub_operator secretary chair delegate auditor endpoint
GET    /api/v1/meetings/{id}/motions/{motion}/results.pdf admin operator sub_operator secretary chair delegate auditor endpoint
POST   /api/v1/meetings/{id}/motions/{motion}/open admin operator sub_operator secretary chair
POST   /api/v1/meetings/{id}/motions/{motion}/close admin operator sub_operator secretary chair
POST   /api/v1/meetings/{id}/motions/{motion}/publish admin operator sub_operator secretary chair
POST   /api/v1/meetings/{id}/motions/{motion}/vote admin chair delegate endpoint
GET    /api/v1/meetings/{id}/minutes            admin operator sub_operator secretary chair delegate auditor endpoint
PUT    /api/v1/meetings/{id}/minutes            admin secretary
POST   /api/v1/meetings/{id}/minutes/finalise   admin secretary
POST   /api/v1/meetings/{id}/minutes/attendance admin secretary
GET    /api/v1/meetings/{id}/minutes/versions   admin operator sub_operator secretary chair delegate auditor endpoint
GET    /api/v1/meetings/{id}/minutes/versions/{n} admin operator sub_operator secretary chair delegate auditor endpoint
GET    /api/v1/meetings/{id}/minutes/signatures admin operator sub_operator secretary chair delegate auditor endpoint
POST   /api/v1/meetings/{id}/minutes/signatures/prepare admin secretary chair
POST   /api/v1/meetings/{id}/minutes/signatures/complete admin secretary chair
POST   /api/v1/meetings/{id}/recordings         admin operator sub_operator
POST   /api/v1/meetings/{id}/recordings/stop    admin operator sub_operator
GET    /api/v1/meetings/{id}/recordings         admin operator sub_operator secretary chair auditor
GET    /api/v1/meetings/{id}/recordings/{rec}/{file} admin operator sub_operator secretary chair auditor
GET    /api/v1/audit                            admin auditor
GET    /api/v1/audit/verify                     admin auditor
GET    /api/v1/cascade                          admin operator auditor
POST   /api/v1/cascade/hello                    node
GET    /api/v1/cascade/nodes                    admin operator auditor
POST   /api/v1/cascade/nodes                    admin
GET    /api/v1/cascade/nodes/{id}               admin operator auditor
DELETE /api/v1/cascade/nodes/{id}               admin
POST   /api/v1/cascade/nodes/{id}/credential    admin
POST   /api/v1/cascade/relay/{meeting}          node
POST   /api/v1/cascade/relay/{meeting}/leave    node
POST   /api/v1/cascade/relay/{meeting}/sync     node
GET    /api/v1/signatures/trust                 admin operator auditor
POST   /api/v1/signatures/crls                  admin
DELETE /api/v1/signatures/crls/{sha256}         admin
POST   /api/v1/signatures/recheck               admin
";

pub(crate) const PRINCIPALS: [&str; 9] = [
    "admin",
    "operator",
    "sub_operator",
    "secretary",
    "chair",
    "delegate",
    "auditor",
    "endpoint",
    "anonymous",
];

pub(crate) fn table() -> BTreeMap<(String, String), BTreeSet<String>> {
    let people = [
        "admin",
        "operator",
        "sub_operator",
        "secretary",
        "chair",
        "delegate",
        "auditor",
    ];
    TABLE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace();
            let method = parts.next().unwrap().to_string();
            let path = parts.next().unwrap().to_string();
            let mut allowed = BTreeSet::new();
            for who in parts {
                match who {
                    "public" => allowed.extend(PRINCIPALS.iter().map(|s| s.to_string())),
                    "people" => allowed.extend(people.iter().map(|s| s.to_string())),
                    "node" => {
                        allowed.insert("node".to_string());
                    }
                    other => {
                        assert!(PRINCIPALS.contains(&other), "unknown principal {other}");
                        allowed.insert(other.to_string());
                    }
                }
            }
            ((method, path), allowed)
        })
        .collect()
}

both_backends! {
    async fn every_principal_against_every_route_matches_the_allow_table(db) {
        let w = world(db).await;
        let doc = w.as_role("anonymous").get("/api/v1/openapi.json").await.body;
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let table = table();
        let listed: BTreeSet<_> = table.keys().cloned().collect();
        assert_eq!(
            documented.difference(&listed).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "routes missing from the permission table"
        );
        assert_eq!(
            listed.difference(&documented).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "table lines for routes that do not exist"
        );
        let endpoint = w.as_endpoint("a");
        let mut wrong = Vec::new();
        for ((method, path), allowed) in &table {
            // Ids that exist nowhere: an allowed caller gets past the check
            // and then a 404 (or a 4xx about the body), never a change.
            let concrete = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "zz_none" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            for who in PRINCIPALS {
                let client: Client = match who {
                    "endpoint" => endpoint.clone(),
                    other => w.as_role(other).clone(),
                };
                let m = Method::from_bytes(method.as_bytes()).unwrap();
                let body = (m != Method::GET && m != Method::DELETE).then(|| json!({}));
                let r = client.call(m, &concrete, body.as_ref()).await;
                let refused = r.status == 403 && r.code() == "forbidden";
                let unauthenticated = r.status == 401;
                let expect_allowed = allowed.contains(who);
                let ok = if allowed.contains("node") {
                    r.status == 401 && r.code() == "node_unauthorized"
                } else if expect_allowed {
                    !refused && !unauthenticated && r.status != 500
                } else if who == "anonymous" {
                    unauthenticated
                } else {
                    refused
                };
                if !ok {
                    let expected = if allowed.contains("node") { "node_unauthorized" } else if expect_allowed { "allowed" } else { "refused" };
                    wrong.push(format!("{who:>12} {method} {path}: expected {expected}, got {} {}", r.status, r.text));
                }
            }
        }
        assert!(wrong.is_empty(), "permission matrix mismatches:\n{}", wrong.join("\n"));
    }
}
