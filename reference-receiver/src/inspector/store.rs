//! The inspector's sled trees, in the receiver's one database, and retention.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `inspector_bins` | token | the bin: store key, creation time, settings JSON |
//! | `inspector_captures` | bin key (8 bytes BE) + capture id (8 bytes BE) | see `capture` |
//! | `inspector_marks` | bin key + ordering key | newest would-be handled event time (ns, BE) |
//! | `inspector_deliveries` | bin key + delivery key | id of the capture that would have handled it |
//!
//! Keys sort by bin, then by id, so a bin's captures are one range, oldest first.
//!
//! Retention is bounded work: a capture that puts its bin over `max_captures` removes at most
//! [`OVERFLOW_STEP`] of the oldest; pruning by age removes at most `prune_batch` per pass.
//! Deleting a bin removes its record at once and its data in batches. Would-be delivery ids go
//! with the capture that recorded them, so a bin's dedupe memory is what it still holds.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::bin::{Bin, Settings};
use super::capture::{self, Meta, View};
use super::verdict::{self, Judgement, Pending};
use super::{Change, Inspector};
use crate::config::InspectorConfig;

/// The most old captures one new capture removes when its bin is over its limit (more than
/// one, so a lowered limit is reached soon).
const OVERFLOW_STEP: usize = 16;

/// The most records one listing reads, filters included.
const SCAN_BUDGET: usize = 10_000;

/// How many records one batch of a bin's removal takes.
const REMOVE_BATCH: usize = 1_000;

/// A bin as stored.
#[derive(Debug, Serialize, Deserialize)]
struct StoredBin {
    key: u64,
    token: String,
    alias: bool,
    created_at: DateTime<Utc>,
    settings: Value,
}

/// The trees.
pub(crate) struct Store {
    db: sled::Db,
    bins: sled::Tree,
    captures: sled::Tree,
    marks: sled::Tree,
    deliveries: sled::Tree,
}

fn capture_key(bin: u64, id: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&bin.to_be_bytes());
    key[8..].copy_from_slice(&id.to_be_bytes());
    key
}

fn prefixed(bin: u64, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + rest.len());
    key.extend_from_slice(&bin.to_be_bytes());
    key.extend_from_slice(rest);
    key
}

fn id_of(key: &[u8]) -> u64 {
    key.get(8..16)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .unwrap_or_default()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Store {
    /// Opens (or creates) the trees.
    pub(crate) fn open(db: &sled::Db) -> anyhow::Result<Self> {
        let tree = |name: &str| {
            db.open_tree(name)
                .with_context(|| format!("cannot open the store's `{name}` tree"))
        };
        Ok(Self {
            db: db.clone(),
            bins: tree("inspector_bins")?,
            captures: tree("inspector_captures")?,
            marks: tree("inspector_marks")?,
            deliveries: tree("inspector_deliveries")?,
        })
    }

    /// Reads every bin, counts its captures, and removes what deleted bins left behind.
    pub(crate) fn load_bins(
        &self,
        limits: &InspectorConfig,
    ) -> anyhow::Result<HashMap<String, Arc<Bin>>> {
        let mut bins = HashMap::new();
        for entry in self.bins.iter() {
            let (_, value) = entry.context("cannot read the inspector's bins")?;
            let Ok(stored) = serde_json::from_slice::<StoredBin>(&value) else {
                tracing::warn!("skipping an unreadable inspector bin");
                continue;
            };
            let settings = match Settings::from_json(stored.settings.clone(), limits) {
                Ok(settings) => settings,
                Err(e) => {
                    // Limits may have been lowered since the bin was made.
                    tracing::warn!(bin = %stored.token, "bin settings no longer apply ({e}); using defaults");
                    Settings::from_json(Value::Object(Default::default()), limits)
                        .map_err(anyhow::Error::msg)?
                }
            };
            let count = self.captures.scan_prefix(stored.key.to_be_bytes()).count();
            let bin = Bin::new(
                stored.key,
                stored.token.clone(),
                stored.alias,
                stored.created_at,
                settings,
                count,
            );
            bins.insert(stored.token, Arc::new(bin));
        }
        let live: HashSet<u64> = bins.values().map(|b| b.key).collect();
        for tree in [&self.captures, &self.marks, &self.deliveries] {
            self.sweep(tree, &live)?;
        }
        Ok(bins)
    }

    /// Removes every record of a bin key not in `live`, seeking from one bin to the next.
    fn sweep(&self, tree: &sled::Tree, live: &HashSet<u64>) -> anyhow::Result<()> {
        let mut from = 0u64;
        loop {
            let Some((key, _)) = tree.range(from.to_be_bytes()..).next().transpose()? else {
                return Ok(());
            };
            let bin = u64::from_be_bytes(key[..8].try_into()?);
            if !live.contains(&bin) {
                remove_prefix(tree, bin)?;
            }
            match bin.checked_add(1) {
                Some(next) => from = next,
                None => return Ok(()),
            }
        }
    }

    /// A new id, increasing across restarts.
    pub(crate) fn new_id(&self) -> anyhow::Result<u64> {
        self.db.generate_id().context("cannot allocate an id")
    }

    /// Whether a token is taken.
    pub(crate) fn has_bin(&self, token: &str) -> anyhow::Result<bool> {
        Ok(self.bins.contains_key(token)?)
    }

    /// Writes a bin's record.
    pub(crate) fn save_bin(&self, bin: &Bin, settings: &Settings) -> anyhow::Result<()> {
        let stored = StoredBin {
            key: bin.key,
            token: bin.token.clone(),
            alias: bin.alias,
            created_at: bin.created_at,
            settings: settings.json.clone(),
        };
        self.bins
            .insert(bin.token.as_bytes(), serde_json::to_vec(&stored)?)?;
        Ok(())
    }

    /// Removes a bin's record; its data goes with [`Store::purge`].
    pub(crate) fn remove_bin(&self, token: &str) -> anyhow::Result<()> {
        self.bins.remove(token)?;
        Ok(())
    }

    /// Removes everything a deleted bin held, in batches.
    pub(crate) fn purge(&self, bin: u64) -> anyhow::Result<()> {
        for tree in [&self.captures, &self.marks, &self.deliveries] {
            remove_prefix(tree, bin)?;
        }
        Ok(())
    }

    /// Judges a capture's would-be dedupe and ordering, stores it, and trims the bin to its
    /// limit, all under the bin's lock. Sets `meta.id`; returns the ids trimmed.
    ///
    /// The would-be state advances only when the bin answered 2xx (`answered_ok`), as an
    /// endpoint commits only when its handler succeeds: a sender's retry after a 500 is then
    /// judged as an endpoint would judge it.
    pub(crate) fn record(
        &self,
        bin: &Bin,
        settings: &Settings,
        meta: &mut Meta,
        body: &[u8],
        pending: Option<&Pending>,
        answered_ok: bool,
    ) -> anyhow::Result<Vec<u64>> {
        let mut state = bin.state.lock().unwrap_or_else(|e| e.into_inner());
        meta.id = self.new_id()?;
        if let Some(pending) = pending {
            let judgement = self.judge(bin.key, pending)?;
            let created_at = pending.mark.as_ref().map(|(_, at)| *at);
            verdict::conclude(&mut meta.verdicts, &judgement, created_at);
            if judgement == Judgement::Fresh && answered_ok {
                self.commit(bin.key, pending, meta.id)?;
            }
        }
        let record = capture::encode(meta, body)?;
        self.captures
            .insert(capture_key(bin.key, meta.id), record)?;
        state.count += 1;
        let mut trimmed = Vec::new();
        while state.count > settings.max_captures && trimmed.len() < OVERFLOW_STEP {
            let Some((key, value)) = self
                .captures
                .scan_prefix(bin.key.to_be_bytes())
                .next()
                .transpose()?
            else {
                state.count = 0;
                break;
            };
            self.remove_record(bin.key, &key, &value)?;
            state.count -= 1;
            trimmed.push(id_of(&key));
        }
        Ok(trimmed)
    }

    fn judge(&self, bin: u64, pending: &Pending) -> anyhow::Result<Judgement> {
        if let Some(delivery) = &pending.delivery {
            if self.deliveries.contains_key(prefixed(bin, delivery))? {
                return Ok(Judgement::Duplicate);
            }
        }
        if let Some((key, created_at)) = &pending.mark {
            if let Some(mark) = self.marks.get(prefixed(bin, key))? {
                let mark = i64::from_be_bytes(mark.as_ref().try_into()?);
                return Ok(match pending.ties.judge(*created_at, Some(mark)) {
                    receiver_sdk::ordering::Verdict::Stale => Judgement::Stale(mark),
                    _ => Judgement::Fresh,
                });
            }
        }
        Ok(Judgement::Fresh)
    }

    fn commit(&self, bin: u64, pending: &Pending, id: u64) -> anyhow::Result<()> {
        if let Some(delivery) = &pending.delivery {
            self.deliveries
                .insert(prefixed(bin, delivery), &id.to_be_bytes())?;
        }
        if let Some((key, created_at)) = &pending.mark {
            self.marks
                .insert(prefixed(bin, key), &created_at.to_be_bytes())?;
        }
        Ok(())
    }

    /// Removes one stored capture and the would-be delivery id it recorded.
    fn remove_record(&self, bin: u64, key: &[u8], record: &[u8]) -> anyhow::Result<()> {
        self.captures.remove(key)?;
        if let Some((meta, _)) = capture::decode(record) {
            let delivery = prefixed(bin, meta.verdicts.delivery.as_bytes());
            if self.deliveries.get(&delivery)?.as_deref() == Some(&meta.id.to_be_bytes()[..]) {
                self.deliveries.remove(delivery)?;
            }
        }
        Ok(())
    }

    /// One capture.
    pub(crate) fn get(&self, bin: u64, id: u64) -> anyhow::Result<Option<View>> {
        Ok(self
            .captures
            .get(capture_key(bin, id))?
            .and_then(|record| capture::decode(&record).map(|(meta, body)| View::new(meta, body))))
    }

    /// Removes one capture; whether it was there.
    pub(crate) fn remove(&self, bin: &Bin, id: u64) -> anyhow::Result<bool> {
        let mut state = bin.state.lock().unwrap_or_else(|e| e.into_inner());
        let key = capture_key(bin.key, id);
        let Some(record) = self.captures.get(key)? else {
            return Ok(false);
        };
        self.remove_record(bin.key, &key, &record)?;
        state.count = state.count.saturating_sub(1);
        Ok(true)
    }

    /// Removes every capture of a bin and resets its would-be state; a batch at a time, so
    /// captures arriving meanwhile wait at most one batch.
    pub(crate) fn clear(&self, bin: &Bin) -> anyhow::Result<()> {
        loop {
            let mut state = bin.state.lock().unwrap_or_else(|e| e.into_inner());
            let keys: Vec<_> = self
                .captures
                .scan_prefix(bin.key.to_be_bytes())
                .keys()
                .take(REMOVE_BATCH)
                .collect::<Result<_, _>>()?;
            for key in &keys {
                self.captures.remove(key)?;
            }
            state.count = state.count.saturating_sub(keys.len());
            if keys.len() < REMOVE_BATCH {
                state.count = 0;
                remove_prefix(&self.marks, bin.key)?;
                remove_prefix(&self.deliveries, bin.key)?;
                return Ok(());
            }
        }
    }

    /// Newest first, before `before` (an id), up to `limit` that pass `keep`; and the id to
    /// continue before, if there may be more.
    pub(crate) fn list(
        &self,
        bin: u64,
        before: Option<u64>,
        limit: usize,
        keep: impl Fn(&Meta, &[u8]) -> bool,
    ) -> anyhow::Result<(Vec<View>, Option<u64>)> {
        let end = capture_key(bin, before.unwrap_or(u64::MAX));
        let mut found = Vec::new();
        for (scanned, entry) in self
            .captures
            .range(capture_key(bin, 0)..end)
            .rev()
            .enumerate()
        {
            let (key, record) = entry?;
            let id = id_of(&key);
            if scanned >= SCAN_BUDGET {
                // Not read: the next page starts with it.
                return Ok((found, id.checked_add(1)));
            }
            let Some((meta, body)) = capture::decode(&record) else {
                continue;
            };
            if keep(&meta, body) {
                found.push(View::new(meta, body));
                if found.len() == limit {
                    return Ok((found, Some(id)));
                }
            }
        }
        Ok((found, None))
    }

    /// Oldest first, after `after` (an id), up to `limit`.
    pub(crate) fn after(&self, bin: u64, after: u64, limit: usize) -> anyhow::Result<Vec<View>> {
        let Some(start) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for entry in self
            .captures
            .range(capture_key(bin, start)..=capture_key(bin, u64::MAX))
            .take(limit)
        {
            let (_, record) = entry?;
            if let Some((meta, body)) = capture::decode(&record) {
                found.push(View::new(meta, body));
            }
        }
        Ok(found)
    }

    /// The newest capture's id.
    pub(crate) fn latest(&self, bin: u64) -> anyhow::Result<Option<u64>> {
        Ok(self
            .captures
            .scan_prefix(bin.to_be_bytes())
            .keys()
            .next_back()
            .transpose()?
            .map(|key| id_of(&key)))
    }

    /// Removes up to `budget` of a bin's captures older than `cutoff_ms`; their ids.
    fn prune_aged(&self, bin: &Bin, cutoff_ms: i64, budget: usize) -> anyhow::Result<Vec<u64>> {
        let mut state = bin.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut removed = Vec::new();
        for entry in self.captures.scan_prefix(bin.key.to_be_bytes()) {
            if removed.len() >= budget {
                break;
            }
            let (key, record) = entry?;
            // Ids increase with arrival, so the first young capture ends the pass.
            if capture::received_ms(&record).is_some_and(|at| at >= cutoff_ms) {
                break;
            }
            self.remove_record(bin.key, &key, &record)?;
            state.count = state.count.saturating_sub(1);
            removed.push(id_of(&key));
        }
        Ok(removed)
    }
}

/// Removes every record under a bin key, a batch at a time.
fn remove_prefix(tree: &sled::Tree, bin: u64) -> anyhow::Result<()> {
    loop {
        let keys: Vec<_> = tree
            .scan_prefix(bin.to_be_bytes())
            .keys()
            .take(REMOVE_BATCH)
            .collect::<Result<_, _>>()?;
        let mut batch = sled::Batch::default();
        for key in &keys {
            batch.remove(key);
        }
        tree.apply_batch(batch)?;
        if keys.len() < REMOVE_BATCH {
            return Ok(());
        }
    }
}

/// Prunes captures past their bin's age every `prune_interval_secs` until the inspector stops;
/// at most `prune_batch` per pass, and the next pass comes within a second when one was cut
/// short.
pub(crate) async fn prune_forever(inspector: Arc<Inspector>) {
    let mut stopping = inspector.stopping.subscribe();
    let interval = Duration::from_secs(inspector.config.prune_interval_secs);
    let mut wait = interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
        let bins = inspector.all_bins();
        let mut budget = inspector.config.prune_batch;
        for bin in bins {
            let max_age = bin.settings().max_age;
            let cutoff = now_ms().saturating_sub(max_age.as_millis() as i64);
            match inspector.store.prune_aged(&bin, cutoff, budget) {
                Ok(removed) if removed.is_empty() => {}
                Ok(removed) => {
                    budget -= removed.len();
                    tracing::debug!(bin = %bin.token, removed = removed.len(), "pruned old captures");
                    inspector.publish(Change::Removed {
                        bin: bin.key,
                        ids: Some(removed),
                    });
                }
                Err(e) => tracing::warn!(bin = %bin.token, "pruning failed: {e:#}"),
            }
            if budget == 0 {
                break;
            }
        }
        wait = if budget == 0 {
            interval.min(Duration::from_secs(1))
        } else {
            interval
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspector::verdict::Verdicts;
    use serde_json::json;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let store = Store::open(&db).unwrap();
        (dir, store)
    }

    fn bin(store: &Store, spec: Value) -> Bin {
        let settings = Settings::from_json(spec, &InspectorConfig::default()).unwrap();
        let bin = Bin::new(
            store.new_id().unwrap(),
            "t0ken".into(),
            false,
            Utc::now(),
            settings,
            0,
        );
        store.save_bin(&bin, &bin.settings()).unwrap();
        bin
    }

    fn meta(received_at: DateTime<Utc>) -> Meta {
        Meta {
            id: 0,
            bin: "t0ken".into(),
            method: "POST".into(),
            path: "/in/t0ken".into(),
            query: String::new(),
            headers: Vec::new(),
            remote_addr: None,
            received_at,
            size: 0,
            truncated: false,
            answer_status: 200,
            verdicts: Verdicts {
                delivery: "d".into(),
                ..Verdicts::default()
            },
        }
    }

    fn record(store: &Store, bin: &Bin, body: &[u8]) -> u64 {
        let mut meta = meta(Utc::now());
        store
            .record(bin, &bin.settings(), &mut meta, body, None, true)
            .unwrap();
        meta.id
    }

    #[test]
    fn a_bin_keeps_its_newest_max_captures() {
        let (_dir, store) = store();
        let bin = bin(&store, json!({"max_captures": 3}));
        let ids: Vec<u64> = (0..5).map(|i| record(&store, &bin, &[i])).collect();
        let (listed, next) = store.list(bin.key, None, 10, |_, _| true).unwrap();
        let listed: Vec<u64> = listed.iter().map(|v| v.meta.id).collect();
        assert_eq!(listed, [ids[4], ids[3], ids[2]]);
        assert_eq!((next, bin.count()), (None, 3));
    }

    #[test]
    fn paging_goes_back_in_time_and_after_goes_forward() {
        let (_dir, store) = store();
        let bin = bin(&store, json!({}));
        let ids: Vec<u64> = (0..5).map(|i| record(&store, &bin, &[i])).collect();
        let (page, next) = store.list(bin.key, None, 2, |_, _| true).unwrap();
        assert_eq!(page.len(), 2);
        let (page, _) = store.list(bin.key, next, 2, |_, _| true).unwrap();
        assert_eq!(page[0].meta.id, ids[2]);
        let later: Vec<u64> = store
            .after(bin.key, ids[2], 10)
            .unwrap()
            .iter()
            .map(|v| v.meta.id)
            .collect();
        assert_eq!(later, [ids[3], ids[4]]);
        assert_eq!(store.latest(bin.key).unwrap(), Some(ids[4]));
    }

    #[test]
    fn old_captures_are_pruned_in_bounded_passes() {
        let (_dir, store) = store();
        let bin = bin(&store, json!({}));
        let old = Utc::now() - chrono::Duration::hours(2);
        for _ in 0..5 {
            let mut meta = meta(old);
            store
                .record(&bin, &bin.settings(), &mut meta, b"", None, true)
                .unwrap();
        }
        let young = record(&store, &bin, b"");
        let cutoff = now_ms() - 60_000;
        assert_eq!(store.prune_aged(&bin, cutoff, 3).unwrap().len(), 3);
        assert_eq!(store.prune_aged(&bin, cutoff, 3).unwrap().len(), 2);
        let (left, _) = store.list(bin.key, None, 10, |_, _| true).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].meta.id, young);
        assert_eq!(bin.count(), 1);
    }

    #[test]
    fn deleted_bins_leave_nothing_behind_after_a_restart() {
        let (_dir, store) = store();
        let kept = bin(&store, json!({}));
        record(&store, &kept, b"kept");
        let gone = Bin::new(
            store.new_id().unwrap(),
            "gone".into(),
            true,
            Utc::now(),
            Settings::from_json(json!({}), &InspectorConfig::default()).unwrap(),
            0,
        );
        record(&store, &gone, b"orphan");
        let bins = store.load_bins(&InspectorConfig::default()).unwrap();
        assert_eq!(bins.len(), 1);
        assert_eq!(bins["t0ken"].count(), 1);
        assert!(store
            .captures
            .scan_prefix(gone.key.to_be_bytes())
            .next()
            .is_none());
    }
}
