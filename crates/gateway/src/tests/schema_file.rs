//! `schema.graphql` at the repository root is the SDL of [`crate::sdl`] (STYLE §6.6).

use std::path::PathBuf;

#[test]
fn schema_graphql_is_fresh() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema.graphql");
    let sdl = crate::sdl();
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk == sdl {
        return;
    }
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, &sdl).expect("write schema.graphql");
        eprintln!("rewrote {}", path.display());
        return;
    }
    let first_difference = on_disk
        .lines()
        .zip(sdl.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| on_disk.lines().count().min(sdl.lines().count()));
    panic!(
        "{} is stale: it differs from the gateway's schema from line {}.\n\
         Regenerate it with `UPDATE_SCHEMA=1 cargo test -p tributary-gateway schema_graphql_is_fresh` \
         (or `tributary schema > schema.graphql`) and commit the result.",
        path.display(),
        first_difference + 1
    );
}

#[test]
fn sdl_describes_the_api() {
    let sdl = crate::sdl();
    for needle in [
        "type Query",
        "accounts(first: Int = 20, after: String, filter: AccountFilter): AccountConnection!",
        "account(id: ID!): Account",
        "scalar Decimal",
        "scalar DateTime",
        "type Money",
        "enum Segment",
        "MID_MARKET",
        "totalCount: Int!",
    ] {
        assert!(sdl.contains(needle), "SDL lacks `{needle}`:\n{sdl}");
    }
}
