//! The `operator` Lambda: the privacy operator API (`lib.rs`) on the AWS adapters, behind IAM
//! authorization on its route (the template), with a role of its own.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    warden_http::lambda::init_logging();
    let services = warden_aws::lambda_services().await?;
    warden_http::lambda::serve(warden_operator::routes, services).await
}
