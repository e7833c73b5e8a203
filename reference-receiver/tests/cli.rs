//! The binary as users run it.

mod common;

use common::{client, start};

#[tokio::test]
async fn serve_with_no_config_answers_head_and_post_and_keeps_data_in_dot_data() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), &["serve", "--bind", "127.0.0.1:0"], &[]);
    let url = format!("{}/webhook", running.base);
    assert_eq!(client().head(&url).send().await.unwrap().status(), 200);
    let (status, outcome, _) = common::post(&url, r#"{"hello":"world"}"#, &[]).await;
    assert_eq!((status, outcome.as_str()), (200, "handled"));
    let (_, outcome, _) = common::post(&url, r#"{"hello":"world"}"#, &[]).await;
    assert_eq!(outcome, "duplicate");
    assert!(
        dir.path().join("data").is_dir(),
        "sled data lives in ./data"
    );
    assert!(
        running.log().contains("embedded defaults"),
        "{}",
        running.log()
    );
}
