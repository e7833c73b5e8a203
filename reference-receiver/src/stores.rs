//! Opening, sharing and closing the stores.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use receiver_sdk::store::{PostgresStore, SledStore, Store};

use crate::{config, outbox};

/// The receiver's open stores: the sled directory of `store.path`, and what replicas share
/// (the same sled store, or PostgreSQL with `store.url`).
pub struct Stores {
    // Always open: it keeps the inspector's bins, and the outboxes without `store.url`.
    sled: Arc<SledStore>,
    shared: Shared,
}

impl Stores {
    /// Opens the stores `[store]` describes, waiting a few seconds for a sled directory that
    /// a previous receiver in this process (or one still exiting) is letting go of.
    pub async fn open(config: &config::StoreConfig) -> anyhow::Result<Self> {
        let sled = Arc::new(open_store(config).await?);
        let shared = shared_store(config, &sled).await?;
        Ok(Self { sled, shared })
    }

    /// The sled store.
    pub(crate) fn sled(&self) -> &Arc<SledStore> {
        &self.sled
    }

    /// What replicas share.
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Flushes and closes the stores once nothing else holds them (waiting a moment for
    /// connection tasks that are letting go): when it returns, the sled directory is free to
    /// open again.
    pub async fn close(self) {
        // Our copy of the marks store may be the sled store itself: let go of it first.
        drop(self.shared);
        close(self.sled).await;
    }
}

/// Opens the sled store. sled lets go of its directory lock from background threads a moment
/// after the previous holder closed it (a receiver restarting in the same process, or one whose
/// predecessor is still exiting), so a locked directory is tried again for a few seconds.
async fn open_store(config: &config::StoreConfig) -> anyhow::Result<SledStore> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let opened = SledStore::builder()
            .path(&config.path)
            .flush_every_ms(Some(config.flush_every_ms))
            .cache_capacity(config.cache_mib.saturating_mul(1024 * 1024))
            .commit_delay(Duration::from_micros(config.commit_delay_us))
            .open();
        match opened {
            Err(e)
                if e.kind() == receiver_sdk::store::StoreErrorKind::Locked
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
async fn shared_store(
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
        .migrations(outbox::MIGRATION_NAMESPACE, outbox::MIGRATIONS)
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
async fn close(mut store: Arc<SledStore>) {
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
