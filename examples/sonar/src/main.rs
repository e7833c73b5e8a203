//! Run with: `cargo run -p example-sonar` (see the crate docs; `BIND` and `DATA_DIR` apply).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    example_support::main("sonar", example_sonar::app).await
}
