//! `warden-local`'s operator routes and files (the auth-seams review, finding 7): `/_local/*`
//! needs the operator credential whatever the source address, a page of another site or a
//! rebinding host name gets nothing, every file and directory the embedded backends write is
//! private, and password hashing is bounded (503 with `Retry-After` beyond the queue).

use std::time::Duration;

use warden_core::services::Services;
use warden_tests::fixtures::{OPERATOR_TOKEN, TempDir, embedded, serve, test_config};
use warden_tests::http_client::request;

#[tokio::test]
async fn operator_routes_need_the_token_and_a_loopback_host() {
    let f = embedded();
    let s = Services::new(test_config(), f.backends.clone())
        .await
        .unwrap();
    let base = serve(s, &f).await;
    let bearer = format!("Bearer {OPERATOR_TOKEN}");
    let get = |path: &str, headers: Vec<(&'static str, String)>| {
        let url = format!("{base}{path}");
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            request("GET", &url, &h, b"").await.unwrap()
        }
    };
    assert_eq!(get("/_local/dashboard", vec![]).await.status, 401);
    assert_eq!(
        get(
            "/_local/dashboard",
            vec![("Authorization", "Bearer nope".into())]
        )
        .await
        .status,
        401
    );
    assert_eq!(
        get("/_local/dashboard", vec![("Authorization", bearer.clone())])
            .await
            .status,
        200
    );
    // A DNS-rebinding page reaches the runner under its own host name.
    assert_eq!(
        get(
            "/_local/dashboard",
            vec![
                ("Authorization", bearer.clone()),
                ("Host", "rebind.attacker.example:3000".into())
            ]
        )
        .await
        .status,
        403
    );

    // The browser's exchange: token → cookie → dashboard.
    let login = get(&format!("/_local/login?token={OPERATOR_TOKEN}"), vec![]).await;
    assert_eq!(login.status, 303);
    let cookie = login.cookie("warden-operator").expect("operator cookie");
    let set = login.header("set-cookie").unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/_local")
    );
    assert_eq!(
        get("/_local/dashboard", vec![("Cookie", cookie.clone())])
            .await
            .status,
        200
    );
    assert_eq!(get("/_local/login?token=wrong", vec![]).await.status, 401);

    // A POST carried by the cookie from another site is refused; the runner's own page may.
    let scan = |headers: Vec<(&'static str, String)>| {
        let url = format!("{base}/_local/scan");
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            request("POST", &url, &h, b"").await.unwrap().status
        }
    };
    assert_eq!(scan(vec![]).await, 401);
    assert_eq!(
        scan(vec![
            ("Cookie", cookie.clone()),
            ("Origin", "https://evil.example".into()),
            ("Sec-Fetch-Site", "cross-site".into()),
        ])
        .await,
        401
    );
    let own = format!("http://{}", base.trim_start_matches("http://"));
    assert_eq!(
        scan(vec![
            ("Cookie", cookie),
            ("Origin", own),
            ("Sec-Fetch-Site", "same-origin".into()),
        ])
        .await,
        200
    );
    assert_eq!(scan(vec![("Authorization", bearer)]).await, 200);
}

#[cfg(unix)]
#[tokio::test]
async fn every_file_and_directory_the_runner_writes_is_private() {
    use std::os::unix::fs::PermissionsExt;

    let dir = TempDir::new();
    let data = dir.0.join("data");
    let args = warden_local::Args {
        data_dir: data.clone(),
        ..Default::default()
    };
    let app = warden_local::build(&args, test_config()).await.unwrap();
    // An object in the blob store, as an upload or an export writes it.
    app.state
        .backends
        .exports
        .put(
            "user/export.zip",
            Box::new(std::io::Cursor::new(b"zip".to_vec())),
            "application/zip",
        )
        .await
        .unwrap();
    let mut checked = 0;
    let mut stack = vec![data.clone()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            assert_eq!(mode, 0o600, "{}", path.display());
        }
        checked += 1;
    }
    for name in [
        "warden.redb",
        "master.key",
        "link-signing.key",
        "operator-token",
    ] {
        assert!(data.join(name).exists(), "{name}");
    }
    assert!(checked >= 8, "walked {checked} paths");
}

#[tokio::test]
async fn start_up_fails_naming_a_data_directory_it_cannot_make_private() {
    let dir = TempDir::new();
    let not_a_dir = dir.0.join("occupied");
    std::fs::write(&not_a_dir, b"a file where the data directory should be").unwrap();
    let args = warden_local::Args {
        data_dir: not_a_dir.clone(),
        ..Default::default()
    };
    let err = warden_local::build(&args, test_config())
        .await
        .err()
        .expect("start-up refused");
    assert!(
        err.chain().contains(&not_a_dir.display().to_string()),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hashing_beyond_the_bound_waits_then_answers_503_with_retry_after() {
    let f = embedded();
    let mut config = test_config();
    config.argon2 = warden_core::config::Argon2Params {
        memory_kib: 32 * 1024,
        iterations: 3,
        parallelism: 1,
    };
    config.argon2_concurrency = Some(1);
    config.argon2_queue_timeout = Duration::from_millis(1);
    let s = Services::new(config, f.backends.clone()).await.unwrap();
    let base = serve(s, &f).await;
    let login = |i: usize| {
        let url = format!("{base}/auth/login");
        async move {
            let body = serde_json::json!({"email": format!("nobody-{i}@example.com"), "password": "some password here"});
            request(
                "POST",
                &url,
                &[("Content-Type", "application/json")],
                body.to_string().as_bytes(),
            )
            .await
            .unwrap()
        }
    };
    let all = warden_tests::join_all((0..6).map(login)).await;
    let refused: Vec<_> = all.iter().filter(|r| r.status == 503).collect();
    assert!(
        !refused.is_empty(),
        "{:?}",
        all.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(all.iter().any(|r| r.status == 401), "one hash ran");
    for r in refused {
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
}
