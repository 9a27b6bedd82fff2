//! Login benchmark (a bench binary, not a timed test): `cargo bench -p warden-tests --bench login`.
//!
//! Reports, side by side in one run, at m=19456 KiB, t=2, p=1:
//! - Argon2id with Warden's reused working buffer, and with a fresh allocation per hash;
//! - the C reference (argon2-cffi) when `WARDEN_BENCH_PYTHON` names a Python with it installed;
//! - one full login's CPU time (embedded backends) against one bare hash: the overhead ratio;
//! - RSS before, after 100 and after 1,000 logins.

use std::time::Instant;

use argon2::{Algorithm, Argon2, Params, Version};
use warden::config::Argon2Params;
use warden::password::PasswordHasher;
use warden::secret::SecretString;
use warden_tests::measure::{cpu_time, rss_kib};

fn c_reference(iterations: u32) -> Option<f64> {
    let python = std::env::var("WARDEN_BENCH_PYTHON").ok()?;
    let script = format!(
        "import time\nfrom argon2.low_level import hash_secret_raw, Type\n\
         s=b'saltsaltsaltsalt'\nhash_secret_raw(b'x', s, 2, 19456, 1, 32, Type.ID)\n\
         t=time.perf_counter()\n\
         for _ in range({iterations}): hash_secret_raw(b'correct horse battery staple', s, 2, 19456, 1, 32, Type.ID)\n\
         print((time.perf_counter()-t)/{iterations}*1000)"
    );
    let out = std::process::Command::new(python)
        .args(["-c", &script])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn main() {
    let rt = warden_tests::measure::runtime();
    let n = 30;
    let params = Argon2Params::default();
    let hasher = PasswordHasher::new(params).unwrap();
    let pw = SecretString::new("correct horse battery staple".into());

    // Warden's hasher (reused buffer), through spawn_blocking as in production.
    let stored = rt.block_on(hasher.hash(&pw)).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        rt.block_on(hasher.verify(&pw, Some(&stored))).unwrap();
    }
    let reused = t.elapsed().as_secs_f64() * 1000.0 / n as f64;

    // The argon2 crate allocating its working memory per hash.
    let ctx = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, Some(32)).unwrap(),
    );
    let mut out = [0u8; 32];
    let t = Instant::now();
    for _ in 0..n {
        ctx.hash_password_into(
            b"correct horse battery staple",
            b"saltsaltsaltsalt",
            &mut out,
        )
        .unwrap();
    }
    let fresh = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    let c = c_reference(n);

    // Full logins on the embedded backends.
    let (overhead, rss) = rt.block_on(async {
        let dir = warden_tests::fixtures::TempDir::new();
        let clock = std::sync::Arc::new(warden::clock::SystemClock);
        let e = warden::backends::Backends::embedded(&dir.0, "http://127.0.0.1:9", clock).unwrap();
        let mut config = warden::config::Config::from_vars(|_| None).unwrap();
        config.argon2 = params;
        let s = warden::services::Services::new(config, e.backends.clone())
            .await
            .unwrap();
        let email = "bench@example.com";
        warden::registration::register(
            &s,
            serde_json::from_value(
                serde_json::json!({"email": email, "password": "marmalade kiln wobbles at dusk"}),
            )
            .unwrap(),
            &warden::audit::RequestMeta::default(),
        )
        .await
        .unwrap();
        let headers = http::HeaderMap::new();
        let meta = warden::audit::RequestMeta {
            request_id: "bench".into(),
            ip: Some("192.0.2.1".parse().unwrap()),
            user_agent: Some("bench".into()),
        };
        let login = || async {
            let req = serde_json::from_value(
                serde_json::json!({"email": email, "password": "marmalade kiln wobbles at dusk"}),
            )
            .unwrap();
            warden::login::login(&s, req, &headers, &meta)
                .await
                .unwrap();
        };
        login().await;
        let rss0 = rss_kib();
        let logins = 100;
        let (c0, w0) = (cpu_time(), Instant::now());
        for _ in 0..logins {
            login().await;
        }
        let login_cpu = (cpu_time() - c0).as_secs_f64() * 1000.0 / logins as f64;
        let login_wall = w0.elapsed().as_secs_f64() * 1000.0 / logins as f64;
        let rss100 = rss_kib();
        let (c0, w0) = (cpu_time(), Instant::now());
        for _ in 0..logins {
            s.passwords.verify(&pw, Some(&stored)).await.unwrap();
        }
        let hash_cpu = (cpu_time() - c0).as_secs_f64() * 1000.0 / logins as f64;
        let hash_wall = w0.elapsed().as_secs_f64() * 1000.0 / logins as f64;
        println!("wall: login {login_wall:.2} ms, verify {hash_wall:.2} ms");
        for _ in 0..900 {
            login().await;
        }
        let rss1000 = rss_kib();
        ((login_cpu, hash_cpu), (rss0, rss100, rss1000))
    });

    println!("argon2id m=19456 t=2 p=1, mean of {n}:");
    println!("  warden (reused buffer, spawn_blocking): {reused:8.2} ms");
    println!("  argon2 crate, fresh allocation:         {fresh:8.2} ms");
    match c {
        Some(c) => {
            println!("  C reference (argon2-cffi):              {c:8.2} ms");
            println!(
                "  warden / C reference:                   {:8.3}x",
                reused / c
            );
        }
        None => println!("  C reference: set WARDEN_BENCH_PYTHON to a Python with argon2-cffi"),
    }
    let (login_cpu, hash_cpu) = overhead;
    println!("login CPU per request (embedded backends, 100 logins): {login_cpu:.2} ms");
    println!("bare verify CPU (100 verifications):                    {hash_cpu:.2} ms");
    println!(
        "login overhead beyond the hash:                         {:.1} %",
        (login_cpu / hash_cpu - 1.0) * 100.0
    );
    let (a, b, c) = rss;
    println!("RSS: after 1 login {a} KiB, after 100 {b} KiB, after 1000 {c} KiB");
}
