//! A browser app on the API's own origin, in a real browser: headless Chromium (Debian's
//! package, which `scripts/test` installs) opens `warden-local`'s `/demo/` page, which registers
//! and signs in; `warden-local` restarts on the same data directory with its clock 16 minutes
//! ahead, so the page's access token has expired; the page sees 401, refreshes with the
//! `HttpOnly` cookie (no configuration: the API's own origin), calls `/me`, and logs out, after
//! which a refresh is refused. Cookies persist in Chromium's profile between the two runs.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Stop, free_port};

fn chromium() -> String {
    let path = std::env::var("WARDEN_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&path).exists(),
        "the browser test needs Chromium at {path}: run ./scripts/test (it installs Debian's chromium) or set WARDEN_CHROMIUM"
    );
    path
}

/// `warden-local` on `port` with `data_dir`, its clock shifted by `offset`, its issuer (and so
/// its own origin) `http://localhost:{port}`.
fn start(data_dir: &Path, port: u16, offset: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_warden-local"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--time-offset",
            offset,
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .env("WARDEN_ISSUER", format!("http://localhost:{port}"))
        .env("WARDEN_ARGON2_MEMORY_KIB", "256")
        .env("WARDEN_ARGON2_ITERATIONS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start warden-local")
}

fn wait_healthy(port: u16) {
    use std::io::{Read, Write};
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = write!(
                s,
                "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            );
            let mut out = String::new();
            if s.read_to_string(&mut out).is_ok() && out.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("warden-local did not become healthy");
}

/// The token of the newest verification link the runner mailed to `email` (its outbox's files,
/// named in the order sent).
fn verification_token(data: &Path, email: &str) -> String {
    let mut files: Vec<_> = std::fs::read_dir(data.join("mail"))
        .expect("the runner's outbox")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .rev()
        .find_map(|p| {
            let raw = std::fs::read_to_string(p).ok()?;
            let (m, _) = warden_core::mail::mime::parse(&raw).ok()?;
            let marker = "/verify-email#token=";
            let at = m.text.find(marker)? + marker.len();
            (m.to == email).then(|| m.text[at..].split_whitespace().next().map(str::to_string))?
        })
        .expect("a verification link")
}

/// The demo page's log after Chromium ran `url` with the profile at `profile`.
fn run_page(profile: &Path, url: &str) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    dom.split("<pre id=\"log\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("no log in the page: {dom}"))
        .to_string()
}

#[test]
fn a_page_on_the_apis_own_origin_signs_in_refreshes_after_expiry_and_logs_out() {
    let root = std::env::temp_dir().join(format!("warden-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (data, profile) = (root.join("data"), root.join("chromium"));
    std::fs::create_dir_all(&profile).unwrap();
    let port = free_port();
    let base = format!("http://localhost:{port}/demo/");
    let email = format!("browser-{}@example.com", std::process::id());
    let password = "marmalade kiln wobbles at dusk";

    let server = Stop(start(&data, port, "0s"));
    wait_healthy(port);
    let registered = run_page(
        &profile,
        &format!("{base}#run=register,signin&email={email}&password={password}"),
    );
    assert_eq!(
        registered.lines().collect::<Vec<_>>(),
        ["register 202", "login 403", "done"],
        "the address is not confirmed yet: {registered}"
    );
    let token = verification_token(&data, &email);
    let first = run_page(
        &profile,
        &format!("{base}#run=verify,signin,me&email={email}&password={password}&token={token}"),
    );
    assert_eq!(
        first.lines().collect::<Vec<_>>(),
        ["verify 204", "login 200", "me 200", "done"],
        "{first}"
    );
    drop(server);

    // Sixteen minutes later: the page's access token has expired; the cookie has not.
    let _server = Stop(start(&data, port, "16m"));
    wait_healthy(port);
    let second = run_page(
        &profile,
        &format!("{base}#run=me,refresh,me,logout,refresh"),
    );
    assert_eq!(
        second.lines().collect::<Vec<_>>(),
        [
            "me 401",
            "refresh 200",
            "me 200",
            "logout 204",
            "refresh 401",
            "done"
        ],
        "{second}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
