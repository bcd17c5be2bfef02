//! The endpoint registry: create a room, its token shown once, rotate,
//! revoke, import units from CSV.

use serde_json::json;

use super::{POLL_INTERVAL, STEP_TIMEOUT, bearer, log_in, script_errors};
use crate::support::api::{fingerprint, world};
use crate::support::browser::{ChromeDriver, Steps};
use crate::support::db::run_sqlite;
use crate::support::rtc_client::run_in_loopback_netns;

#[test]
fn operator_registers_an_endpoint_whose_token_is_shown_once_rotates_and_revokes_it_and_a_bad_csv_row_imports_nothing()
 {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let w = world(db).await;
        let base = w.srv.base_url();
        let driver = ChromeDriver::start().await;
        let page = driver.new_session().await;
        let steps = Steps::new(&page, "console-registry", POLL_INTERVAL);
        log_in(&steps, &base, "test_operator").await;

        // 1. The registry: the org tree with each unit's rooms, their
        // technician, link and state, in Vietnamese.
        steps
            .run("document.getElementById('nav-endpoints').click(); return true;")
            .await;
        let a = w.endpoint("a").to_string();
        let row =
            |id: &str| format!("document.querySelector('#reg-tree tr[data-endpoint=\"{id}\"]')");
        steps
            .until(
                "01-registry",
                &format!(
                    "return location.pathname === '/console/endpoints' && {} !== null\
                       && document.getElementById('nav-endpoints').getAttribute('aria-current') === 'page';",
                    row(&a)
                ),
                STEP_TIMEOUT,
            )
            .await;
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

        // 2. A new room for commune B: a missing name is refused beside the
        // field; then it is made and its token shown once, with a warning.
        steps
            .run(&format!(
                "document.querySelector('#reg-tree section[data-unit=\"{}\"] [data-action=add-endpoint]').click(); return true;",
                w.unit("B")
            ))
            .await;
        steps
            .until(
                "02-new-endpoint",
                &format!(
                    "return document.getElementById('ep-dialog').open && document.getElementById('ep-unit').value === {};",
                    json!(w.unit("B"))
                ),
                STEP_TIMEOUT,
            )
            .await;
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
        let as_room = bearer(&w, &token);
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
        // Its details are edited in the same dialog (the unit stays: bindings are dated).
        steps
            .run(&format!(
                "{}.querySelector('[data-action=edit-endpoint]').click(); return true;",
                row(&id)
            ))
            .await;
        steps
            .until(
                "04-edit",
                &format!(
                    "return document.getElementById('ep-dialog').open && document.getElementById('ep-name').value === {}\
                       && document.getElementById('ep-link').value === 'vsat' && document.getElementById('ep-unit').disabled\
                       && document.getElementById('ep-heading').textContent === 'Sửa thông tin điểm cầu';",
                    json!(name)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run(
                "document.getElementById('ep-tech').value = 'Nguyễn Văn Toàn';\
                 document.getElementById('ep-phone').value = '0911 222 333';\
                 document.getElementById('ep-link').value = '4g';\
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
        assert_eq!(as_room.get("/api/v1/meetings").await.status, 200);

        // The filter finds a room without its accents; other units fold away.
        steps
            .run(
                "const f = document.getElementById('reg-filter'); f.value = 'binh minh – phong 2';\
                 f.dispatchEvent(new Event('input', {bubbles: true})); return true;",
            )
            .await;
        let shown = steps
            .run(
                "return [...document.querySelectorAll('#reg-tree tr[data-endpoint]')]\
                   .filter(r => r.offsetParent !== null).map(r => r.dataset.endpoint);",
            )
            .await;
        assert_eq!(shown, json!([id]), "only the new room matches");
        steps.shot("04-filtered").await;
        steps
            .run(
                "const f = document.getElementById('reg-filter'); f.value = '';\
                 f.dispatchEvent(new Event('input', {bubbles: true})); return true;",
            )
            .await;

        // 3. Rotate, after a confirmation: a new token; the old one fails.
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
        let as_room = bearer(&w, &rotated);
        assert_eq!(as_room.get("/api/v1/meetings").await.status, 200);
        steps
            .run("document.getElementById('token-close').click(); return true;")
            .await;

        // 4. Revoke: the row says so and the token stops working.
        steps
            .until(
                "07-before-revoke",
                &format!(
                    "return !document.getElementById('token-dialog').open && {} !== null;",
                    row(&id)
                ),
                STEP_TIMEOUT,
            )
            .await;
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

        // 5. CSV import with one bad row (an unknown kind on row 3): the
        // row and column are named in Vietnamese, and nothing changes.
        let before = fingerprint(&w.db.store).await;
        let units_before = w.as_role("operator").get("/api/v1/org/units").await;
        let csv = "code,name,kind,parent_code,valid_from\n\
                   X1,Xã Tân Lập,commune,P,2025-07-01\n\
                   X2,Phường Đông Hòa,phuong,P,2025-07-01\n";
        // A real file through the file input, as a picked file arrives.
        steps
            .run(&format!(
                "const dt = new DataTransfer();\
                 dt.items.add(new File([{}], 'don-vi.csv', {{type: 'text/csv'}}));\
                 const input = document.getElementById('import-file');\
                 input.files = dt.files; input.dispatchEvent(new Event('change', {{bubbles: true}}));\
                 document.getElementById('import-submit').click(); return true;",
                json!(csv)
            ))
            .await;
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

        // Fixed, the same file imports whole and the tree shows the units.
        steps
            .run(&format!(
                "const dt = new DataTransfer();\
                 dt.items.add(new File([{}], 'don-vi.csv', {{type: 'text/csv'}}));\
                 document.getElementById('import-file').files = dt.files;\
                 document.getElementById('import-submit').click(); return true;",
                json!(csv.replace("phuong", "ward"))
            ))
            .await;
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

        // 6. An auditor sees the registry but none of its write actions.
        steps
            .run("document.getElementById('btn-logout').click(); return true;")
            .await;
        log_in(&steps, &base, "test_auditor").await;
        assert_eq!(
            steps
                .run("return document.getElementById('btn-schedule').hidden;")
                .await,
            true
        );
        steps
            .run("document.getElementById('nav-endpoints').click(); return true;")
            .await;
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
        // The English switch relabels the registry.
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

        let errors = script_errors(&page).await;
        assert!(errors.is_empty(), "script errors: {errors:#?}");
        page.close().await;
        drop(driver);
    }));
}
