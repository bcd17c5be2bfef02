//! The console's cascade links view (`/console/cascade`) in real Chromium
//! against two real nodes on one store: a top node and a child node linked
//! to it, with a live meeting relayed between them.
//!
//! On the child the operator sees its place in the tree, the parent link up
//! and the meeting's relay link with its rates drawn as bars against the
//! budget, and the top's admin sees the child linked and relaying; on the
//! top the admin registers another node (refusals beside their fields), reads
//! its credential once and sees it listed as not linked until it says hello;
//! a standalone node explains how to configure `[cascade]`. [`TopAdmin`]
//! opens the view for the top's admin, with no child running.
//!
//! Runs in a loopback-only network namespace. Screenshots of every step land
//! in `target/test-artifacts/browser/console-cascade-*.png`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::console::log_in;
use crate::relay::{live_meeting, register};
use crate::support::api::{ApiWorld, world_with};
use crate::support::browser::{ChromeDriver, Session, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::{PublishConfig, run_in_loopback_netns, whip_publisher};
use crate::support::server::{TestServer, start_with};

mod link;
mod register;
mod standalone;

/// Page steps are one or two HTTP round trips; a loaded 2-core machine
/// still answers within seconds, so 20 s only trips on a real failure.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// A relay link forms within a few seconds (two ICE/DTLS handshakes and a
/// supervisor pass); the console polls every 2 s.
const LINK_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// A child node named `name` below `parent` on the same store.
async fn child_node(
    db_url: &str,
    id: &str,
    name: &str,
    parent: &str,
    credential: &str,
) -> TestServer {
    let (db_url, id, name, parent, credential) = (
        db_url.to_string(),
        id.to_string(),
        name.to_string(),
        parent.to_string(),
        credential.to_string(),
    );
    start_with(move |c| {
        c.demo.token = None;
        c.database.url = db_url;
        c.cascade.node_id = Some(id);
        c.cascade.name = Some(name);
        c.cascade.parent = Some(parent);
        c.cascade.credential = Some(credential);
        c.cascade.uplink_kbps = 4000;
    })
    .await
}

/// Uncaught script errors the page logged since the last look.
async fn script_errors(page: &crate::support::browser::Session) -> Vec<String> {
    page.console_log()
        .await
        .into_iter()
        .filter(|l| {
            l.contains("Uncaught") || l.contains("TypeError") || l.contains("ReferenceError")
        })
        .collect()
}

/// The child's hello, as a child node sends it.
async fn hello(base: &str, node_id: &str, credential: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/cascade/hello"))
        .bearer_auth(credential)
        .json(&json!({"node_id": node_id, "name": "Đảng ủy xã An Phú", "path": []}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `#cas-children-body` row of node `node`.
fn row(node: &str) -> String {
    format!("document.querySelector('#cas-children-body tr[data-node=\"{node}\"]')")
}

/// The top node's admin in Chromium on "Liên kết tầng", the register
/// dialog's node `xa-binh-minh` already registered (over the API) but no
/// child running.
struct TopAdmin {
    w: ApiWorld,
    db_url: String,
    page: Session,
    _driver: ChromeDriver,
}

impl TopAdmin {
    async fn open(db: crate::support::db::TestDb) -> Self {
        let db_url = db.url.clone();
        let w = world_with(db, |c| {
            c.cascade.node_id = Some("top".into());
            c.cascade.name = Some("Tỉnh ủy".into());
        })
        .await;
        register(
            w.admin(),
            "xa-binh-minh",
            "Đảng ủy xã Bình Minh",
            w.unit("B"),
        )
        .await;
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let t = Self {
            w,
            db_url,
            page,
            _driver: driver,
        };
        let steps = t.steps();
        log_in(&steps, &t.w.srv.base_url(), "test_admin").await;
        steps
            .run("document.getElementById('nav-cascade').click(); return true;")
            .await;
        steps
            .until(
                "03-top",
                &format!(
                    "return location.pathname === '/console/cascade' && {} !== null;",
                    row("xa-binh-minh")
                ),
                STEP_TIMEOUT,
            )
            .await;
        t
    }

    fn steps(&self) -> Steps<'_> {
        Steps::new(&self.page, "console-cascade", POLL_INTERVAL)
    }

    async fn open_register_dialog(&self) {
        let steps = self.steps();
        steps
            .run("document.getElementById('btn-cas-new').click(); return true;")
            .await;
        steps
            .until(
                "04-dialog",
                "return document.getElementById('cas-dialog').open;",
                STEP_TIMEOUT,
            )
            .await;
    }

    async fn close(self) {
        let errors = script_errors(&self.page).await;
        assert!(errors.is_empty(), "script errors: {errors:?}");
        self.page.close().await;
    }
}
