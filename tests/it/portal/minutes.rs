//! The minutes tab: conclusions and an item summary saved as version 1 and
//! exported as PDF; finalised, the signers listed; the English labels.

use super::*;

/// Open the minutes tab (two agenda items), write, save version 1.
async fn save_minutes(p: &Portal) {
    let (steps, w, api) = (p.steps(), &p.w, p.api.clone());
    steps
        .run("document.querySelector('.tab[data-tab=minutes]').click(); return true;")
        .await;
    steps
        .until(
            "12-minutes",
            "return document.querySelectorAll('#mi-items textarea').length === 2;",
            STEP_TIMEOUT,
        )
        .await;
    steps.run("document.querySelector('#mi-items textarea').value = 'Các đại biểu thống nhất nội dung dự thảo.';\
             document.getElementById('mi-conclusions').value = 'Hội nghị thông qua Nghị quyết về chuyển đổi số với 100% đại biểu tán thành.';\
             document.getElementById('mi-save').click(); return true;",
        )
        .await;
    steps
        .until(
            "12-minutes-saved",
            "const m = window.diemcau.state().minutes;\
             return !!m && m.status === 'draft' && m.version === 1\
               && document.querySelectorAll('#mi-versions li').length === 1;",
            STEP_TIMEOUT,
        )
        .await;
    steps.shot("12-minutes-saved").await;
    let saved = w.as_role("secretary").get(&format!("{api}/minutes")).await;
    assert!(
        saved.body["minutes"]["conclusions"]
            .as_str()
            .unwrap_or_default()
            .contains("100% đại biểu tán thành"),
        "{}",
        saved.text
    );
    assert_eq!(
        saved.body["minutes"]["agenda"][0]["summary"],
        "Các đại biểu thống nhất nội dung dự thảo."
    );
    let export = p
            .page
            .eval_promise(
                "fetch(document.getElementById('mi-pdf').href, { credentials: 'same-origin' })\
                 .then(async r => [r.status, r.headers.get('content-type'), (await r.arrayBuffer()).byteLength])",
            )
            .await
            .unwrap_or_else(|e| panic!("fetch the PDF export: {e}"));
    assert_eq!(export[0], 200, "{export}");
    assert_eq!(export[1], "application/pdf", "{export}");
    assert!(export[2].as_u64().unwrap_or(0) > 1000, "{export}");
}

#[test]
fn minutes_saved_as_version_1_export_as_a_pdf() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let p = Portal::open(world(db).await).await;
        p.two_items().await;
        save_minutes(&p).await;
        p.close().await;
    }));
}

/// This closed BCH meeting's minutes, finalised, wait for the secretary's
/// signature, then the chair's.
#[test]
fn finalised_minutes_list_the_secretary_then_the_chair_to_sign() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let p = Portal::open(world(db).await).await;
        let steps = p.steps();
        p.two_items().await;
        save_minutes(&p).await;
        steps
            .run("document.getElementById('mi-finalise').click(); return true;")
            .await;
        steps
            .until(
                "12-finalise-dialog",
                "return document.getElementById('confirm').open;",
                STEP_TIMEOUT,
            )
            .await;
        steps
            .run("document.getElementById('confirm-yes').click(); return true;")
            .await;
        steps
            .until(
                "12-minutes-to-sign",
                "const li = [...document.querySelectorAll('#mi-signatures li[data-state=pending]')];\
                 return li.length === 2 && li[0].dataset.role === 'secretary'\
                   && li[1].dataset.role === 'chair' && li[0].textContent.startsWith('Chờ ký — Thư ký')\
                   && document.getElementById('mi-signatures-empty').hidden;",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("12-minutes-to-sign").await;
        p.close().await;
    }));
}

#[test]
fn the_english_switch_relabels_the_portal_and_back() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let p = Portal::open(world(db).await).await;
        let steps = p.steps();
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        steps
            .until(
                "13-english",
                "return document.querySelector('.tab[data-tab=votes]').textContent === 'Votes'\
               && document.getElementById('mi-save').textContent === 'Save draft'\
               && document.documentElement.lang === 'en';",
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("13-english").await;
        steps
            .run("document.getElementById('btn-lang').click(); return true;")
            .await;
        steps.until("13-vietnamese",
            "return document.querySelector('.tab[data-tab=votes]').textContent === 'Biểu quyết';",
            STEP_TIMEOUT,
        )
        .await;
        p.close().await;
    }));
}
