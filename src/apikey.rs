//! `tributary apikey create|list|revoke`: the API keys of GraphQL clients and the credentials
//! of push sources, in the database the configuration names. A key is printed once, when it is
//! created; the database keeps only its hash.

use anyhow::{Context, Result, bail};
use tributary_store::{ApiKey, KeyScope, Role, Store};

/// What `apikey create` makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewKey {
    /// A GraphQL key with this role.
    Role(Role),
    /// A credential of this push source (its instance name).
    Push(String),
}

/// Creates a key named `name` and returns what to print: its id, name, scope and the key.
pub async fn create(store: &Store, name: &str, kind: NewKey) -> Result<String> {
    let scope = match kind {
        NewKey::Role(role) => KeyScope::Graphql(role),
        NewKey::Push(source) => KeyScope::Push { source },
    };
    let new = store
        .create_api_key(name, scope)
        .await
        .with_context(|| format!("cannot create key `{name}`"))?;
    Ok(format!(
        "id: {}\nname: {}\nscope: {}\napi key: {}\nthe key is shown this once; only its hash is stored\n",
        new.key.id,
        new.key.name,
        scope_text(&new.key.scope),
        new.secret.expose(),
    ))
}

/// Every key, a line each, without secrets: id, name, scope, prefix, created, last used,
/// revoked.
pub async fn list(store: &Store) -> Result<String> {
    let keys = store.api_keys().await?;
    if keys.is_empty() {
        return Ok("no API keys; create one with `tributary apikey create`\n".to_owned());
    }
    let rows: Vec<[String; 7]> = keys.iter().map(row).collect();
    let header = [
        "ID",
        "NAME",
        "SCOPE",
        "PREFIX",
        "CREATED",
        "LAST USED",
        "REVOKED",
    ]
    .map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    Ok(out)
}

fn row(k: &ApiKey) -> [String; 7] {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("-".to_owned(), |t| {
            t.format("%Y-%m-%d %H:%M:%SZ").to_string()
        })
    };
    [
        k.id.to_string(),
        k.name.clone(),
        scope_text(&k.scope),
        format!("{}…", k.prefix),
        time(Some(k.created_at)),
        time(k.last_used_at),
        time(k.revoked_at),
    ]
}

fn scope_text(scope: &KeyScope) -> String {
    match scope {
        KeyScope::Graphql(role) => role.to_string(),
        KeyScope::Push { source } => format!("push:{source}"),
    }
}

/// Revokes the live key with this id or name.
pub async fn revoke(store: &Store, name_or_id: &str) -> Result<String> {
    match store.revoke_api_key(name_or_id).await? {
        Some(k) => Ok(format!(
            "revoked key `{}` ({}, {}); replicas that cached it refuse it within `gateway.auth.cache_ttl_secs`\n",
            k.name,
            k.id,
            scope_text(&k.scope)
        )),
        None => bail!("no live API key with id or name `{name_or_id}`"),
    }
}
