//! The operator console (`web/console/`) in real Chromium against the real
//! server, one file per view and one test per behaviour: logging in and the
//! meetings list (`meetings`), the live wall as a real WebRTC room
//! (webrtc-rs, its own endpoint token) joins, is muted and drops (`wall`),
//! the floor (`floor`), the toolbar's lock, scene, layouts and end
//! (`toolbar`), link meters and charts (`links`), the scheduler
//! (`scheduler`) and the endpoint registry (`registry`).
//!
//! A test that needs a live meeting gets it from [`LiveWall`]: planned,
//! opened and started over the API (what `meetings` proves the page does),
//! the operator logged in and its wall open, so it runs only the steps of
//! its own behaviour. Each runs in a loopback-only network namespace;
//! screenshots land in `target/test-artifacts/browser/console-*.png`.

mod floor;
mod links;
mod meetings;
mod registry;
mod scheduler;
mod toolbar;
mod wall;

use std::time::Duration;

use serde_json::json;

use crate::support::api::{ApiWorld, Client, PASSWORD};
use crate::support::browser::{ChromeDriver, Session, Steps};
use crate::support::rtc_client::{ClientConfig, PublishConfig, RtcClient, WsClient, ws_join};

/// Page steps are one or two HTTP round trips; a loaded 2-core machine
/// still answers within seconds, so 20 s only trips on a real failure.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);
/// A webrtc-rs room joining through the SFU, then the console's event.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// A meeting for the hub and communes A and B, starting in three hours:
/// beyond the automatic lobby opening (30 min before), so the page, not
/// the server's timer, opens it.
async fn plan(w: &ApiWorld) -> String {
    let start = diemcau::store::now_ms() + 3 * 3_600_000;
    let made = w
        .as_role("secretary")
        .post(
            "/api/v1/meetings",
            json!({
                "title": "Hội nghị Ban Thường vụ Tỉnh ủy tháng 11",
                "kind": "btv",
                "starts_at_ms": start,
                "ends_at_ms": start + 2 * 3_600_000,
                "hub_endpoint_id": w.endpoint("hub"),
                "endpoint_ids": [w.endpoint("a"), w.endpoint("b")],
            }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    made.body["meetings"][0]["id"]
        .as_str()
        .expect("meeting id")
        .to_string()
}

/// `[data-endpoint=…]` tile selector for a live-wall tile.
fn tile(endpoint: &str) -> String {
    format!("document.querySelector('#grid [data-endpoint=\"{endpoint}\"]')")
}

/// Open the console and log in as `login`; returns once the meetings list shows.
pub(crate) async fn log_in(steps: &Steps<'_>, base: &str, login: &str) {
    steps.page.navigate(&format!("{base}/console")).await;
    steps
        .until(
            "00-login",
            "const f = document.getElementById('view-login'); return !!f && !f.hidden;",
            STEP_TIMEOUT,
        )
        .await;
    steps
        .run(&format!(
            "document.getElementById('login-name').value = {};\
             document.getElementById('login-password').value = {};\
             document.getElementById('login-submit').click(); return true;",
            json!(login),
            json!(PASSWORD)
        ))
        .await;
    steps
        .until(
            "00-meetings",
            &format!(
                "return window.diemcau.state().user === {} && !document.getElementById('view-meetings').hidden;",
                json!(login)
            ),
            STEP_TIMEOUT,
        )
        .await;
}

/// `ms` as a `datetime-local` value in province time (UTC+07:00).
fn local_input(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .expect("an instant")
        .to_offset(time::macros::offset!(+7));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// Uncaught script errors the page logged since the last look.
async fn script_errors(page: &Session) -> Vec<String> {
    page.console_log()
        .await
        .into_iter()
        .filter(|l| {
            l.contains("Uncaught") || l.contains("TypeError") || l.contains("ReferenceError")
        })
        .collect()
}

/// A client calling the API with `token` as its bearer (a room's token).
fn bearer(w: &ApiWorld, token: &str) -> Client {
    Client {
        bearer: Some(token.to_string()),
        ..w.as_role("anonymous").clone()
    }
}

/// A live meeting (the hub and communes A and B; rooms join unmuted, as
/// the operator chose) and its wall in an operator's console in Chromium.
pub(crate) struct LiveWall {
    pub w: ApiWorld,
    pub id: String,
    pub base: String,
    pub page: Session,
    /// Kept for the page's life.
    _driver: ChromeDriver,
}

impl LiveWall {
    /// Plan, open and start over the API, log `test_operator` in, open
    /// the wall; returns once its event stream is up and every site has a
    /// tile.
    pub async fn open(w: ApiWorld) -> Self {
        Self::open_as(w, "test_operator").await
    }

    /// [`LiveWall::open`] logged in as `login`.
    pub async fn open_as(w: ApiWorld, login: &str) -> Self {
        let id = plan(&w).await;
        let op = w.as_role("operator");
        for step in ["open", "start"] {
            let r = op
                .post(&format!("/api/v1/meetings/{id}/{step}"), json!({}))
                .await;
            assert_eq!(r.status, 200, "{step}: {}", r.text);
        }
        let r = op
            .post(
                &format!("/api/v1/meetings/{id}/live/mute-on-entry"),
                json!({"on": false}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let base = w.srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let wall = Self {
            w,
            id,
            base,
            page,
            _driver: driver,
        };
        let steps = wall.steps("console-wall");
        log_in(&steps, &wall.base, login).await;
        wall.page
            .navigate(&format!("{}/console/meetings/{}", wall.base, wall.id))
            .await;
        steps
            .until(
                "00-wall",
                "return window.diemcau.state().ws === 1\
                   && document.querySelectorAll('#grid .tile').length === 3;",
                STEP_TIMEOUT,
            )
            .await;
        wall
    }

    pub fn steps(&self, prefix: &'static str) -> Steps<'_> {
        Steps::new(&self.page, prefix, POLL_INTERVAL)
    }

    /// Room `key` (`a`, `b`) joins with its own token, publishing and
    /// receiving; returns once its tile is connected.
    pub async fn join(&self, key: &str) -> (RtcClient, WsClient) {
        let mut room = RtcClient::new(ClientConfig {
            name: format!("room {key}"),
            publish: Some(PublishConfig::default()),
            recv_video: 2,
            recv_audio: 2,
            ..Default::default()
        })
        .await
        .expect("webrtc-rs client");
        let token = &self.w.province.endpoint_tokens[key];
        let (ws, _joined) = ws_join(&mut room, &self.base, &self.id, token)
            .await
            .unwrap_or_else(|e| panic!("room {key} joins: {e}"));
        self.steps("console-wall")
            .until(
                "00-room-connected",
                &format!(
                    "return {}.dataset.state === 'connected';",
                    tile(self.w.endpoint(key))
                ),
                JOIN_TIMEOUT,
            )
            .await;
        (room, ws)
    }

    /// The live snapshot as the operator reads it over the API.
    pub async fn live(&self) -> serde_json::Value {
        let live = self
            .w
            .as_role("operator")
            .get(&format!("/api/v1/meetings/{}/live", self.id))
            .await;
        assert_eq!(live.status, 200, "{}", live.text);
        live.body
    }

    /// No script error on the page so far; then close it.
    pub async fn close(self) {
        let errors = script_errors(&self.page).await;
        assert!(errors.is_empty(), "script errors: {errors:#?}");
        self.page.close().await;
    }
}
