//! `register` end to end: the Lambda event through lambda_http and the handler, and HTTP
//! requests through `warden-local`, on both backends — registration that tells nobody which
//! addresses have accounts, verification, resend and expiry.

use std::time::Duration;

use serde_json::json;
use warden_core::services::Services;
use warden_core::table::Key;
use warden_tests::api::{Api, PASSWORD};
use warden_tests::fixtures::{Fixture, embedded_served, test_config, unique};
use warden_tests::http_client::{post_json, request, unique_loopback};
use warden_tests::lambda_events::{body_json, invoke};
use warden_tests::work::Counted;

const ADA: &str = "ada.lovelace@example.com";

/// The sample event registers an unverified account; the same event again replaces it (its link
/// dies, the new one works); once verified, the event changes nothing and its holder is told —
/// with the same answer every time.
async fn the_event_registers_an_unverified_account_and_answers_alike_after(f: Fixture) {
    let state = Services::new(test_config(), f.backends.clone())
        .await
        .unwrap();
    let router = || warden_http::app(warden_register::routes(), state.clone());
    let verify = || warden_http::app(warden_login::routes(), state.clone());
    // The sample event's email may exist from an earlier run on a shared emulator: release it.
    let users = state.users();
    let claim = Key::new(format!("EMAIL#{}", users.index(ADA)), "EMAIL");
    f.backends.table.delete(&claim, None).await.unwrap();
    let mailbox = f.mailbox();
    let before = mailbox.to(ADA).await.len();

    let resp = invoke(router(), "register.json").await;
    assert_eq!(resp.status(), 202);
    let answer = body_json(resp).await;
    assert_eq!(answer["status"], "accepted");
    let first = users.find_by_email(ADA).await.unwrap().expect("stored");
    assert!(first.password_hash.starts_with("$argon2id$"));
    assert!(first.unverified_until.is_some(), "not verified yet");
    // The table's keys never hold the email: the claim the table holds is under the keyed
    // index. (Checked for strings no hex digest can contain by chance: "ada" alone is hex and
    // appears in about 1.5 % of indexes.)
    assert!(f.backends.table.get(&claim).await.unwrap().is_some());
    assert!(!claim.pk.contains("lovelace") && !claim.pk.contains("example"));
    let first_link = mailbox.link_token(ADA, "/verify-email").await.unwrap();

    // Again while unverified: the same answer; a new account holds the address.
    let again = invoke(router(), "register.json").await;
    assert_eq!(again.status(), 202);
    assert_eq!(body_json(again).await, answer);
    let second = users.find_by_email(ADA).await.unwrap().unwrap();
    assert_ne!(second.id, first.id, "the unverified account was replaced");
    let second_link = mailbox.link_token(ADA, "/verify-email").await.unwrap();
    let follow = |token: String| {
        let r = verify();
        async move {
            let body = json!({ "token": token }).to_string();
            warden_tests::in_process::send(
                &r,
                "POST",
                "/auth/email/verify",
                &[("content-type", "application/json")],
                &body,
            )
            .await
            .status()
        }
    };
    assert_eq!(
        follow(first_link).await,
        400,
        "the replaced account's link is dead"
    );
    assert_eq!(follow(second_link.clone()).await, 204);
    assert_eq!(follow(second_link).await, 400, "a link works once");
    let verified = users.find_by_email(ADA).await.unwrap().unwrap();
    assert_eq!(verified.unverified_until, None);

    // Taken: the same answer; nothing changes; the holder hears of it.
    let taken = invoke(router(), "register.json").await;
    assert_eq!(taken.status(), 202);
    assert_eq!(body_json(taken).await, answer);
    assert_eq!(users.find_by_email(ADA).await.unwrap().unwrap(), verified);
    let mail = mailbox.to(ADA).await;
    let subjects: Vec<&str> = mail[before..].iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    assert!(
        subjects[..2].iter().all(|s| s.contains("Confirm")),
        "{subjects:?}"
    );
    assert!(subjects[2].contains("tried to create"), "{subjects:?}");
}

/// A registration of a new address and one of a taken address answer alike and do the same
/// work.
async fn a_new_and_a_taken_address_get_the_same_answer_and_the_same_work(f: Fixture) {
    let counted = Counted::new(&f, test_config()).await;
    let api = &counted.api;
    let ip = unique_loopback();
    let taken = format!("{}@example.com", unique("taken"));
    api.register_verified(ip, &taken).await;
    let (answers, [new, taken]) = counted
        .least_work(4, |kind| {
            let email = match kind {
                0 => format!("{}@example.com", unique("new")),
                _ => taken.clone(),
            };
            (email.clone(), async move { api.register(ip, &email).await })
        })
        .await;
    assert!(
        answers
            .windows(2)
            .all(|w| (w[0].status, &w[0].body) == (w[1].status, &w[1].body)),
        "one answer for all"
    );
    assert_eq!(answers[0].status, 202);
    assert_eq!(new, taken, "the same work for a new and a taken address");
    assert_eq!((new.hashes, new.messages), (1, 1));
}

/// An unverified account cannot sign in (a correct password gets its own 403, a wrong one the
/// usual 401); a resent link replaces the old one; the verified account signs in; an account
/// nobody verifies expires and frees its address.
async fn an_unverified_account_signs_in_only_once_verified_and_expires_unverified(f: Fixture) {
    let api = Api::new(&f, test_config()).await;
    let ip = unique_loopback();
    let email = format!("{}@example.com", unique("unv"));
    assert_eq!(api.register(ip, &email).await.status, 202);
    let refused = api.login(ip, &email, PASSWORD, &[]).await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.json()["type"],
        "urn:warden:problem:email-unverified"
    );
    assert_eq!(
        api.login(ip, &email, "not the password at all", &[])
            .await
            .status,
        401
    );
    let old = api
        .mailbox
        .link_token(&email, "/verify-email")
        .await
        .unwrap();
    let resend = |email: String| {
        let api = &api;
        async move {
            api.call(
                ip,
                "POST",
                "/auth/email/resend",
                &[],
                Some(json!({ "email": email })),
            )
            .await
        }
    };
    let resent = resend(email.clone()).await;
    assert_eq!(resent.status, 202);
    // The same answer for an address nobody registered.
    let nobody = resend(format!("{}@example.com", unique("nobody"))).await;
    assert_eq!((nobody.status, nobody.body), (resent.status, resent.body));
    let fresh = api
        .mailbox
        .link_token(&email, "/verify-email")
        .await
        .unwrap();
    assert_ne!(fresh, old);
    let follow = |token: String| {
        let api = &api;
        async move { api.follow(ip, &token).await.status }
    };
    assert_eq!(follow(old).await, 400, "the resent link replaced it");
    assert_eq!(follow(fresh).await, 204);
    assert_eq!(api.login(ip, &email, PASSWORD, &[]).await.status, 200);

    // Nobody verifies this one: after WARDEN_UNVERIFIED_TTL its address is free again.
    let lapsed = format!("{}@example.com", unique("lapse"));
    assert_eq!(api.register(ip, &lapsed).await.status, 202);
    let link = api
        .mailbox
        .link_token(&lapsed, "/verify-email")
        .await
        .unwrap();
    f.clock
        .advance(test_config().unverified_ttl + Duration::from_secs(1));
    assert_eq!(follow(link).await, 400);
    let state = Services::new(test_config(), f.backends.clone())
        .await
        .unwrap();
    assert_eq!(state.users().claim(&lapsed).await.unwrap(), None);
    assert_eq!(api.login(ip, &lapsed, PASSWORD, &[]).await.status, 401);
}

/// One registration link followed twice at once (a mail scanner and its owner, say) activates
/// the account once: one 204, one 400, one `email_verified` event.
async fn two_confirmations_of_one_registration_at_once_activate_it_once(f: Fixture) {
    let api = Api::new(&f, test_config()).await;
    let ip = unique_loopback();
    let email = format!("{}@example.com", unique("twice"));
    assert_eq!(api.register(ip, &email).await.status, 202);
    let token = api
        .mailbox
        .link_token(&email, "/verify-email")
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        api.follow(ip, &token),
        api.follow(unique_loopback(), &token)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [204, 400]);
    let state = Services::new(test_config(), f.backends.clone())
        .await
        .unwrap();
    let user = state.users().find_by_email(&email).await.unwrap().unwrap();
    assert_eq!(user.unverified_until, None);
    let events = state.audit.for_user(&user.id).await.unwrap();
    let verified = events
        .iter()
        .filter(|e| e.event == "email_verified")
        .count();
    assert_eq!(verified, 1);
    assert_eq!(api.login(ip, &email, PASSWORD, &[]).await.status, 200);
}

warden_tests::on_both_backends!(
    two_confirmations_of_one_registration_at_once_activate_it_once,
    the_event_registers_an_unverified_account_and_answers_alike_after,
    a_new_and_a_taken_address_get_the_same_answer_and_the_same_work,
    an_unverified_account_signs_in_only_once_verified_and_expires_unverified,
);

#[tokio::test]
async fn local_runner_rejects_bad_input_with_problems() {
    let (_f, base) = embedded_served(test_config()).await;
    let url = format!("{base}/auth/register");
    let r = post_json(
        &url,
        &serde_json::json!({"email": "not-an-email", "password": "x".repeat(20)}),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.json()["invalid_params"][0]["name"], "email");

    let r = request(
        "POST",
        &url,
        &[("Content-Type", "application/json")],
        b"{\"email\":",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);

    let big = format!(
        "{{\"email\":\"a@b.co\",\"password\":\"{}\"}}",
        "x".repeat(20_000)
    );
    let r = request(
        "POST",
        &url,
        &[("Content-Type", "application/json")],
        big.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 413);

    let r = request("POST", &url, &[("Content-Type", "text/plain")], b"hello")
        .await
        .unwrap();
    assert_eq!(r.status, 400);

    let r = post_json(
        &url,
        &serde_json::json!({"email": "a@b.co", "password": "p".repeat(257)}),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);

    let r = warden_tests::http_client::get(&format!("{base}/no/such/route"))
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
}

#[tokio::test]
async fn concurrent_registrations_of_one_email_leave_one_account_and_one_live_link() {
    let (f, base) = embedded_served(test_config()).await;
    let url = format!("{base}/auth/register");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let email = if i % 2 == 0 {
                "Race@Example.com"
            } else {
                " race@example.COM "
            };
            post_json(
                &url,
                &serde_json::json!({"email": email, "password": "a perfectly fine passphrase"}),
            )
            .await
            .unwrap()
            .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 202);
    }
    // Each registration that won the claim for a moment sent a link; only the last holder's
    // works.
    let mail = f.mail_to("race@example.com").await;
    assert!(!mail.is_empty());
    let mut statuses = Vec::new();
    for m in &mail {
        let token = warden_tests::fixtures::link_token(m, "/verify-email").unwrap();
        let r = post_json(
            &format!("{base}/auth/email/verify"),
            &serde_json::json!({ "token": token }),
        )
        .await
        .unwrap();
        statuses.push(r.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 204).count(),
        1,
        "{statuses:?}"
    );
}
