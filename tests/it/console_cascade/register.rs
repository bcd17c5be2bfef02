//! The top's admin registers a node: refusals beside their fields, the
//! credential shown once, the node listed unlinked until its hello.

use super::*;

#[test]
fn registering_a_node_refuses_an_empty_form_a_taken_id_and_a_long_name_beside_their_fields() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let t = TopAdmin::open(db).await;
        let (steps, admin) = (t.steps(), t.w.admin());
        t.open_register_dialog().await;
        steps
            .run("document.getElementById('cas-submit').click(); return true;")
            .await;
        let empty = steps
            .until(
                "04-empty",
                "const i = document.getElementById('cas-id-error'), n = document.getElementById('cas-name-error');\
                 return !i.hidden && !n.hidden ? [i.textContent, n.textContent] : null;",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(
            empty,
            json!(["Vui lòng nhập mã nút.", "Vui lòng nhập tên nút."])
        );
        steps
            .run(
                "document.getElementById('cas-id').value = 'xa-binh-minh';\
                 document.getElementById('cas-name').value = 'Trùng mã';\
                 document.getElementById('cas-submit').click(); return true;",
            )
            .await;
        let taken = steps
            .until(
                "04-taken",
                "const i = document.getElementById('cas-id-error');\
                 return !i.hidden && document.getElementById('cas-id').getAttribute('aria-invalid') === 'true' ? i.textContent : null;",
                STEP_TIMEOUT,
            )
            .await;
        assert!(
            taken
                .as_str()
                .unwrap_or_default()
                .starts_with("Mã nút này đã được đăng ký."),
            "{taken}"
        );
        steps
            .run(&format!(
                "document.getElementById('cas-id').value = 'xa-an-phu';\
                 document.getElementById('cas-name').value = {};\
                 document.getElementById('cas-submit').click(); return true;",
                json!("N".repeat(201))
            ))
            .await;
        let long = steps
            .until(
                "04-long-name",
                "const n = document.getElementById('cas-name-error');\
                 return !n.hidden && document.getElementById('cas-id-error').hidden ? n.textContent : null;",
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(long, "Tên nút không hợp lệ (trống hoặc quá dài).");
        steps.shot("04-long-name").await;
        let nodes = admin.get("/api/v1/cascade/nodes").await;
        assert_eq!(
            nodes.body["nodes"].as_array().map(|n| n.len()),
            Some(1),
            "nothing registered by the refusals: {}",
            nodes.text
        );
        t.close().await;
    }));
}

/// Serving commune A (picked from the org tree: the meetings it carries);
/// the credential is shown once, with its warning; listed, not linked
/// until the node says hello with it.
#[test]
fn a_registered_nodes_credential_shows_once_and_the_node_is_listed_unlinked_until_its_hello() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let t = TopAdmin::open(db).await;
        let (steps, admin, w) = (t.steps(), t.w.admin(), &t.w);
        let top = w.srv.base_url();
        t.open_register_dialog().await;
        steps
            .run("document.getElementById('cas-id').value = 'xa-an-phu'; return true;")
            .await;
        let name = "Đảng ủy xã An Phú";
        let unit_a = json!(w.unit("A"));
        steps
            .until(
                "05-unit-options",
                &format!("return document.querySelector('#cas-unit option[value=' + JSON.stringify({unit_a}) + ']') !== null;"),
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run(&format!(
                "document.getElementById('cas-name').value = {};\
                 document.getElementById('cas-uplink').value = '8000';\
                 document.getElementById('cas-unit').value = {unit_a};\
                 document.getElementById('cas-submit').click(); return true;",
                json!(name)
            ))
            .await;
        let shown = steps
            .until(
                "05-credential",
                "const d = document.getElementById('token-dialog');\
                 const v = document.getElementById('token-value').value;\
                 return d.open && !document.getElementById('cas-dialog').open && v.startsWith('dcn_') ? {\
                   value: v,\
                   heading: document.getElementById('token-heading').textContent,\
                   warning: document.querySelector('#token-dialog .token-warning').textContent,\
                 } : null;",
                STEP_TIMEOUT,
            )
            .await;
        let issued = shown["value"].as_str().expect("credential").to_string();
        assert_eq!(
            shown["heading"], "Mã xác thực của nút “Đảng ủy xã An Phú”",
            "{shown}"
        );
        let warning = shown["warning"].as_str().unwrap_or_default();
        assert!(
            warning.contains("chỉ hiển thị MỘT LẦN") && warning.contains("[cascade] credential"),
            "{shown}"
        );
        steps.shot("05-credential").await;
        steps
            .run("document.getElementById('token-copy').click(); return true;")
            .await;
        steps
            .until(
                "05-copied",
                "return !document.getElementById('token-copied').hidden;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run("document.getElementById('token-close').click(); return true;")
            .await;

        // 5. Listed, not linked (it never said hello); the credential is
        // gone from the page, the endpoint wording is back in the dialog.
        let listed = steps
            .until(
                "06-listed",
                &format!(
                    "const r = {};\
                     return r && !document.getElementById('token-dialog').open\
                       && document.getElementById('token-value').value === ''\
                       && !document.body.innerHTML.includes({}) ? {{\
                         link: r.dataset.link, badge: r.querySelector('.badge').textContent,\
                         cells: [...r.cells].slice(0, 5).map(c => c.textContent),\
                         warning: document.querySelector('#token-dialog .token-warning').textContent }} : null;",
                    row("xa-an-phu"),
                    json!(issued)
                ),
                STEP_TIMEOUT,
            )
            .await;
        assert_eq!(listed["link"], "down", "{listed}");
        assert_eq!(listed["badge"], "Chưa liên kết", "{listed}");
        assert_eq!(
            listed["cells"],
            json!([
                "Đảng ủy xã An Phúxa-an-phu",
                "Chưa liên kết",
                "—",
                "—",
                "8000 kbit/s"
            ]),
            "{listed}"
        );
        assert!(
            listed["warning"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Mã truy cập này chỉ hiển thị MỘT LẦN"),
            "{listed}"
        );
        steps.shot("06-listed").await;

        // 6. The credential read off the dialog is the node's: its hello is
        // accepted, and the open view shows the link up by itself.
        let (status, answer) = hello(&top, "xa-an-phu", &issued).await;
        assert_eq!(status, 200, "{answer}");
        let node = admin.get("/api/v1/cascade/nodes/xa-an-phu").await;
        assert_eq!(
            node.body["unit_id"].as_str(),
            Some(w.unit("A")),
            "{}",
            node.text
        );
        assert_eq!(answer["parent_id"], "top", "{answer}");
        steps
            .until(
                "07-linked",
                &format!(
                    "const r = {}; return r && r.dataset.link === 'up' && r.querySelector('.badge').textContent === 'Đã liên kết';",
                    row("xa-an-phu")
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("07-linked").await;
        t.close().await;
    }));
}
