//! GraphiQL works with no network: the page references only files the binary serves.

use super::*;
use crate::graphiql::ASSETS;

/// Every `src="…"` and `href="…"` (or single-quoted) attribute value in `html`.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["src=", "href="] {
        let mut rest = html;
        while let Some(at) = rest.find(attr) {
            rest = &rest[at + attr.len()..];
            let quote = rest.chars().next().expect("an attribute has a value");
            assert!(
                quote == '"' || quote == '\'',
                "unquoted attribute value in the page: {attr}{}",
                &rest[..rest.len().min(40)]
            );
            let end = rest[1..].find(quote).expect("the quote closes");
            found.push(rest[1..=end].to_owned());
            rest = &rest[end + 2..];
        }
    }
    found
}

/// The path `reference` resolves to from a page at `page_path` (no query, no fragment).
fn resolve(page_path: &str, reference: &str) -> String {
    if reference.starts_with('/') {
        return reference.to_owned();
    }
    let dir = &page_path[..=page_path.rfind('/').expect("a path starts with /")];
    format!("{dir}{reference}")
}

#[test]
fn references_finds_both_attributes_and_quotes() {
    let html = r#"<link href="a/b.css"><script src='c.js'></script><img src="d.png">"#;
    assert_eq!(references(html), ["c.js", "d.png", "a/b.css"]);
    assert_eq!(resolve("/", "a.js"), "/a.js");
    assert_eq!(resolve("/graphql", "a.js"), "/a.js");
    assert_eq!(resolve("/x/", "a.js"), "/x/a.js");
}

#[tokio::test]
async fn graphiql_page_loads_only_what_the_binary_serves() {
    for_each_backend(|store| async move {
        let app = router(&store);
        for page in ["/", "/graphql"] {
            let reply = get(&app, page, "text/html,application/xhtml+xml,*/*;q=0.8").await;
            assert_eq!(reply.status, StatusCode::OK, "{page}");
            assert!(reply.content_type().starts_with("text/html"), "{page}");
            let html = reply.text();
            let refs = references(&html);
            // The page loads each embedded asset, and nothing else.
            assert_eq!(refs.len(), ASSETS.len(), "{page}: {refs:?}");
            for reference in &refs {
                assert!(
                    !reference.contains("://") && !reference.starts_with("//"),
                    "{page} references `{reference}`, which is not served by the binary"
                );
                let path = resolve(page, reference);
                let asset = ASSETS
                    .iter()
                    .find(|a| path == format!("/assets/{}", a.path))
                    .unwrap_or_else(|| panic!("{page}: `{reference}` is no embedded asset"));
                let reply = get(&app, &path, "*/*").await;
                assert_eq!(reply.status, StatusCode::OK, "{path}");
                assert_eq!(reply.content_type(), asset.content_type, "{path}");
                assert_eq!(reply.bytes.len(), asset.bytes.len(), "{path}");
                assert_eq!(
                    reply.headers[header::CACHE_CONTROL],
                    "public, max-age=31536000, immutable",
                    "{path}"
                );
            }
            // No script or stylesheet is pulled in any other way either.
            assert!(
                !html.contains("http://") && !html.contains("https://"),
                "{page}"
            );
            assert!(!html.contains("import("), "{page}");
            // The fetcher targets the endpoint next to the page.
            assert!(
                html.contains(r#"new URL("graphql", document.baseURI)"#),
                "{page}"
            );
        }
        let missing = get(&app, "/assets/graphiql-3.8.3/nope.js", "*/*").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[test]
fn the_stylesheet_loads_fonts_and_images_inline() {
    let css = ASSETS
        .iter()
        .find(|a| a.content_type.starts_with("text/css"))
        .expect("a stylesheet");
    let css = std::str::from_utf8(css.bytes).expect("the stylesheet is UTF-8");
    let mut urls = 0;
    for (at, _) in css.match_indices("url(") {
        let value = css[at + 4..].trim_start_matches(['"', '\'']);
        assert!(
            value.starts_with("data:"),
            "the stylesheet fetches {}",
            &value[..value.len().min(60)]
        );
        urls += 1;
    }
    assert!(urls > 0, "the check looked at the stylesheet's url()s");
    assert!(!css.contains("@import"), "the stylesheet imports another");
}
