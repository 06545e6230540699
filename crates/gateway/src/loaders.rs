//! Batched loading of children through async-graphql's [`DataLoader`]: the `people` of every
//! account on a page are fetched by **one** store call, not one per account (graphile
//! crystal#219).
//!
//! One generic loader serves every relation the store declares ([`Child`]: people and
//! subscriptions of accounts, revenue events of accounts, external references of any
//! entity): its key, [`ChildrenOf`], is typed by the relation, which gives each relation its
//! own batch queue inside one [`DataLoader`], and each batch is one
//! [`Store::children_of`] call. Deal contacts add a second call for their people.
//!
//! The loader keeps no cache, so it lives in the schema and is shared by all requests: there is
//! nothing to go stale, and concurrent requests may even share a batch.
//!
//! Lists and `account(id)` do not wait for it: they prefetch their children by look-ahead
//! ([`crate::prefetch`]), through [`StoreLoader::fetch`]. The loader serves the levels they do
//! not look ahead to (a deal contact's person's references, say), where its batching delay is
//! what gathers the siblings' keys.

use crate::error::GatewayError;
use async_graphql::dataloader::{DataLoader, Loader};
use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tributary_store::{Child, DealContactRow, PersonRow, Store, StoreError};
use uuid::Uuid;

/// How long a loader waits for more keys before it queries. Sibling fields of a list register
/// their keys within one poll, so the wait only has to outlast that; it is the floor of the
/// latency of any query that touches children.
pub(crate) const DEFAULT_BATCH_DELAY: Duration = Duration::from_millis(1);

/// The children in relation `C` of the parent with this id.
pub(crate) struct ChildrenOf<C>(pub Uuid, PhantomData<fn() -> C>);

impl<C> ChildrenOf<C> {
    pub(crate) fn new(parent: Uuid) -> Self {
        ChildrenOf(parent, PhantomData)
    }
}

// Derives would require `C` itself to be `Clone`, `Eq` and `Hash`; only the id matters.
impl<C> Clone for ChildrenOf<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for ChildrenOf<C> {}
impl<C> PartialEq for ChildrenOf<C> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<C> Eq for ChildrenOf<C> {}
impl<C> std::hash::Hash for ChildrenOf<C> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// The people on the deal behind a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ContactsOf(pub Uuid);

/// A person's part in a deal, with the person when known.
#[derive(Clone, Debug)]
pub(crate) struct DealContactWithPerson {
    pub contact: DealContactRow,
    pub person: Option<PersonRow>,
}

/// What [`ContactsOf`] batches are recorded under.
const CONTACTS: &str = "contacts of deals";

/// Batches run and keys asked for, per relation, and how many of the batches the DataLoader
/// ran (the others were prefetched by a parent resolver); tests use them to prove batching.
#[derive(Debug, Default)]
pub(crate) struct LoaderStats {
    counts: Mutex<BTreeMap<&'static str, (u64, u64)>>,
    by_loader: std::sync::atomic::AtomicU64,
}

impl LoaderStats {
    fn record_loader_batch(&self) {
        self.by_loader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Batches the DataLoader ran (after its batching delay), all relations together.
    #[cfg(test)]
    pub(crate) fn loader_batches(&self) -> u64 {
        self.by_loader.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn record(&self, relation: &'static str, keys: usize) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let c = counts.entry(relation).or_default();
        c.0 += 1;
        c.1 += keys as u64;
    }

    /// `(batches, keys)` of `relation` so far.
    #[cfg(test)]
    pub(crate) fn get(&self, relation: &str) -> (u64, u64) {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(relation)
            .copied()
            .unwrap_or_default()
    }
}

#[cfg(test)]
impl LoaderStats {
    pub(crate) fn people(&self) -> (u64, u64) {
        self.get(PersonRow::RELATION)
    }
    pub(crate) fn subscriptions(&self) -> (u64, u64) {
        self.get(tributary_store::SubscriptionRow::RELATION)
    }
    pub(crate) fn refs(&self) -> (u64, u64) {
        self.get(tributary_store::ExternalRefRow::RELATION)
    }
    pub(crate) fn revenue_events(&self) -> (u64, u64) {
        self.get(tributary_store::RevenueEventRow::RELATION)
    }
    pub(crate) fn contacts(&self) -> (u64, u64) {
        self.get(CONTACTS)
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
fn group<K, R>(rows: Vec<R>, key_of: impl Fn(&R) -> Option<K>) -> HashMap<K, Arc<[R]>>
where
    K: std::hash::Hash + Eq,
{
    let mut out: HashMap<K, Vec<R>> = HashMap::new();
    for row in rows {
        if let Some(k) = key_of(&row) {
            out.entry(k).or_default().push(row);
        }
    }
    out.into_iter().map(|(k, v)| (k, v.into())).collect()
}

impl StoreLoader {
    /// The children in relation `C` of `parents`, by parent: one store call, recorded in the
    /// statistics. The loader's batches and the look-ahead prefetch both come here.
    pub(crate) async fn fetch<C: Child>(
        &self,
        parents: &[Uuid],
    ) -> Result<HashMap<Uuid, Arc<[C]>>, StoreError> {
        self.stats.record(C::RELATION, parents.len());
        let rows = self.store.children_of::<C>(parents).await?;
        Ok(group(rows, |r| r.parent_id()))
    }

    /// The people on the deals of `subscriptions`, by subscription: two store calls (the deal
    /// contacts, then their people), recorded as one batch.
    pub(crate) async fn fetch_contacts(
        &self,
        subscriptions: &[Uuid],
    ) -> Result<HashMap<Uuid, Arc<[DealContactWithPerson]>>, StoreError> {
        self.stats.record(CONTACTS, subscriptions.len());
        let contacts: Vec<DealContactRow> = self.store.children_of(subscriptions).await?;
        let person_ids: Vec<Uuid> = contacts.iter().filter_map(|c| c.person_id).collect();
        let people: HashMap<Uuid, PersonRow> = self
            .store
            .people_by_id(&person_ids)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let rows = contacts
            .into_iter()
            .map(|contact| DealContactWithPerson {
                person: contact.person_id.and_then(|id| people.get(&id).cloned()),
                contact,
            })
            .collect();
        Ok(group(rows, |r| r.contact.subscription_id))
    }
}

/// `map` with its keys wrapped by `key`.
fn rekey<K: std::hash::Hash + Eq, V>(
    map: HashMap<Uuid, V>,
    key: impl Fn(Uuid) -> K,
) -> HashMap<K, V> {
    map.into_iter().map(|(k, v)| (key(k), v)).collect()
}

impl<C: Child> Loader<ChildrenOf<C>> for StoreLoader {
    type Value = Arc<[C]>;
    type Error = Arc<StoreError>;

    async fn load(
        &self,
        keys: &[ChildrenOf<C>],
    ) -> Result<HashMap<ChildrenOf<C>, Self::Value>, Self::Error> {
        self.stats.record_loader_batch();
        let parents: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self.fetch::<C>(&parents).await.map_err(Arc::new)?;
        Ok(rekey(rows, ChildrenOf::new))
    }
}

impl Loader<ContactsOf> for StoreLoader {
    type Value = Arc<[DealContactWithPerson]>;
    type Error = Arc<StoreError>;

    async fn load(
        &self,
        keys: &[ContactsOf],
    ) -> Result<HashMap<ContactsOf, Self::Value>, Self::Error> {
        self.stats.record_loader_batch();
        let deals: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self.fetch_contacts(&deals).await.map_err(Arc::new)?;
        Ok(rekey(rows, ContactsOf))
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

/// A person by our id (the learner of an enrollment), live or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PersonById(pub Uuid);

/// A live course by our id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CourseById(pub Uuid);

impl Loader<PersonById> for StoreLoader {
    type Value = PersonRow;
    type Error = Arc<StoreError>;

    async fn load(
        &self,
        keys: &[PersonById],
    ) -> Result<HashMap<PersonById, Self::Value>, Self::Error> {
        self.stats.record_loader_batch();
        self.stats.record("people by id", keys.len());
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self.store.people_by_id(&ids).await.map_err(Arc::new)?;
        Ok(rows.into_iter().map(|p| (PersonById(p.id), p)).collect())
    }
}

impl Loader<CourseById> for StoreLoader {
    type Value = tributary_store::CourseRow;
    type Error = Arc<StoreError>;

    async fn load(
        &self,
        keys: &[CourseById],
    ) -> Result<HashMap<CourseById, Self::Value>, Self::Error> {
        self.stats.record_loader_batch();
        self.stats.record("courses by id", keys.len());
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = self.store.courses_by_id(&ids).await.map_err(Arc::new)?;
        Ok(rows.into_iter().map(|c| (CourseById(c.id), c)).collect())
    }
}
