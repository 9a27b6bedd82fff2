use std::process::ExitCode;

use warden_local::{Args, build, serve, shutdown_signal};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let config = match warden::config::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("warden-local: {e}");
            return ExitCode::from(2);
        }
    };
    let app = match build(&args, config).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("warden-local: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("warden-local: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(listen = %args.listen, backend = ?args.backend, data_dir = %args.data_dir.display(), "warden-local serving");
    if let Err(e) = serve(listener, app, shutdown_signal()).await {
        eprintln!("warden-local: server error: {e}");
        return ExitCode::FAILURE;
    }
    tracing::info!("warden-local stopped");
    ExitCode::SUCCESS
}
