//! The documents tab: a 3 MiB PDF with its progress bar, a Mật upload
//! refused, a version carrying a "MẬT" stamp held until confirmed.

use super::*;

/// Choose `pdf` as `name`, titled `title`, for `item` (ordinary), and send
/// it; returns the upload's final state from the page.
async fn upload(
    p: &Portal,
    name: &str,
    pdf: &[u8],
    title: &str,
    item: &str,
    timeout: Duration,
) -> Value {
    let (script, args) = choose_file(name, pdf);
    let size = p
        .page
        .execute(&script, args)
        .await
        .unwrap_or_else(|e| panic!("choose the file: {e}"));
    assert_eq!(size, json!(pdf.len()));
    let steps = p.steps();
    steps
        .run(&format!(
            "document.getElementById('up-title').value = {};\
             document.getElementById('up-item').value = {};\
             document.getElementById('up-class').value = 'thuong';\
             document.getElementById('up-submit').click(); return true;",
            json!(title),
            json!(item)
        ))
        .await;
    steps
        .until(
            "07-uploaded",
            "const u = window.diemcau.state().upload; return u.state === 'uploading' ? null : u;",
            timeout,
        )
        .await
}

#[test]
fn a_3_mib_pdf_uploads_for_an_agenda_item_with_a_progress_bar_from_0_to_100() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let p = Portal::open(world(db).await).await;
        let (steps, w) = (p.steps(), &p.w);
        let item = p.two_items().await.remove(0);
        p.documents_tab(2).await;
        let pdf = padded_pdf(PDF_BYTES, "Tai lieu hop - du thao Nghi quyet");
        assert!(pdf.len() >= PDF_BYTES);
        let (script, args) = choose_file("du-thao-nghi-quyet.pdf", &pdf);
        let size = p
            .page
            .execute(&script, args)
            .await
            .unwrap_or_else(|e| panic!("choose the file: {e}"));
        assert_eq!(size, json!(pdf.len()));
        steps
            .run(&format!(
                "document.getElementById('up-title').value = 'Dự thảo Nghị quyết về chuyển đổi số';\
                 document.getElementById('up-item').value = {};\
                 document.getElementById('up-class').value = 'thuong';\
                 document.getElementById('up-submit').click(); return true;",
                json!(item)
            ))
            .await;
        steps.shot("06-upload-progress").await;
        let upload = steps.until("07-uploaded",
            "const u = window.diemcau.state().upload; return u.state === 'uploading' ? null : u;",
            UPLOAD_TIMEOUT,
        )
        .await;
        assert_eq!(upload["state"], "done", "{upload}");
        let trace: Vec<u64> = upload["trace"]
            .as_array()
            .expect("trace")
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        eprintln!("progress bar percents seen: {trace:?}");
        assert_eq!(upload["max"], json!(100), "the bar reached 100%: {trace:?}");
        assert!(
            trace.len() >= 2 && trace[0] == 0 && trace.windows(2).all(|p| p[0] <= p[1]),
            "the bar moved from 0 up to 100 and never back: {trace:?}"
        );
        let bar = steps.run("return [document.getElementById('up-bar').style.width, document.getElementById('up-progress-text').textContent];",
        )
        .await;
        assert_eq!(bar[0], "100%", "{bar}");
        assert!(bar[1].as_str().unwrap_or_default().contains("MiB"), "{bar}");
        let doc_id = upload["result"]["id"]
            .as_str()
            .expect("uploaded document id")
            .to_string();
        steps.until("07-uploaded",
            &format!(
                "const r = document.querySelector('#docs-body tr[data-doc=\"{doc_id}\"]');\
                 return !!r && r.dataset.state === 'available' && r.textContent.includes('v1')\
                   && r.textContent.includes('3,0 MiB') && !!r.querySelector('a[data-action=download]');"
            ),
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("07-uploaded").await;
        let docs = w
            .as_role("secretary")
            .get(&format!("{}/documents", p.api))
            .await;
        assert_eq!(
            docs.body["documents"][0]["size_bytes"],
            json!(pdf.len()),
            "{}",
            docs.text
        );
        assert_eq!(docs.body["documents"][0]["agenda_item_id"], json!(item));
        p.close().await;
    }));
}

#[test]
fn a_mat_document_is_refused_with_the_servers_words_in_vietnamese() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let p = Portal::open(world(db).await).await;
        let steps = p.steps();
        p.documents_tab(0).await;
        let (script, args) = choose_file("van-ban-mat.pdf", &padded_pdf(4096, "Bao cao"));
        p.page
            .execute(&script, args)
            .await
            .unwrap_or_else(|e| panic!("choose the file: {e}"));
        steps
            .run(
                "document.getElementById('up-title').value = 'Báo cáo tình hình';\
             document.getElementById('up-class').value = 'mat';\
             document.getElementById('up-submit').click(); return true;",
            )
            .await;
        let refusal = steps.until("08-classified-refused",
            "const e = document.getElementById('upload-error'); return e.hidden ? null : e.textContent;",
            STEP_TIMEOUT,
        )
        .await;
        assert!(
            refusal
                .as_str()
                .unwrap_or_default()
                .starts_with("Tài liệu Mật không được đưa lên hệ thống")
                && !refusal.as_str().unwrap_or_default().contains("may not"),
            "{refusal}"
        );
        steps.shot("08-classified-refused").await;
        let docs =
            p.w.as_role("secretary")
                .get(&format!("{}/documents", p.api))
                .await;
        assert_eq!(
            docs.body["documents"],
            json!([]),
            "nothing stored: {}",
            docs.text
        );
        p.close().await;
    }));
}

#[test]
fn a_new_version_with_a_mat_stamp_is_held_until_the_secretary_confirms_it_ordinary() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let p = Portal::open(world(db).await).await;
        let steps = p.steps();
        let item = p.two_items().await.remove(0);
        p.documents_tab(2).await;
        let first = upload(
            &p,
            "du-thao.pdf",
            &padded_pdf(4096, "Du thao"),
            "Dự thảo Nghị quyết",
            &item,
            UPLOAD_TIMEOUT,
        )
        .await;
        assert_eq!(first["state"], "done", "{first}");
        let doc_id = first["result"]["id"].as_str().expect("v1 id").to_string();
        steps.run(&format!(
                "document.querySelector('#docs-body tr[data-doc=\"{doc_id}\"] [data-action=new-version]').click();\
                 return document.getElementById('up-supersedes').value;"
            ),
        )
        .await;
        let stamped = padded_pdf(8192, ") Tj <FEFF004D1EAC0054> Tj (");
        let (script, args) = choose_file("du-thao-nghi-quyet-v2.pdf", &stamped);
        p.page
            .execute(&script, args)
            .await
            .unwrap_or_else(|e| panic!("choose the file: {e}"));
        steps
            .run("document.getElementById('up-submit').click(); return true;")
            .await;
        let second = steps.until("08b-held",
            "const u = window.diemcau.state().upload; return u.state === 'uploading' ? null : u;",
            STEP_TIMEOUT,
        )
        .await;
        assert_eq!(second["state"], "done", "{second}");
        assert_eq!(second["result"]["state"], "held", "{second}");
        assert_eq!(second["result"]["version"], 2, "{second}");
        assert_eq!(second["result"]["supersedes"], json!(doc_id), "{second}");
        let v2 = second["result"]["id"].as_str().expect("v2 id").to_string();
        let v2_row = format!("document.querySelector('#docs-body tr[data-doc=\"{v2}\"]')");
        steps.until("08b-held",
            &format!(
                "const r = {v2_row}; const old = document.querySelector('#docs-body tr[data-doc=\"{doc_id}\"]');\
                 return !!r && r.dataset.state === 'held' && !!r.querySelector('[data-action=confirm]')\
                   && !!old && old.textContent.includes('Đã có bản mới');"
            ),
            STEP_TIMEOUT,
        )
        .await;
        steps.shot("08b-held").await;
        steps
            .run(&format!(
                "{v2_row}.querySelector('[data-action=confirm]').click(); return true;"
            ))
            .await;
        steps
            .until(
                "08c-confirm-dialog",
                "return document.getElementById('confirm').open;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run("document.getElementById('confirm-yes').click(); return true;")
            .await;
        steps
            .until(
                "08c-confirmed",
                &format!("const r = {v2_row}; return !!r && r.dataset.state === 'available';"),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("08c-confirmed").await;
        p.close().await;
    }));
}
