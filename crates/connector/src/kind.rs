//! Declared connector kinds, in the spirit of Vector's `SourceConfig::build(cx)`: each vendor
//! crate declares its kind name, its typed configuration, how it authenticates, the streams it
//! offers (with cursor field, sync modes and delete strategy) and how to build an instance
//! from a context. The binary's registry is a list of [`DynKind`]s; `check-config`,
//! `tributary connectors list` and the conformance kit are generic over it, so adding a vendor
//! adds one line there and no match arm.

use crate::{Auth, Connector, ConnectorContext, ConnectorError, HttpClient, HttpClientConfig};
use crate::{DeleteStrategy, StreamSpec, SyncMode};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::ops::RangeInclusive;

/// What a vendor crate declares about its connector kind.
pub trait ConnectorKind: Send + Sync + 'static {
    /// Its `[connectors.<name>]` settings (every key but the engine's `kind` and
    /// `interval_secs`), `#[serde(deny_unknown_fields)]` with a doc comment on every key.
    type Config: DeserializeOwned + Send;

    /// The `kind = "…"` value in `tributary.toml`.
    const NAME: &'static str;

    /// One line for `tributary connectors list`.
    const SUMMARY: &'static str;

    /// The ways it authenticates, for humans (e.g. "private-app token", "OAuth2 refresh token").
    const AUTH: &'static [&'static str];

    /// Every stream an instance of this kind may offer, in sync order (an instance's
    /// configuration may choose a subset, see [`Connector::streams`]).
    fn streams() -> Vec<StreamSpec>;

    /// The credentials the runtime's HTTP client applies to every request of an instance.
    fn auth(config: &Self::Config, instance: &str) -> Result<Auth, ConnectorError>;

    /// Builds an instance; `cx.http` already carries [`ConnectorKind::auth`].
    fn build(
        config: Self::Config,
        cx: ConnectorContext,
    ) -> Result<Box<dyn Connector>, ConnectorError>;
}

/// A [`ConnectorKind`] behind a vtable, so the binary can hold a list of them.
pub trait DynKind: Send + Sync {
    /// [`ConnectorKind::NAME`].
    fn name(&self) -> &'static str;
    /// [`ConnectorKind::SUMMARY`].
    fn summary(&self) -> &'static str;
    /// [`ConnectorKind::AUTH`].
    fn auth_methods(&self) -> &'static [&'static str];
    /// [`ConnectorKind::streams`].
    fn streams(&self) -> Vec<StreamSpec>;
    /// Decodes `settings` into the kind's configuration (a clear error naming the instance on
    /// an unknown or ill-typed key), builds its HTTP client with `http` and its credentials,
    /// and builds the instance.
    fn build(
        &self,
        instance: &str,
        settings: serde_json::Value,
        http: HttpClientConfig,
    ) -> Result<Box<dyn Connector>, ConnectorError>;
}

/// The [`DynKind`] of `K`: `pub static DECLARATION: Declared<MyKind> = Declared::new();`.
pub struct Declared<K>(PhantomData<fn() -> K>);

impl<K> Declared<K> {
    /// The declaration of `K`.
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<K> Default for Declared<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: ConnectorKind> DynKind for Declared<K> {
    fn name(&self) -> &'static str {
        K::NAME
    }

    fn summary(&self) -> &'static str {
        K::SUMMARY
    }

    fn auth_methods(&self) -> &'static [&'static str] {
        K::AUTH
    }

    fn streams(&self) -> Vec<StreamSpec> {
        K::streams()
    }

    fn build(
        &self,
        instance: &str,
        settings: serde_json::Value,
        http: HttpClientConfig,
    ) -> Result<Box<dyn Connector>, ConnectorError> {
        let config: K::Config =
            serde_json::from_value(settings).map_err(|e| ConnectorError::Config {
                instance: instance.to_owned(),
                message: format!("invalid {} settings: {e}", K::NAME),
            })?;
        let auth = K::auth(&config, instance)?;
        let cx = ConnectorContext {
            instance: instance.to_owned(),
            http: HttpClient::new(http, auth)?,
        };
        K::build(config, cx)
    }
}

/// Checks a configured `endpoint`: an http(s) URL with a host. Every connector has one and
/// defaults it to the vendor's URL (STYLE §2); the message names the value.
pub fn check_endpoint(endpoint: &str) -> Result<(), String> {
    match reqwest::Url::parse(endpoint) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(_) => Err(format!(
            "endpoint `{endpoint}` must be an http(s) URL with a host"
        )),
        Err(e) => Err(format!("endpoint `{endpoint}` is not a URL: {e}")),
    }
}

/// Checks a configured count against the `range` the vendor (or the connector) accepts; the
/// message names `key`: `page_size must be between 1 and 100, got 0`, or `… must be at least
/// 1` when the range has no upper bound (`1..=u64::MAX`).
pub fn check_range(key: &str, value: u64, range: RangeInclusive<u64>) -> Result<(), String> {
    match (range.contains(&value), *range.end()) {
        (true, _) => Ok(()),
        (false, u64::MAX) => Err(format!("{key} must be at least {}", range.start())),
        (false, end) => Err(format!(
            "{key} must be between {} and {end}, got {value}",
            range.start()
        )),
    }
}

/// The kind called `name` among `kinds`, or a config error listing the known ones.
pub fn find_kind<'k>(
    kinds: &[&'k dyn DynKind],
    instance: &str,
    name: &str,
) -> Result<&'k dyn DynKind, ConnectorError> {
    kinds
        .iter()
        .copied()
        .find(|k| k.name() == name)
        .ok_or_else(|| ConnectorError::Config {
            instance: instance.to_owned(),
            message: format!(
                "unknown kind `{name}` (known: {})",
                kinds
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// One line per stream of `kind` for `tributary connectors list`: name, entity, cursor
/// field, sync modes and delete strategy, aligned in columns.
pub fn describe_streams(kind: &dyn DynKind) -> Vec<String> {
    describe_specs(&kind.streams())
}

/// [`describe_streams`] of given streams (an instance's, which its configuration may narrow).
pub fn describe_specs(streams: &[StreamSpec]) -> Vec<String> {
    streams
        .iter()
        .map(|s| {
            let modes: Vec<&str> = s.modes.iter().map(|m| SyncMode::as_str(*m)).collect();
            format!(
                "{:<22} {:<14} cursor={:<22} modes={:<26} deletes={}",
                s.name,
                s.entity.as_str(),
                s.cursor_field.as_deref().unwrap_or("-"),
                modes.join(","),
                DeleteStrategy::as_str(s.delete_strategy),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_out_of_range_name_their_key_and_the_range() {
        assert_eq!(check_range("page_size", 100, 1..=100), Ok(()));
        assert_eq!(
            check_range("page_size", 0, 1..=100),
            Err("page_size must be between 1 and 100, got 0".to_owned())
        );
        assert_eq!(
            check_range("batch_size", 2001, 200..=2000),
            Err("batch_size must be between 200 and 2000, got 2001".to_owned())
        );
        assert_eq!(check_range("bulk_timeout_secs", 9, 1..=u64::MAX), Ok(()));
        assert_eq!(
            check_range("bulk_timeout_secs", 0, 1..=u64::MAX),
            Err("bulk_timeout_secs must be at least 1".to_owned())
        );
    }
}
