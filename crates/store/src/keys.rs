//! API keys (SPEC §10): the credentials of GraphQL clients and of push sources, one table,
//! `api_keys`.
//!
//! A key is 256 bits from the operating system's CSPRNG (through `rand`'s thread generator,
//! reseeded from the OS), written `trb_` + base64url. It is shown once, when it is created;
//! the table keeps only its SHA-256 ([`KeyHash`]) and a short, non-secret display prefix. A
//! fast hash is enough for a key of this entropy (no dictionary to try), and it lets a request
//! be checked with one indexed lookup. A key is either a GraphQL key with a [`Role`] or a push
//! credential scoped to one push source ([`KeyScope::Push`]), usable only at that source's
//! endpoint.
//!
//! Revoking marks the row (`revoked_at`); a revoked key never verifies again. Callers that
//! cache verified keys compare [`Store::api_keys_generation`], which every revocation through
//! this store (and its clones) bumps, so a revocation in the same process takes effect at once.

use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Order, Query};
use sea_orm::{ConnectionTrait, ExprTrait, QueryResult};
use sha2::{Digest, Sha256};
use std::sync::atomic::Ordering;
use uuid::Uuid;

/// What a GraphQL key may read (SPEC §10). Fields the role may not read are refused with
/// `FORBIDDEN`; see the README's roles table.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Accounts, subscriptions' plans and dates, sync status; no revenue, no personal data.
    Viewer,
    /// Customer success: a viewer plus personal data (people's names and emails, raw payloads).
    Cs,
    /// Customer education: the same reads as `cs`.
    Ce,
    /// A viewer plus revenue (ARR, subscription amounts, the ledger and the bridge).
    Finance,
    /// Everything, and the mutations (`triggerSync`).
    Admin,
}

impl Role {
    /// Every role, least to most privileged.
    pub const ALL: [Role; 5] = [Role::Viewer, Role::Cs, Role::Ce, Role::Finance, Role::Admin];

    /// The role's name as written in `tributary.toml`, the CLI and the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Cs => "cs",
            Role::Ce => "ce",
            Role::Finance => "finance",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`: use viewer, cs, ce, finance or admin"))
    }
}

/// Where a key may be used.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyScope {
    /// GraphQL, with this role.
    Graphql(Role),
    /// Only the ingest endpoint of this push source (its instance name in `tributary.toml`);
    /// never GraphQL.
    Push {
        /// The push source's instance name.
        source: String,
    },
}

/// The `role` column of a push credential.
const PUSH_ROLE: &str = "push";

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Our id of the key.
    pub id: Uuid,
    /// Its name, unique among keys not revoked (`bi-prod`).
    pub name: String,
    /// Where it may be used.
    pub scope: KeyScope,
    /// The first characters of the key (`trb_AbCdEfGh`), enough to recognise it, far too few
    /// to use it.
    pub prefix: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last verified (updated at most once a minute), if ever.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A key's secret: shown once, never stored, never logged (its `Debug` is redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// The key as the client sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKeySecret(…)")
    }
}

/// A key just created: the stored row and the secret, which exists nowhere else.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The stored key.
    pub key: ApiKey,
    /// The secret, to hand to the client once.
    pub secret: ApiKeySecret,
}

/// The text every key starts with.
pub const KEY_PREFIX: &str = "trb_";

/// Characters of the key kept as its display prefix (`trb_` and 8 more: 48 of 256 bits).
const DISPLAY_PREFIX_CHARS: usize = KEY_PREFIX.len() + 8;

/// The SHA-256 of a key: what the table stores and what lookups and caches use.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// The hash of `secret` as the client sent it.
    pub fn of(secret: &str) -> Self {
        KeyHash(Sha256::digest(secret.as_bytes()).into())
    }

    fn hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
        }
        s
    }
}

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A hash is not the key, but there is no reason to print it either.
        f.write_str("KeyHash(…)")
    }
}

/// Whether `secret` has the shape of one of our keys: `trb_` and 43 base64url characters.
/// Anything else cannot verify, so it is refused without a database round trip.
pub fn looks_like_key(secret: &str) -> bool {
    secret.strip_prefix(KEY_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// A fresh key: 32 bytes from the CSPRNG in unpadded base64url.
fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let mut s = String::with_capacity(KEY_PREFIX.len() + 43);
    s.push_str(KEY_PREFIX);
    s.push_str(&base64url(&bytes));
    s
}

/// Unpadded base64url (RFC 4648 §5).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

const COLUMNS: [&str; 8] = [
    "id",
    "name",
    "role",
    "source",
    "prefix",
    "created_at",
    "revoked_at",
    "last_used_at",
];

fn decode(row: &QueryResult) -> Result<ApiKey, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt {
        table: "api_keys",
        message,
    };
    let role: String = row.try_get("", "role")?;
    let source: Option<String> = row.try_get("", "source")?;
    let scope = match (role.as_str(), source) {
        (PUSH_ROLE, Some(source)) => KeyScope::Push { source },
        (PUSH_ROLE, None) => return Err(corrupt("a push key without a source".to_owned())),
        (role, _) => KeyScope::Graphql(role.parse().map_err(corrupt)?),
    };
    Ok(ApiKey {
        id: row.try_get("", "id")?,
        name: row.try_get("", "name")?,
        scope,
        prefix: row.try_get("", "prefix")?,
        created_at: row.try_get("", "created_at")?,
        revoked_at: row.try_get("", "revoked_at")?,
        last_used_at: row.try_get("", "last_used_at")?,
    })
}

/// How often `last_used_at` is written for a key in use.
const LAST_USED_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

impl Store {
    /// Creates a key named `name` for `scope` and returns it with its secret, which is not
    /// stored and cannot be recovered. Fails with [`StoreError::Invalid`] when the name is
    /// empty or another key not revoked has it.
    pub async fn create_api_key(
        &self,
        name: &str,
        scope: KeyScope,
    ) -> Result<NewApiKey, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(StoreError::Invalid(
                "a key needs a name without control characters".to_owned(),
            ));
        }
        if let KeyScope::Push { source } = &scope
            && source.trim().is_empty()
        {
            return Err(StoreError::Invalid(
                "a push key needs the name of its push source".to_owned(),
            ));
        }
        let txn = self.begin_write().await?;
        let taken = Query::select()
            .column("id")
            .from("api_keys")
            .and_where(Expr::col("name").eq(name))
            .and_where(Expr::col("revoked_at").is_null())
            .to_owned();
        if txn.query_one(&taken).await?.is_some() {
            txn.rollback().await?;
            return Err(StoreError::Invalid(format!(
                "a key named `{name}` exists; revoke it first or choose another name"
            )));
        }
        let secret = generate_secret();
        let (role, source) = match &scope {
            KeyScope::Graphql(role) => (role.as_str(), None),
            KeyScope::Push { source } => (PUSH_ROLE, Some(source.clone())),
        };
        let key = ApiKey {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            scope: scope.clone(),
            prefix: secret[..DISPLAY_PREFIX_CHARS].to_owned(),
            // Microseconds, as both databases keep them, so the returned row equals the stored.
            created_at: DateTime::from_timestamp_micros(Utc::now().timestamp_micros())
                .unwrap_or_else(Utc::now),
            revoked_at: None,
            last_used_at: None,
        };
        let insert = Query::insert()
            .into_table("api_keys")
            .columns([
                "id",
                "name",
                "role",
                "source",
                "prefix",
                "key_hash",
                "created_at",
            ])
            .values_panic([
                key.id.into(),
                key.name.clone().into(),
                role.into(),
                source.into(),
                key.prefix.clone().into(),
                KeyHash::of(&secret).hex().into(),
                key.created_at.into(),
            ])
            .to_owned();
        txn.execute(&insert).await?;
        txn.commit().await?;
        Ok(NewApiKey {
            key,
            secret: ApiKeySecret(secret),
        })
    }

    /// Every key, revoked ones included, oldest first.
    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let q = Query::select()
            .columns(COLUMNS)
            .from("api_keys")
            .order_by("created_at", Order::Asc)
            .order_by("id", Order::Asc)
            .to_owned();
        self.db().query_all(&q).await?.iter().map(decode).collect()
    }

    /// Revokes the key whose id is `name_or_id`, or else the key not yet revoked named
    /// `name_or_id`; returns it as revoked, or `None` when no live key matches.
    pub async fn revoke_api_key(&self, name_or_id: &str) -> Result<Option<ApiKey>, StoreError> {
        let which = match Uuid::parse_str(name_or_id.trim()) {
            Ok(id) => Expr::col("id").eq(id),
            Err(_) => Expr::col("name").eq(name_or_id.trim()),
        };
        let now = Utc::now();
        let txn = self.begin_write().await?;
        let select = Query::select()
            .columns(COLUMNS)
            .from("api_keys")
            .and_where(which)
            .and_where(Expr::col("revoked_at").is_null())
            .to_owned();
        let Some(row) = txn.query_one(&select).await? else {
            txn.rollback().await?;
            return Ok(None);
        };
        let mut key = decode(&row)?;
        let update = Query::update()
            .table("api_keys")
            .value("revoked_at", now)
            .and_where(Expr::col("id").eq(key.id))
            .to_owned();
        txn.execute(&update).await?;
        txn.commit().await?;
        self.keys_generation.fetch_add(1, Ordering::AcqRel);
        key.revoked_at = Some(now);
        Ok(Some(key))
    }

    /// The live (not revoked) key with this hash, or `None`. Records the use in
    /// `last_used_at`, at most once a minute per key.
    pub async fn verify_api_key(&self, hash: &KeyHash) -> Result<Option<ApiKey>, StoreError> {
        let q = Query::select()
            .columns(COLUMNS)
            .from("api_keys")
            .and_where(Expr::col("key_hash").eq(hash.hex()))
            .and_where(Expr::col("revoked_at").is_null())
            .to_owned();
        let Some(row) = self.db().query_one(&q).await? else {
            return Ok(None);
        };
        let mut key = decode(&row)?;
        let now = Utc::now();
        if key
            .last_used_at
            .is_none_or(|t| now - t >= LAST_USED_RESOLUTION)
        {
            let touch = Query::update()
                .table("api_keys")
                .value("last_used_at", now)
                .and_where(Expr::col("id").eq(key.id))
                .to_owned();
            // Bookkeeping only: a key that verified is not refused because this write failed
            // (a busy SQLite writer, say).
            match self.db().execute(&touch).await {
                Ok(_) => key.last_used_at = Some(now),
                Err(e) => tracing::debug!(error = %e, "could not record a key's last use"),
            }
        }
        Ok(Some(key))
    }

    /// A counter bumped by every revocation through this store or its clones: a cache of
    /// verified keys stamped with it is stale once it changed.
    pub fn api_keys_generation(&self) -> u64 {
        self.keys_generation.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::for_each_backend;

    #[test]
    fn keys_have_256_bits_in_base64url_and_look_like_keys() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 43);
        assert!(looks_like_key(&a), "{a}");
        assert!(!looks_like_key("trb_short"));
        assert!(!looks_like_key(&a.replace("trb_", "xyz_")));
        assert!(!looks_like_key(&format!("{a}=")));
    }

    #[test]
    fn base64url_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(input.as_bytes()), expected);
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("Admin".parse::<Role>().is_err());
        assert!("push".parse::<Role>().is_err());
    }

    #[tokio::test]
    async fn keys_are_stored_hashed_verified_listed_and_revoked() {
        for_each_backend(|store| async move {
            let new = store
                .create_api_key("bi-prod", KeyScope::Graphql(Role::Finance))
                .await
                .unwrap();
            let secret = new.secret.expose().to_owned();
            assert!(secret.starts_with(&new.key.prefix));
            // The secret is nowhere in the table; its hash is.
            let rows = store
                .db()
                .query_all_raw(sea_orm::Statement::from_string(
                    store.backend(),
                    "SELECT name, role, prefix, key_hash FROM api_keys",
                ))
                .await
                .unwrap();
            assert_eq!(rows.len(), 1);
            for col in ["name", "role", "prefix", "key_hash"] {
                let value: String = rows[0].try_get("", col).unwrap();
                assert!(
                    !value.contains(&secret[DISPLAY_PREFIX_CHARS..]),
                    "{col} holds the key"
                );
            }
            let stored: String = rows[0].try_get("", "key_hash").unwrap();
            assert_eq!(stored, KeyHash::of(&secret).hex());

            let verified = store
                .verify_api_key(&KeyHash::of(&secret))
                .await
                .unwrap()
                .expect("the key verifies");
            assert_eq!(verified.id, new.key.id);
            assert_eq!(verified.scope, KeyScope::Graphql(Role::Finance));
            assert!(verified.last_used_at.is_some());
            assert!(
                store
                    .verify_api_key(&KeyHash::of(&generate_secret()))
                    .await
                    .unwrap()
                    .is_none()
            );

            // Names are unique among live keys.
            let err = store
                .create_api_key("bi-prod", KeyScope::Graphql(Role::Viewer))
                .await
                .unwrap_err();
            assert!(err.to_string().contains("bi-prod"), "{err}");

            let push = store
                .create_api_key(
                    "web",
                    KeyScope::Push {
                        source: "segment".to_owned(),
                    },
                )
                .await
                .unwrap();
            let listed = store.api_keys().await.unwrap();
            assert_eq!(listed.len(), 2);
            assert_eq!(listed[0].name, "bi-prod");
            assert_eq!(
                listed[1].scope,
                KeyScope::Push {
                    source: "segment".to_owned()
                }
            );

            let generation = store.api_keys_generation();
            let revoked = store.revoke_api_key("bi-prod").await.unwrap().unwrap();
            assert!(revoked.revoked_at.is_some());
            assert!(store.api_keys_generation() > generation);
            assert!(
                store
                    .verify_api_key(&KeyHash::of(&secret))
                    .await
                    .unwrap()
                    .is_none(),
                "a revoked key does not verify"
            );
            assert!(store.revoke_api_key("bi-prod").await.unwrap().is_none());
            // By id, and the name is free again once revoked.
            let by_id = store
                .revoke_api_key(&push.key.id.to_string())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(by_id.name, "web");
            store
                .create_api_key("bi-prod", KeyScope::Graphql(Role::Viewer))
                .await
                .unwrap();
            assert_eq!(store.api_keys().await.unwrap().len(), 3);
        })
        .await;
    }
}
