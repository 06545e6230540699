//! Persisted queries: Apollo's Automatic Persisted Queries protocol and an allow-list mode.
//!
//! A client sends `extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}` (in the
//! POST body, or as the JSON `extensions` parameter of a GET), with or without the query text:
//!
//! - [`PersistedQueryMode::Automatic`]: a hash alone runs the query this replica cached under
//!   it (or the manifest's, when one is configured), else fails with
//!   `PERSISTED_QUERY_NOT_FOUND`, upon which the client resends hash and text; the text is then
//!   checked against the hash (`PERSISTED_QUERY_HASH_MISMATCH`) and cached. The cache is per
//!   replica (SPEC §14: nothing shared, a miss only costs one round trip), an LRU bounded by
//!   the bytes of query text it holds.
//! - [`PersistedQueryMode::AllowList`]: only the operations of the manifest run. A hash must
//!   name one of them; a text must be, byte for byte, one of their bodies. Anything else is
//!   refused with `PERSISTED_QUERY_NOT_ALLOWED` before it is parsed, so an attacker's document
//!   never reaches the parser or the validator.
//! - [`PersistedQueryMode::Off`]: a request carrying `persistedQuery` fails with
//!   `PERSISTED_QUERY_NOT_SUPPORTED` (Apollo clients then fall back to sending the text).
//!
//! The manifest is Apollo's `persisted-query-manifest` JSON (what
//! `@apollo/generate-persisted-query-manifest` writes):
//! `{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": "<sha256 of
//! body>", "name": "…", "type": "query", "body": "…"}]}`. An operation is found by the SHA-256
//! of its body (which is the `id` that tool writes); the `id` itself is not used.

use crate::error::code;
use lru::LruCache;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Which persisted-query protocol the gateway speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersistedQueryMode {
    /// No persisted queries: requests carry their text.
    Off,
    /// Apollo's Automatic Persisted Queries; any query may run.
    #[default]
    Automatic,
    /// Only the operations of the manifest run.
    AllowList,
}

/// Persisted-query settings of the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistedQueries {
    /// The protocol.
    pub mode: PersistedQueryMode,
    /// Most bytes of query text the automatic cache holds per replica; the least recently
    /// used queries are dropped past it.
    pub cache_bytes: usize,
    /// The known operations: the allow-list, and in automatic mode queries found without a
    /// first round trip.
    pub manifest: Arc<Manifest>,
}

impl Default for PersistedQueries {
    fn default() -> Self {
        PersistedQueries {
            mode: PersistedQueryMode::default(),
            cache_bytes: 16 * 1024 * 1024,
            manifest: Arc::default(),
        }
    }
}

/// Operations known in advance, from an Apollo persisted-query manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Body by the lower-case hex SHA-256 of the body.
    by_hash: HashMap<String, Arc<str>>,
    operations: usize,
}

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON of the manifest's shape.
    #[error("the persisted-query manifest does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    /// Another format or version.
    #[error(
        "the persisted-query manifest has format `{format}` version {version}; expected `apollo-persisted-query-manifest` version 1"
    )]
    Format {
        /// The `format` it declares.
        format: String,
        /// The `version` it declares.
        version: u64,
    },
}

#[derive(Deserialize)]
struct ManifestFile {
    format: String,
    version: u64,
    operations: Vec<ManifestOperation>,
}

#[derive(Deserialize)]
struct ManifestOperation {
    body: String,
}

/// The lower-case hex SHA-256 of `text`, as APQ hashes a query.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Manifest {
    /// Reads an Apollo persisted-query manifest.
    pub fn parse(json: &str) -> Result<Manifest, ManifestError> {
        let file: ManifestFile = serde_json::from_str(json)?;
        if file.format != "apollo-persisted-query-manifest" || file.version != 1 {
            return Err(ManifestError::Format {
                format: file.format,
                version: file.version,
            });
        }
        let by_hash: HashMap<String, Arc<str>> = file
            .operations
            .into_iter()
            .map(|op| (sha256_hex(&op.body), op.body.into()))
            .collect();
        Ok(Manifest {
            operations: by_hash.len(),
            by_hash,
        })
    }

    /// How many distinct operations it lists.
    pub fn len(&self) -> usize {
        self.operations
    }

    /// Whether it lists none.
    pub fn is_empty(&self) -> bool {
        self.operations == 0
    }

    fn get(&self, hash: &str) -> Option<&Arc<str>> {
        self.by_hash.get(hash)
    }
}

/// A refusal: the `extensions.code` and the message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

/// The per-replica persisted-query state.
#[derive(Debug)]
pub(crate) struct Apq {
    config: PersistedQueries,
    cache: Mutex<Cache>,
}

#[derive(Debug)]
struct Cache {
    lru: LruCache<String, Arc<str>>,
    bytes: usize,
}

/// The `persistedQuery` extension of a request: its hash, once checked.
fn requested_hash(
    extensions: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<Option<String>, Refusal> {
    let Some(pq) = extensions.and_then(|e| e.get("persistedQuery")) else {
        return Ok(None);
    };
    let bad = |m: &str| refuse(code::BAD_REQUEST, m);
    let pq = pq
        .as_object()
        .ok_or_else(|| bad("`extensions.persistedQuery` must be an object"))?;
    if pq.get("version").and_then(serde_json::Value::as_u64) != Some(1) {
        return Err(bad("`extensions.persistedQuery.version` must be 1"));
    }
    let hash = pq
        .get("sha256Hash")
        .and_then(serde_json::Value::as_str)
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| bad("`extensions.persistedQuery.sha256Hash` must be 64 hex digits"))?;
    Ok(Some(hash.to_ascii_lowercase()))
}

/// Whether the request's extensions carry a `persistedQuery` (then the text may be absent).
pub(crate) fn has_persisted_query(
    extensions: Option<&serde_json::Map<String, serde_json::Value>>,
) -> bool {
    extensions.is_some_and(|e| e.contains_key("persistedQuery"))
}

impl Apq {
    pub(crate) fn new(config: PersistedQueries) -> Self {
        Apq {
            config,
            cache: Mutex::new(Cache {
                lru: LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }

    /// The query text to run, from the request's text and extensions.
    pub(crate) fn resolve(
        &self,
        query: Option<String>,
        extensions: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<String, Refusal> {
        let no_query = || refuse(code::BAD_REQUEST, "the request has no `query`");
        let hash = match self.config.mode {
            PersistedQueryMode::Off if has_persisted_query(extensions) => {
                return Err(refuse(
                    code::PERSISTED_QUERY_NOT_SUPPORTED,
                    "persisted queries are not enabled on this server; send the query text",
                ));
            }
            PersistedQueryMode::Off => return query.ok_or_else(no_query),
            _ => requested_hash(extensions)?,
        };
        if let (Some(hash), Some(text)) = (&hash, &query)
            && sha256_hex(text) != *hash
        {
            return Err(refuse(
                code::PERSISTED_QUERY_HASH_MISMATCH,
                "`extensions.persistedQuery.sha256Hash` is not the SHA-256 of the query",
            ));
        }
        let manifest = &self.config.manifest;
        if self.config.mode == PersistedQueryMode::AllowList {
            let key = match (&hash, &query) {
                (Some(hash), _) => hash.clone(),
                (None, Some(text)) => sha256_hex(text),
                (None, None) => return Err(no_query()),
            };
            return match manifest.get(&key) {
                Some(body) => Ok(query.unwrap_or_else(|| body.to_string())),
                None => Err(refuse(
                    code::PERSISTED_QUERY_NOT_ALLOWED,
                    "this server runs only the operations on its allow-list",
                )),
            };
        }
        match (hash, query) {
            (None, Some(text)) => Ok(text),
            (None, None) => Err(no_query()),
            (Some(hash), Some(text)) => {
                self.remember(hash, &text);
                Ok(text)
            }
            (Some(hash), None) => {
                if let Some(body) = manifest.get(&hash) {
                    return Ok(body.to_string());
                }
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                match cache.lru.get(&hash) {
                    Some(body) => Ok(body.to_string()),
                    None => Err(refuse(
                        code::PERSISTED_QUERY_NOT_FOUND,
                        "PersistedQueryNotFound",
                    )),
                }
            }
        }
    }

    /// Caches `text` under `hash`, dropping the least recently used past the byte budget.
    fn remember(&self, hash: String, text: &str) {
        let size = text.len();
        if size > self.config.cache_bytes {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.lru.contains(&hash) {
            cache.lru.promote(&hash);
            return;
        }
        cache.bytes += size;
        cache.lru.put(hash, text.into());
        while cache.bytes > self.config.cache_bytes {
            match cache.lru.pop_lru() {
                Some((_, old)) => cache.bytes -= old.len(),
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ext(hash: &str) -> serde_json::Map<String, serde_json::Value> {
        json!({"persistedQuery": {"version": 1, "sha256Hash": hash}})
            .as_object()
            .unwrap()
            .clone()
    }

    fn apq(mode: PersistedQueryMode, cache_bytes: usize, manifest: Manifest) -> Apq {
        Apq::new(PersistedQueries {
            mode,
            cache_bytes,
            manifest: Arc::new(manifest),
        })
    }

    #[test]
    fn the_hash_is_apollos() {
        // The example of Apollo's APQ documentation.
        assert_eq!(
            sha256_hex("{__typename}"),
            "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"
        );
    }

    #[test]
    fn the_cache_is_bounded_by_bytes_and_least_recently_used_goes_first() {
        let a = apq(PersistedQueryMode::Automatic, 12, Manifest::default());
        let (q1, q2, q3) = ("{ aaaa }", "{ bb }", "{ c }");
        for q in [q1, q2] {
            a.resolve(Some(q.into()), Some(&ext(&sha256_hex(q))))
                .unwrap();
        }
        // 8 + 6 > 12: q1 went; 6 + 5 fit.
        let found = |q: &str| a.resolve(None, Some(&ext(&sha256_hex(q)))).is_ok();
        assert!(!found(q1));
        assert!(found(q2));
        a.resolve(Some(q3.into()), Some(&ext(&sha256_hex(q3))))
            .unwrap();
        assert!(found(q2) && found(q3));
        // A query larger than the whole cache is run but not kept.
        let big = "{ xxxxxxxxxxxxxxxx }";
        a.resolve(Some(big.into()), Some(&ext(&sha256_hex(big))))
            .unwrap();
        assert!(!found(big) && found(q3));
    }

    #[test]
    fn manifests_are_checked() {
        let body = "query Q { __typename }";
        let ok = json!({"format": "apollo-persisted-query-manifest", "version": 1,
            "operations": [{"id": "q1", "name": "Q", "type": "query", "body": body}]});
        let m = Manifest::parse(&ok.to_string()).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m.get("q1"), None);
        assert_eq!(m.get(&sha256_hex(body)).map(|b| &**b), Some(body));
        let wrong = json!({"format": "other", "version": 1, "operations": []});
        assert!(matches!(
            Manifest::parse(&wrong.to_string()),
            Err(ManifestError::Format { .. })
        ));
        assert!(Manifest::parse("[").is_err());
    }
}
