//! The agenda tab: a bad planned time refused before sending, items added,
//! reordered by drag and drop, taken up.

use super::*;

#[test]
fn a_planned_time_outside_1_to_600_minutes_is_refused_before_sending() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let p = Portal::open(world(db).await).await;
        let (steps, w) = (p.steps(), &p.w);
        steps
            .until(
                "03-agenda-add-invalid",
                &add_item("Khai mạc hội nghị", "Đồng chí Bí thư", "0"),
                STEP_TIMEOUT,
            )
            .await;
        let refusal = steps.until("03-agenda-invalid",
            "const e = document.getElementById('agenda-error'); return e.hidden ? null : e.textContent;",
            STEP_TIMEOUT,
        )
        .await;
        assert!(
            refusal
                .as_str()
                .unwrap_or_default()
                .contains("từ 1 đến 600 phút"),
            "{refusal}"
        );
        steps.shot("03-agenda-invalid").await;
        assert_eq!(
            w.as_role("secretary")
                .get(&format!("{}/agenda", p.api))
                .await
                .body["items"],
            json!([]),
            "nothing was sent"
        );
        p.close().await;
    }));
}

#[test]
fn items_added_on_the_page_are_saved_in_order() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let p = Portal::open(world(db).await).await;
        let (steps, w) = (p.steps(), &p.w);
        steps
            .until(
                "04-agenda-add-first",
                &add_item("Khai mạc hội nghị", "Đồng chí Bí thư", "10"),
                STEP_TIMEOUT,
            )
            .await;
        steps
            .until(
                "04-agenda-one",
                "return document.querySelectorAll('#agenda-list .ag-item').length === 1;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .until(
                "04-agenda-add-second",
                &add_item(
                    "Thảo luận dự thảo Nghị quyết về chuyển đổi số",
                    "Ban Tuyên giáo",
                    "45",
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps
            .until(
                "04-agenda-two",
                "return document.querySelectorAll('#agenda-list .ag-item').length === 2;",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("04-agenda-added").await;
        let agenda = w
            .as_role("secretary")
            .get(&format!("{}/agenda", p.api))
            .await;
        let ids: Vec<String> = agenda.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["id"].as_str().expect("item id").to_string())
            .collect();
        assert_eq!(ids.len(), 2, "{}", agenda.text);
        let titles: Vec<&str> = agenda.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["title"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            titles,
            [
                "Khai mạc hội nghị",
                "Thảo luận dự thảo Nghị quyết về chuyển đổi số"
            ],
            "{}",
            agenda.text
        );
        p.close().await;
    }));
}

#[test]
fn dragging_the_second_item_above_the_first_reorders_the_agenda_on_the_server() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let p = Portal::open(world(db).await).await;
        let (steps, w) = (p.steps(), &p.w);
        let ids = p.two_items().await;
        steps.run("const items = document.querySelectorAll('#agenda-list .ag-item');\
             const src = items[1], dst = items[0]; const dt = new DataTransfer();\
             const r = dst.getBoundingClientRect();\
             const at = { bubbles: true, cancelable: true, dataTransfer: dt, clientX: r.left + 20, clientY: r.top + 3 };\
             src.dispatchEvent(new DragEvent('dragstart', { bubbles: true, dataTransfer: dt }));\
             dst.dispatchEvent(new DragEvent('dragenter', at));\
             dst.dispatchEvent(new DragEvent('dragover', at));\
             dst.dispatchEvent(new DragEvent('drop', at));\
             src.dispatchEvent(new DragEvent('dragend', { bubbles: true, dataTransfer: dt }));\
             return true;",
        )
        .await;
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let a = w
                .as_role("secretary")
                .get(&format!("{}/agenda", p.api))
                .await;
            let now: Vec<&str> = a.body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["id"].as_str().unwrap_or_default())
                .collect();
            if now == [ids[1].as_str(), ids[0].as_str()] {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the drop did not reorder: {}",
                a.text
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        steps.until("05-agenda-reordered",
            &format!(
                "const li = document.querySelectorAll('#agenda-list .ag-item');\
                 return li.length === 2 && li[0].dataset.item === {} && li[0].querySelector('.ag-pos').textContent === '1.';",
                json!(ids[1])
            ),
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("05-agenda-reordered").await;
        p.close().await;
    }));
}

#[test]
fn taking_up_an_item_marks_it_current_on_the_page() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let p = Portal::open(world(db).await).await;
        let steps = p.steps();
        let ids = p.two_items().await;
        steps.run("document.querySelector('#agenda-list .ag-item [data-action=current]').click(); return true;",
        )
        .await;
        steps.until("05b-agenda-current",
            &format!(
                "const li = document.querySelector('#agenda-list .ag-item');\
                 return li.dataset.item === {} && li.dataset.current === 'true' && !!li.querySelector('.tb-current');",
                json!(ids[0])
            ),
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("05b-agenda-current").await;
        p.close().await;
    }));
}
