//! Run with: `cargo run -p example-github` (see the crate docs; needs `WEBHOOK_SECRET`).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    example_support::main("github", example_github::app).await
}
