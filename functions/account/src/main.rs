//! The `account` Lambda: its routes (`lib.rs`) served on the AWS adapters.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    warden_http::lambda::init_logging();
    let services = warden_aws::lambda_services().await?;
    warden_http::lambda::serve(warden_account::routes, services).await
}
