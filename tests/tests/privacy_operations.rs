//! The operator's side of privacy requests (issue 20), over real HTTP through `warden-local`'s
//! operator API and through the command line's two doors, on both backends: listing and
//! filtering, one extension before the due date (a second, a late one and an opt-out's refused
//! with 409), denial on a fixed basis that the requester sees with its remedies, an erasure that
//! has begun refused a denial, two operators racing, and the § 7102 metrics of a seeded year
//! against figures computed by hand.

use std::time::Duration;

use serde_json::{Value, json};
use warden_core::clock::Timestamp;
use warden_core::privacy::operations::{Desk, Operator};
use warden_core::privacy::requests::{self, PrivacyRequest, Regime, RequestType};
use warden_core::services::{AppState, Services};
use warden_local::privacy_cli::{self, Command};
use warden_tests::api::Api;
use warden_tests::fixtures::{Fixture, OPERATOR_TOKEN, serve, test_config};
use warden_tests::http_client::{Response, unique_loopback};

struct World {
    state: AppState,
    api: Api,
    ip: std::net::IpAddr,
}

struct User {
    id: String,
    email: String,
    bearer: String,
}

async fn world(f: Fixture) -> World {
    world_with(f, test_config()).await
}

async fn world_with(f: Fixture, config: warden_core::config::Config) -> World {
    let state = Services::new(config, f.backends.clone()).await.unwrap();
    let api = Api::on(serve(state.clone(), &f).await, &f);
    World {
        state,
        api,
        ip: unique_loopback(),
    }
}

impl World {
    async fn user(&self) -> User {
        let (email, login) = self.api.signed_up(self.ip).await;
        let id = self
            .state
            .users()
            .id_by_email(&email)
            .await
            .unwrap()
            .unwrap();
        User {
            id,
            email,
            bearer: login.bearer().trim_start_matches("Bearer ").to_string(),
        }
    }

    /// The operator API with the runner's operator token.
    async fn operator(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        self.api
            .call_as(self.ip, Some(OPERATOR_TOKEN), method, path, body)
            .await
    }

    /// Opens a request of `regime`/`name` for `user` received at `at`, without running it.
    async fn open(&self, user: &str, regime: Regime, name: &str, at: Timestamp) -> PrivacyRequest {
        let rtype = RequestType::parse(regime, name).unwrap();
        let (r, created) = requests::submit(self.state.backends.table.as_ref(), user, rtype, at)
            .await
            .unwrap();
        assert!(created);
        r
    }

    /// The messages `u` received whose subject contains `subject`.
    async fn mail(&self, u: &User, subject: &str) -> Vec<warden_core::mail::Message> {
        let mut all = self.api.mailbox.to(&u.email).await;
        all.retain(|m| m.subject.contains(subject));
        all
    }

    /// Ends requests a test left open, so that no security scan elsewhere on the shared emulator
    /// alerts on their deadlines or runs them.
    async fn tidy(&self, left_open: &[&PrivacyRequest]) {
        for r in left_open {
            requests::cancel_open(
                self.state.backends.table.as_ref(),
                &r.user_id,
                r.rtype.action,
                "the test is over",
                self.now(),
            )
            .await
            .unwrap();
        }
    }

    /// A call as `u` (with its access token).
    async fn as_user(&self, u: &User, method: &str, path: &str, body: Option<Value>) -> Response {
        self.api
            .call_as(self.ip, Some(&u.bearer), method, path, body)
            .await
    }

    /// The requester's own view of request `id` (`GET /privacy/requests/{id}`).
    async fn own_view(&self, u: &User, id: &str) -> Response {
        self.as_user(u, "GET", &format!("/privacy/requests/{id}"), None)
            .await
    }

    fn now(&self) -> Timestamp {
        self.state.backends.clock.now()
    }

    async fn events(&self, user_id: &str, event: &str) -> Vec<Value> {
        self.state
            .audit
            .for_user(user_id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.event == event)
            .map(|e| serde_json::from_str(&e.details).unwrap())
            .collect()
    }
}

fn text(r: &Response) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

async fn an_operator_extends_once_and_before_the_due_date(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let r = w.open(&u.id, Regime::Ccpa, "delete", w.now()).await;
    let path = format!("/operator/requests/{}/extend", r.id);
    let reason = json!({"reason": "the request covers years of records"});

    // No operator, no extension: neither without a credential nor with a user's token.
    let anonymous = w
        .api
        .call(w.ip, "POST", &path, &[], Some(reason.clone()))
        .await;
    assert_eq!(anonymous.status, 401, "{}", text(&anonymous));
    let user = w
        .api
        .call_as(w.ip, Some(&u.bearer), "POST", &path, Some(reason.clone()))
        .await;
    assert_eq!(user.status, 401, "{}", text(&user));

    let blank = w
        .operator("POST", &path, Some(json!({"reason": "  "})))
        .await;
    assert_eq!(blank.status, 400, "{}", text(&blank));
    let ok = w.operator("POST", &path, Some(reason.clone())).await;
    assert_eq!(ok.status, 200, "{}", text(&ok));
    let v = ok.json();
    let due = r.due_at.plus(Duration::from_secs(45 * 86_400));
    assert_eq!(v["due_at"], due.to_rfc3339());
    assert_eq!(v["extension_reason"], "the request covers years of records");
    assert!(
        v["history"].as_array().unwrap().iter().any(|h| h["note"]
            .as_str()
            .unwrap()
            .starts_with("deadline extended to")),
        "{v}"
    );
    let again = w.operator("POST", &path, Some(reason.clone())).await;
    assert_eq!(again.status, 409, "{}", text(&again));
    assert!(
        text(&again).contains("already extended"),
        "{}",
        text(&again)
    );

    // The user sees the new date and the reason.
    let seen = w.own_view(&u, &r.id).await;
    assert_eq!(seen.status, 200, "{}", text(&seen));
    assert_eq!(seen.json()["due_at"], due.to_rfc3339());

    // Asked after the due date: too late. An opt-out: never.
    let v2 = w.user().await;
    let long_ago = w.now().minus(Duration::from_secs(46 * 86_400));
    let late = w.open(&v2.id, Regime::Ccpa, "delete", long_ago).await;
    let refused = w
        .operator(
            "POST",
            &format!("/operator/requests/{}/extend", late.id),
            Some(reason.clone()),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", text(&refused));
    assert!(
        text(&refused).contains("before the due date"),
        "{}",
        text(&refused)
    );
    let opt_out = w.open(&v2.id, Regime::Ccpa, "do_not_sell", w.now()).await;
    let refused = w
        .operator(
            "POST",
            &format!("/operator/requests/{}/extend", opt_out.id),
            Some(reason.clone()),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", text(&refused));

    let unknown = w
        .operator(
            "POST",
            &format!("/operator/requests/{}/extend", "0".repeat(32)),
            Some(reason),
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", text(&unknown));

    // And is told by email, with the reason.
    let told = w.mail(&u, "needs more time").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].text.contains("the request covers years of records"));
    assert!(told[0].text.contains(&due.to_rfc3339()));
    assert!(told[0].text.contains("CCPA request to delete your data"));

    let events = w.events(&u.id, "privacy_request_extended").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["operator"], "local operator");
    assert_eq!(events[0]["request_id"], r.id.as_str());
    w.tidy(&[&r, &late, &opt_out]).await;
}

async fn a_denial_is_told_to_the_requester_with_its_basis(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let r = w.open(&u.id, Regime::Gdpr, "export", w.now()).await;
    let path = format!("/operator/requests/{}/deny", r.id);

    let bad = w
        .operator(
            "POST",
            &path,
            Some(json!({"basis": "because", "reason": "x"})),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", text(&bad));
    assert!(
        text(&bad).contains("manifestly_unfounded"),
        "the bases are listed: {}",
        text(&bad)
    );
    let extra = w
        .operator(
            "POST",
            &path,
            Some(json!({"basis": "excessive", "reason": "x", "note": 1})),
        )
        .await;
    assert_eq!(extra.status, 400, "{}", text(&extra));

    let body = json!({"basis": "excessive", "reason": "the fourth identical request this month"});
    let denied = w.operator("POST", &path, Some(body.clone())).await;
    assert_eq!(denied.status, 200, "{}", text(&denied));
    assert_eq!(denied.json()["status"], "denied");

    // The requester's own view: the state, the basis with its provision, the reason, remedies.
    let seen = w.own_view(&u, &r.id).await;
    assert_eq!(seen.status, 200, "{}", text(&seen));
    let v = seen.json();
    assert_eq!(v["status"], "denied");
    assert_eq!(v["denial"]["basis"], "excessive");
    assert_eq!(v["denial"]["provisions"], "GDPR Art. 12(5)(b)");
    assert_eq!(
        v["denial"]["reason"],
        "the fourth identical request this month"
    );
    assert!(
        v["denial"]["remedies"]
            .as_str()
            .unwrap()
            .contains("supervisory authority")
    );

    let again = w.operator("POST", &path, Some(body)).await;
    assert_eq!(again.status, 409, "{}", text(&again));

    // The denial closed the request: the user may ask again, and gets a new one.
    let asked = w
        .as_user(&u, "POST", "/privacy/gdpr", Some(json!({"type": "export"})))
        .await;
    assert!(matches!(asked.status, 200 | 202), "{}", text(&asked));
    assert_ne!(asked.json()["request_id"], r.id.as_str());

    let told = w.mail(&u, "was refused").await;
    assert_eq!(
        told.len(),
        1,
        "one notice, however often the operator tried: {told:?}"
    );
    for part in [
        "excessive",
        "GDPR Art. 12(5)(b)",
        "the fourth identical request this month",
        "supervisory authority",
    ] {
        assert!(told[0].text.contains(part), "{part}: {}", told[0].text);
    }

    let events = w.events(&u.id, "privacy_request_denied").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["basis"], "excessive");
    assert_eq!(events[0]["operator"], "local operator");
}

async fn an_erasure_that_has_run_cannot_be_denied(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let asked = w
        .as_user(&u, "POST", "/privacy/ccpa", Some(json!({"type": "delete"})))
        .await;
    assert_eq!(asked.status, 202, "{}", text(&asked));
    let id = asked.json()["request_id"].as_str().unwrap().to_string();
    let refused = w
        .operator(
            "POST",
            &format!("/operator/requests/{id}/deny"),
            Some(json!({"basis": "legal_claims", "reason": "litigation pending"})),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", text(&refused));
    let shown = w
        .operator("GET", &format!("/operator/requests/{id}"), None)
        .await;
    assert_eq!(shown.status, 200, "{}", text(&shown));
    assert_eq!(shown.json()["status"], "completed");
    assert_eq!(shown.json()["user_id"], u.id.as_str());
}

async fn two_operators_extending_at_once_extend_once(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let r = w.open(&u.id, Regime::Gdpr, "delete", w.now()).await;
    let path = format!("/operator/requests/{}/extend", r.id);
    let (a, b) = tokio::join!(
        w.operator("POST", &path, Some(json!({"reason": "first operator"}))),
        w.operator("POST", &path, Some(json!({"reason": "second operator"}))),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", text(&a), text(&b));
    let shown = w
        .operator("GET", &format!("/operator/requests/{}", r.id), None)
        .await;
    assert_eq!(shown.json()["due_at"], r.due_at.plus_months(2).to_rfc3339());
    assert_eq!(w.events(&u.id, "privacy_request_extended").await.len(), 1);
    w.tidy(&[&r]).await;
}

async fn the_list_filters_by_state_type_regime_and_overdue(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let fresh = w.open(&u.id, Regime::Ccpa, "delete", w.now()).await;
    let v = w.user().await;
    let overdue = w
        .open(
            &v.id,
            Regime::Gdpr,
            "delete",
            w.now().minus(Duration::from_secs(40 * 86_400)),
        )
        .await;
    let listed = |path: String| {
        let w = &w;
        async move {
            let r = w.operator("GET", &path, None).await;
            assert_eq!(r.status, 200, "{path}: {}", text(&r));
            r.json()["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["request_id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let all = listed("/operator/requests".into()).await;
    assert!(all.contains(&fresh.id) && all.contains(&overdue.id));
    let late = listed("/operator/requests?overdue=true".into()).await;
    assert!(
        late.contains(&overdue.id) && !late.contains(&fresh.id),
        "{late:?}"
    );
    let ccpa = listed("/operator/requests?regime=ccpa&type=delete&state=received".into()).await;
    assert!(
        ccpa.contains(&fresh.id) && !ccpa.contains(&overdue.id),
        "{ccpa:?}"
    );
    let erasures = listed("/operator/requests?type=erase".into()).await;
    assert!(erasures.contains(&fresh.id) && erasures.contains(&overdue.id));
    let denied = listed("/operator/requests?state=denied".into()).await;
    assert!(!denied.contains(&fresh.id));

    for (query, param) in [
        ("state=open", "state"),
        ("regime=pipeda", "regime"),
        ("type=forget", "type"),
        ("overdue=maybe", "overdue"),
        ("colour=blue", "colour"),
        ("state=received&state=denied", "state"),
    ] {
        let r = w
            .operator("GET", &format!("/operator/requests?{query}"), None)
            .await;
        assert_eq!(r.status, 400, "{query}: {}", text(&r));
        assert!(text(&r).contains(param), "{query}: {}", text(&r));
    }
    let unknown = w
        .operator(
            "GET",
            &format!("/operator/requests/{}", "f".repeat(32)),
            None,
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", text(&unknown));
    w.tidy(&[&fresh, &overdue]).await;
}

/// A UTC time in year `y`: month, day, hour, minute.
fn at(y: i32, month: u32, day: u32, hour: u32, minute: u32) -> Timestamp {
    let minutes = u64::from((day - 1) * 24 * 60 + hour * 60 + minute);
    Timestamp::start_of_year(y)
        .plus_months(month - 1)
        .plus(Duration::from_secs(minutes * 60))
}

async fn metrics_of_a_seeded_year_match_the_hand_computed_figures(f: Fixture) {
    let w = world(f).await;
    let table = w.state.backends.table.as_ref();
    // A year of its own, so that other tests (and earlier runs on the same emulator) add none.
    let y = 2100 + w.now().millis().rem_euclid(800) as i32;
    assert_eq!(at(y, 12, 31, 23, 0).year(), y);
    assert_eq!(
        at(y + 1, 1, 2, 0, 0).utc_day() - at(y, 12, 31, 23, 0).utc_day(),
        2
    );
    let u = w.user().await;
    let desk = |now| Desk {
        s: w.state.privacy(),
        now,
    };
    let meta = warden_core::audit::RequestMeta::default();
    let complete = |mut r: PrivacyRequest, t: Timestamp| async move {
        requests::complete(table, &mut r, "done", &[], Vec::new(), t)
            .await
            .unwrap();
    };
    // gdpr export A: 2 calendar days (23:00 on the 10th to 01:00 on the 12th).
    let a = w
        .open(&u.id, Regime::Gdpr, "export", at(y, 1, 10, 23, 0))
        .await;
    complete(a, at(y, 1, 12, 1, 0)).await;
    // gdpr export B: answered the same day: 0 days.
    let b = w
        .open(&u.id, Regime::Gdpr, "export", at(y, 3, 1, 0, 30))
        .await;
    complete(b, at(y, 3, 1, 23, 59)).await;
    // gdpr delete C: denied after 10 days.
    let c = w
        .open(&u.id, Regime::Gdpr, "delete", at(y, 5, 1, 12, 0))
        .await;
    desk(at(y, 5, 11, 9, 0))
        .deny(
            &Operator::local(),
            &c.id,
            "legal_obligation",
            "tax records",
            &meta,
        )
        .await
        .unwrap();
    // ccpa access D: received on New Year's Eve, answered in the next year: 2 days, counted
    // in the year it was received.
    let d = w
        .open(&u.id, Regime::Ccpa, "access", at(y, 12, 31, 23, 0))
        .await;
    complete(d, at(y + 1, 1, 2, 0, 0)).await;
    // ccpa do_not_sell E: still open.
    let e = w
        .open(&u.id, Regime::Ccpa, "do_not_sell", at(y, 6, 1, 8, 0))
        .await;
    // ccpa delete F: cancelled.
    w.open(&u.id, Regime::Ccpa, "delete", at(y, 7, 1, 8, 0))
        .await;
    requests::cancel_open(
        table,
        &u.id,
        requests::Action::Erase,
        "withdrawn",
        at(y, 7, 2, 8, 0),
    )
    .await
    .unwrap();
    // gdpr export G: received the year before: not in this year's figures.
    let g = w
        .open(&u.id, Regime::Gdpr, "export", at(y - 1, 12, 31, 23, 59))
        .await;
    complete(g, at(y, 1, 5, 0, 0)).await;

    let r = w
        .operator("GET", &format!("/operator/metrics?year={y}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    let m = r.json();
    let row = |regime: &str, name: &str| {
        m["by_type"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["regime"] == regime && t["type"] == name)
            .cloned()
            .unwrap()
    };
    let figures = |v: &Value| {
        (
            v["received"].as_u64().unwrap(),
            v["complied"].as_u64().unwrap(),
            v["denied"].as_u64().unwrap(),
            v["cancelled"].as_u64().unwrap(),
            v["open"].as_u64().unwrap(),
            v["median_days"].as_f64(),
            v["mean_days"].as_f64(),
        )
    };
    assert_eq!(
        figures(&row("gdpr", "export")),
        (2, 2, 0, 0, 0, Some(1.0), Some(1.0))
    );
    assert_eq!(
        figures(&row("gdpr", "delete")),
        (1, 0, 1, 0, 0, Some(10.0), Some(10.0))
    );
    assert_eq!(
        figures(&row("ccpa", "access")),
        (1, 1, 0, 0, 0, Some(2.0), Some(2.0))
    );
    assert_eq!(
        figures(&row("ccpa", "do_not_sell")),
        (1, 0, 0, 0, 1, None, None)
    );
    assert_eq!(figures(&row("ccpa", "delete")), (1, 0, 0, 1, 0, None, None));
    // Days answered: 2, 0, 10, 2 → median (2 + 2) / 2 = 2, mean 14 / 4 = 3.5.
    assert_eq!(figures(&m["total"]), (6, 3, 1, 1, 1, Some(2.0), Some(3.5)));

    // The command line's own door gives the same figures.
    let cli = Command::Metrics { year: Some(y) }
        .run(&w.state, &Operator::local())
        .await
        .unwrap();
    assert_eq!(cli, m);
    let printed = Command::Metrics { year: Some(y) }.render(&cli, false);
    assert!(
        printed
            .lines()
            .any(|l| l.starts_with("all") && l.ends_with("2.0       3.5")),
        "{printed}"
    );
    w.tidy(&[&e]).await;
}

async fn the_command_line_reaches_the_same_operations_through_either_door(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let r = w.open(&u.id, Regime::Gdpr, "delete", w.now()).await;
    let address = w.api.base.trim_start_matches("http://").to_string();
    let show = privacy_cli::parse(&["show".to_string(), r.id.clone()])
        .unwrap()
        .command;
    let direct = show.run(&w.state, &Operator::local()).await.unwrap();
    let over_http = privacy_cli::over_http(&show, &address, OPERATOR_TOKEN)
        .await
        .unwrap()
        .expect("the runner answers");
    assert_eq!(direct, over_http);
    assert!(show.render(&direct, false).contains(&r.id));

    let words = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    let extend = privacy_cli::parse(&words(&format!("extend {} --reason complex", r.id)))
        .unwrap()
        .command;
    let done = privacy_cli::over_http(&extend, &address, OPERATOR_TOKEN)
        .await
        .unwrap()
        .unwrap();
    assert!(extend.render(&done, false).contains("extended"));
    // The second, through the other door: the same refusal, one line.
    let refused = extend.run(&w.state, &Operator::local()).await.unwrap_err();
    assert_eq!(
        privacy_cli::error_line(&extend, &refused),
        "the request was already extended once"
    );
    let refused = privacy_cli::over_http(&extend, &address, OPERATOR_TOKEN)
        .await
        .unwrap_err();
    assert!(
        refused.contains("already extended once") && !refused.contains('\n'),
        "{refused}"
    );
    let wrong_token = privacy_cli::over_http(&show, &address, "not-the-token")
        .await
        .unwrap_err();
    assert!(wrong_token.contains("401"), "{wrong_token}");
    let unknown = privacy_cli::parse(&words(&format!("show {}", "e".repeat(32))))
        .unwrap()
        .command;
    let e = unknown.run(&w.state, &Operator::local()).await.unwrap_err();
    assert_eq!(privacy_cli::error_line(&unknown, &e), "no such request");
    w.tidy(&[&r]).await;
}

async fn the_record_of_processing_is_drawn_from_the_data_map(f: Fixture) {
    use warden_core::privacy::data_map::DATA_MAP;
    let w = world(f).await;
    let md = w.operator("GET", "/operator/ropa", None).await;
    assert_eq!(md.status, 200, "{}", text(&md));
    assert!(
        md.header("content-type")
            .unwrap()
            .starts_with("text/markdown")
    );
    let md = text(&md);
    assert!(md.starts_with("# Record of processing activities"), "{md}");
    for c in DATA_MAP {
        assert!(
            md.contains(&format!("| {} (", c.name)),
            "{} missing",
            c.name
        );
    }
    let json = w.operator("GET", "/operator/ropa?format=json", None).await;
    assert_eq!(json.status, 200, "{}", text(&json));
    let record = json.json();
    assert_eq!(
        record["activities"].as_array().unwrap().len(),
        DATA_MAP.len()
    );
    assert!(record["security_measures"].as_array().unwrap().len() >= 5);
    let notice = w.operator("GET", "/operator/ropa?notice=true", None).await;
    assert!(
        text(&notice).starts_with("# Notice at collection"),
        "{}",
        text(&notice)
    );
    let bad = w.operator("GET", "/operator/ropa?format=xml", None).await;
    assert_eq!(bad.status, 400, "{}", text(&bad));
    assert!(text(&bad).contains("format"));

    // The command line prints the same documents through either door.
    let address = w.api.base.trim_start_matches("http://").to_string();
    for words in [
        vec!["ropa"],
        vec!["ropa", "--format", "json"],
        vec!["ropa", "--notice"],
    ] {
        let words: Vec<String> = words.into_iter().map(str::to_string).collect();
        let command = privacy_cli::parse(&words).unwrap().command;
        let direct = command.run(&w.state, &Operator::local()).await.unwrap();
        let over_http = privacy_cli::over_http(&command, &address, OPERATOR_TOKEN)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(direct, over_http, "{words:?}");
    }
}

async fn opting_back_in_takes_two_steps(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let ccpa =
        |kind: &'static str| w.as_user(&u, "POST", "/privacy/ccpa", Some(json!({ "type": kind })));
    let opted_out = ccpa("do_not_sell").await;
    assert_eq!(opted_out.status, 200, "{}", text(&opted_out));
    let selling = || async {
        w.as_user(&u, "GET", "/me", None).await.json()["privacy"]["do_not_sell"].clone()
    };
    assert_eq!(selling().await, true);

    let asked = ccpa("opt_in").await;
    assert_eq!(asked.status, 202, "{}", text(&asked));
    assert_eq!(asked.json()["status"], "verifying");
    assert_eq!(selling().await, true, "one request changes nothing");
    let confirmed = ccpa("opt_in").await;
    assert_eq!(confirmed.status, 200, "{}", text(&confirmed));
    assert_eq!(confirmed.json()["status"], "completed");
    assert_eq!(confirmed.json()["request_id"], asked.json()["request_id"]);
    assert_eq!(selling().await, false);
    assert_eq!(w.events(&u.id, "opt_in_recorded").await.len(), 1);
    // Told by mail: the first step what it still needs, the second that it is done.
    let received = w.mail(&u, "We received").await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(
        received[0]
            .text
            .contains("confirm it by asking again within a day")
    );
    let answered = w.mail(&u, "is answered").await;
    let opted_in: Vec<_> = answered
        .iter()
        .filter(|m| m.text.contains("opted back in"))
        .collect();
    assert_eq!(opted_in.len(), 1, "{answered:?}");
    // Opting out again works as before.
    assert_eq!(ccpa("do_not_sell").await.status, 200);
    assert_eq!(selling().await, true);
}

/// An opt-in nobody confirmed lapses after a day (the embedded store: the schedule's pass
/// must not run other tests' requests on the shared emulator).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unconfirmed_opt_in_lapses_after_a_day() {
    let f = warden_tests::fixtures::embedded();
    let clock = f.clock.clone();
    let w = world(f).await;
    let u = w.user().await;
    let ccpa =
        |kind: &'static str| w.as_user(&u, "POST", "/privacy/ccpa", Some(json!({ "type": kind })));
    assert_eq!(ccpa("do_not_sell").await.status, 200);
    let asked = ccpa("opt_in").await.json();
    assert_eq!(asked["status"], "verifying");
    clock.advance(Duration::from_secs(25 * 3600));
    warden_core::privacy::resume_open(&w.state.privacy(), 100)
        .await
        .unwrap();
    // (A day later the user's token is long dead: the operator's view, and the profile.)
    let id = asked["request_id"].as_str().unwrap();
    let lapsed = w
        .operator("GET", &format!("/operator/requests/{id}"), None)
        .await
        .json();
    assert_eq!(lapsed["status"], "cancelled", "{lapsed}");
    let profile = warden_core::users::read_profile(w.state.backends.table.as_ref(), &u.id)
        .await
        .unwrap()
        .unwrap();
    assert!(profile.sale.opted_out, "nothing changed");
}

/// Two downstream recipients to acknowledge erasures and opt-outs.
fn with_recipients() -> warden_core::config::Config {
    let mut c = test_config();
    c.downstream_recipients = vec!["crm".into(), "analytics".into()];
    c
}

async fn an_erasure_lives_from_its_request_to_the_last_acknowledgement(f: Fixture) {
    let w = world_with(f, with_recipients()).await;
    let u = w.user().await;
    let asked = w
        .as_user(&u, "POST", "/privacy/gdpr", Some(json!({"type": "delete"})))
        .await;
    assert_eq!(asked.status, 202, "{}", text(&asked));
    let v = asked.json();
    // Warden's part is done (and verified); the recipients have not confirmed theirs.
    assert_eq!(v["status"], "awaiting_acknowledgements", "{v}");
    assert!(v["receipt"].is_object(), "{v}");
    let id = v["request_id"].as_str().unwrap().to_string();
    let show = format!("/operator/requests/{id}");
    let shown = w.operator("GET", &show, None).await.json();
    assert_eq!(
        shown["pending_acknowledgements"],
        json!(["crm", "analytics"])
    );
    let waiting = w
        .operator(
            "GET",
            "/operator/requests?state=awaiting_acknowledgements",
            None,
        )
        .await
        .json();
    assert!(
        waiting["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["request_id"] == id.as_str())
    );

    // The recipients are slow: the one extension, before the due date.
    let extended = w
        .operator(
            "POST",
            &format!("{show}/extend"),
            Some(json!({"reason": "a processor restores from tape"})),
        )
        .await;
    assert_eq!(extended.status, 200, "{}", text(&extended));

    let acks = format!("{show}/acks");
    let ack = |who: &str| w.operator("POST", &acks, Some(json!({ "recipient": who })));
    let first = ack("crm").await;
    assert_eq!(first.status, 200, "{}", text(&first));
    assert_eq!(first.json()["status"], "awaiting_acknowledgements");
    assert_eq!(
        first.json()["pending_acknowledgements"],
        json!(["analytics"])
    );
    let again = ack("crm").await;
    assert_eq!(again.status, 409, "{}", text(&again));
    let stranger = ack("erp").await;
    assert_eq!(stranger.status, 409, "{}", text(&stranger));
    let malformed = ack("Not A Name").await;
    assert_eq!(malformed.status, 400, "{}", text(&malformed));
    let last = ack("analytics").await;
    assert_eq!(last.status, 200, "{}", text(&last));
    let done = last.json();
    assert_eq!(done["status"], "completed");
    assert!(done["closed_at"].is_string() && done["completed_at"].is_string());
    let notes = warden_tests::api::history_notes(&done);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("waiting for acknowledgements from crm, analytics"))
    );
    assert!(notes.contains(&"acknowledged by crm".to_string()));
    assert!(notes.contains(&"acknowledged by analytics".to_string()));
    let late = ack("analytics").await;
    assert_eq!(late.status, 409, "{}", text(&late));
    let events = w.events(&u.id, "privacy_request_acknowledged").await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["remaining"], 0);
}

/// Two recipients' acknowledgements recorded at once: each is a conditional write on the
/// request, so one may have to be sent again, but none is lost or counted twice and the request
/// completes exactly once.
async fn acknowledgements_recorded_at_once_complete_the_request_once(f: Fixture) {
    let w = world_with(f, with_recipients()).await;
    let u = w.user().await;
    let asked = w
        .as_user(
            &u,
            "POST",
            "/privacy/ccpa",
            Some(json!({"type": "do_not_sell"})),
        )
        .await;
    assert_eq!(asked.status, 200, "{}", text(&asked));
    let id = asked.json()["request_id"].as_str().unwrap().to_string();
    let acks = format!("/operator/requests/{id}/acks");
    let ack = |who: &'static str| w.operator("POST", &acks, Some(json!({ "recipient": who })));
    let (a, b) = tokio::join!(ack("crm"), ack("analytics"));
    for (who, r) in [("crm", &a), ("analytics", &b)] {
        match r.status {
            200 => {}
            // Lost the race to the other: sent again, it lands.
            409 => assert_eq!(ack(who).await.status, 200, "{who}"),
            other => panic!("{who}: {other} {}", text(r)),
        }
    }
    let done = w
        .operator("GET", &format!("/operator/requests/{id}"), None)
        .await
        .json();
    assert_eq!(done["status"], "completed", "{done}");
    let notes = warden_tests::api::history_notes(&done);
    for who in ["crm", "analytics"] {
        let line = format!("acknowledged by {who}");
        assert_eq!(notes.iter().filter(|n| **n == line).count(), 1, "{notes:?}");
    }
    assert_eq!(
        w.events(&u.id, "privacy_request_acknowledged").await.len(),
        2
    );
    assert_eq!(w.events(&u.id, "privacy_request_completed").await.len(), 1);
}

async fn an_opt_out_is_honoured_at_once_and_completes_with_the_last_acknowledgement(f: Fixture) {
    let w = world_with(f, with_recipients()).await;
    let u = w.user().await;
    let asked = w
        .as_user(
            &u,
            "POST",
            "/privacy/ccpa",
            Some(json!({"type": "do_not_sell"})),
        )
        .await;
    assert_eq!(asked.status, 200, "recorded at once: {}", text(&asked));
    assert_eq!(asked.json()["status"], "awaiting_acknowledgements");
    let me = w.as_user(&u, "GET", "/me", None).await;
    assert_eq!(me.json()["privacy"]["do_not_sell"], true, "{}", text(&me));
    let id = asked.json()["request_id"].as_str().unwrap().to_string();
    // Through the command line's door.
    for (recipient, state) in [
        ("analytics", "awaiting_acknowledgements"),
        ("crm", "completed"),
    ] {
        let ack = Command::Ack {
            id: id.clone(),
            recipient: recipient.into(),
        };
        let v = ack.run(&w.state, &Operator::local()).await.unwrap();
        assert_eq!(v["status"], state, "{v}");
        assert_eq!(ack.render(&v, false), format!("request {id} is {state}"));
    }
}

const HELD: [&str; 3] = ["profile", "activity", "security_events"];

/// The objects under the account's held-copy prefix in the export store.
async fn held_objects(w: &World, user_id: &str) -> Vec<warden_core::blobs::BlobMeta> {
    let prefix = warden_core::privacy::legal_hold::prefix(user_id);
    warden_core::blobs::list_all(w.state.backends.exports.as_ref(), &prefix)
        .await
        .unwrap()
}

async fn a_legal_hold_keeps_its_categories_sealed_through_an_erasure(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let hold = format!("/operator/users/{}/hold", u.id);
    let placed = w
        .operator(
            "POST",
            &hold,
            Some(json!({"reason": "litigation 2026-17", "categories": HELD})),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", text(&placed));
    assert_eq!(placed.json()["categories"], json!(HELD));
    assert_eq!(placed.json()["placed_by"], "local operator");
    let again = w
        .operator("POST", &hold, Some(json!({"reason": "a second"})))
        .await;
    assert_eq!(again.status, 409, "{}", text(&again));
    assert!(text(&again).contains("under a legal hold already"));

    // The account holder erases: the account goes, the held categories stay, sealed.
    let asked = w
        .as_user(&u, "POST", "/privacy/gdpr", Some(json!({"type": "delete"})))
        .await;
    assert_eq!(asked.status, 202, "{}", text(&asked));
    let v = asked.json();
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["legal_hold"]["reason"], "litigation 2026-17", "{v}");
    assert_eq!(v["legal_hold"]["categories"], json!(HELD));
    let receipt = &v["receipt"];
    let erased: Vec<&str> = receipt["erased"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(erased.contains(&"preferences") && erased.contains(&"devices"));
    assert!(HELD.iter().all(|c| !erased.contains(c)), "{receipt}");
    assert_eq!(receipt["legal_hold"], v["legal_hold"]);
    assert!(
        receipt["kept"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["category"] == "legal_hold"),
        "{receipt}"
    );
    let id = v["request_id"].as_str().unwrap();
    let shown = w
        .operator("GET", &format!("/operator/requests/{id}"), None)
        .await
        .json();
    assert_eq!(shown["legal_hold"], v["legal_hold"]);
    assert!(w.state.users().get(&u.id).await.unwrap().is_none());

    // At rest the copy is sealed (no address in clear); through the hold's key it is the
    // archive an export writes, of the held categories only.
    let objects = held_objects(&w, &u.id).await;
    assert_eq!(objects.len(), 1, "{objects:?}");
    let raw = w
        .state
        .backends
        .exports
        .get(&objects[0].key)
        .await
        .unwrap()
        .unwrap();
    assert!(raw.starts_with(b"WDNSEAL1"));
    assert!(!raw.windows(u.email.len()).any(|x| x == u.email.as_bytes()));
    let copy = w.operator("GET", &format!("{hold}/copy"), None).await;
    assert_eq!(copy.status, 200, "{}", text(&copy));
    let files = warden_tests::zip_reader::unzip(&copy.body);
    let data: Value = serde_json::from_slice(&files["data.json"]).unwrap();
    assert_eq!(data["profile"]["email"], u.email.as_str());
    assert!(!data["activity"].as_array().unwrap().is_empty(), "{data}");
    assert!(!data["security_events"].as_array().unwrap().is_empty());
    assert!(data.get("preferences").is_none() && data.get("devices").is_none());
    let shown = w.operator("GET", &hold, None).await.json();
    assert_eq!(shown["sealed"]["by_request"], id);
    // The command line writes the same archive to a new owner-only file, through either door.
    let dir = warden_tests::fixtures::TempDir::new();
    let address = w.api.base.trim_start_matches("http://").to_string();
    for (door, name) in [("store", "a.zip"), ("runner", "b.zip")] {
        let out = dir.0.join(name);
        let cli = Command::Copy {
            user_id: u.id.clone(),
            out: out.clone(),
        };
        let written = match door {
            "store" => cli.run(&w.state, &Operator::local()).await.unwrap(),
            _ => privacy_cli::over_http(&cli, &address, OPERATOR_TOKEN)
                .await
                .unwrap()
                .unwrap(),
        };
        assert_eq!(written["bytes"], copy.body.len(), "{door}");
        assert_eq!(std::fs::read(&out).unwrap(), copy.body, "{door}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{door}");
        let again = cli.run(&w.state, &Operator::local()).await.unwrap_err();
        assert!(privacy_cli::error_line(&cli, &again).contains("cannot create"));
    }
    // The requester is told what was erased, what was kept and what the hold keeps, at the
    // address the erasure sealed when it began (the account's key is gone).
    let answered = w.mail(&u, "is answered").await;
    assert_eq!(answered.len(), 1, "{answered:?}");
    let told = &answered[0].text;
    assert!(told.contains("Erased, and checked"), "{told}");
    assert!(
        told.contains("preferences") && told.contains("security_alerts"),
        "{told}"
    );
    assert!(told.contains("Reason: litigation 2026-17"), "{told}");
    let record = requests::get(w.state.backends.table.as_ref(), id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !record.progress.contains_key("notify_to"),
        "the address is not kept"
    );

    // Lifted: the copy and its key go.
    let lifted = w.operator("DELETE", &hold, None).await;
    assert_eq!(lifted.status, 200, "{}", text(&lifted));
    assert!(held_objects(&w, &u.id).await.is_empty());
    assert_eq!(w.operator("GET", &hold, None).await.status, 404);
    assert_eq!(
        w.operator("GET", &format!("{hold}/copy"), None)
            .await
            .status,
        404
    );
    assert_eq!(w.operator("DELETE", &hold, None).await.status, 404);
    let placed = w.events(&u.id, "legal_hold_placed").await;
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0]["operator"], "local operator");
    let released = w.events(&u.id, "legal_hold_released").await;
    assert_eq!(released.len(), 1);
    assert_eq!(released[0]["copy_deleted"], true);
}

async fn a_hold_is_refused_for_strangers_unknown_categories_and_an_erasure_under_way(f: Fixture) {
    use warden_core::table::Update;
    let w = world(f).await;
    let u = w.user().await;
    let hold = format!("/operator/users/{}/hold", u.id);
    let stranger = format!("/operator/users/{}/hold", "e".repeat(32));
    let r = w
        .operator("POST", &stranger, Some(json!({"reason": "x"})))
        .await;
    assert_eq!(r.status, 404, "{}", text(&r));
    for (body, field) in [
        (
            json!({"reason": "x", "categories": ["passwords"]}),
            "categories",
        ),
        (json!({"reason": "x", "categories": []}), "categories"),
        (
            json!({"reason": "x", "categories": ["profile", "profile"]}),
            "categories",
        ),
        (json!({"reason": "  "}), "reason"),
    ] {
        let r = w.operator("POST", &hold, Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}: {}", text(&r));
        assert_eq!(r.json()["invalid_params"][0]["name"], field, "{body}");
    }
    let r = w
        .operator(
            "POST",
            &hold,
            Some(json!({"reason": "x", "until": "never"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", text(&r));
    assert_eq!(w.operator("DELETE", &hold, None).await.status, 404);
    // The erasure's fence is up: what it is deleting can no longer be held.
    let fence = Update::new().set(warden_core::users::ERASING, w.now().millis());
    w.state
        .backends
        .table
        .update(&warden_core::users::profile_key(&u.id), fence)
        .await
        .unwrap();
    let r = w
        .operator("POST", &hold, Some(json!({"reason": "too late"})))
        .await;
    assert_eq!(r.status, 409, "{}", text(&r));
    assert!(text(&r).contains("erasure has begun"), "{}", text(&r));
    assert!(w.events(&u.id, "legal_hold_placed").await.is_empty());
}

async fn holds_placed_at_once_make_one(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let hold = format!("/operator/users/{}/hold", u.id);
    let calls = (0..5).map(|i| {
        w.operator(
            "POST",
            &hold,
            Some(json!({ "reason": format!("matter {i}") })),
        )
    });
    let answers = warden_tests::join_all(calls).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(w.events(&u.id, "legal_hold_placed").await.len(), 1);
}

/// An erasure sealing the copy while an operator lifts the hold: whichever wins, no copy is
/// left without its hold (the release deletes the item only as it read it, and the seal
/// records itself only on the hold it read).
async fn a_hold_lifted_while_the_erasure_seals_leaves_no_copy(f: Fixture) {
    use warden_core::privacy::legal_hold;
    let w = world(f).await;
    for _ in 0..3 {
        let u = w.user().await;
        let desk = Desk {
            s: w.state.privacy(),
            now: w.now(),
        };
        let meta = Default::default();
        desk.hold(&Operator::local(), &u.id, "matter", None, &meta)
            .await
            .unwrap();
        let mut r = w.open(&u.id, Regime::Gdpr, "delete", w.now()).await;
        let op = Operator::local();
        let privacy = w.state.privacy();
        let (sealed, released) = tokio::join!(
            legal_hold::seal(&privacy, &mut r),
            desk.release(&op, &u.id, &meta)
        );
        // The copy's upload may fail under the purge (the erasure's step is then retried, and
        // finds no hold); the release may have to be asked again.
        if let Err(e) = sealed {
            assert!(matches!(e, warden_core::Error::Dependency { .. }), "{e:?}");
        }
        if let Err(e) = released {
            assert!(matches!(e, warden_core::Error::Dependency { .. }), "{e:?}");
            desk.release(&op, &u.id, &meta).await.unwrap();
        }
        let prefix = legal_hold::prefix(&u.id);
        let unfinished = w.state.backends.exports.unfinished(&prefix).await.unwrap();
        assert!(unfinished.is_empty(), "{unfinished:?}");
        assert!(
            legal_hold::get(w.state.backends.table.as_ref(), &u.id)
                .await
                .unwrap()
                .is_none()
        );
        assert!(held_objects(&w, &u.id).await.is_empty());
        w.tidy(&[&r]).await;
    }
}

async fn the_command_line_holds_and_releases_through_either_door(f: Fixture) {
    let w = world(f).await;
    let u = w.user().await;
    let address = w.api.base.trim_start_matches("http://").to_string();
    let args = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    let hold = privacy_cli::parse(&args(&format!(
        "hold {} --reason subpoena --category profile --category activity",
        u.id
    )))
    .unwrap()
    .command;
    let placed = privacy_cli::over_http(&hold, &address, OPERATOR_TOKEN)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(placed["categories"], json!(["profile", "activity"]));
    let printed = hold.render(&placed, false);
    assert!(printed.contains("reason      subpoena"), "{printed}");
    // The second, through the other door: the same refusal.
    let refused = hold.run(&w.state, &Operator::local()).await.unwrap_err();
    assert!(
        privacy_cli::error_line(&hold, &refused).contains("under a legal hold already"),
        "{refused}"
    );
    let held = privacy_cli::parse(&args(&format!("held {}", u.id)))
        .unwrap()
        .command;
    let direct = held.run(&w.state, &Operator::local()).await.unwrap();
    let over_http = privacy_cli::over_http(&held, &address, OPERATOR_TOKEN)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(direct, over_http);
    let release = privacy_cli::parse(&args(&format!("release {}", u.id)))
        .unwrap()
        .command;
    let lifted = release.run(&w.state, &Operator::local()).await.unwrap();
    assert_eq!(
        release.render(&lifted, false),
        format!("legal hold on {} lifted", u.id)
    );
    let gone = privacy_cli::over_http(&release, &address, OPERATOR_TOKEN)
        .await
        .unwrap_err();
    assert_eq!(gone, "no legal hold on this account");
    assert!(privacy_cli::parse(&args("hold --reason x")).is_err());
    assert!(privacy_cli::parse(&args(&format!("release {} --reason x", u.id))).is_err());
}

/// An operator placing a hold while the account holder's erasure starts: the hold either lands
/// before the erasure's fence (and the erasure seals its copy) or is refused (and nothing is
/// held) — never a hold the erasure did not honour, nor a copy without its hold.
async fn a_hold_racing_the_erasure_holds_all_of_it_or_nothing(f: Fixture) {
    let w = world(f).await;
    for _ in 0..3 {
        let u = w.user().await;
        let hold = format!("/operator/users/{}/hold", u.id);
        let (placed, erased) = tokio::join!(
            w.operator("POST", &hold, Some(json!({"reason": "a claim"}))),
            w.as_user(&u, "POST", "/privacy/gdpr", Some(json!({"type": "delete"}))),
        );
        assert_eq!(erased.status, 202, "{}", text(&erased));
        let v = erased.json();
        assert_eq!(v["status"], "completed", "{v}");
        let copies = held_objects(&w, &u.id).await;
        match placed.status {
            201 => {
                assert_eq!(v["legal_hold"]["reason"], "a claim", "{v}");
                assert_eq!(copies.len(), 1, "{copies:?}");
                assert_eq!(w.operator("DELETE", &hold, None).await.status, 200);
            }
            409 => {
                assert!(v.get("legal_hold").is_none(), "{v}");
                assert!(copies.is_empty(), "{copies:?}");
                assert_eq!(w.operator("GET", &hold, None).await.status, 404);
            }
            other => panic!("{other}: {}", text(&placed)),
        }
    }
}

warden_tests::on_both_backends!(
    a_hold_racing_the_erasure_holds_all_of_it_or_nothing,
    a_legal_hold_keeps_its_categories_sealed_through_an_erasure,
    a_hold_is_refused_for_strangers_unknown_categories_and_an_erasure_under_way,
    holds_placed_at_once_make_one,
    a_hold_lifted_while_the_erasure_seals_leaves_no_copy,
    the_command_line_holds_and_releases_through_either_door,
    acknowledgements_recorded_at_once_complete_the_request_once,
    opting_back_in_takes_two_steps,
    the_record_of_processing_is_drawn_from_the_data_map,
    an_erasure_lives_from_its_request_to_the_last_acknowledgement,
    an_opt_out_is_honoured_at_once_and_completes_with_the_last_acknowledgement,
    an_operator_extends_once_and_before_the_due_date,
    a_denial_is_told_to_the_requester_with_its_basis,
    an_erasure_that_has_run_cannot_be_denied,
    two_operators_extending_at_once_extend_once,
    the_list_filters_by_state_type_regime_and_overdue,
    metrics_of_a_seeded_year_match_the_hand_computed_figures,
    the_command_line_reaches_the_same_operations_through_either_door,
);

#[test]
fn the_documented_holdable_categories_are_the_data_maps() {
    let doc: Value = serde_json::from_str(include_str!("../../docs/operator-api.json")).unwrap();
    let body = &doc["paths"]["/operator/users/{id}/hold"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    let documented = &body["properties"]["categories"]["items"]["enum"];
    let holdable: Vec<&str> = warden_core::privacy::legal_hold::holdable().collect();
    assert_eq!(documented, &json!(holdable));
}
