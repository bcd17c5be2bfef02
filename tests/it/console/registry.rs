//! The endpoint registry: the org tree with each unit's rooms; a new
//! room, its token shown once; editing, rotating and revoking; importing
//! units from CSV; what an auditor sees; the English labels.
//! [`Registry`] opens the view for a logged-in user; rotating and revoking
//! act on the demo's room B, whose token the test knows.

use serde_json::json;

use super::{POLL_INTERVAL, STEP_TIMEOUT, bearer, log_in, script_errors};
use crate::support::api::{ApiWorld, fingerprint, world};
use crate::support::browser::{ChromeDriver, Session, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

/// The registry's row of room `id`.
fn row(id: &str) -> String {
    format!("document.querySelector('#reg-tree tr[data-endpoint=\"{id}\"]')")
}

/// Units to import: the second row's kind (`phuong`) is not one.
const BAD_CSV: &str = "code,name,kind,parent_code,valid_from\n\
                       X1,Xã Tân Lập,commune,P,2025-07-01\n\
                       X2,Phường Đông Hòa,phuong,P,2025-07-01\n";

/// A console in Chromium on the registry, logged in as `login`.
struct Registry {
    w: ApiWorld,
    page: Session,
    _driver: ChromeDriver,
}

impl Registry {
    async fn open(w: ApiWorld, login: &str) -> Self {
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let r = Self {
            w,
            page,
            _driver: driver,
        };
        let steps = r.steps();
        log_in(&steps, &r.w.srv.base_url(), login).await;
        steps
            .run("document.getElementById('nav-endpoints').click(); return true;")
            .await;
        steps
            .until(
                "01-registry",
                &format!(
                    "return location.pathname === '/console/endpoints' && {} !== null\
                       && document.getElementById('nav-endpoints').getAttribute('aria-current') === 'page';",
                    row(r.w.endpoint("a"))
                ),
                STEP_TIMEOUT,
            )
            .await;
        r
    }

    fn steps(&self) -> Steps<'_> {
        Steps::new(&self.page, "console-registry", POLL_INTERVAL)
    }

    /// Open the new-room dialog of commune B.
    async fn new_room_in_b(&self) {
        let steps = self.steps();
        steps
            .run(&format!(
                "document.querySelector('#reg-tree section[data-unit=\"{}\"] [data-action=add-endpoint]').click(); return true;",
                self.w.unit("B")
            ))
            .await;
        steps
            .until(
                "02-new-endpoint",
                &format!(
                    "return document.getElementById('ep-dialog').open && document.getElementById('ep-unit').value === {};",
                    json!(self.w.unit("B"))
                ),
                STEP_TIMEOUT,
            )
            .await;
    }

    /// Pick `csv` in the import card's file input and send it.
    async fn import(&self, csv: &str) {
        self.steps()
            .run(&format!(
                "const dt = new DataTransfer();\
                 dt.items.add(new File([{}], 'don-vi.csv', {{type: 'text/csv'}}));\
                 const input = document.getElementById('import-file');\
                 input.files = dt.files; input.dispatchEvent(new Event('change', {{bubbles: true}}));\
                 document.getElementById('import-submit').click(); return true;",
                json!(csv)
            ))
            .await;
    }

    async fn close(self) {
        let errors = script_errors(&self.page).await;
        assert!(errors.is_empty(), "script errors: {errors:#?}");
        self.page.close().await;
    }
}

#[test]
fn the_registry_lists_each_units_rooms_with_technician_link_and_state_in_vietnamese() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let r = Registry::open(world(db).await, "test_operator").await;
        let steps = r.steps();
        let a = r.w.endpoint("a").to_string();
        let cells = steps
            .run(&format!(
                "const r = {}; return {{unit: r.closest('section.reg-unit').querySelector('.unit-name').textContent,\
                   cells: [...r.cells].slice(0, 5).map(c => c.textContent)}};",
                row(&a)
            ))
            .await;
        assert_eq!(cells["unit"], "Xã An Phú", "{cells}");
        assert_eq!(
            cells["cells"],
            json!([
                "Điểm cầu xã An Phú",
                "Phòng họp trực tuyến",
                "Trần Văn Kỹ0912 345 678",
                "4G",
                "Hoạt động"
            ]),
            "{cells}"
        );
        steps.shot("01-registry").await;

        r.close().await;
    }));
}

#[test]
fn a_new_room_without_a_name_is_refused_beside_the_field() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let r = Registry::open(world(db).await, "test_operator").await;
        let steps = r.steps();
        r.new_room_in_b().await;
        steps
            .run("document.getElementById('ep-submit').click(); return true;")
            .await;
        steps
            .until(
                "02-name-missing",
                "const e = document.getElementById('ep-name-error');\
                 return !e.hidden && e.textContent === 'Vui lòng nhập tên điểm cầu.';",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("02-name-missing").await;
        r.close().await;
    }));
}

#[test]
fn a_new_rooms_token_is_shown_once_and_is_the_rooms_own() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let r = Registry::open(world(db).await, "test_operator").await;
        let (steps, w) = (r.steps(), &r.w);
        r.new_room_in_b().await;
        let name = "Điểm cầu xã Bình Minh – phòng 2";
        steps
            .run(&format!(
                "document.getElementById('ep-name').value = {};\
                 document.getElementById('ep-room').value = 'Nhà văn hóa xã, tầng 2';\
                 document.getElementById('ep-tech').value = 'Lê Thị Hạnh';\
                 document.getElementById('ep-phone').value = '0987 654 321';\
                 document.getElementById('ep-link').value = 'vsat';\
                 document.getElementById('ep-submit').click(); return true;",
                json!(name)
            ))
            .await;
        let token = steps
            .until(
                "03-token",
                "const d = document.getElementById('token-dialog');\
                 const v = document.getElementById('token-value').value;\
                 return d.open && !document.getElementById('ep-dialog').open && v.length > 20\
                   && document.querySelector('#token-dialog .token-warning').textContent.includes('chỉ hiển thị MỘT LẦN') ? v : null;",
                STEP_TIMEOUT,
            )
            .await
            .as_str()
            .expect("token")
            .to_string();
        assert!(
            steps
                .run("return document.getElementById('token-heading').textContent;")
                .await
                .as_str()
                .unwrap_or_default()
                .contains(name)
        );
        steps.shot("03-token").await;
        // The token read off the dialog is the room's: it reads the room's meetings.
        let as_room = bearer(w, &token);
        let own = as_room.get("/api/v1/meetings").await;
        assert_eq!(own.status, 200, "{}", own.text);
        let list = w.as_role("operator").get("/api/v1/endpoints").await;
        let made = list.body["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} registered: {}", list.text));
        assert_eq!(made["unit"]["id"], w.unit("B"), "{made}");
        assert_eq!(made["link"], "vsat", "{made}");
        assert_eq!(made["technician_phone"], "0987 654 321", "{made}");
        let id = made["id"].as_str().expect("id").to_string();
        // Closed, the token is gone from the page; the room is listed under B.
        steps
            .run("document.getElementById('token-close').click(); return true;")
            .await;
        steps
            .until(
                "04-listed",
                &format!(
                    "const r = {}; return !document.getElementById('token-dialog').open\
                       && document.getElementById('token-value').value === '' && r !== null\
                       && r.closest('section.reg-unit').dataset.unit === {} && r.dataset.state === 'active'\
                       && !document.body.innerHTML.includes({});",
                    row(&id),
                    json!(w.unit("B")),
                    json!(token)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("04-listed").await;
        r.close().await;
    }));
}

/// The dialog comes back filled; the unit stays (bindings are dated) and
/// so does the room's token.
#[test]
fn editing_a_rooms_details_keeps_its_unit_and_its_token() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let r = Registry::open(world(db).await, "test_operator").await;
        let (steps, w) = (r.steps(), &r.w);
        let id = w.endpoint("a").to_string();
        steps
            .run(&format!(
                "{}.querySelector('[data-action=edit-endpoint]').click(); return true;",
                row(&id)
            ))
            .await;
        steps
            .until(
                "04-edit",
                "return document.getElementById('ep-dialog').open\
                   && document.getElementById('ep-name').value === 'Điểm cầu xã An Phú'\
                   && document.getElementById('ep-link').value === '4g' && document.getElementById('ep-unit').disabled\
                   && document.getElementById('ep-heading').textContent === 'Sửa thông tin điểm cầu';",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run(
                "document.getElementById('ep-tech').value = 'Nguyễn Văn Toàn';\
                 document.getElementById('ep-phone').value = '0911 222 333';\
                 document.getElementById('ep-submit').click(); return true;",
            )
            .await;
        steps
            .until(
                "04-edited",
                &format!(
                    "const r = {}; return !document.getElementById('ep-dialog').open && r !== null\
                       && r.cells[2].textContent === 'Nguyễn Văn Toàn0911 222 333' && r.cells[3].textContent === '4G';",
                    row(&id)
                ),
                STEP_TIMEOUT,
            )
            .await;
        let edited = w
            .as_role("operator")
            .get(&format!("/api/v1/endpoints/{id}"))
            .await;
        assert_eq!(
            edited.body["endpoint"]["technician_name"], "Nguyễn Văn Toàn",
            "{}",
            edited.text
        );
        assert_eq!(edited.body["endpoint"]["link"], "4g", "{}", edited.text);
        assert_eq!(edited.body["max_kbps"], 1500, "{}", edited.text);
        // The token still works: editing details does not touch it.
        let as_room = bearer(w, &w.province.endpoint_tokens["a"]);
        assert_eq!(as_room.get("/api/v1/meetings").await.status, 200);
        steps.shot("04-edited").await;
        r.close().await;
    }));
}

#[test]
fn the_registry_filter_finds_a_room_without_its_accents() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let r = Registry::open(world(db).await, "test_operator").await;
        let steps = r.steps();
        steps
            .run(
                "const f = document.getElementById('reg-filter'); f.value = 'xa an phu';\
                 f.dispatchEvent(new Event('input', {bubbles: true})); return true;",
            )
            .await;
        let shown = steps
            .run(
                "return [...document.querySelectorAll('#reg-tree tr[data-endpoint]')]\
                   .filter(r => r.offsetParent !== null).map(r => r.dataset.endpoint);",
            )
            .await;
        assert_eq!(shown, json!([r.w.endpoint("a")]), "only room a matches");
        steps.shot("04-filtered").await;
        r.close().await;
    }));
}

#[test]
fn rotating_a_rooms_token_after_a_confirmation_gives_a_new_one_and_the_old_one_fails() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let r = Registry::open(world(db).await, "test_operator").await;
        let (steps, w) = (r.steps(), &r.w);
        let id = w.endpoint("b").to_string();
        let token = w.province.endpoint_tokens["b"].clone();
        let as_room = bearer(w, &token);
        assert_eq!(as_room.get("/api/v1/meetings").await.status, 200);
        steps
            .run(&format!(
                "{}.querySelector('[data-action=rotate]').click(); return true;",
                row(&id)
            ))
            .await;
        steps
            .until(
                "05-confirm-rotate",
                "return document.getElementById('confirm').open\
                   && document.getElementById('confirm-text').textContent.startsWith('Cấp mã truy cập mới cho');",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run("document.getElementById('confirm-yes').click(); return true;")
            .await;
        let rotated = steps
            .until(
                "06-rotated",
                &format!(
                    "const v = document.getElementById('token-value').value;\
                     return document.getElementById('token-dialog').open && v.length > 20 && v !== {} ? v : null;",
                    json!(token)
                ),
                STEP_TIMEOUT,
            )
            .await
            .as_str()
            .expect("rotated token")
            .to_string();
        steps.shot("06-rotated").await;
        assert_eq!(as_room.get("/api/v1/meetings").await.status, 401);
        let as_room = bearer(w, &rotated);
        assert_eq!(as_room.get("/api/v1/meetings").await.status, 200);
        r.close().await;
    }));
}

#[test]
fn revoking_a_rooms_token_marks_its_row_and_the_token_stops_working() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let r = Registry::open(world(db).await, "test_operator").await;
        let (steps, w) = (r.steps(), &r.w);
        let id = w.endpoint("b").to_string();
        let as_room = bearer(w, &w.province.endpoint_tokens["b"]);
        assert_eq!(as_room.get("/api/v1/meetings").await.status, 200);
        steps
            .run(&format!(
                "{}.querySelector('[data-action=revoke]').click(); return true;",
                row(&id)
            ))
            .await;
        steps
            .until(
                "07-confirm-revoke",
                "return document.getElementById('confirm').open;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run("document.getElementById('confirm-yes').click(); return true;")
            .await;
        steps
            .until(
                "07-revoked",
                &format!(
                    "const r = {}; return r !== null && r.dataset.state === 'revoked'\
                       && r.querySelector('.badge').textContent === 'Đã thu hồi mã'\
                       && r.querySelector('[data-action=revoke]') === null;",
                    row(&id)
                ),
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(as_room.get("/api/v1/meetings").await.status, 401);
        steps.shot("07-revoked").await;
        r.close().await;
    }));
}

/// An unknown kind on row 3: the row and column are named in Vietnamese,
/// and nothing changes.
#[test]
fn a_csv_import_with_a_bad_row_names_its_row_and_column_and_changes_nothing() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let r = Registry::open(world(db).await, "test_operator").await;
        let (steps, w) = (r.steps(), &r.w);
        let before = fingerprint(&w.db.store).await;
        let units_before = w.as_role("operator").get("/api/v1/org/units").await;
        r.import(BAD_CSV).await;
        let refusal = steps
            .until(
                "08-import-refused",
                "const e = document.getElementById('import-error');\
                 return e.hidden ? null : e.querySelector('.import-reason').textContent;",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(
            refusal,
            "Dòng 3, cột “kind” (Loại): loại đơn vị không hợp lệ; dùng province, commune, ward, special_zone, sector hoặc central"
        );
        assert!(
            steps
                .run("return document.getElementById('import-error').textContent;")
                .await
                .as_str()
                .unwrap_or_default()
                .contains("Không có thay đổi nào được ghi."),
        );
        steps.shot("08-import-refused").await;
        assert_eq!(
            fingerprint(&w.db.store).await,
            before,
            "a refused import changes nothing"
        );
        let units_after = w.as_role("operator").get("/api/v1/org/units").await;
        assert_eq!(units_after.body["units"], units_before.body["units"]);
        r.close().await;
    }));
}

#[test]
fn a_csv_of_units_imports_whole_and_the_tree_shows_them() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let r = Registry::open(world(db).await, "test_operator").await;
        let steps = r.steps();
        r.import(&BAD_CSV.replace("phuong", "ward")).await;
        steps
            .until(
                "09-imported",
                "const ok = document.getElementById('import-ok');\
                 const names = [...document.querySelectorAll('#reg-tree .unit-name')].map(n => n.textContent);\
                 return !ok.hidden && ok.textContent === 'Đã nhập 2 đơn vị.'\
                   && names.includes('Xã Tân Lập') && names.includes('Phường Đông Hòa');",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("09-imported").await;
        r.close().await;
    }));
}

#[test]
fn an_auditor_sees_the_registry_without_its_write_actions() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let r = Registry::open(world(db).await, "test_auditor").await;
        let steps = r.steps();
        let a = r.w.endpoint("a").to_string();
        assert_eq!(
            steps
                .run("return document.getElementById('btn-schedule').hidden;")
                .await,
            true
        );
        steps
            .until(
                "10-auditor",
                &format!(
                    "return {} !== null && document.getElementById('btn-ep-new').hidden\
                       && document.getElementById('import-card').hidden\
                       && document.querySelector('#reg-tree [data-action]') === null;",
                    row(&a)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("10-auditor").await;
        r.close().await;
    }));
}

#[test]
fn the_english_switch_relabels_the_registry() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let r = Registry::open(world(db).await, "test_operator").await;
        let steps = r.steps();
        let a = r.w.endpoint("a").to_string();
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        steps
            .until(
                "11-english",
                &format!(
                    "const r = {}; return document.querySelector('#view-endpoints h1').textContent === 'Endpoints'\
                       && document.getElementById('nav-endpoints').textContent === 'Endpoints'\
                       && r !== null && r.cells[3].textContent === '4G'\
                       && r.closest('section.reg-unit').querySelector('.kind-tag').textContent === 'Commune'\
                       && r.querySelector('.badge').textContent === 'Active';",
                    row(&a)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("11-english").await;
        r.close().await;
    }));
}
