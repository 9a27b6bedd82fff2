//! The `warden-local` binary: serves, and an acknowledged write survives `kill -9`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{free_port, start};

/// Sends one HTTP/1.1 request with std (this test has no async runtime) and returns the status.
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split(' ').nth(1)?.parse().ok()
}

fn wait_healthy(port: u16) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if http(port, "GET", "/healthz", "") == Some(200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("warden-local did not become healthy");
}

#[test]
fn an_acknowledged_registration_survives_kill_9() {
    let dir = std::env::temp_dir().join(format!("warden-durability-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port();
    let mut child = start(&dir, port);
    wait_healthy(port);
    let body = r#"{"email":"durable@example.com","password":"survives a hard kill"}"#;
    assert_eq!(http(port, "POST", "/auth/register", body), Some(202));
    child.kill().unwrap(); // SIGKILL: no shutdown hook runs
    child.wait().unwrap();

    let mut child = start(&dir, port);
    wait_healthy(port);
    // The account is still there: the user was on disk before the 202 was sent (its password
    // is right; it awaits verification).
    assert_eq!(http(port, "POST", "/auth/login", body), Some(403));
    child.kill().unwrap();
    child.wait().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "master key file must be private");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_stops_the_runner_cleanly() {
    let dir = std::env::temp_dir().join(format!("warden-sigterm-{}", std::process::id()));
    let port = free_port();
    let mut child = start(&dir, port);
    wait_healthy(port);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(code) = child.try_wait().unwrap() {
            assert!(code.success(), "exit status {code:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn audit_verify_reports_an_intact_chain_and_exits_zero() {
    let dir = std::env::temp_dir().join(format!("warden-verify-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port();
    let mut child = start(&dir, port);
    wait_healthy(port);
    let body = r#"{"email":"audited@example.com","password":"survives a hard kill"}"#;
    assert_eq!(http(port, "POST", "/auth/register", body), Some(202));
    assert_eq!(http(port, "POST", "/auth/login", body), Some(403));
    child.kill().unwrap();
    child.wait().unwrap();
    let run = |command: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_warden-local"))
            .args(["audit", command, "--data-dir"])
            .arg(&dir)
            .env("WARDEN_ARGON2_MEMORY_KIB", "256")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{command}: {stdout}");
        stdout
    };
    let before = run("verify");
    assert!(before.contains("audit log intact"), "{before}");
    // The runner's scan may have written a digest at start, before the two events.
    assert!(run("digest").contains("written"));
    let after = run("verify");
    assert!(
        after.contains("audit log intact")
            && after.contains("0 entries written since")
            && after.contains("digested head 2"),
        "{after}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
