//! Login benchmark (a bench binary, not a timed test): `cargo bench -p warden-tests --bench login`.
//!
//! Reports, side by side in one run, at m=19456 KiB, t=2, p=1:
//! - Argon2id with Warden's reused working buffer, and with a fresh allocation per hash;
//! - the C reference (argon2-cffi) when `WARDEN_BENCH_PYTHON` names a Python with it installed;
//! - one full login's CPU time (embedded backends) against one bare hash: the overhead ratio;
//! - RSS before, after 100 and after 1,000 logins.

use std::time::Instant;

use argon2::{Algorithm, Argon2, Params, Version};
use warden_core::config::Argon2Params;
use warden_core::password::PasswordHasher;
use warden_core::secret::SecretString;
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

const CREDENTIALS: (&str, &str) = ("bench@example.com", "marmalade kiln wobbles at dusk");

/// Services on fresh embedded backends with Argon2 at `argon2`, one registered account, and
/// what a login request for it carries.
struct Account {
    _dir: warden_tests::fixtures::TempDir,
    s: warden_core::services::AppState,
    meta: warden_core::audit::RequestMeta,
    client: warden_core::client::ClientSignals,
}

impl Account {
    fn credentials() -> serde_json::Value {
        let (email, password) = CREDENTIALS;
        serde_json::json!({"email": email, "password": password})
    }

    async fn new(argon2: Argon2Params) -> Self {
        let (dir, e) = warden_tests::measure::embedded_backends();
        let mut config = warden_core::config::Config::from_vars(|_| None).unwrap();
        config.argon2 = argon2;
        let s = warden_core::services::Services::new(config, e.backends.clone())
            .await
            .unwrap();
        let meta = warden_core::audit::RequestMeta {
            request_id: "bench".into(),
            ip: Some("192.0.2.1".parse().unwrap()),
            user_agent: Some("bench".into()),
        };
        let creds = Self::credentials();
        warden_tests::accounts::verified(
            &s,
            creds["email"].as_str().unwrap(),
            creds["password"].as_str().unwrap(),
        )
        .await;
        Account {
            _dir: dir,
            s,
            meta,
            client: Default::default(),
        }
    }

    async fn login(&self) {
        let body = serde_json::from_value(Self::credentials()).unwrap();
        warden_core::login::login(&self.s.sign_in(), body, &self.client, &self.meta)
            .await
            .unwrap();
    }
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
        let account = Account::new(params).await;
        let s = &account.s;
        let login = || account.login();
        login().await;
        let rss0 = rss_kib();
        // Interleaved, one login then one bare verification, so drift in the machine's speed
        // lands on both sides of the ratio alike.
        let rounds = 100;
        let (mut login_cpu, mut hash_cpu) = (0.0, 0.0);
        let (mut login_wall, mut hash_wall) = (0.0, 0.0);
        for _ in 0..rounds {
            let (c0, w0) = (cpu_time(), Instant::now());
            login().await;
            login_cpu += (cpu_time() - c0).as_secs_f64();
            login_wall += w0.elapsed().as_secs_f64();
            let (c0, w0) = (cpu_time(), Instant::now());
            s.passwords.verify(&pw, Some(&stored)).await.unwrap();
            hash_cpu += (cpu_time() - c0).as_secs_f64();
            hash_wall += w0.elapsed().as_secs_f64();
        }
        let per = |total: f64| total * 1000.0 / rounds as f64;
        let (login_cpu, hash_cpu) = (per(login_cpu), per(hash_cpu));
        println!(
            "wall: login {:.2} ms, verify {:.2} ms",
            per(login_wall),
            per(hash_wall)
        );
        let rss100 = rss_kib();
        for _ in 0..(1000 - 1 - rounds) {
            login().await;
        }
        let rss1000 = rss_kib();
        ((login_cpu, hash_cpu), (rss0, rss100, rss1000))
    });

    // The same login with Argon2 at its minimum cost (8 KiB, t = 1): what a login costs beyond
    // the hash, measured directly rather than as the difference of two noisy ~17 ms figures,
    // next to the two steps it cannot do without (the RS256 signature, one audit append).
    let floor = rt.block_on(async {
        let account = Account::new(Argon2Params {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        })
        .await;
        let (s, meta) = (&account.s, &account.meta);
        account.login().await;
        let rounds = 300;
        let per =
            |c0: std::time::Duration| (cpu_time() - c0).as_secs_f64() * 1000.0 / rounds as f64;
        let c0 = cpu_time();
        for _ in 0..rounds {
            account.login().await;
        }
        let login = per(c0);
        let tiny_verify = {
            let tiny = s.passwords.hash(&pw).await.unwrap();
            let c0 = cpu_time();
            for _ in 0..rounds {
                s.passwords.verify(&pw, Some(&tiny)).await.unwrap();
            }
            per(c0)
        };
        let now = warden_core::clock::Clock::now(s.backends.clock.as_ref());
        let c0 = cpu_time();
        for _ in 0..rounds {
            s.tokens()
                .issue(
                    "u",
                    "sid",
                    warden_core::tokens::access::Grant {
                        epoch: 0,
                        scope: warden_core::tokens::access::Scope::Full,
                        methods: warden_core::tokens::access::Methods::PASSWORD,
                    },
                    now,
                    now,
                )
                .await
                .unwrap();
        }
        let sign = per(c0);
        let c0 = cpu_time();
        for _ in 0..rounds {
            s.audit
                .record(
                    meta,
                    warden_core::audit::EventType::LoginSucceeded,
                    Some("u"),
                    serde_json::json!({}),
                )
                .await
                .unwrap();
        }
        (login - tiny_verify, sign, per(c0))
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
    println!("login CPU per request (embedded backends, 100 logins):  {login_cpu:.3} ms");
    println!("bare verify CPU (100 verifications, interleaved):     {hash_cpu:.3} ms");
    println!(
        "login overhead beyond the hash:                         {:.2} ms = {:.1} %",
        login_cpu - hash_cpu,
        (login_cpu / hash_cpu - 1.0) * 100.0
    );
    let (beyond, sign, append) = floor;
    println!("login beyond an 8 KiB hash (300 logins):                {beyond:.3} ms");
    println!(
        "  of which it cannot skip: RS256 signature {sign:.3} ms, one audit append {append:.3} ms"
    );
    let (a, b, c) = rss;
    println!("RSS: after 1 login {a} KiB, after 100 {b} KiB, after 1000 {c} KiB");
}
