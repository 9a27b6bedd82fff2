//! `warden-local privacy …` as an operator runs it: through the runner that holds the data
//! directory while one serves (the operator API with the directory's token), on the store
//! itself once it stopped (or when its address file is stale); exit 0 with the answer, 1 with
//! one line naming why, 2 for a command it cannot read.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Stop, free_port, start};

fn privacy(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden-local"))
        .arg("privacy")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("WARDEN_ARGON2_MEMORY_KIB", "256")
        .env("WARDEN_ARGON2_ITERATIONS", "1")
        .output()
        .expect("run warden-local privacy")
}

/// One HTTP/1.1 exchange with std: the status and the body.
fn http(port: u16, method: &str, path: &str, auth: Option<&str>, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let auth = auth
        .map(|a| format!("Authorization: Bearer {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn wait_healthy(port: u16) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && http(port, "GET", "/healthz", None, "").0 == 200
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("warden-local did not become healthy");
}

/// A verified account asks for the CCPA opt-out (done at once): its request id.
fn an_opt_out(port: u16, token: &str) -> String {
    let creds = r#"{"email":"cli@example.com","password":"marmalade kiln wobbles at dusk"}"#;
    assert_eq!(http(port, "POST", "/auth/register", None, creds).0, 202);
    let (status, mail) = http(port, "GET", "/_local/mail", Some(token), "");
    assert_eq!(status, 200, "{mail}");
    let marker = "/verify-email#token=";
    let at = mail.find(marker).expect("a verification link") + marker.len();
    let link: String = mail[at..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\\' | '<'))
        .collect();
    let verify = format!(r#"{{"token":"{link}"}}"#);
    assert_eq!(
        http(port, "POST", "/auth/email/verify", None, &verify).0,
        204
    );
    let (status, login) = http(port, "POST", "/auth/login", None, creds);
    assert_eq!(status, 200, "{login}");
    let login: serde_json::Value = serde_json::from_str(&login).unwrap();
    let bearer = login["access_token"].as_str().unwrap();
    let (status, asked) = http(
        port,
        "POST",
        "/privacy/ccpa",
        Some(bearer),
        r#"{"type":"do_not_sell"}"#,
    );
    assert_eq!(status, 200, "{asked}");
    let asked: serde_json::Value = serde_json::from_str(&asked).unwrap();
    asked["request_id"].as_str().unwrap().to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_command_line_answers_through_the_runner_and_without_it() {
    let dir = std::env::temp_dir().join(format!("warden-privacy-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port();
    let mut serving = Stop(start(&dir, port));
    wait_healthy(port);
    let address = dir.join("operator-address");
    assert!(address.exists(), "the runner writes where it listens");
    let token = std::fs::read_to_string(dir.join("operator-token")).unwrap();
    let id = an_opt_out(port, token.trim());

    // Through the runner (it holds the store).
    let listed = privacy(&dir, &["list"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(stdout(&listed).contains(&id), "{}", stdout(&listed));
    let shown = privacy(&dir, &["show", &id, "--json"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let v: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(v["status"], "completed");
    let late = privacy(&dir, &["extend", &id, "--reason", "too late"]);
    assert_eq!(late.status.code(), Some(1));
    assert_eq!(
        stderr(&late).trim(),
        "warden-local privacy: the request is already completed"
    );
    let unknown = privacy(&dir, &["show", &"a".repeat(32)]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        stderr(&unknown).trim(),
        "warden-local privacy: no such request"
    );
    let unreadable = privacy(&dir, &["deny", &id, "--reason", "no basis"]);
    assert_eq!(unreadable.status.code(), Some(2), "{}", stderr(&unreadable));

    // Stopped as an operator stops it: the address file goes with it.
    let pid = serving.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    serving.0.wait().unwrap();
    assert!(
        !address.exists(),
        "a stopped runner leaves no address behind"
    );
    let direct = privacy(&dir, &["show", &id, "--json"]);
    assert!(direct.status.success(), "{}", stderr(&direct));
    assert_eq!(direct.stdout, shown.stdout, "both doors print the same");
    let unknown = privacy(&dir, &["show", &"a".repeat(32)]);
    assert_eq!(
        stderr(&unknown).trim(),
        "warden-local privacy: no such request"
    );

    // A runner that died without removing its file: nobody answers there, the store is free.
    std::fs::write(&address, format!("127.0.0.1:{}", free_port())).unwrap();
    let stale = privacy(&dir, &["metrics", "--json"]);
    assert!(stale.status.success(), "{}", stderr(&stale));
    let m: serde_json::Value = serde_json::from_slice(&stale.stdout).unwrap();
    assert!(m["total"]["received"].as_u64().unwrap() >= 1, "{m}");
    let _ = std::fs::remove_dir_all(&dir);
}
