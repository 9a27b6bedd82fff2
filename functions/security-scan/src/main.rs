//! The `security-scan` Lambda: the scheduled scan (`lib.rs`) on the AWS adapters.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    warden_http::lambda::init_logging();
    // Keys load on the first event, not at start-up (see `OnFirstUse`).
    let services = Arc::new(warden_aws::lambda_services().await?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let services = services.clone();
        async move {
            // A failed run is reported to Lambda (and so to the Errors alarm) by its message only.
            let state = services
                .get()
                .await
                .map_err(|e| lambda_runtime::Error::from(e.chain()))?;
            warden_security_scan::handle(&state, event.payload)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.chain()))
        }
    }))
    .await
}
