//! Run with: `cargo run -p example-integration` (see the crate docs; needs `SOURCE_API_URL` and
//! `DOWNSTREAM_URL`).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    example_support::main("integration", example_integration::app).await
}
