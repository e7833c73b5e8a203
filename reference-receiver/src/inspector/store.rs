//! The inspector's sled trees, in the receiver's one database, and retention.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `inspector_bins` | token | the bin: store key, creation time, settings JSON |
//! | `inspector_captures` | bin key (8 bytes BE) + capture id (8 bytes BE) | see `capture` |
//! | `inspector_marks` | bin key + ordering key | newest would-be handled event time (ns, BE) + id of the capture that set it |
//! | `inspector_mark_owners` | bin key + capture id (+ a batch event's index) | the ordering key that capture (or that event) set |
//! | `inspector_deliveries` | bin key + delivery key | id of the capture that would have handled it |
//!
//! Keys sort by bin, then by id, so a bin's captures are one range, oldest first.
//!
//! Retention is bounded work: a capture that puts its bin over `max_captures` removes at most
//! [`OVERFLOW_STEP`] of the oldest; pruning by age removes at most `prune_batch` per pass.
//! Deleting a bin removes its record at once and its data in batches. Would-be delivery ids and
//! ordering marks go with the capture that recorded them (trimmed, aged out, deleted or
//! cleared), so a bin's dedupe and ordering memory is what it still holds, and no sender can
//! grow it past `max_captures` entries.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use chrono::{DateTime, Utc};
use receiver_sdk::store::EventTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::bin::{Bin, Settings};
use super::capture::{self, Meta, View};
use super::verdict::{self, Judgement, Lookups, Pending};
use super::{Change, Inspector};
use crate::config::InspectorConfig;

/// The most old captures one new capture removes when its bin is over its limit (more than
/// one, so a lowered limit is reached soon).
const OVERFLOW_STEP: usize = 16;

/// The most records one listing reads, filters included.
const SCAN_BUDGET: usize = 10_000;

/// How many records one batch of a bin's removal takes.
const REMOVE_BATCH: usize = 1_000;

/// The most bytes of capture metadata one listing page carries (headers can weigh hundreds
/// of KiB per capture); a page stops early and says where to go on.
pub(crate) const PAGE_BYTES: usize = 4 * 1024 * 1024;

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
    // Which ordering key each capture set, so the mark goes with the capture.
    mark_owners: sled::Tree,
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
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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
            mark_owners: tree("inspector_mark_owners")?,
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
                    // Limits may have been lowered since the bin was made: the retention it
                    // asked for gives way to them first, then everything else.
                    tracing::warn!(bin = %stored.token, "bin settings no longer apply ({e}); using the inspector's limits");
                    let mut within = stored.settings.clone();
                    if let Some(object) = within.as_object_mut() {
                        object.remove("max_captures");
                        object.remove("max_age_secs");
                    }
                    match Settings::from_json(within, limits) {
                        Ok(settings) => settings,
                        Err(_) => Settings::from_json(Value::Object(Default::default()), limits)
                            .map_err(anyhow::Error::msg)?,
                    }
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
        for tree in self.bin_trees() {
            self.sweep(tree, &live)?;
        }
        Ok(bins)
    }

    /// Every tree whose keys start with a bin key.
    fn bin_trees(&self) -> [&sled::Tree; 4] {
        [
            &self.captures,
            &self.marks,
            &self.mark_owners,
            &self.deliveries,
        ]
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
        for tree in self.bin_trees() {
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
        pending: &Lookups,
        answered_ok: bool,
    ) -> anyhow::Result<Vec<u64>> {
        let mut state = bin.state.lock().unwrap_or_else(|e| e.into_inner());
        meta.id = self.new_id()?;
        match pending {
            Lookups::Nothing => {}
            Lookups::One(pending) => {
                let judgement = self.judge(bin.key, pending)?;
                verdict::conclude(&mut meta.verdicts, &judgement);
                if judgement == Judgement::Fresh && answered_ok {
                    self.commit(bin.key, pending, meta.id, None)?;
                }
            }
            // In order, each judged after the ones before it are recorded, as an endpoint
            // takes a batch.
            Lookups::Batch(events) => {
                for (index, pending) in events {
                    let judgement = self.judge(bin.key, pending)?;
                    verdict::conclude_event(&mut meta.verdicts, *index, &judgement);
                    if judgement == Judgement::Fresh && answered_ok {
                        let place = u32::try_from(*index).context("a batch index")?;
                        self.commit(bin.key, pending, meta.id, Some(place))?;
                    }
                }
                verdict::conclude_batch(&mut meta.verdicts);
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
        for delivery in &pending.deliveries {
            if self.deliveries.contains_key(prefixed(bin, delivery))? {
                return Ok(Judgement::Duplicate);
            }
        }
        if let Some((key, created_at)) = &pending.mark {
            if let Some(mark) = self.marks.get(prefixed(bin, key))? {
                let mark = i64::from_be_bytes(mark.get(..8).context("a short mark")?.try_into()?);
                let judged = pending.ties.judge(
                    EventTime::from_nanos(*created_at),
                    Some(EventTime::from_nanos(mark)),
                );
                return Ok(match judged {
                    receiver_sdk::ordering::Verdict::Stale => Judgement::Stale {
                        created_at: *created_at,
                        mark,
                    },
                    _ => Judgement::Fresh,
                });
            }
        }
        Ok(Judgement::Fresh)
    }

    /// Records a delivery's would-be dedupe keys and mark as capture `id`'s; `place` is a
    /// batch event's index, so each event of one capture owns its own mark.
    fn commit(
        &self,
        bin: u64,
        pending: &Pending,
        id: u64,
        place: Option<u32>,
    ) -> anyhow::Result<()> {
        for delivery in &pending.deliveries {
            self.deliveries
                .insert(prefixed(bin, delivery), &id.to_be_bytes())?;
        }
        if let Some((key, created_at)) = &pending.mark {
            let mut mark = [0; 16];
            mark[..8].copy_from_slice(&created_at.to_be_bytes());
            mark[8..].copy_from_slice(&id.to_be_bytes());
            self.marks.insert(prefixed(bin, key), &mark)?;
            let mut owner = capture_key(bin, id).to_vec();
            if let Some(place) = place {
                owner.extend_from_slice(&place.to_be_bytes());
            }
            self.mark_owners.insert(owner, key.as_slice())?;
        }
        Ok(())
    }

    /// Removes one stored capture and the would-be delivery id and ordering mark it recorded
    /// (a mark a later capture has moved on belongs to that one now).
    fn remove_record(&self, bin: u64, key: &[u8], record: &[u8]) -> anyhow::Result<()> {
        self.captures.remove(key)?;
        // The capture's own mark, and a batch's one per event (keyed by the capture's key and
        // the event's place).
        let owned: Vec<_> = self
            .mark_owners
            .scan_prefix(key)
            .collect::<Result<_, _>>()?;
        for (owner, mark_key) in owned {
            self.mark_owners.remove(owner)?;
            let mark = prefixed(bin, &mark_key);
            let holder = self.marks.get(&mark)?;
            if holder.as_deref().and_then(|m| m.get(8..16)) == key.get(8..16) {
                self.marks.remove(mark)?;
            }
        }
        if let Some((meta, body)) = capture::decode(record) {
            // The delivery id, and the replay key the capture may have recorded beside it;
            // a batch's events' keys.
            let replay = receiver_sdk::dedupe::body_hash(body);
            let events = meta.verdicts.events.iter().flat_map(|entry| &entry.keys);
            let keys = [&meta.verdicts.delivery, &replay].into_iter().chain(events);
            for delivery in keys {
                let delivery = prefixed(bin, delivery.as_bytes());
                if self.deliveries.get(&delivery)?.as_deref() == Some(&meta.id.to_be_bytes()[..]) {
                    self.deliveries.remove(delivery)?;
                }
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
                remove_prefix(&self.mark_owners, bin.key)?;
                remove_prefix(&self.deliveries, bin.key)?;
                return Ok(());
            }
        }
    }

    /// Newest first, before `before` (an id), up to `limit` that pass `keep`, without their
    /// bodies and within about `max_bytes` of metadata (at least one); and the id to continue
    /// before, if there may be more.
    pub(crate) fn list(
        &self,
        bin: u64,
        before: Option<u64>,
        limit: usize,
        max_bytes: usize,
        keep: impl Fn(&Meta, &[u8]) -> bool,
    ) -> anyhow::Result<(Vec<Meta>, Option<u64>)> {
        let mut bytes = 0;
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
            let weight = capture::meta_len(&record);
            if !found.is_empty() && bytes + weight > max_bytes {
                // Not taken: the next page starts with it.
                return Ok((found, id.checked_add(1)));
            }
            let Some((meta, body)) = capture::decode(&record) else {
                continue;
            };
            if keep(&meta, body) {
                bytes += weight;
                found.push(meta);
                if found.len() == limit {
                    return Ok((found, Some(id)));
                }
            }
        }
        Ok((found, None))
    }

    /// The oldest capture after `after` (an id). One at a time: a stream catching up holds
    /// one capture, however many it has to go through.
    pub(crate) fn next_after(&self, bin: u64, after: u64) -> anyhow::Result<Option<View>> {
        let Some(start) = after.checked_add(1) else {
            return Ok(None);
        };
        let range = capture_key(bin, start)..=capture_key(bin, u64::MAX);
        for entry in self.captures.range(range) {
            let (_, record) = entry?;
            if let Some((meta, body)) = capture::decode(&record) {
                return Ok(Some(View::new(meta, body)));
            }
        }
        Ok(None)
    }

    /// The newest capture before `before` (an id; unset: the newest of all). One at a time,
    /// for exports that stream.
    pub(crate) fn next_before(
        &self,
        bin: u64,
        before: Option<u64>,
    ) -> anyhow::Result<Option<View>> {
        let end = capture_key(bin, before.unwrap_or(u64::MAX));
        for entry in self.captures.range(capture_key(bin, 0)..end).rev() {
            let (_, record) = entry?;
            if let Some((meta, body)) = capture::decode(&record) {
                return Ok(Some(View::new(meta, body)));
            }
        }
        Ok(None)
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

/// Captures received before this (Unix ms) are older than `max_age` at `now_ms`. Saturating:
/// an age past what `i64` milliseconds hold keeps everything rather than wrapping into the
/// future and emptying the bin.
fn cutoff_ms(now_ms: i64, max_age: Duration) -> i64 {
    now_ms.saturating_sub(i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX))
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
            let cutoff = cutoff_ms(now_ms(), bin.settings().max_age);
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
            .record(
                bin,
                &bin.settings(),
                &mut meta,
                body,
                &Lookups::Nothing,
                true,
            )
            .unwrap();
        meta.id
    }

    #[test]
    fn a_bin_keeps_its_newest_max_captures() {
        let (_dir, store) = store();
        let bin = bin(&store, json!({"max_captures": 3}));
        let ids: Vec<u64> = (0..5).map(|i| record(&store, &bin, &[i])).collect();
        let (listed, next) = store
            .list(bin.key, None, 10, PAGE_BYTES, |_, _| true)
            .unwrap();
        let listed: Vec<u64> = listed.iter().map(|m| m.id).collect();
        assert_eq!(listed, [ids[4], ids[3], ids[2]]);
        assert_eq!((next, bin.count()), (None, 3));
    }

    #[test]
    fn paging_goes_back_in_time_and_after_goes_forward() {
        let (_dir, store) = store();
        let bin = bin(&store, json!({}));
        let ids: Vec<u64> = (0..5).map(|i| record(&store, &bin, &[i])).collect();
        let (page, next) = store
            .list(bin.key, None, 2, PAGE_BYTES, |_, _| true)
            .unwrap();
        assert_eq!(page.len(), 2);
        let (page, _) = store
            .list(bin.key, next, 2, PAGE_BYTES, |_, _| true)
            .unwrap();
        assert_eq!(page[0].id, ids[2]);
        let next = store.next_after(bin.key, ids[2]).unwrap().unwrap();
        assert_eq!(next.meta.id, ids[3]);
        assert!(store.next_after(bin.key, ids[4]).unwrap().is_none());
        let newest = store.next_before(bin.key, None).unwrap().unwrap();
        assert_eq!(newest.meta.id, ids[4]);
        let older = store.next_before(bin.key, Some(ids[1])).unwrap().unwrap();
        assert_eq!(older.meta.id, ids[0]);
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
                .record(
                    &bin,
                    &bin.settings(),
                    &mut meta,
                    b"",
                    &Lookups::Nothing,
                    true,
                )
                .unwrap();
        }
        let young = record(&store, &bin, b"");
        let cutoff = now_ms() - 60_000;
        assert_eq!(store.prune_aged(&bin, cutoff, 3).unwrap().len(), 3);
        assert_eq!(store.prune_aged(&bin, cutoff, 3).unwrap().len(), 2);
        let (left, _) = store
            .list(bin.key, None, 10, PAGE_BYTES, |_, _| true)
            .unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, young);
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

    fn marked(store: &Store, bin: &Bin, entity: &str, at: i64, received: DateTime<Utc>) -> u64 {
        let mut meta = meta(received);
        let pending = Pending {
            deliveries: Vec::new(),
            mark: Some((entity.as_bytes().to_vec(), at)),
            ties: receiver_sdk::ordering::TiePolicy::Deliver,
        };
        store
            .record(
                bin,
                &bin.settings(),
                &mut meta,
                b"",
                &Lookups::One(pending.clone()),
                true,
            )
            .unwrap();
        meta.id
    }

    fn marks_of(store: &Store, bin: &Bin) -> usize {
        store.marks.scan_prefix(bin.key.to_be_bytes()).count()
            + store.mark_owners.scan_prefix(bin.key.to_be_bytes()).count()
    }

    #[test]
    fn a_trimmed_capture_takes_its_delivery_id_and_replay_key_with_it() {
        let (_dir, store) = store();
        let bin = bin(&store, json!({"max_captures": 1}));
        let body = b"{\"after\":\"a1\"}";
        let replay = receiver_sdk::dedupe::body_hash(body).into_bytes();
        let pending = Pending {
            deliveries: vec![b"d".to_vec(), replay.clone()],
            mark: None,
            ties: receiver_sdk::ordering::TiePolicy::Deliver,
        };
        let mut first = meta(Utc::now());
        store
            .record(
                &bin,
                &bin.settings(),
                &mut first,
                body,
                &Lookups::One(pending.clone()),
                true,
            )
            .unwrap();
        assert_eq!(
            store.deliveries.scan_prefix(bin.key.to_be_bytes()).count(),
            2
        );
        let retry = Pending {
            deliveries: vec![b"d2".to_vec(), replay],
            ..pending
        };
        assert_eq!(store.judge(bin.key, &retry).unwrap(), Judgement::Duplicate);

        record(&store, &bin, b"another");
        assert_eq!(bin.count(), 1);
        assert_eq!(
            store.deliveries.scan_prefix(bin.key.to_be_bytes()).count(),
            0,
            "the trimmed capture's delivery id and replay key are gone"
        );
        assert_eq!(store.judge(bin.key, &retry).unwrap(), Judgement::Fresh);
    }

    #[test]
    fn regression_ordering_marks_are_trimmed_with_their_captures() {
        let (_dir, store) = store();
        let bin = bin(&store, json!({"max_captures": 3}));
        for entity in 0..20 {
            marked(&store, &bin, &format!("entity-{entity}"), 1, Utc::now());
        }
        // One mark and one owner entry for each capture still held, not one per entity ever.
        assert_eq!(bin.count(), 3);
        assert_eq!(marks_of(&store, &bin), 6);
    }

    #[test]
    fn regression_ordering_marks_go_when_captures_age_out_are_deleted_or_cleared() {
        let (_dir, store) = store();
        let bin = bin(&store, json!({}));
        let old = Utc::now() - chrono::Duration::hours(2);
        marked(&store, &bin, "aged", 1, old);
        let deleted = marked(&store, &bin, "deleted", 1, Utc::now());
        marked(&store, &bin, "kept", 1, Utc::now());
        store.prune_aged(&bin, now_ms() - 60_000, 10).unwrap();
        assert!(store.remove(&bin, deleted).unwrap());
        let left: Vec<Vec<u8>> = store
            .marks
            .scan_prefix(bin.key.to_be_bytes())
            .keys()
            .map(|k| k.unwrap()[8..].to_vec())
            .collect();
        assert_eq!(left, [b"kept".to_vec()]);
        store.clear(&bin).unwrap();
        assert_eq!(marks_of(&store, &bin), 0);
    }

    #[test]
    fn a_mark_moved_on_by_a_later_capture_stays_when_the_earlier_one_goes() {
        let (_dir, store) = store();
        let bin = bin(&store, json!({}));
        let first = marked(&store, &bin, "e", 1, Utc::now());
        marked(&store, &bin, "e", 2, Utc::now());
        assert!(store.remove(&bin, first).unwrap());
        let pending = Pending {
            deliveries: Vec::new(),
            mark: Some((b"e".to_vec(), 1)),
            ties: receiver_sdk::ordering::TiePolicy::Deliver,
        };
        assert_eq!(
            store.judge(bin.key, &pending).unwrap(),
            Judgement::Stale {
                created_at: 1,
                mark: 2
            }
        );
    }

    #[test]
    fn an_age_past_i64_milliseconds_keeps_everything() {
        let now = now_ms();
        assert_eq!(
            cutoff_ms(now, Duration::from_secs(u64::MAX)),
            now - i64::MAX
        );
        assert_eq!(cutoff_ms(now, Duration::from_secs(60)), now - 60_000);
    }

    #[test]
    fn listings_stop_at_their_byte_budget_and_say_where_to_go_on() {
        let (_dir, store) = store();
        let bin = bin(&store, json!({}));
        let ids: Vec<u64> = (0..5).map(|i| record(&store, &bin, &[i])).collect();
        let one = capture::meta_len(
            &store
                .captures
                .get(capture_key(bin.key, ids[0]))
                .unwrap()
                .unwrap(),
        );
        let (page, next) = store.list(bin.key, None, 10, 2 * one, |_, _| true).unwrap();
        assert_eq!(
            page.iter().map(|m| m.id).collect::<Vec<_>>(),
            [ids[4], ids[3]]
        );
        let (page, _) = store.list(bin.key, next, 10, 2 * one, |_, _| true).unwrap();
        assert_eq!(page[0].id, ids[2]);
    }
}
