#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    warden::http::lambda::serve(warden_refresh::routes).await
}
