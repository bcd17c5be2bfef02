//! The votes tab: a vote made on the page is the chair's to open, the
//! count follows a delegate's ballot, the published result shows as bars.

use super::*;

#[test]
fn a_vote_made_on_the_page_is_the_chairs_to_open_and_its_count_follows_a_delegates_ballot() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let p = Portal::open(world(db).await).await;
        let steps = p.steps();
        let api = p.api.clone();
        let w = &p.w;
        steps
            .run(
                "document.querySelector('.tab[data-tab=votes]').click();\
             document.getElementById('mo-title').value = 'Thông qua Nghị quyết về chuyển đổi số';\
             document.getElementById('mo-mode').value = 'open';\
             document.getElementById('mo-electorate').value = 'delegates';\
             document.getElementById('mo-submit').click(); return true;",
            )
            .await;
        let motion = steps.until("09-motion",
            "const c = document.querySelector('#motions .motion'); return c && c.dataset.state === 'draft' ? c.dataset.motion : null;",
            STEP_TIMEOUT,
        )
        .await
        .as_str()
        .expect("motion id")
        .to_string();
        // The vote is the chair's to open, close and publish: the
        // secretary's page shows no such button, says so, and follows.
        let hint = steps
            .run(&format!(
                "const c = {}; return !c.querySelector('[data-action=open]') && !!c.querySelector('.mo-chair-hint');",
                card(&motion)
            ))
            .await;
        assert_eq!(
            hint,
            serde_json::Value::Bool(true),
            "the secretary's card offers no step"
        );
        let chair = w.as_role("chair");
        let r = chair
            .post(&format!("{api}/motions/{motion}/open"), json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        steps
            .until(
                "09-motion-open",
                &format!(
                    "const c = {}; return !!c && c.dataset.state === 'open';",
                    card(&motion)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("09-motion-open").await;
        let r = w
            .as_role("delegate")
            .post(
                &format!("{api}/motions/{motion}/vote"),
                json!({"option": 0}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        steps
            .until(
                "10-vote-counted",
                &format!(
                    "const c = {}; return !!c && c.dataset.ballots === '1'\
                   && c.querySelector('.mo-ballots').textContent === 'Đã bỏ phiếu: 1'\
                   && c.querySelector('.bar-row[data-option=\"0\"]')?.dataset.votes === '1';",
                    card(&motion)
                ),
                STEP_TIMEOUT,
            )
            .await;
        steps.shot("10-vote-counted").await;
        p.close().await;
    }));
}

#[test]
fn a_published_result_shows_as_bars() {
    run_in_loopback_netns(run_sqlite(|db| async move {
        let p = Portal::open(world(db).await).await;
        let steps = p.steps();
        let api = p.api.clone();
        let w = &p.w;
        let motion = p.open_motion().await;
        let chair = w.as_role("chair");
        let r = w
            .as_role("delegate")
            .post(
                &format!("{api}/motions/{motion}/vote"),
                json!({"option": 0}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        for (verb, state) in [("close", "closed"), ("publish", "published")] {
            let r = chair
                .post(&format!("{api}/motions/{motion}/{verb}"), json!({}))
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            steps
                .until(
                    &format!("11-{state}"),
                    &format!(
                        "const c = {}; return !!c && c.dataset.state === '{state}';",
                        card(&motion)
                    ),
                    STEP_TIMEOUT,
                )
                .await;
        }
        let fill = steps.until("11-published",
            &format!(
                "const c = {}; const f = c && c.querySelector('.bar-row[data-option=\"0\"] .bar-fill');\
                 return f && c.querySelectorAll('.bar-row').length === 3 ? f.style.width : null;",
                card(&motion)
            ),
            STEP_TIMEOUT,
        )
        .await;
        assert_eq!(fill, "100%");
        steps.shot("11-published").await;
        let published = w
            .as_role("delegate")
            .get(&format!("{api}/motions/{motion}"))
            .await;
        assert_eq!(published.body["state"], "published", "{}", published.text);
        p.close().await;
    }));
}
