//! The ingest routes of push connectors (SPEC §5, §14): each [`PushMount`] answers every
//! method and path under its prefix. A request is read up to the source's own size limit,
//! handed to the source to validate into items, committed through the sync engine, and only
//! then acknowledged with the source's response. Each request carries the source's
//! [`Credentials`]: the push keys issued for that source's instance, checked against the key
//! store (`auth::PushCredentials`), and the source's [`StoredRecords`]: what it stored
//! before, read back from the store scoped to its system (kind) and instance
//! ([`SourceRecords`]). A source whose items fold what it stored before asks for its writes
//! to be taken one at a time ([`PushSource::serialized`]; per process — replicas still race).
//! The gateway keeps no state of its own, so any replica can take any request.

use crate::auth::{Authenticator, PushCredentials};
use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use std::sync::Arc;
use tributary_connector::{
    Credentials, PushError, PushResponse, PushSource, RecordKind, RecordPageRequest,
    RecordReadError, RecordReader, StoredRecord, StoredRecords,
};
use tributary_store::{RawRecord, RawRecordPage, RecordScope, Store};
use tributary_sync::SyncEngine;

/// A push source served under a path prefix, e.g. `/ingest/segment`.
#[derive(Clone)]
pub struct PushMount {
    /// Where it is mounted: starts with `/`, no trailing `/`.
    pub prefix: String,
    /// The source.
    pub source: Arc<dyn PushSource>,
}

impl std::fmt::Debug for PushMount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushMount")
            .field("prefix", &self.prefix)
            .field("kind", &self.source.kind())
            .field("instance", &self.source.instance())
            .finish()
    }
}

#[derive(Clone)]
struct Mounted {
    source: Arc<dyn PushSource>,
    engine: SyncEngine,
    credentials: Credentials,
    records: StoredRecords,
    /// Held from reading a request to committing it, for a source that asks for it
    /// ([`PushSource::serialized`]).
    exclusive: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// The largest page a push source may read at once.
const MAX_RECORD_PAGE: u64 = 1_000;

/// A push source's own stored records: those of its system (kind) and instance.
struct SourceRecords {
    store: Store,
    system: String,
    instance: String,
}

impl SourceRecords {
    fn scope(&self, kind: &RecordKind) -> RecordScope {
        RecordScope {
            system: self.system.clone(),
            instance: self.instance.clone(),
            object: kind.object.clone(),
            kind: kind.entity,
        }
    }
}

fn stored(r: RawRecord) -> StoredRecord {
    StoredRecord {
        external_id: r.external_id,
        raw: r.payload,
        updated_at: r.source_updated_at,
        deleted: r.deleted,
    }
}

#[async_trait]
impl RecordReader for SourceRecords {
    async fn get(
        &self,
        kind: &RecordKind,
        external_ids: &[String],
    ) -> Result<Vec<StoredRecord>, RecordReadError> {
        self.store
            .raw_records(&self.scope(kind), external_ids)
            .await
            .map(|rows| rows.into_iter().map(stored).collect())
            .map_err(|e| RecordReadError(e.to_string()))
    }

    async fn page(
        &self,
        kind: &RecordKind,
        page: &RecordPageRequest,
    ) -> Result<Vec<StoredRecord>, RecordReadError> {
        let page = RawRecordPage {
            since: page.since,
            until: page.until,
            after: page.after.clone(),
            ascending: page.ascending,
            limit: page.limit.clamp(1, MAX_RECORD_PAGE),
            include_deleted: page.include_deleted,
        };
        self.store
            .raw_record_page(&self.scope(kind), &page)
            .await
            .map(|rows| rows.into_iter().map(stored).collect())
            .map_err(|e| RecordReadError(e.to_string()))
    }
}

/// `router` with every mount's routes nested at its prefix.
pub(crate) fn mount(
    mut router: Router,
    store: &Store,
    mounts: &[PushMount],
    auth: &Arc<Authenticator>,
) -> Router {
    for m in mounts {
        let state = Mounted {
            source: Arc::clone(&m.source),
            engine: SyncEngine::new(store.clone()),
            credentials: Credentials::new(Arc::new(PushCredentials {
                auth: Arc::clone(auth),
                source: m.source.instance().to_owned(),
            })),
            records: StoredRecords::new(Arc::new(SourceRecords {
                store: store.clone(),
                system: m.source.kind().to_owned(),
                instance: m.source.instance().to_owned(),
            })),
            exclusive: m.source.serialized().then(Arc::default),
        };
        let inner = Router::new()
            .route("/", any(handle))
            .route("/{*rest}", any(handle))
            .with_state(state);
        router = router.nest(&m.prefix, inner);
    }
    router
}

async fn handle(
    State(m): State<Mounted>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limit = m.source.max_body_bytes();
    let source = m.source.as_ref();
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b.to_vec(),
        Err(_) => {
            return respond(source.error_response(&PushError::TooLarge {
                limit_bytes: limit,
                message: "request body too large".to_owned(),
            }));
        }
    };
    // Writes of a serialized source wait their turn, which ends after their commit; reads
    // (GET, HEAD) commit nothing and do not wait.
    let _turn = match &m.exclusive {
        Some(lock) if method != Method::GET && method != Method::HEAD => Some(lock.lock().await),
        _ => None,
    };
    let request = tributary_connector::PushRequest {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
        credentials: m.credentials.clone(),
        records: m.records.clone(),
    };
    let accepted = match source.accept(request).await {
        Ok(a) => a,
        Err(e) => {
            tracing::info!(kind = source.kind(), instance = source.instance(), error = %e, "push request refused");
            return respond(source.error_response(&e));
        }
    };
    let items = accepted.items.len();
    match m.engine.ingest(source, accepted.items).await {
        Ok(outcome) => {
            tracing::debug!(
                kind = source.kind(),
                instance = source.instance(),
                items,
                written = outcome.written,
                quarantined = outcome.quarantined,
                "push request committed"
            );
            respond(accepted.response)
        }
        Err(e) => {
            // Nothing is acknowledged that is not committed: the client retries.
            tracing::error!(kind = source.kind(), instance = source.instance(), error = %e, "push request could not be committed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, HeaderValue::from_static("1"))],
                "the data could not be stored; retry",
            )
                .into_response()
        }
    }
}

fn respond(r: PushResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(r.content_type),
        )],
        r.body,
    )
        .into_response();
    for (name, value) in r.headers {
        match (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().append(name, value);
            }
            _ => {
                tracing::warn!(header = %name, "a push source's response header is not valid HTTP; dropped")
            }
        }
    }
    response
}
