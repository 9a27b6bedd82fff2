use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    warden::http::lambda::init_logging();
    let config = warden::config::Config::from_env()?;
    let clock = Arc::new(warden::clock::SystemClock);
    let backends = warden::backends::Backends::aws(&config, clock).await?;
    let state = warden::services::Services::new(config, backends).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let state = state.clone();
        async move {
            // A failed run is reported to Lambda (and so to the Errors alarm) by its message only.
            warden_security_scan::handle(&state, event.payload)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))
        }
    }))
    .await
}
