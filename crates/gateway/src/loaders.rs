//! Batched loading of the children of accounts (and of any entity's external references)
//! through async-graphql's [`DataLoader`]: the `people` of every account on a page are fetched
//! by **one** `Store::people_of_accounts` call, not one per account (graphile crystal#219).
//!
//! The loader keeps no cache, so it lives in the schema and is shared by all requests: there is
//! nothing to go stale, and concurrent requests may even share a batch. Each child kind has its
//! own key type, which gives it its own batch queue inside one [`DataLoader`].

use crate::error::GatewayError;
use async_graphql::dataloader::{DataLoader, Loader};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tributary_store::entities::{deal_contact, external_ref, person, revenue_event, subscription};
use tributary_store::{Store, StoreError};
use uuid::Uuid;

/// How long a loader waits for more keys before it queries. Sibling fields of a list register
/// their keys within one poll, so the wait only has to outlast that; it is the floor of the
/// latency of any query that touches children.
pub(crate) const DEFAULT_BATCH_DELAY: Duration = Duration::from_millis(1);

/// The people of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PeopleOf(pub Uuid);

/// The subscriptions of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SubscriptionsOf(pub Uuid);

/// The source references of an entity (account, person, subscription …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RefsOf(pub Uuid);

/// The revenue events of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RevenueEventsOf(pub Uuid);

/// The people on the deal behind a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ContactsOf(pub Uuid);

/// A person's part in a deal, with the person when known.
#[derive(Clone, Debug)]
pub(crate) struct DealContactRow {
    pub contact: deal_contact::Model,
    pub person: Option<person::Model>,
}

/// Counts of store calls made by the loader, per child kind; tests use them to prove batching.
#[derive(Debug, Default)]
pub(crate) struct LoaderStats {
    people: BatchCount,
    subscriptions: BatchCount,
    refs: BatchCount,
    revenue_events: BatchCount,
    contacts: BatchCount,
}

/// Batches run and keys asked for.
#[derive(Debug, Default)]
pub(crate) struct BatchCount {
    batches: AtomicU64,
    keys: AtomicU64,
}

impl BatchCount {
    fn record(&self, keys: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.keys.fetch_add(keys as u64, Ordering::Relaxed);
    }

    /// `(batches, keys)` so far.
    #[cfg(test)]
    pub(crate) fn get(&self) -> (u64, u64) {
        (
            self.batches.load(Ordering::Relaxed),
            self.keys.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
impl LoaderStats {
    pub(crate) fn people(&self) -> (u64, u64) {
        self.people.get()
    }
    pub(crate) fn subscriptions(&self) -> (u64, u64) {
        self.subscriptions.get()
    }
    pub(crate) fn refs(&self) -> (u64, u64) {
        self.refs.get()
    }
    pub(crate) fn revenue_events(&self) -> (u64, u64) {
        self.revenue_events.get()
    }
    pub(crate) fn contacts(&self) -> (u64, u64) {
        self.contacts.get()
    }
}

/// Loads children from the store, one query per batch of keys.
pub(crate) struct StoreLoader {
    store: Store,
    stats: Arc<LoaderStats>,
}

/// The loader as resolvers find it in the schema's data.
pub(crate) type Loaders = DataLoader<StoreLoader>;

/// A loader over `store` that waits `delay` for keys and records its calls in `stats`.
pub(crate) fn loaders(store: Store, delay: Duration, stats: Arc<LoaderStats>) -> Loaders {
    DataLoader::new(StoreLoader { store, stats }, tokio::spawn).delay(delay)
}

/// Groups `rows` by the key `key_of` gives them; rows without a key are dropped.
fn group<K, R>(rows: Vec<R>, key_of: impl Fn(&R) -> Option<K>) -> HashMap<K, Vec<R>>
where
    K: std::hash::Hash + Eq,
{
    let mut out: HashMap<K, Vec<R>> = HashMap::new();
    for row in rows {
        if let Some(k) = key_of(&row) {
            out.entry(k).or_default().push(row);
        }
    }
    out
}

fn ids<K: Copy>(keys: &[K], id: impl Fn(K) -> Uuid) -> Vec<Uuid> {
    keys.iter().map(|k| id(*k)).collect()
}

impl Loader<PeopleOf> for StoreLoader {
    type Value = Arc<[person::Model]>;
    type Error = Arc<StoreError>;

    async fn load(&self, keys: &[PeopleOf]) -> Result<HashMap<PeopleOf, Self::Value>, Self::Error> {
        self.stats.people.record(keys.len());
        let rows = self
            .store
            .people_of_accounts(&ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        Ok(group(rows, |p| p.account_id.map(PeopleOf))
            .into_iter()
            .map(|(k, v)| (k, v.into()))
            .collect())
    }
}

impl Loader<SubscriptionsOf> for StoreLoader {
    type Value = Arc<[subscription::Model]>;
    type Error = Arc<StoreError>;

    async fn load(
        &self,
        keys: &[SubscriptionsOf],
    ) -> Result<HashMap<SubscriptionsOf, Self::Value>, Self::Error> {
        self.stats.subscriptions.record(keys.len());
        let rows = self
            .store
            .subscriptions_of_accounts(&ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        Ok(group(rows, |s| s.account_id.map(SubscriptionsOf))
            .into_iter()
            .map(|(k, v)| (k, v.into()))
            .collect())
    }
}

impl Loader<RefsOf> for StoreLoader {
    type Value = Arc<[external_ref::Model]>;
    type Error = Arc<StoreError>;

    async fn load(&self, keys: &[RefsOf]) -> Result<HashMap<RefsOf, Self::Value>, Self::Error> {
        self.stats.refs.record(keys.len());
        let rows = self
            .store
            .external_refs_of(&ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        Ok(group(rows, |r| Some(RefsOf(r.entity_id)))
            .into_iter()
            .map(|(k, v)| (k, v.into()))
            .collect())
    }
}

impl Loader<RevenueEventsOf> for StoreLoader {
    type Value = Arc<[revenue_event::Model]>;
    type Error = Arc<StoreError>;

    async fn load(
        &self,
        keys: &[RevenueEventsOf],
    ) -> Result<HashMap<RevenueEventsOf, Self::Value>, Self::Error> {
        self.stats.revenue_events.record(keys.len());
        let rows = self
            .store
            .revenue_events_of_accounts(&ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        Ok(group(rows, |e| e.account_id.map(RevenueEventsOf))
            .into_iter()
            .map(|(k, v)| (k, v.into()))
            .collect())
    }
}

impl Loader<ContactsOf> for StoreLoader {
    type Value = Arc<[DealContactRow]>;
    type Error = Arc<StoreError>;

    async fn load(
        &self,
        keys: &[ContactsOf],
    ) -> Result<HashMap<ContactsOf, Self::Value>, Self::Error> {
        self.stats.contacts.record(keys.len());
        let contacts = self
            .store
            .deal_contacts_of_subscriptions(&ids(keys, |k| k.0))
            .await
            .map_err(Arc::new)?;
        let mut person_ids: Vec<Uuid> = contacts.iter().filter_map(|c| c.person_id).collect();
        person_ids.sort();
        person_ids.dedup();
        let people: HashMap<Uuid, person::Model> = self
            .store
            .people_by_id(&person_ids)
            .await
            .map_err(Arc::new)?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let rows = contacts.into_iter().map(|contact| DealContactRow {
            person: contact.person_id.and_then(|id| people.get(&id).cloned()),
            contact,
        });
        Ok(group(rows.collect(), |r| {
            r.contact.subscription_id.map(ContactsOf)
        })
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect())
    }
}

/// The children of one key, empty when it has none.
pub(crate) async fn children<K, V>(loaders: &Loaders, key: K) -> Result<Arc<[V]>, GatewayError>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    StoreLoader: Loader<K, Value = Arc<[V]>, Error = Arc<StoreError>>,
    V: Send + Sync + 'static,
{
    Ok(loaders
        .load_one(key)
        .await
        .map_err(GatewayError::from)?
        .unwrap_or_else(|| Arc::from(Vec::new())))
}
