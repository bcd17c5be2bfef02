//! People: users, passwords, sessions, API tokens, login rate limiting, the
//! audit trail of every change; over HTTP and from the command line.

use diemcau::control::people::{
    AuthError, FREE_ATTEMPTS_PER_PAIR, People, PeopleError, Role, TokenCheck, UserDetails,
};
use diemcau::store::Store;
use diemcau::store::audit::{self, Verification};
use sqlx::Row;

use crate::support::db::{audit_count, both_backends, operator};

const PASSWORD: &str = "Hội nghị 2025 an toàn";

fn details(name: &str, roles: &[Role]) -> UserDetails {
    UserDetails {
        display_name: name.into(),
        roles: roles.iter().copied().collect(),
        scope_unit_id: None,
    }
}

async fn stored_hash(store: &Store, login: &str) -> String {
    sqlx::query("SELECT password_hash FROM users WHERE login = $1")
        .bind(login)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0)
}

both_backends! {
    async fn password_is_stored_as_argon2id_never_in_clear(db) {
        let people = People::new(db.store.clone());
        let user = people
            .create(&operator(), "An.Nguyen", details("Nguyễn Văn An", &[Role::Operator]), PASSWORD)
            .await
            .unwrap();
        assert_eq!(user.login, "an.nguyen", "login names are lowercased");
        let hash = stored_hash(&db.store, "an.nguyen").await;
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(!hash.contains(PASSWORD));
        let log = audit::list(&db.store, 0, 100).await.unwrap();
        assert!(log.iter().all(|r| !r.details.contains(PASSWORD) && !r.details.contains(&hash)));

        let short = people.create(&operator(), "binh", details("Bình", &[Role::Delegate]), "short").await;
        assert!(matches!(short, Err(PeopleError::Invalid { field: "password", .. })), "{short:?}");
        let again = people.create(&operator(), "AN.NGUYEN", details("X", &[Role::Delegate]), PASSWORD).await;
        assert!(matches!(again, Err(PeopleError::NameTaken(_))), "{again:?}");
        let unscoped = people.create(&operator(), "sub", details("Sub", &[Role::SubOperator]), PASSWORD).await;
        assert!(matches!(unscoped, Err(PeopleError::Invalid { field: "scope_unit_id", .. })));
        let mut scoped = details("Sub", &[Role::SubOperator]);
        scoped.scope_unit_id = Some("ou_missing".into());
        let missing = people.create(&operator(), "sub", scoped, PASSWORD).await;
        assert!(matches!(missing, Err(PeopleError::Invalid { field: "scope_unit_id", .. })));
        assert_eq!(audit_count(&db.store).await, 1, "refused creations change nothing");
    }
}

both_backends! {
    async fn login_needs_the_right_password_and_failures_are_audited_without_it(db) {
        let people = People::new(db.store.clone());
        let from = Some("10.20.0.9".parse().unwrap());
        let user = people
            .create(&operator(), "chair", details("Chủ trì", &[Role::Chair]), PASSWORD)
            .await
            .unwrap();
        let login = people.login("Chair", PASSWORD, from).await.unwrap();
        assert_eq!(login.user.id, user.id);
        assert!(login.session.expose().starts_with("dcs_"));
        assert!(!login.csrf.is_empty());

        let wrong = people.login("chair", "not the password", from).await;
        assert!(matches!(wrong, Err(AuthError::BadCredentials)), "{wrong:?}");
        let unknown = people.login("nobody", PASSWORD, from).await;
        assert!(matches!(unknown, Err(AuthError::BadCredentials)), "{unknown:?}");
        assert_eq!(wrong.unwrap_err().to_string(), unknown.unwrap_err().to_string(),
            "the reply does not tell which names exist");

        let log = audit::list(&db.store, 0, 100).await.unwrap();
        let failed: Vec<_> = log.iter().filter(|r| r.action == "auth.login_failed").collect();
        assert_eq!(failed.len(), 2);
        assert_eq!(failed[0].address, "10.20.0.9");
        assert!(failed.iter().all(|r| !r.details.contains("not the password") && !r.details.contains(PASSWORD)));
        assert!(log.iter().any(|r| r.action == "auth.login" && r.actor_id == user.id));
    }
}

both_backends! {
    async fn disabled_user_cannot_log_in_and_loses_their_sessions(db) {
        let people = People::new(db.store.clone());
        let user = people
            .create(&operator(), "delegate1", details("Đại biểu", &[Role::Delegate]), PASSWORD)
            .await
            .unwrap();
        let login = people.login("delegate1", PASSWORD, None).await.unwrap();
        people.set_disabled(&operator(), &user.id, true).await.unwrap();
        assert!(people.get(&user.id).await.unwrap().disabled);
        assert!(people.authenticate_session(login.session.expose()).await.unwrap().is_none());
        let refused = people.login("delegate1", PASSWORD, None).await;
        assert!(matches!(refused, Err(AuthError::BadCredentials)), "{refused:?}");

        people.set_disabled(&operator(), &user.id, false).await.unwrap();
        people.login("delegate1", PASSWORD, None).await.unwrap();
    }
}

both_backends! {
    async fn session_authenticates_until_logout(db) {
        let people = People::new(db.store.clone());
        let user = people
            .create(&operator(), "secretary", details("Thư ký", &[Role::Secretary]), PASSWORD)
            .await
            .unwrap();
        let login = people.login("secretary", PASSWORD, None).await.unwrap();
        let token = login.session.expose();
        let stored: String = sqlx::query("SELECT token_hash FROM user_sessions")
            .fetch_one(db.store.pool()).await.unwrap().get(0);
        assert_ne!(stored, token, "only the token's hash is stored");
        assert_eq!(people.authenticate_session(token).await.unwrap().unwrap().id, user.id);
        assert!(people.authenticate_session("dcs_forged").await.unwrap().is_none());

        assert!(people.logout(token, None).await.unwrap());
        assert!(people.authenticate_session(token).await.unwrap().is_none());
        assert!(!people.logout(token, None).await.unwrap(), "a second logout finds nothing");
    }
}

both_backends! {
    async fn api_token_is_shown_once_and_revocable(db) {
        let people = People::new(db.store.clone());
        let user = people
            .create(&operator(), "robot", details("Tự động", &[Role::Operator]), PASSWORD)
            .await
            .unwrap();
        let (token, secret) = people.create_api_token(&operator(), &user.id, "lịch họp").await.unwrap();
        assert!(secret.expose().starts_with("dct_"));
        let listed = people.api_tokens(&user.id).await.unwrap();
        assert_eq!(listed, vec![token.clone()]);
        let listed_json = serde_json::to_string(&listed).unwrap();
        assert!(!listed_json.contains(secret.expose()), "listing never shows the token");
        let (who, id) = people.authenticate_api_token(secret.expose()).await.unwrap().unwrap();
        assert_eq!((who.id.as_str(), id.as_str()), (user.id.as_str(), token.id.as_str()));

        people.revoke_api_token(&operator(), &token.id).await.unwrap();
        assert!(people.authenticate_api_token(secret.expose()).await.unwrap().is_none());
        assert!(matches!(people.revoke_api_token(&operator(), &token.id).await, Err(PeopleError::Unknown(_))));
    }
}

both_backends! {
    async fn wrong_passwords_slow_only_their_own_name_and_address(db) {
        let people = People::new(db.store.clone());
        people
            .create(&operator(), "target", details("Mục tiêu", &[Role::Delegate]), PASSWORD)
            .await
            .unwrap();
        let attacker = Some("10.9.9.9".parse().unwrap());
        for _ in 0..FREE_ATTEMPTS_PER_PAIR {
            let r = people.login("target", "wrong guess!", attacker).await;
            assert!(matches!(r, Err(AuthError::BadCredentials)), "{r:?}");
        }
        match people.login("target", PASSWORD, attacker).await {
            Err(AuthError::RateLimited { retry_after_secs }) => {
                assert!((1..=300).contains(&retry_after_secs), "{retry_after_secs}");
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        let before = audit_count(&db.store).await;
        let verified = people.password_verifications();
        let _ = people.login("target", "wrong guess!", attacker).await;
        assert_eq!(audit_count(&db.store).await, before, "a refused attempt is not even checked");
        assert_eq!(people.password_verifications(), verified, "nor verified");
        // The owner, elsewhere, is not locked out by the stranger.
        let owner = Some("10.20.0.5".parse().unwrap());
        people.login("target", PASSWORD, owner).await.unwrap();
    }
}

both_backends! {
    async fn api_tokens_expire_after_their_lifetime_and_say_so(db) {
        let people = People::with_token_days(db.store.clone(), 30);
        let user = people
            .create(&operator(), "robot", details("Tự động", &[Role::Operator]), PASSWORD)
            .await
            .unwrap();
        let (token, secret) = people.create_api_token(&operator(), &user.id, "lịch").await.unwrap();
        assert_eq!(token.expires_at_ms, token.created_at_ms + 30 * 86_400_000);
        assert_eq!(people.api_tokens(&user.id).await.unwrap()[0].expires_at_ms, token.expires_at_ms);
        assert!(matches!(people.check_api_token(secret.expose()).await.unwrap(), TokenCheck::Valid(..)));
        // 31 days later (the row made older).
        sqlx::query("UPDATE api_tokens SET created_at = created_at - $1 WHERE id = $2")
            .bind(31 * 86_400_000i64)
            .bind(&token.id)
            .execute(db.store.pool())
            .await
            .unwrap();
        match people.check_api_token(secret.expose()).await.unwrap() {
            TokenCheck::Expired { expired_at_ms } => {
                assert_eq!(expired_at_ms, token.expires_at_ms - 31 * 86_400_000)
            }
            other => panic!("expected expired, got {other:?}"),
        }
        assert!(people.authenticate_api_token(secret.expose()).await.unwrap().is_none());
        // A longer lifetime in the config applies to it at once.
        let longer = People::with_token_days(db.store.clone(), 90);
        assert!(matches!(longer.check_api_token(secret.expose()).await.unwrap(), TokenCheck::Valid(..)));
    }
}

/// The `details` of the newest audit record with `action`.
async fn last_audit(store: &Store, action: &str) -> serde_json::Value {
    let log = audit::list(store, 0, 1000).await.unwrap();
    let r = log
        .iter()
        .rev()
        .find(|r| r.action == action)
        .unwrap_or_else(|| panic!("no {action}"));
    serde_json::from_str(&r.details).unwrap()
}

both_backends! {
    async fn a_password_change_revokes_api_tokens_and_ends_sessions(db) {
        let people = People::new(db.store.clone());
        let user = people
            .create(&operator(), "an", details("An", &[Role::Operator]), PASSWORD)
            .await
            .unwrap();
        let login = people.login("an", PASSWORD, None).await.unwrap();
        let (_, one) = people.create_api_token(&operator(), &user.id, "một").await.unwrap();
        let (_, two) = people.create_api_token(&operator(), &user.id, "hai").await.unwrap();
        people.set_password(&operator(), &user.id, "một mật khẩu mới").await.unwrap();
        for t in [&one, &two] {
            assert!(people.authenticate_api_token(t.expose()).await.unwrap().is_none());
        }
        assert!(people.authenticate_session(login.session.expose()).await.unwrap().is_none());
        assert!(people.api_tokens(&user.id).await.unwrap().iter().all(|t| t.revoked_at_ms.is_some()));
        let record = last_audit(&db.store, "user.set_password").await;
        assert_eq!(record["api_tokens_revoked"], 2, "{record}");
        assert_eq!(record["sessions_ended"], 1, "{record}");
    }
}

both_backends! {
    async fn disabling_a_user_revokes_api_tokens_and_they_stay_revoked(db) {
        let people = People::new(db.store.clone());
        let user = people
            .create(&operator(), "binh", details("Bình", &[Role::Secretary]), PASSWORD)
            .await
            .unwrap();
        let (_, secret) = people.create_api_token(&operator(), &user.id, "ci").await.unwrap();
        people.set_disabled(&operator(), &user.id, true).await.unwrap();
        assert!(people.authenticate_api_token(secret.expose()).await.unwrap().is_none());
        assert_eq!(last_audit(&db.store, "user.disable").await["api_tokens_revoked"], 1);
        people.set_disabled(&operator(), &user.id, false).await.unwrap();
        assert!(
            people.authenticate_api_token(secret.expose()).await.unwrap().is_none(),
            "re-enabled, the old token stays revoked"
        );
    }
}

both_backends! {
    async fn a_role_change_ends_the_users_sessions_a_new_name_does_not(db) {
        let people = People::new(db.store.clone());
        let user = people
            .create(&operator(), "chu.tri", details("Chủ trì", &[Role::Chair]), PASSWORD)
            .await
            .unwrap();
        let login = people.login("chu.tri", PASSWORD, None).await.unwrap();
        people.update(&operator(), &user.id, details("Chủ trì hội nghị", &[Role::Chair])).await.unwrap();
        assert!(people.authenticate_session(login.session.expose()).await.unwrap().is_some());
        people.update(&operator(), &user.id, details("Chủ trì hội nghị", &[Role::Delegate])).await.unwrap();
        assert!(people.authenticate_session(login.session.expose()).await.unwrap().is_none());
        assert_eq!(last_audit(&db.store, "user.update").await["sessions_ended"], 1);
    }
}

both_backends! {
    async fn every_change_is_audited_and_the_chain_verifies(db) {
        let people = People::new(db.store.clone());
        let actor = operator();
        let user = people.create(&actor, "an", details("An", &[Role::Operator]), PASSWORD).await.unwrap();
        assert_eq!(audit_count(&db.store).await, 1);
        people.update(&actor, &user.id, details("Nguyễn Văn An", &[Role::Operator, Role::Chair])).await.unwrap();
        assert_eq!(audit_count(&db.store).await, 2);
        people.set_password(&actor, &user.id, "một mật khẩu mới").await.unwrap();
        assert_eq!(audit_count(&db.store).await, 3);
        people.set_disabled(&actor, &user.id, true).await.unwrap();
        assert_eq!(audit_count(&db.store).await, 4);
        let (token, _) = people.create_api_token(&actor, &user.id, "ci").await.unwrap();
        people.revoke_api_token(&actor, &token.id).await.unwrap();
        assert_eq!(audit_count(&db.store).await, 6);

        let actions: Vec<String> = audit::list(&db.store, 0, 100).await.unwrap()
            .into_iter().map(|r| r.action).collect();
        assert_eq!(actions, ["user.create", "user.update", "user.set_password", "user.disable",
                             "api_token.create", "api_token.revoke"]);
        let after = people.get(&user.id).await.unwrap();
        assert!(after.has(Role::Chair) && after.disabled);
        assert_eq!(audit::verify(&db.store).await.unwrap(), Verification::Intact { records: 6 });
    }
}

mod http {
    use super::*;
    use crate::support::server;

    fn cookie_of(resp: &reqwest::Response) -> String {
        resp.headers()
            .get("set-cookie")
            .expect("a session cookie")
            .to_str()
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn login_sets_a_strict_httponly_cookie_and_writes_need_csrf() {
        let srv = server::start().await;
        let people = People::new(srv.server.state().store.clone());
        people
            .create(
                &operator(),
                "operator",
                details("Điều hành", &[Role::Operator]),
                PASSWORD,
            )
            .await
            .unwrap();
        let http = reqwest::Client::new();
        let base = srv.base_url();

        let bad = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"name": "operator", "password": "wrong password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 401);
        let body: serde_json::Value = bad.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
        assert_eq!(body["error"]["message"], "wrong login name or password");

        let ok = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"name": "operator", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        let set_cookie = cookie_of(&ok);
        assert!(
            set_cookie.starts_with("diemcau_session=dcs_"),
            "{set_cookie}"
        );
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(set_cookie.contains(attr), "{attr} missing: {set_cookie}");
        }
        assert!(
            !set_cookie.contains("Secure"),
            "plain HTTP on loopback: {set_cookie}"
        );
        let body: serde_json::Value = ok.json().await.unwrap();
        assert_eq!(body["user"]["login"], "operator");
        let csrf = body["csrf"].as_str().unwrap().to_string();
        let cookie = set_cookie.split(';').next().unwrap().to_string();

        let me = http
            .get(format!("{base}/api/v1/auth/me"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200);
        let me: serde_json::Value = me.json().await.unwrap();
        assert_eq!(me["user"]["roles"], serde_json::json!(["operator"]));
        assert_eq!(me["csrf"], csrf.as_str());
        let anonymous = http
            .get(format!("{base}/api/v1/auth/me"))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);

        let tokens = format!("{base}/api/v1/auth/tokens");
        let no_csrf = http
            .post(&tokens)
            .header("cookie", &cookie)
            .json(&serde_json::json!({"label": "ci"}))
            .send()
            .await
            .unwrap();
        assert_eq!(no_csrf.status(), 403);
        let body: serde_json::Value = no_csrf.json().await.unwrap();
        assert_eq!(body["error"]["code"], "csrf");
        let wrong_csrf = http
            .post(&tokens)
            .header("cookie", &cookie)
            .header("x-csrf-token", "00")
            .json(&serde_json::json!({"label": "ci"}))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong_csrf.status(), 403);
        let created = http
            .post(&tokens)
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&serde_json::json!({"label": "ci"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let created: serde_json::Value = created.json().await.unwrap();
        let secret = created["secret"].as_str().unwrap();

        // Bearer API tokens need no CSRF header (browsers never add them).
        let by_token = http
            .get(format!("{base}/api/v1/auth/me"))
            .bearer_auth(secret)
            .send()
            .await
            .unwrap();
        assert_eq!(by_token.status(), 200);
        let revoke = http
            .delete(format!(
                "{tokens}/{}",
                created["token"]["id"].as_str().unwrap()
            ))
            .bearer_auth(secret)
            .send()
            .await
            .unwrap();
        assert_eq!(revoke.status(), 204);
        let revoked = http
            .get(format!("{base}/api/v1/auth/me"))
            .bearer_auth(secret)
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 401);

        let logout_no_csrf = http
            .post(format!("{base}/api/v1/auth/logout"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(logout_no_csrf.status(), 403);
        let logout = http
            .post(format!("{base}/api/v1/auth/logout"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), 204);
        let after = http
            .get(format!("{base}/api/v1/auth/me"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(after.status(), 401);
        srv.server.shutdown().await;
    }

    #[tokio::test]
    async fn repeated_wrong_passwords_get_429_with_retry_after() {
        let srv = server::start().await;
        let http = reqwest::Client::new();
        let url = format!("{}/api/v1/auth/login", srv.base_url());
        let body = serde_json::json!({"name": "ghost", "password": "guess guess"});
        for _ in 0..FREE_ATTEMPTS_PER_PAIR {
            assert_eq!(
                http.post(&url).json(&body).send().await.unwrap().status(),
                401
            );
        }
        let limited = http.post(&url).json(&body).send().await.unwrap();
        assert_eq!(limited.status(), 429);
        let retry: u64 = limited.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=300).contains(&retry), "{retry}");
        let body: serde_json::Value = limited.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limited");
        srv.server.shutdown().await;
    }

    /// A client whose connections come from `ip` (any 127.0.0.0/8 address
    /// reaches the server's 127.0.0.1 listener).
    fn client_from(ip: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(Some(ip.parse().unwrap()))
            .build()
            .unwrap()
    }

    /// A server with one admin (`admin`, [`PASSWORD`]); its `People` (for
    /// the verification counters) and its login URL.
    async fn server_with_admin() -> (server::TestServer, People, String) {
        let srv = server::start().await;
        let people = srv.server.state().people.clone();
        people
            .create(
                &operator(),
                "admin",
                details("Quản trị", &[Role::Admin]),
                PASSWORD,
            )
            .await
            .unwrap();
        let url = format!("{}/api/v1/auth/login", srv.base_url());
        (srv, people, url)
    }

    #[tokio::test]
    async fn login_limiter_verifies_at_most_the_allowed_attempts() {
        let (srv, people, url) = server_with_admin().await;
        let before = people.password_verifications();
        let attacker = client_from("127.0.0.1");
        let wrong = serde_json::json!({"name": "admin", "password": "đoán mò 123456"});
        let answers = futures_util::future::join_all((0..50).map(|_| {
            let (c, url, body) = (attacker.clone(), url.clone(), wrong.clone());
            async move { c.post(&url).json(&body).send().await.unwrap() }
        }))
        .await;
        let verified = people.password_verifications() - before;
        assert!(
            verified <= u64::from(FREE_ATTEMPTS_PER_PAIR),
            "{verified} of 50 parallel wrong passwords were verified"
        );
        let refused: Vec<_> = answers.iter().filter(|r| r.status() == 429).collect();
        let denied = answers.iter().filter(|r| r.status() == 401).count();
        assert_eq!(refused.len() + denied, 50);
        assert_eq!(denied as u64, verified, "each verified guess is a 401");
        assert!(
            refused
                .iter()
                .all(|r| r.headers().contains_key("retry-after"))
        );
        // The admin, from another address, logs in while it goes on.
        let again = attacker.post(&url).json(&wrong).send().await.unwrap();
        assert_eq!(again.status(), 429);
        let right = serde_json::json!({"name": "admin", "password": PASSWORD});
        let ok = client_from("127.0.0.2")
            .post(&url)
            .json(&right)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200, "{:?}", ok.text().await);
        // The count is on the metrics listener too.
        let metrics = reqwest::get(format!("{}/metrics", srv.metrics_url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let line = format!(
            "diemcau_password_verifications_total {}",
            people.password_verifications()
        );
        assert!(metrics.contains(&line), "{line} not in\n{metrics}");
        srv.server.shutdown().await;
    }

    #[tokio::test]
    async fn password_verifications_run_a_few_at_a_time_whatever_the_addresses() {
        let (srv, people, url) = server_with_admin().await;
        // 40 addresses, each within its free attempts: the throttle admits
        // them all, the verification slots take them two by two.
        let answers = futures_util::future::join_all((0..40).map(|i| {
            let url = url.clone();
            async move {
                client_from(&format!("127.0.1.{}", i + 1))
                    .post(&url)
                    .json(&serde_json::json!({"name": "admin", "password": "đoán mò 123456"}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        }))
        .await;
        assert!(
            answers.iter().all(|s| *s == 401 || *s == 429),
            "{answers:?}"
        );
        assert!(answers.iter().any(|s| *s == 401));
        let peak = people.peak_concurrent_verifications();
        assert!(
            (1..=diemcau::control::people::MAX_CONCURRENT_VERIFICATIONS as u64).contains(&peak),
            "{peak} verifications ran at once"
        );
        srv.server.shutdown().await;
    }

    #[tokio::test]
    async fn an_expired_api_token_gets_a_401_that_says_it_expired() {
        let srv = server::start_with(|c| c.auth.api_token_days = 1).await;
        let people = srv.server.state().people.clone();
        let user = people
            .create(
                &operator(),
                "robot",
                details("Tự động", &[Role::Operator]),
                PASSWORD,
            )
            .await
            .unwrap();
        let (token, secret) = people
            .create_api_token(&operator(), &user.id, "ci")
            .await
            .unwrap();
        assert_eq!(token.expires_at_ms - token.created_at_ms, 86_400_000);
        let me = format!("{}/api/v1/auth/me", srv.base_url());
        let http = reqwest::Client::new();
        let live = http
            .get(&me)
            .bearer_auth(secret.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(live.status(), 200);
        sqlx::query("UPDATE api_tokens SET created_at = created_at - $1 WHERE id = $2")
            .bind(2 * 86_400_000i64)
            .bind(&token.id)
            .execute(srv.server.state().store.pool())
            .await
            .unwrap();
        let expired = http
            .get(&me)
            .bearer_auth(secret.expose())
            .send()
            .await
            .unwrap();
        assert_eq!(expired.status(), 401);
        let body: serde_json::Value = expired.json().await.unwrap();
        assert_eq!(body["error"]["code"], "token_expired", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("expired"),
            "{body}"
        );
        srv.server.shutdown().await;
    }
}

fn admin_create(dir: &std::path::Path, name: &str, password: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_diemcau"))
        .args(["admin", "create", "--name", name])
        // No configs/diemcau.toml there: defaults plus the data dir below.
        .current_dir(dir)
        .env("DIEMCAU_DATA_DIR", dir.join("data"))
        .env("DIEMCAU_ADMIN_PASSWORD", password)
        .env_remove("DIEMCAU_DATABASE__URL")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run diemcau")
}

#[tokio::test]
async fn admin_create_command_makes_an_admin_who_can_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let short = admin_create(dir.path(), "root", "too short");
    assert_eq!(short.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10 characters"));

    let made = admin_create(dir.path(), "root", PASSWORD);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let again = admin_create(dir.path(), "root", PASSWORD);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("data/diemcau.db").display()
    );
    let store = Store::open(&url).await.unwrap();
    let people = People::new(store.clone());
    let login = people.login("root", PASSWORD, None).await.unwrap();
    assert!(login.user.has(Role::Admin));
    let log = audit::list(&store, 0, 10).await.unwrap();
    assert_eq!(log[0].action, "user.create");
    assert_eq!(log[0].actor_id, "cli");
    store.close().await;
}
