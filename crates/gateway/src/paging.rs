//! Relay paging shared by every list: page sizes, complexity, offset cursors, `PageInfo` and
//! the connection types (`connection!`).

use crate::cursor;
use crate::error::GatewayError;
use async_graphql::SimpleObject;

/// Page size when `first` is not given.
pub const DEFAULT_PAGE_SIZE: i32 = 20;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: i32 = 500;

/// The page size `first` asks for.
pub(crate) fn page_size(first: Option<i32>) -> Result<u64, GatewayError> {
    let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
    match u64::try_from(first) {
        Ok(n) if first <= MAX_PAGE_SIZE => Ok(n),
        _ => Err(GatewayError::Validation(format!(
            "`first` must be between 0 and {MAX_PAGE_SIZE}, got {first}"
        ))),
    }
}

/// Complexity of a list field: its selection counted once per node it may return. `first` is
/// clamped so that an out-of-range value is reported as such by the resolver rather than as a
/// too-complex query.
pub(crate) fn page_complexity(first: Option<i32>, child_complexity: usize) -> usize {
    let n = first
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE)
        .unsigned_abs() as usize;
    n.saturating_mul(child_complexity).saturating_add(1)
}

/// The offset after the `after` cursor of the list `list`.
pub(crate) fn offset_after(list: &str, after: Option<&str>) -> Result<u64, GatewayError> {
    match after {
        None => Ok(0),
        Some(c) => Ok(cursor::decode_offset(list, c)?.saturating_add(1)),
    }
}

/// Page info of an offset page starting at `offset` with `len` edges out of `total` (counted
/// only when the query selects `totalCount` or `hasNextPage`, see [`wants_total`]).
pub(crate) fn offset_page_info(
    list: &str,
    offset: u64,
    len: usize,
    total: Option<u64>,
) -> PageInfo {
    let len = len as u64;
    PageInfo {
        has_next_page: total.is_some_and(|total| offset.saturating_add(len) < total),
        has_previous_page: offset > 0,
        start_cursor: (len > 0).then(|| cursor::encode_offset(list, offset)),
        end_cursor: (len > 0).then(|| cursor::encode_offset(list, offset + len - 1)),
    }
}

/// Whether the connection being resolved must count its nodes: it selects `totalCount`, or,
/// for an offset page whose `hasNextPage` comes from the count, `pageInfo { hasNextPage }`.
/// A `COUNT` scans every matching row, which the page itself never does; a client that does
/// not ask for it does not pay for it.
pub(crate) fn wants_total(ctx: &async_graphql::Context<'_>, offset_page: bool) -> bool {
    let look = ctx.look_ahead();
    look.field("totalCount").exists()
        || (offset_page && look.field("pageInfo").field("hasNextPage").exists())
}

/// Relay page information.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct PageInfo {
    /// Whether an edge follows the last one.
    pub has_next_page: bool,
    /// Whether an edge precedes the first one. Exact for offset lists; keyset lists
    /// (`accounts`) say `false`, as Relay allows for forward pagination.
    pub has_previous_page: bool,
    /// Cursor of the first edge.
    pub start_cursor: Option<String>,
    /// Cursor of the last edge; pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// Defines a Relay connection type and its edge type over a node type, and a constructor of
/// the connection from an offset page (`from_offset_page`).
macro_rules! connection {
    ($(#[$doc:meta])* $conn:ident, $edge:ident, $node:ty) => {
        $(#[$doc])*
        pub struct $conn {
            pub(crate) edges: Vec<$edge>,
            pub(crate) page_info: $crate::paging::PageInfo,
            /// Counted only when selected ([`wants_total`](crate::paging::wants_total)).
            pub(crate) total_count: Option<u64>,
        }

        impl $conn {
            /// The connection of the page of list `list` that starts at `offset`, out of
            /// `total` nodes.
            #[allow(dead_code)]
            pub(crate) fn from_offset_page<R>(
                list: &str,
                offset: u64,
                rows: Vec<R>,
                total: Option<u64>,
            ) -> Self
            where
                $node: From<R>,
            {
                let page_info = $crate::paging::offset_page_info(list, offset, rows.len(), total);
                let edges = (offset..)
                    .zip(rows)
                    .map(|(i, row)| $edge {
                        cursor: $crate::cursor::encode_offset(list, i),
                        node: <$node>::from(row),
                    })
                    .collect();
                $conn {
                    edges,
                    page_info,
                    total_count: total,
                }
            }
        }

        $(#[$doc])*
        #[async_graphql::Object]
        impl $conn {
            /// The page, with a cursor per node.
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }

            /// The page's nodes, for clients that need no cursors.
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|e| &e.node).collect()
            }

            /// Where this page sits in the list.
            async fn page_info(&self) -> &$crate::paging::PageInfo {
                &self.page_info
            }

            /// Nodes matching the arguments, all pages together.
            async fn total_count(&self) -> async_graphql::Result<u64> {
                self.total_count.ok_or_else(|| {
                    $crate::error::GatewayError::Misconfigured("totalCount was not counted").into()
                })
            }
        }

        /// A node and its cursor.
        pub struct $edge {
            pub(crate) cursor: String,
            pub(crate) node: $node,
        }

        /// A node and its cursor.
        #[async_graphql::Object]
        impl $edge {
            /// Opaque; pass it as `after` to continue after this node.
            async fn cursor(&self) -> &str {
                &self.cursor
            }

            /// The node.
            async fn node(&self) -> &$node {
                &self.node
            }
        }
    };
}
pub(crate) use connection;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None).unwrap(), 20);
        assert_eq!(page_size(Some(0)).unwrap(), 0);
        assert_eq!(page_size(Some(500)).unwrap(), 500);
        for bad in [-1, 501, i32::MIN, i32::MAX] {
            let e = page_size(Some(bad)).unwrap_err();
            assert_eq!(e.code(), "VALIDATION_FAILED", "{bad}");
        }
    }

    #[test]
    fn complexity_never_overflows() {
        assert_eq!(page_complexity(Some(i32::MAX), usize::MAX), usize::MAX);
        assert_eq!(page_complexity(Some(-5), 3), 4);
        assert_eq!(page_complexity(None, 3), 61);
    }

    #[test]
    fn offset_pages() {
        let p = offset_page_info("q", 0, 0, Some(0));
        assert!(!p.has_next_page && !p.has_previous_page && p.end_cursor.is_none());
        let p = offset_page_info("q", 10, 5, Some(16));
        assert!(p.has_next_page && p.has_previous_page);
        assert_eq!(
            cursor::decode_offset("q", p.end_cursor.as_deref().unwrap()).unwrap(),
            14
        );
        assert_eq!(offset_after("q", p.end_cursor.as_deref()).unwrap(), 15);
    }
}
