//! Look-ahead prefetch of children: a resolver that returns parents (`accounts`, `account`)
//! looks at what the query selects under them and loads the children of **all** its parents
//! before it returns — one set-based [`Store::children_of`](tributary_store::Store::children_of)
//! query per relation and level, with no timer (graphile crystal#219, async-graphql#1306).
//!
//! The children travel with the objects: every `Account`, `Person` and `Subscription` built
//! from a prefetched page holds the same [`Prefetched`], and their child resolvers read from
//! it. A parent that was not prefetched (or a level deeper than the parent resolver looks)
//! falls back to the batching [`DataLoader`](async_graphql::dataloader::DataLoader), whose
//! batching window is then the only way to gather the siblings' keys.
//!
//! Why not a zero-delay DataLoader: its fetch is spawned when the first key arrives, and on a
//! multi-thread runtime it can run before the siblings have registered theirs, so one level
//! could be split over several batches (more queries than the level's one). Here the parent
//! knows every key before any child resolver runs.

use crate::error::GatewayError;
use crate::loaders::{DealContactWithPerson, Loaders};
use async_graphql::Lookahead;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;
use tributary_store::{
    AccountEnrollmentRow, Child, ExternalRefRow, PersonEnrollmentRow, PersonRow, RevenueEventRow,
    SubscriptionRow,
};
use uuid::Uuid;

/// Children loaded ahead, by kind of child and parent id. A parent that was prefetched has an
/// entry (empty when it has no children), so a missing entry means "not prefetched".
#[derive(Default)]
pub(crate) struct Prefetched {
    sets: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Prefetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefetched")
            .field("kinds", &self.sets.len())
            .finish()
    }
}

type ByParent<V> = HashMap<Uuid, Arc<[V]>>;

impl Prefetched {
    /// The prefetched children of kind `V` of `parent`; `None` when they were not prefetched.
    pub(crate) fn get<V: 'static>(&self, parent: Uuid) -> Option<Arc<[V]>> {
        self.sets
            .get(&TypeId::of::<V>())?
            .downcast_ref::<ByParent<V>>()?
            .get(&parent)
            .cloned()
    }

    /// Records `children` of kind `V` for every parent of `parents` (empty for those without).
    fn insert<V: Send + Sync + 'static>(&mut self, parents: &[Uuid], mut children: ByParent<V>) {
        for p in parents {
            children.entry(*p).or_insert_with(|| Arc::from(Vec::new()));
        }
        let set = self
            .sets
            .entry(TypeId::of::<V>())
            .or_insert_with(|| Box::new(ByParent::<V>::new()));
        if let Some(set) = set.downcast_mut::<ByParent<V>>() {
            set.extend(children);
        }
    }
}

/// The selection under a list's nodes: `edges { node { … } }` and `nodes { … }` together,
/// or the fields under one object.
pub(crate) struct Selection<'a>(Vec<Lookahead<'a>>);

impl<'a> Selection<'a> {
    /// The fields selected on one object.
    pub(crate) fn object(look: Lookahead<'a>) -> Self {
        Selection(vec![look])
    }

    /// The fields selected on the nodes of a connection.
    pub(crate) fn connection_nodes(look: &Lookahead<'a>) -> Self {
        Selection(vec![look.field("edges").field("node"), look.field("nodes")])
    }

    /// The selection under field `name`.
    fn field(&self, name: &str) -> Self {
        Selection(self.0.iter().map(|l| l.field(name)).collect())
    }

    /// Whether any of `names` is selected.
    fn any(&self, names: &[&str]) -> bool {
        names
            .iter()
            .any(|n| self.0.iter().any(|l| l.field(n).exists()))
    }
}

/// What of an account's children a query selects, read before anything is loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AccountPlan {
    people: bool,
    people_refs: bool,
    subscriptions: bool,
    subscription_refs: bool,
    contacts: bool,
    refs: bool,
    revenue_events: bool,
    enrollments: bool,
    people_enrollments: bool,
}

impl AccountPlan {
    /// The children that `account` (the fields selected on accounts) will ask for.
    pub(crate) fn of(account: &Selection<'_>) -> Self {
        let people = account.field("people");
        let subscriptions = account.field("subscriptions");
        AccountPlan {
            people: account.any(&["people"]),
            people_refs: people.any(&["externalRefs"]),
            subscriptions: account.any(&["subscriptions", "arr", "arrByCurrency"]),
            subscription_refs: subscriptions.any(&["externalRefs"]),
            contacts: subscriptions.any(&["contacts"]),
            refs: account.any(&["externalRefs"]),
            revenue_events: account.any(&["revenueEvents", "ledgerArr"]),
            enrollments: account.any(&["enrollments", "learning", "learningByRole"]),
            people_enrollments: people.any(&["enrollments"]),
        }
    }

    /// Whether nothing is to be loaded ahead.
    pub(crate) fn is_empty(&self) -> bool {
        *self == AccountPlan::default()
    }

    /// Loads the children this plan selects for `accounts`: the first level's relations
    /// concurrently, then the second level's (which need the first's ids) concurrently.
    pub(crate) async fn load(
        &self,
        loaders: &Loaders,
        accounts: &[Uuid],
    ) -> Result<Prefetched, GatewayError> {
        let mut out = Prefetched::default();
        if self.is_empty() || accounts.is_empty() {
            return Ok(out);
        }
        let (people, subscriptions, refs, revenue, enrollments) = tokio::try_join!(
            fetch_if::<PersonRow>(self.people, loaders, accounts),
            fetch_if::<SubscriptionRow>(self.subscriptions, loaders, accounts),
            fetch_if::<ExternalRefRow>(self.refs, loaders, accounts),
            fetch_if::<RevenueEventRow>(self.revenue_events, loaders, accounts),
            fetch_if::<AccountEnrollmentRow>(self.enrollments, loaders, accounts),
        )?;
        let person_ids = ids_of(people.as_ref(), |p: &PersonRow| p.id);
        let subscription_ids = ids_of(subscriptions.as_ref(), |s: &SubscriptionRow| s.id);
        store_set(&mut out, accounts, people);
        store_set(&mut out, accounts, subscriptions);
        store_set(&mut out, accounts, refs);
        store_set(&mut out, accounts, revenue);
        store_set(&mut out, accounts, enrollments);

        let subscription_refs = self.subscription_refs && !subscription_ids.is_empty();
        let people_refs = self.people_refs && !person_ids.is_empty();
        let contacts = self.contacts && !subscription_ids.is_empty();
        let people_enrollments = self.people_enrollments && !person_ids.is_empty();
        let (person_refs, sub_refs, contacts, person_enrollments) = tokio::try_join!(
            fetch_if::<ExternalRefRow>(people_refs, loaders, &person_ids),
            fetch_if::<ExternalRefRow>(subscription_refs, loaders, &subscription_ids),
            async {
                if contacts {
                    let set = loaders.loader().fetch_contacts(&subscription_ids).await?;
                    Ok::<_, GatewayError>(Some(set))
                } else {
                    Ok(None)
                }
            },
            fetch_if::<PersonEnrollmentRow>(people_enrollments, loaders, &person_ids),
        )?;
        store_set(&mut out, &person_ids, person_refs);
        store_set(&mut out, &person_ids, person_enrollments);
        store_set(&mut out, &subscription_ids, sub_refs);
        store_set::<DealContactWithPerson>(&mut out, &subscription_ids, contacts);
        Ok(out)
    }
}

/// The children of `parents` in relation `C` when `wanted`.
async fn fetch_if<C: Child>(
    wanted: bool,
    loaders: &Loaders,
    parents: &[Uuid],
) -> Result<Option<ByParent<C>>, GatewayError> {
    if !wanted || parents.is_empty() {
        return Ok(None);
    }
    Ok(Some(loaders.loader().fetch::<C>(parents).await?))
}

fn store_set<V: Send + Sync + 'static>(
    out: &mut Prefetched,
    parents: &[Uuid],
    set: Option<ByParent<V>>,
) {
    if let Some(set) = set {
        out.insert(parents, set);
    }
}

/// The ids of every child in `set`.
fn ids_of<V>(set: Option<&ByParent<V>>, id: impl Fn(&V) -> Uuid) -> Vec<Uuid> {
    set.map(|s| s.values().flat_map(|v| v.iter().map(&id)).collect())
        .unwrap_or_default()
}

/// The children of `parent` under `key`: prefetched when `pre` holds them, else through the
/// batching loader.
pub(crate) async fn children<K, V>(
    ctx: &async_graphql::Context<'_>,
    pre: Option<&Prefetched>,
    parent: Uuid,
    key: K,
) -> Result<Arc<[V]>, GatewayError>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    crate::loaders::StoreLoader: async_graphql::dataloader::Loader<
            K,
            Value = Arc<[V]>,
            Error = Arc<tributary_store::StoreError>,
        >,
    V: Send + Sync + 'static,
{
    if let Some(found) = pre.and_then(|p| p.get::<V>(parent)) {
        return Ok(found);
    }
    crate::loaders::children(crate::domains::loaders(ctx)?, key).await
}
