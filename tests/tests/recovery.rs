//! Account recovery and security notices, through HTTP against `warden-local` on both
//! backends: the messages are read where the person would find them — `GET /_local/mail` on
//! the embedded runner (with the operator's credential), the emulator's SES record on AWS.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{Value, json};
use warden_core::config::Config;
use warden_core::mail::Message;
use warden_core::services::Services;
use warden_tests::api::{Api, PASSWORD};
use warden_tests::fixtures::{Fixture, OPERATOR_TOKEN, serve, test_config, unique};
use warden_tests::http_client::{Response, unique_loopback};

const NEW_PASSWORD: &str = "quince lantern orbits the fjord";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";

/// The served runner and the fixture behind it (whose mail the tests read).
struct World {
    f: Fixture,
    api: Api,
}

impl std::ops::Deref for World {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl World {
    async fn new(f: Fixture, config: Config) -> World {
        let mut api = Api::new(&f, config).await;
        api.user_agent = FIREFOX;
        World { f, api }
    }

    async fn login(&self, from: IpAddr, email: &str, password: &str) -> Response {
        self.api.login(from, email, password, &[]).await
    }

    /// `POST /me/email` for the account whose sign-in is `bearer`.
    async fn change_email(&self, from: IpAddr, bearer: &str, new_email: &str) -> Response {
        self.call(
            from,
            "POST",
            "/me/email",
            &[("Authorization", bearer)],
            Some(json!({"new_email": new_email, "password": PASSWORD})),
        )
        .await
    }

    /// A new account with a change of its address to a fresh one waiting for confirmation: its
    /// email, the new address and the confirmation link's token.
    async fn change_pending(&self, from: IpAddr) -> (String, String, String) {
        let (mine, signed_in) = self.account(from).await;
        let bearer = signed_in.bearer();
        let new = format!("{}@example.org", unique("contested"));
        assert_eq!(self.change_email(from, &bearer, &new).await.status, 202);
        let token = verify_token_in(&self.mail(&new).await[0]);
        (mine, new, token)
    }

    /// A new account, signed in once (so its device is known).
    async fn account(&self, from: IpAddr) -> (String, Response) {
        self.api.signed_up(from).await
    }

    async fn forgot(&self, from: IpAddr, email: &str) -> Response {
        self.call(
            from,
            "POST",
            "/auth/password/forgot",
            &[],
            Some(json!({"email": email})),
        )
        .await
    }

    async fn reset(&self, from: IpAddr, token: &str, password: &str) -> Response {
        self.call(
            from,
            "POST",
            "/auth/password/reset",
            &[],
            Some(json!({"token": token, "new_password": password})),
        )
        .await
    }

    /// The messages `to` received, oldest first: through the operator's mail route on the
    /// embedded runner, from the emulator's SES record on AWS.
    async fn mail(&self, to: &str) -> Vec<Message> {
        if self.f.embedded.is_none() {
            return self.f.mail_to(to).await;
        }
        let bearer = format!("Bearer {OPERATOR_TOKEN}");
        let r = self
            .call(
                unique_loopback(),
                "GET",
                "/_local/mail",
                &[("Authorization", &bearer)],
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", text(&r));
        let listed: Vec<Value> = serde_json::from_slice(&r.body).unwrap();
        listed
            .into_iter()
            .filter(|m| m["to"] == to)
            .map(|m| Message {
                to: m["to"].as_str().unwrap().into(),
                subject: m["subject"].as_str().unwrap().into(),
                text: m["text"].as_str().unwrap().into(),
                html: m["html"].as_str().unwrap().into(),
            })
            .collect()
    }
}

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// The token of the reset link in a message.
fn token_in(m: &Message) -> String {
    warden_tests::fixtures::link_token(m, "/reset-password").expect("a reset link")
}

fn subjects(mail: &[Message]) -> Vec<&str> {
    mail.iter().map(|m| m.subject.as_str()).collect()
}

/// `forgot` answers the same for an account's address and an unknown one; only the owner of
/// an account gets a link, and the link is the configured page's.
async fn forgot_answers_alike_and_mails_only_an_owner_a_link(f: Fixture) {
    let counted = warden_tests::work::Counted::new(&f, test_config()).await;
    let api = World::new(f, test_config()).await;
    let ip = unique_loopback();
    let (email, _) = api.account(ip).await;
    let unknown = format!("{}@example.com", unique("nobody"));
    let forgot = |to: String| {
        let api = &counted.api;
        async move {
            api.call(
                ip,
                "POST",
                "/auth/password/forgot",
                &[],
                Some(json!({ "email": to })),
            )
            .await
        }
    };
    // The same answer and the same work for an owner and for an address without an account.
    let (answers, [owner, nobody]) = counted
        .least_work(3, |kind| {
            let to = [&email, &unknown][kind].clone();
            (to.clone(), forgot(to))
        })
        .await;
    assert!(
        answers
            .iter()
            .all(|r| (r.status, &r.body) == (202, &answers[0].body))
    );
    assert_eq!(owner, nobody);
    assert_eq!((owner.hashes, owner.messages), (0, 1));
    let told = api.mail(&unknown).await;
    assert_eq!(told.len(), 3, "{:?}", subjects(&told));
    assert!(
        told.iter().all(|m| !m.text.contains("#token=")),
        "no link without an account"
    );
    let mail = api.mail(&email).await;
    let reset: Vec<&Message> = mail
        .iter()
        .filter(|m| m.subject.contains("Reset"))
        .collect();
    assert_eq!(reset.len(), 3, "{:?}", subjects(&mail));
    assert!(
        reset[0].text.contains("/reset-password#token="),
        "{}",
        reset[0].text
    );
    assert!(reset[0].html.contains("/reset-password#token="));
    assert!(!reset[0].text.contains(PASSWORD));
}

/// A reset ends every session and access token, and only the new password signs in; the owner
/// is told the password changed.
async fn a_reset_ends_every_session_and_only_the_new_password_works(f: Fixture) {
    let api = World::new(f, test_config()).await;
    let ip = unique_loopback();
    let (email, signed_in) = api.account(ip).await;
    let bearer = signed_in.bearer();
    let cookie = signed_in
        .cookie(warden_http::cookies::REFRESH)
        .expect("refresh cookie")
        .to_string();
    assert_eq!(api.forgot(ip, &email).await.status, 202);
    let token = token_in(api.mail(&email).await.last().unwrap());
    let r = api.reset(ip, &token, NEW_PASSWORD).await;
    assert_eq!(r.status, 204, "{}", text(&r));

    let me = api
        .call(ip, "GET", "/me", &[("Authorization", &bearer)], None)
        .await;
    assert_eq!(me.status, 401, "the access token is dead");
    let refreshed = api
        .call(ip, "POST", "/auth/refresh", &[("Cookie", &cookie)], None)
        .await;
    assert_eq!(
        refreshed.status,
        401,
        "the session is dead: {}",
        text(&refreshed)
    );
    assert_eq!(api.login(ip, &email, PASSWORD).await.status, 401);
    assert_eq!(api.login(ip, &email, NEW_PASSWORD).await.status, 200);
    let mail = api.mail(&email).await;
    assert!(
        mail.last()
            .unwrap()
            .subject
            .contains("password was changed"),
        "{:?}",
        subjects(&mail)
    );
}

/// A link works once, not after 30 minutes, and not once a newer one was sent.
async fn a_reset_link_is_single_use_short_lived_and_superseded(f: Fixture) {
    let api = World::new(f, test_config()).await;
    let ip = unique_loopback();
    let (email, _) = api.account(ip).await;

    // Used once.
    api.forgot(ip, &email).await;
    let token = token_in(api.mail(&email).await.last().unwrap());
    assert_eq!(api.reset(ip, &token, NEW_PASSWORD).await.status, 204);
    let replay = api
        .reset(ip, &token, "another fine password for later")
        .await;
    assert_eq!(replay.status, 400, "{}", text(&replay));
    assert_eq!(replay.json()["invalid_params"][0]["name"], "token");

    // Expired.
    api.forgot(ip, &email).await;
    let token = token_in(api.mail(&email).await.last().unwrap());
    api.f
        .clock
        .advance(warden_core::recovery::LINK_TTL + Duration::from_secs(1));
    assert_eq!(api.reset(ip, &token, PASSWORD).await.status, 400);

    // Superseded.
    api.forgot(ip, &email).await;
    let older = token_in(api.mail(&email).await.last().unwrap());
    api.forgot(ip, &email).await;
    let newer = token_in(api.mail(&email).await.last().unwrap());
    assert_ne!(older, newer);
    assert_eq!(api.reset(ip, &older, PASSWORD).await.status, 400);
    assert_eq!(api.reset(ip, &newer, PASSWORD).await.status, 204);

    // Malformed tokens are refused the same way, before any work.
    for bad in ["", "x", &"a".repeat(5000)] {
        let r = api.reset(ip, bad, PASSWORD).await;
        assert!(
            r.status == 400 || r.status == 413,
            "{bad:.20}: {}",
            r.status
        );
    }
}

/// A locked account is told so, with a link, and the link is the way out at once.
async fn a_locked_account_is_recovered_by_the_link_in_its_notice(f: Fixture) {
    let api = World::new(f, test_config()).await;
    let ip = unique_loopback();
    let (email, _) = api.account(ip).await;
    // Guesses from elsewhere lock the account (for a client without the device cookie).
    let attacker = unique_loopback();
    let mut locked = false;
    for _ in 0..8 {
        let r = api.login(attacker, &email, "not the password at all").await;
        if r.status == 429 {
            locked = true;
            break;
        }
    }
    assert!(locked, "the account locks");
    let mail = api.mail(&email).await;
    let notice = mail
        .iter()
        .find(|m| m.subject.contains("locked"))
        .unwrap_or_else(|| panic!("a lock notice: {:?}", subjects(&mail)));
    let token = token_in(notice);
    let r = api.reset(unique_loopback(), &token, NEW_PASSWORD).await;
    assert_eq!(r.status, 204, "{}", text(&r));
    let elsewhere = unique_loopback();
    let r = api.login(elsewhere, &email, NEW_PASSWORD).await;
    assert_eq!(r.status, 200, "the lock is over: {}", text(&r));
}

/// A sign-in from a new device is told to the owner once (a known device is not), and the
/// owner may turn that notice off.
async fn a_new_device_is_told_once_and_the_notice_can_be_turned_off(f: Fixture) {
    let api = World::new(f, test_config()).await;
    let ip = unique_loopback();
    let (email, first) = api.account(ip).await;
    // The account's first sign-in is its registration's device: no notice (only the link that
    // confirmed the address).
    let mail = api.mail(&email).await;
    assert_eq!(subjects(&mail), ["Confirm your Warden account"]);
    let before = mail.len();
    // The same browser again (its device cookie): no notice.
    let device = first
        .cookie(warden_http::cookies::DEVICE)
        .expect("device cookie")
        .to_string();
    let again = api
        .call(
            ip,
            "POST",
            "/auth/login",
            &[("Cookie", &device)],
            Some(json!({"email": email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(again.status, 200);
    // Another browser: a notice naming it and a coarse network.
    let chrome =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/140.0 Safari/537.36";
    let other = api
        .call(
            ip,
            "POST",
            "/auth/login",
            &[("User-Agent", chrome)],
            Some(json!({"email": email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(other.status, 200);
    let mail = api.mail(&email).await;
    let notices: Vec<&Message> = mail[before..]
        .iter()
        .filter(|m| m.subject.contains("New sign-in"))
        .collect();
    assert_eq!(notices.len(), 1, "{:?}", subjects(&mail));
    assert!(
        notices[0].text.contains("Chrome on Windows"),
        "{}",
        notices[0].text
    );
    assert!(
        notices[0]
            .text
            .contains(&warden_core::devices::stranger_network(ip)),
        "{}",
        notices[0].text
    );

    // Turned off: a third browser signs in unannounced.
    let bearer = other.bearer();
    let r = api
        .call(
            ip,
            "PUT",
            "/me/preferences",
            &[("Authorization", &bearer)],
            Some(json!({"new_device_notice": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15";
    let third = api
        .call(
            ip,
            "POST",
            "/auth/login",
            &[("User-Agent", safari)],
            Some(json!({"email": email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(third.status, 200);
    let after = api.mail(&email).await;
    assert_eq!(
        after
            .iter()
            .filter(|m| m.subject.contains("New sign-in"))
            .count(),
        1,
        "{:?}",
        subjects(&after)
    );
}

/// No inbox can be flooded through `forgot`: past the recipient's hourly budget every request
/// still answers 202 and nothing more is sent.
async fn the_recipient_budget_stops_a_flood_without_changing_the_answer(f: Fixture) {
    let config = test_config();
    let max = config.mail.recipient_max as usize;
    let api = World::new(f, config).await;
    let (email, _) = api.account(unique_loopback()).await;
    let before = api.mail(&email).await.len();
    for _ in 0..max + 5 {
        // From many addresses, as a botnet would: no address budget stops it first.
        assert_eq!(api.forgot(unique_loopback(), &email).await.status, 202);
    }
    let sent = api.mail(&email).await.len() - before;
    assert!(sent <= max, "{sent} messages past a budget of {max}");
    assert!(sent > 0);
}

/// A refresh token replayed after its rotation (stolen) ends every session, and the owner is
/// told why.
async fn a_replayed_refresh_token_ends_every_session_and_tells_the_owner(f: Fixture) {
    let api = World::new(f, test_config()).await;
    let ip = unique_loopback();
    let (email, signed_in) = api.account(ip).await;
    let stolen = signed_in.refresh_cookie();
    let rotated = api
        .call(ip, "POST", "/auth/refresh", &[("Cookie", &stolen)], None)
        .await;
    assert_eq!(rotated.status, 200, "{}", text(&rotated));
    api.f.clock.advance(Duration::from_secs(60));
    let replay = api
        .call(ip, "POST", "/auth/refresh", &[("Cookie", &stolen)], None)
        .await;
    assert_eq!(replay.status, 401);
    let owner = api
        .call(
            ip,
            "POST",
            "/auth/refresh",
            &[("Cookie", &rotated.refresh_cookie())],
            None,
        )
        .await;
    assert_eq!(owner.status, 401, "every session ended");
    let mail = api.mail(&email).await;
    let ended: Vec<&Message> = mail
        .iter()
        .filter(|m| m.subject.contains("signed out"))
        .collect();
    assert_eq!(ended.len(), 1, "{:?}", subjects(&mail));
    assert!(ended[0].text.contains("used twice"), "{}", ended[0].text);
}

/// The token in a message's `/verify-email` link.
fn verify_token_in(m: &Message) -> String {
    warden_tests::fixtures::link_token(m, "/verify-email").expect("a verify link")
}

/// An email change completes only from the new address's link; the old address is told, with a
/// link that undoes it and ends every session; each link works once.
async fn an_email_change_completes_from_the_new_address_and_the_old_can_undo_it(f: Fixture) {
    let api = World::new(f, test_config()).await;
    let ip = unique_loopback();
    let (old, signed_in) = api.account(ip).await;
    let bearer = signed_in.bearer();
    let new = format!("{}@example.org", unique("moved"));
    let asked = api.change_email(ip, &bearer, &new).await;
    assert_eq!(asked.status, 202, "{}", text(&asked));
    // Nothing changed yet: the old address still signs in, the new one does not.
    assert_eq!(api.login(ip, &new, PASSWORD).await.status, 401);
    assert_eq!(api.login(ip, &old, PASSWORD).await.status, 200);
    let to_new = api.mail(&new).await;
    assert_eq!(to_new.len(), 1, "{:?}", subjects(&to_new));
    let token = verify_token_in(&to_new[0]);
    let r = api.follow(ip, &token).await;
    assert_eq!(r.status, 204, "{}", text(&r));
    let again = api.follow(ip, &token).await;
    assert_eq!(again.status, 400, "a link works once");
    assert_eq!(api.login(ip, &new, PASSWORD).await.status, 200);
    assert_eq!(api.login(ip, &old, PASSWORD).await.status, 401);

    // The old address is told, without the new address in full, and can undo it.
    let to_old = api.mail(&old).await;
    let changed = to_old
        .iter()
        .find(|m| m.subject.contains("address was changed"))
        .unwrap_or_else(|| panic!("{:?}", subjects(&to_old)));
    assert!(!changed.text.contains(&new), "{}", changed.text);
    assert!(
        changed
            .text
            .contains(&warden_core::email_change::hint(&new))
    );
    let undo = verify_token_in(changed);
    let r = api.follow(ip, &undo).await;
    assert_eq!(r.status, 204, "{}", text(&r));
    let me = api
        .call(ip, "GET", "/me", &[("Authorization", &bearer)], None)
        .await;
    assert_eq!(me.status, 401, "every session ended");
    assert_eq!(api.login(ip, &old, PASSWORD).await.status, 200);
    assert_eq!(api.login(ip, &new, PASSWORD).await.status, 401);
}

/// A change to an address that has an account answers the same, changes nothing, sends no link,
/// and tells that address.
async fn an_email_change_to_a_taken_address_changes_nothing(f: Fixture) {
    let api = World::new(f, test_config()).await;
    let ip = unique_loopback();
    let (mine, signed_in) = api.account(ip).await;
    let (theirs, _) = api.account(unique_loopback()).await;
    let bearer = signed_in.bearer();
    let free = format!("{}@example.org", unique("free"));
    let to_free = api.change_email(ip, &bearer, &free).await;
    let to_taken = api.change_email(ip, &bearer, &theirs).await;
    assert_eq!((to_free.status, to_taken.status), (202, 202));
    assert_eq!(to_free.body, to_taken.body);
    // (Their first message confirmed their address.)
    let to_them = &api.mail(&theirs).await[1..];
    assert_eq!(to_them.len(), 1, "{:?}", subjects(to_them));
    assert!(to_them[0].subject.contains("tried to move"));
    assert!(!to_them[0].text.contains("#token="));
    assert_eq!(api.login(ip, &mine, PASSWORD).await.status, 200);
}

/// Two resets with one link at once (the link forwarded, or raced by whoever intercepted it):
/// exactly one changes the password, and it is that one's password which signs in.
async fn two_resets_with_one_link_at_once_change_the_password_once(f: Fixture) {
    let api = World::new(f, test_config()).await;
    let ip = unique_loopback();
    let (email, _) = api.account(ip).await;
    api.forgot(ip, &email).await;
    let token = token_in(api.mail(&email).await.last().unwrap());
    let other = "yet another long passphrase here";
    let (a, b) = tokio::join!(
        api.reset(ip, &token, NEW_PASSWORD),
        api.reset(unique_loopback(), &token, other)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [204, 400], "{} / {}", text(&a), text(&b));
    let (won, lost) = if a.status == 204 {
        (NEW_PASSWORD, other)
    } else {
        (other, NEW_PASSWORD)
    };
    assert_eq!(api.login(ip, &email, won).await.status, 200);
    assert_eq!(api.login(ip, &email, lost).await.status, 401);
}

/// Two confirmations of one change at once complete it once: one notice to the old address.
async fn two_confirmations_of_one_change_at_once_complete_it_once(f: Fixture) {
    let api = World::new(f, test_config()).await;
    let ip = unique_loopback();
    let (old, signed_in) = api.account(ip).await;
    let bearer = signed_in.bearer();
    let new = format!("{}@example.org", unique("twice"));
    assert_eq!(api.change_email(ip, &bearer, &new).await.status, 202);
    let token = verify_token_in(&api.mail(&new).await[0]);
    let (a, b) = tokio::join!(
        api.follow(ip, &token),
        api.follow(unique_loopback(), &token)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [204, 400], "{} / {}", text(&a), text(&b));
    let changed = api.mail(&old).await;
    assert_eq!(
        changed
            .iter()
            .filter(|m| m.subject.contains("address was changed"))
            .count(),
        1,
        "{:?}",
        subjects(&changed)
    );
    assert_eq!(api.login(ip, &new, PASSWORD).await.status, 200);
}

/// The old address's undo link, sent twice at once, reverts once (the other is refused as
/// spent); a link naming the account with a forged secret is refused and changes nothing.
async fn two_reverts_of_one_change_at_once_revert_it_once(f: Fixture) {
    let api = World::new(f, test_config()).await;
    let ip = unique_loopback();
    let (old, signed_in) = api.account(ip).await;
    let new = format!("{}@example.org", unique("undo"));
    assert_eq!(
        api.change_email(ip, &signed_in.bearer(), &new).await.status,
        202
    );
    let confirm = verify_token_in(&api.mail(&new).await[0]);
    assert_eq!(api.follow(ip, &confirm).await.status, 204);
    let to_old = api.mail(&old).await;
    let changed = to_old
        .iter()
        .find(|m| m.subject.contains("address was changed"))
        .unwrap_or_else(|| panic!("{:?}", subjects(&to_old)));
    let undo = verify_token_in(changed);
    // Same account, a well-formed secret of the same length (32 zero bytes) that is not the
    // link's: its hash matches no live link.
    let (account, secret) = undo.rsplit_once('.').expect("a link token");
    let forged = format!("{account}.{}", "A".repeat(secret.len()));
    let forged = api.follow(ip, &forged).await;
    assert_eq!(forged.status, 400, "{}", text(&forged));
    assert_eq!(
        api.login(ip, &new, PASSWORD).await.status,
        200,
        "not reverted"
    );
    let (a, b) = tokio::join!(api.follow(ip, &undo), api.follow(unique_loopback(), &undo));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [204, 400], "{} / {}", text(&a), text(&b));
    assert_eq!(api.login(ip, &old, PASSWORD).await.status, 200);
    assert_eq!(api.login(ip, &new, PASSWORD).await.status, 401);
}

/// An address someone registers and confirms while a change to it waits for its confirmation
/// stays theirs: the late confirmation is refused (409) and the account keeps its address.
async fn an_address_claimed_before_the_change_completes_stays_its_claimants(f: Fixture) {
    let api = World::new(f, test_config()).await;
    let ip = unique_loopback();
    let (mine, contested, token) = api.change_pending(ip).await;
    let other = unique_loopback();
    api.api.register_verified(other, &contested).await;
    let late = api.follow(ip, &token).await;
    assert_eq!(late.status, 409, "{}", text(&late));
    assert_eq!(api.login(ip, &mine, PASSWORD).await.status, 200);
    assert_eq!(api.login(other, &contested, PASSWORD).await.status, 200);
}

/// Two accounts asked to move to one free address, and both confirmations arrive at once: one
/// account takes it, the other is told it was taken meanwhile (409, which the claim's holder
/// decides), and that one keeps its old address.
async fn two_changes_to_one_address_confirmed_at_once_give_it_to_one(f: Fixture) {
    let api = World::new(f, test_config()).await;
    let (ip_a, ip_b) = (unique_loopback(), unique_loopback());
    let (old_a, a) = api.account(ip_a).await;
    let (old_b, b) = api.account(ip_b).await;
    let contested = format!("{}@example.org", unique("contested"));
    assert_eq!(
        api.change_email(ip_a, &a.bearer(), &contested).await.status,
        202
    );
    assert_eq!(
        api.change_email(ip_b, &b.bearer(), &contested).await.status,
        202
    );
    let links = api.mail(&contested).await;
    assert_eq!(links.len(), 2, "{:?}", subjects(&links));
    let (token_a, token_b) = (verify_token_in(&links[0]), verify_token_in(&links[1]));
    let (ra, rb) = tokio::join!(api.follow(ip_a, &token_a), api.follow(ip_b, &token_b));
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [204, 409], "{} / {}", text(&ra), text(&rb));
    let (winner, winner_old, loser, loser_old) = if ra.status == 204 {
        (ip_a, &old_a, ip_b, &old_b)
    } else {
        (ip_b, &old_b, ip_a, &old_a)
    };
    assert_eq!(api.login(winner, &contested, PASSWORD).await.status, 200);
    assert_eq!(api.login(winner, winner_old, PASSWORD).await.status, 401);
    assert_eq!(api.login(loser, loser_old, PASSWORD).await.status, 200);
}

/// A registration nobody confirmed does not hold an address against its proven owner: the
/// change confirmed from that address takes it, and the registration's link dies.
async fn an_unconfirmed_registration_does_not_block_a_confirmed_change(f: Fixture) {
    let api = World::new(f, test_config()).await;
    let ip = unique_loopback();
    let (_, contested, change) = api.change_pending(ip).await;
    let squatter = unique_loopback();
    assert_eq!(api.register(squatter, &contested).await.status, 202);
    let registration = verify_token_in(api.mail(&contested).await.last().unwrap());
    let api = &api;
    let verify = |token: String| async move { api.follow(ip, &token).await.status };
    assert_eq!(verify(change).await, 204);
    assert_eq!(verify(registration).await, 400, "the squatter's link died");
    assert_eq!(api.login(ip, &contested, PASSWORD).await.status, 200);
}

/// A mailer that is down for its first `failures` sends.
struct DownAtFirst {
    inner: std::sync::Arc<dyn warden_core::mail::Mailer>,
    failures: std::sync::atomic::AtomicU32,
}

#[async_trait::async_trait]
impl warden_core::mail::Mailer for DownAtFirst {
    async fn send(&self, m: &Message) -> warden_core::Result<()> {
        let left = self.failures.load(std::sync::atomic::Ordering::SeqCst);
        if left > 0 {
            self.failures
                .store(left - 1, std::sync::atomic::Ordering::SeqCst);
            return Err(warden_core::Error::Unavailable("mail provider down".into()));
        }
        self.inner.send(m).await
    }
}

/// Sending never fails the request that caused it: with the mail provider down, `forgot` still
/// answers, the message stays queued (sealed), and the next scheduled runs — two at once, as two
/// Lambdas may — deliver it once.
async fn mail_that_could_not_be_sent_is_delivered_by_the_schedule(f: Fixture) {
    let down = std::sync::Arc::new(DownAtFirst {
        inner: f.backends.mailer.clone(),
        failures: 0.into(),
    });
    let backends = warden_core::backends::Backends {
        mailer: down.clone(),
        ..f.backends.clone()
    };
    let s = Services::new(test_config(), backends).await.unwrap();
    let mut served = Api::on(serve(s.clone(), &f).await, &f);
    served.user_agent = FIREFOX;
    let api = World { f, api: served };
    let ip = unique_loopback();
    let (email, _) = api.account(ip).await;
    // The provider goes down once the account exists (its verification link was delivered).
    down.failures.store(1, std::sync::atomic::Ordering::SeqCst);
    let before = api.mail(&email).await.len();
    assert_eq!(api.forgot(ip, &email).await.status, 202);
    assert_eq!(
        api.mail(&email).await.len(),
        before,
        "the provider was down"
    );
    let (a, b) = tokio::join!(
        warden_security_scan::handle(&s, Value::Null),
        warden_security_scan::handle(&s, Value::Null)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    if api.f.embedded.is_some() {
        // (On the emulator another test's scan may deliver it first.)
        assert_eq!(a.mail.sent + b.mail.sent, 1, "{:?} {:?}", a.mail, b.mail);
    }
    let mail = &api.mail(&email).await[before..];
    assert_eq!(mail.len(), 1, "{:?}", subjects(mail));
    assert!(mail[0].subject.contains("Reset"));
    // Delivered once: the next run finds nothing of it left.
    warden_security_scan::handle(&s, Value::Null).await.unwrap();
    assert_eq!(api.mail(&email).await.len(), before + 1);
}

warden_tests::on_both_backends!(
    embedded = warden_tests::fixtures::embedded_linked().await;
    forgot_answers_alike_and_mails_only_an_owner_a_link,
    a_reset_ends_every_session_and_only_the_new_password_works,
    a_reset_link_is_single_use_short_lived_and_superseded,
    a_locked_account_is_recovered_by_the_link_in_its_notice,
    a_new_device_is_told_once_and_the_notice_can_be_turned_off,
    the_recipient_budget_stops_a_flood_without_changing_the_answer,
    mail_that_could_not_be_sent_is_delivered_by_the_schedule,
    a_replayed_refresh_token_ends_every_session_and_tells_the_owner,
    an_email_change_completes_from_the_new_address_and_the_old_can_undo_it,
    an_email_change_to_a_taken_address_changes_nothing,
    two_resets_with_one_link_at_once_change_the_password_once,
    two_confirmations_of_one_change_at_once_complete_it_once,
    two_reverts_of_one_change_at_once_revert_it_once,
    an_address_claimed_before_the_change_completes_stays_its_claimants,
    two_changes_to_one_address_confirmed_at_once_give_it_to_one,
    an_unconfirmed_registration_does_not_block_a_confirmed_change,
);
