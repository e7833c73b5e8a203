//! Run with: `cargo run -p example-superoffice` (see the crate docs; needs `WEBHOOK_SECRET`).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    example_support::main("superoffice", example_superoffice::app).await
}
