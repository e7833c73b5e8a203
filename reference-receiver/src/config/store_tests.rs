//! `[store] url`: where it comes from, and that it is never printed.

use std::collections::HashMap;

use super::*;

fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    from_parts(Some(("test.toml", text)), vars.clone(), |name| {
        vars.get(name).cloned()
    })
}

fn url(config: &Config) -> Option<String> {
    config.store.url.as_ref().map(ConfigSecret::text)
}

#[test]
fn without_a_url_the_store_is_sled() {
    let config = parse("", &[]).unwrap();
    assert_eq!(url(&config), None);
    assert_eq!(config.store.pool_size, 16);
}

#[test]
fn the_url_comes_from_the_file_and_is_overridden_by_the_environment() {
    let file = "[store]\nurl = \"postgres://a@db1/receiver\"\npool_size = 4\n";
    let config = parse(file, &[]).unwrap();
    assert_eq!(url(&config).as_deref(), Some("postgres://a@db1/receiver"));
    assert_eq!(config.store.pool_size, 4);

    let config = parse(
        file,
        &[("RECEIVER_STORE__URL", "postgres://b@db2/receiver")],
    )
    .unwrap();
    assert_eq!(url(&config).as_deref(), Some("postgres://b@db2/receiver"));

    let config = parse(file, &[("RECEIVER_STORE__URL", "")]).unwrap();
    assert_eq!(
        url(&config),
        None,
        "an empty override switches back to sled"
    );
}

#[test]
fn url_env_names_the_variable_holding_a_secret_url() {
    let file = "[store]\nurl_env = \"DATABASE_URL\"\n";
    let config = parse(file, &[("DATABASE_URL", "postgres://r:pw@db/receiver")]).unwrap();
    assert_eq!(url(&config).as_deref(), Some("postgres://r:pw@db/receiver"));
    assert!(!config.to_string().contains("pw@db"), "{config}");

    let error = parse(file, &[]).unwrap_err();
    assert_eq!(error.key, "store.url_env");
    assert!(error.message.contains("DATABASE_URL"));
}
