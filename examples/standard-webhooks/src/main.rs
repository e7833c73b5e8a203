//! Run with: `cargo run -p example-standard-webhooks` (see the crate docs; needs `WEBHOOK_SECRET`).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    example_support::main("standard-webhooks", example_standard_webhooks::app).await
}
