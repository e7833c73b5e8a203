//! Run with: `cargo run -p example-basic-auth` (see the crate docs; needs `WEBHOOK_USER` and
//! `WEBHOOK_PASSWORD`).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    example_support::main("basic-auth", example_basic_auth::app).await
}
