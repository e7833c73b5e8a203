//! Opening, sharing and closing the stores.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use receiver_sdk::store::{PostgresStore, SledStore, Store};

use crate::config;

/// Opens the sled store. sled lets go of its directory lock from background threads a moment
/// after the previous holder closed it (a receiver restarting in the same process, or one whose
/// predecessor is still exiting), so a locked directory is tried again for a few seconds.
pub(crate) async fn open_store(config: &config::StoreConfig) -> anyhow::Result<SledStore> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let opened = SledStore::builder()
            .path(&config.path)
            .flush_every_ms(Some(config.flush_every_ms))
            .cache_capacity(config.cache_mib.saturating_mul(1024 * 1024))
            .commit_delay(Duration::from_micros(config.commit_delay_us))
            .open();
        match opened {
            // sled says so only in its message: "could not acquire lock on ...".
            Err(e)
                if e.to_string().contains("acquire lock")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            opened => {
                return opened.context("cannot open the store (is another receiver using it?)")
            }
        }
    }
}

/// What replicas share: the store of ordering marks and delivery ids, and with `store.url` the
/// PostgreSQL database that holds it and the queued relays' outboxes.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) postgres: Option<Arc<PostgresStore>>,
}

/// PostgreSQL with `store.url`; otherwise the sled store, which keeps everything else either
/// way.
pub(crate) async fn shared_store(
    config: &config::StoreConfig,
    sled: &Arc<SledStore>,
) -> anyhow::Result<Shared> {
    let Some(url) = &config.url else {
        return Ok(Shared {
            store: Arc::clone(sled) as Arc<dyn Store>,
            postgres: None,
        });
    };
    let postgres = PostgresStore::builder(&url.text())
        .context("store.url")?
        .pool_size(config.pool_size)
        .connect()
        .await
        .context("cannot use the PostgreSQL store (store.url)")?;
    tracing::info!(
        "ordering marks, delivery ids and outboxes in PostgreSQL at {}",
        postgres.target()
    );
    let postgres = Arc::new(postgres);
    Ok(Shared {
        store: Arc::clone(&postgres) as Arc<dyn Store>,
        postgres: Some(postgres),
    })
}

/// Closes the store once nothing else holds it. axum's connection tasks drop their copy of the
/// router (which holds the store and the outboxes) just after the server future completes, so
/// this waits briefly for them: when `serve` returns the store is flushed and its directory
/// free to open again.
pub(crate) async fn close(mut store: Arc<SledStore>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        match Arc::try_unwrap(store) {
            Ok(only) => {
                drop(only);
                tracing::info!("stopped; store flushed");
                return;
            }
            Err(shared) if tokio::time::Instant::now() < deadline => {
                store = shared;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(_) => {
                tracing::warn!("stopped; the store closes when the last request lets go of it");
                return;
            }
        }
    }
}
