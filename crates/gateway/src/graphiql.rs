//! GraphiQL at `/`, served entirely from the binary.
//!
//! The page is ours (`graphiql.html`); the scripts and the stylesheet are the files npm
//! publishes for GraphiQL and React, pinned and checked in under `assets/graphiql/` (see its
//! README for versions, sha256 sums and licences, and `fetch.sh` to re-fetch them). Their URLs
//! carry the package version, so a browser may cache them for a year.

use axum::extract::Path;
use axum::http::{HeaderValue, Method, Uri, header};
use axum::response::{Html, IntoResponse, Response};

/// The GraphiQL page; it references only [`ASSETS`], by paths relative to itself.
pub(crate) const PAGE: &str = include_str!("graphiql.html");

/// One embedded file: its path under `/assets/`, its media type and its bytes.
pub(crate) struct Asset {
    pub(crate) path: &'static str,
    pub(crate) content_type: &'static str,
    pub(crate) bytes: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file the page loads.
pub(crate) const ASSETS: &[Asset] = &[
    Asset {
        path: "graphiql-3.8.3/graphiql.min.js",
        content_type: JS,
        bytes: include_bytes!("../assets/graphiql/graphiql.min.js"),
    },
    Asset {
        path: "graphiql-3.8.3/graphiql.min.css",
        content_type: CSS,
        bytes: include_bytes!("../assets/graphiql/graphiql.min.css"),
    },
    Asset {
        path: "react-18.3.1/react.production.min.js",
        content_type: JS,
        bytes: include_bytes!("../assets/graphiql/react.production.min.js"),
    },
    Asset {
        path: "react-dom-18.3.1/react-dom.production.min.js",
        content_type: JS,
        bytes: include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    },
];

/// The versioned URLs never change content, so they may be cached for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `GET /`: the GraphiQL page, pointed at `graphql` next to it.
pub(crate) async fn page() -> Response {
    (
        // The page itself is not versioned: let a new binary's page replace an old one.
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        Html(PAGE),
    )
        .into_response()
}

/// `GET /assets/{*path}`: one of [`ASSETS`], or 404.
pub(crate) async fn asset(Path(path): Path<String>, uri: Uri) -> Response {
    match ASSETS.iter().find(|asset| asset.path == path) {
        Some(asset) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(asset.content_type),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            asset.bytes,
        )
            .into_response(),
        None => crate::http::not_found(Method::GET, uri).await,
    }
}
