//! The gateway's switches: introspection, GraphiQL and CORS (`[gateway]` in `tributary.toml`).
//!
//! - Introspection off: a document asking for `__schema` or `__type` anywhere in the selected
//!   operation (fragments included) is refused with `INTROSPECTION_DISABLED` before it runs,
//!   and the schema is built with async-graphql's introspection disabled besides.
//!   `__typename` stays allowed: clients need it to read unions.
//! - GraphiQL off: `/` and its assets answer 404.
//! - CORS: no headers at all unless origins are configured (browsers then refuse
//!   cross-origin calls); `"*"` admits any origin.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// Whether `set` (of an operation of `doc`) selects `__schema` or `__type` at any depth.
/// Each fragment is walked once, so a document of nested spreads costs its own size.
pub(crate) fn asks_introspection(doc: &ExecutableDocument, set: &SelectionSet) -> bool {
    fn walk<'d>(
        doc: &'d ExecutableDocument,
        set: &'d SelectionSet,
        seen: &mut Vec<&'d str>,
    ) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(f) => {
                matches!(f.node.name.node.as_str(), "__schema" | "__type")
                    || walk(doc, &f.node.selection_set.node, seen)
            }
            Selection::InlineFragment(f) => walk(doc, &f.node.selection_set.node, seen),
            Selection::FragmentSpread(s) => {
                let name = s.node.fragment_name.node.as_str();
                if seen.contains(&name) {
                    return false;
                }
                seen.push(name);
                doc.fragments
                    .get(name)
                    .is_some_and(|f| walk(doc, &f.node.selection_set.node, seen))
            }
        })
    }
    walk(doc, set, &mut Vec::new())
}

/// The CORS layer for `origins`; `None` when there are none (no CORS headers are sent).
/// Origins that are not valid header values are skipped (`check-config` names them).
pub(crate) fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            // The client's own headers (content type, an API key …) are echoed back.
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers([HeaderName::from_static("x-request-id")])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str, expected: bool) {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        let (_, op) = doc.operations.iter().next().unwrap();
        assert_eq!(
            asks_introspection(&doc, &op.node.selection_set.node),
            expected,
            "{query}"
        );
    }

    #[test]
    fn introspection_is_found_at_any_depth() {
        check("{ __typename }", false);
        check("{ __schema { types { name } } }", true);
        check("{ a { b { __type(name: \"X\") { name } } } }", true);
        check("{ ... on Query { __schema { queryType { name } } } }", true);
        check(
            "{ ...F } fragment F on Query { a { ...G } } fragment G on A { __type(name: \"Q\") { name } }",
            true,
        );
        check("{ ...F } fragment F on Query { ...F a }", false);
    }
}
