use std::process::ExitCode;

use warden_local::{Args, Backend, build, privacy_cli, serve, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().is_some_and(|a| a == "privacy") {
        return privacy(&argv[1..]).await;
    }
    let command = |a: &str, b: &str| argv.len() >= 2 && argv[0] == a && argv[1] == b;
    let (verify_audit, apply_ledger) = (command("audit", "verify"), command("ledger", "apply"));
    let (raise_shards, write_digest) = (command("audit", "shards"), command("audit", "digest"));
    if verify_audit || apply_ledger || raise_shards || write_digest {
        argv.drain(..2);
    }
    // `audit shards --count N`: the count is this command's own argument.
    let mut shard_count = None;
    if raise_shards {
        match argv.iter().position(|a| a == "--count") {
            Some(i) if i + 1 < argv.len() => {
                shard_count = argv[i + 1].parse::<u32>().ok();
                argv.drain(i..=i + 1);
            }
            _ => {}
        }
        if shard_count.is_none() {
            eprintln!(
                "usage: warden-local audit shards --count N [--data-dir DIR | --backend aws]"
            );
            return ExitCode::from(2);
        }
    }
    let args = match Args::parse(argv.into_iter()) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let config = match warden_core::config::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("warden-local: {e}");
            return ExitCode::from(2);
        }
    };
    let app = match build(&args, config).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("warden-local: cannot start: {}", e.chain());
            return ExitCode::FAILURE;
        }
    };
    if verify_audit {
        return audit_verify(&app.state).await;
    }
    if let Some(count) = shard_count {
        return match app.state.audit.raise_shards(count).await {
            Ok(g) => {
                println!(
                    "audit log: {} shards from {}",
                    g.count,
                    warden_core::clock::Timestamp(g.from_ms).to_rfc3339()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("warden-local: audit shards: {}", e.chain());
                ExitCode::FAILURE
            }
        };
    }
    if write_digest {
        return match app.state.write_audit_digest().await {
            Ok(Some(d)) => {
                println!("audit digest {} written", d.digest.number);
                ExitCode::SUCCESS
            }
            Ok(None) => {
                println!("another run wrote the next audit digest first");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("warden-local: audit digest: {}", e.chain());
                ExitCode::FAILURE
            }
        };
    }
    if apply_ledger {
        return ledger_apply(&app.state).await;
    }
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("warden-local: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(listen = %args.listen, backend = ?args.backend, data_dir = %args.data_dir.display(), "warden-local serving");
    // Where `warden-local privacy …` finds this runner (only one process may open the store).
    let address_file = args.data_dir.join(privacy_cli::ADDRESS_FILE);
    if let Ok(addr) = listener.local_addr()
        && let Err(e) = std::fs::write(&address_file, addr.to_string())
    {
        tracing::warn!(error = %e, "cannot write the operator address file");
    }
    // The schedule: the security scan, and signing key rotation when due (the Lambdas rotate
    // from the jwks function and scan on the EventBridge schedule).
    let state = app.state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            match warden_security_scan::handle(&state, serde_json::Value::Null).await {
                Ok(r) if !r.alerts.is_empty() => {
                    tracing::warn!(
                        alerts = r.alerts.len(),
                        actions = r.actions,
                        "security scan raised alerts"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e.chain(), "security scan failed; will retry"),
            }
            if state.signing.rotation_due().await
                && let Err(e) = state.signing.rotate_if_due().await
            {
                tracing::warn!(error = %e.chain(), "signing key rotation failed; will retry");
            }
        }
    });
    let served = serve(listener, app, shutdown_signal()).await;
    let _ = std::fs::remove_file(&address_file);
    if let Err(e) = served {
        eprintln!("warden-local: server error: {e}");
        return ExitCode::FAILURE;
    }
    tracing::info!("warden-local stopped");
    ExitCode::SUCCESS
}

/// `warden-local privacy …` ([`privacy_cli`]): through the runner that holds the data directory
/// when one answers, else on the store itself.
async fn privacy(words: &[String]) -> ExitCode {
    let invocation = match privacy_cli::parse(words) {
        Ok(i) => i,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let args = match Args::parse(invocation.rest.iter().cloned()) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let command = &invocation.command;
    let done = |value: serde_json::Value| {
        println!("{}", command.render(&value, invocation.json));
        ExitCode::SUCCESS
    };
    let failed = |line: String| {
        eprintln!("warden-local privacy: {line}");
        ExitCode::FAILURE
    };
    if args.backend == Backend::Embedded
        && let Some(address) = privacy_cli::runner_address(&args.data_dir)
    {
        let token = match privacy_cli::token(&args.data_dir) {
            Ok(t) => t,
            Err(line) => return failed(line),
        };
        match privacy_cli::over_http(command, &address, &token).await {
            Ok(Some(value)) => return done(value),
            Ok(None) => {} // nobody answers there: the store is free
            Err(line) => return failed(line),
        }
    }
    let config = match warden_core::config::Config::from_env() {
        Ok(c) => c,
        Err(e) => return failed(e.to_string()),
    };
    let app = match build(&args, config).await {
        Ok(a) => a,
        Err(e) => return failed(format!("cannot open the store: {}", e.chain())),
    };
    let operator = privacy_cli::operator(args.backend);
    match command.run(&app.state, &operator).await {
        Ok(value) => done(value),
        Err(e) => failed(privacy_cli::error_line(command, &e)),
    }
}

/// `warden-local audit verify [--data-dir DIR | --backend aws]`: walks the audit chain and
/// names the first modified, deleted or reordered entry. Exit status 0 = intact, 1 = not.
/// `warden-local ledger apply`: after a restore of the table, before it serves traffic, erase
/// again every user the erasure ledger names (exit 0: none left to finish; 1: some erasures
/// wait for something, run it again later; the report names them).
async fn ledger_apply(state: &warden_core::services::AppState) -> ExitCode {
    let meta = warden_core::audit::RequestMeta {
        request_id: "ledger-apply".into(),
        ..Default::default()
    };
    match warden_core::privacy::ledger::reapply(&state.privacy(), &meta).await {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            if report.pending.is_empty() {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "warden-local: {} erasures not finished yet: run `ledger apply` again",
                    report.pending.len()
                );
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("warden-local: ledger apply failed: {}", e.chain());
            ExitCode::FAILURE
        }
    }
}

async fn audit_verify(state: &warden_core::services::AppState) -> ExitCode {
    match state.verify_audit().await {
        Ok(report) => {
            let digests = match report.latest_digest {
                Some((n, at)) => format!(
                    "{} digests, newest {n} at {}; {} entries written since are protected by the chain alone until the next digest",
                    report.digests,
                    at.to_rfc3339(),
                    report.undigested()
                ),
                None => "no digest yet: the chain alone protects the log".to_string(),
            };
            for s in report
                .shards
                .iter()
                .filter(|s| s.entries > 0 || s.digested > 0)
            {
                println!(
                    "shard {:>3}: {} entries ({}..={}), low-water mark {}, digested head {}",
                    s.shard,
                    s.entries,
                    s.first.unwrap_or(0),
                    s.last.unwrap_or(0),
                    s.low_water,
                    s.digested
                );
            }
            match &report.problem {
                None => {
                    println!("audit log intact: {} entries; {digests}", report.entries());
                    ExitCode::SUCCESS
                }
                Some(p) => {
                    println!(
                        "audit log BROKEN: {p} ({} entries read; {digests})",
                        report.entries()
                    );
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("warden-local: audit verify failed: {}", e.chain());
            ExitCode::FAILURE
        }
    }
}
