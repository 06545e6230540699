//! What this crate hands the SDK's pull driver ([`tributary_connector::pull`]): the page
//! sources (the list endpoint, live or archived, paged by its `after` token; a search window
//! of changes, paged by re-anchoring on the modified time, see `search`) and the mappers from
//! a page of HubSpot records to items. The driver owns the loop, checkpoints and counts.

use crate::search::{self, Window};
use crate::{Cursor, mapping, modified_property};
use crate::{DEAL_CONTACTS, DEALS, Object, Run};
use async_trait::async_trait;
use serde_json::Value;
use tributary_connector::ConnectorError;
use tributary_connector::pull::{self, Emitter, MapPage, Mapped, Page, PageSource};
use tributary_model::Entity;

impl Run<'_> {
    fn search_url(&self) -> String {
        format!("{}/search", self.conn.list_url(self.object))
    }

    /// One search request.
    async fn search(&self, body: &Value) -> Result<Page<Value>, ConnectorError> {
        let url = self.search_url();
        let response = self.conn.ctx.http.post_json(&url, body).await?;
        search::parse_search_page(response.body)
            .map_err(|message| ConnectorError::Decode { url, message })
    }

    /// The newest last-modified time of any live record (epoch milliseconds; 0 when there is
    /// none) and how many live records there are.
    pub(crate) async fn newest(&self) -> Result<(i64, Option<u64>), ConnectorError> {
        let request = search::newest_request(modified_property(self.object));
        let page = self.search(&request).await?;
        let newest = page
            .records
            .first()
            .and_then(|r| modified_ms(r, self.object));
        Ok((newest.unwrap_or(0), page.total))
    }

    /// The associations v4 batch read of `to` for `records` (a 207 lists the records without
    /// any association under `errors`: not a failure). `None` when no record has an id.
    async fn associations(
        &self,
        to: &str,
        records: &[Value],
    ) -> Result<Option<Value>, ConnectorError> {
        let ids: Vec<String> = records.iter().filter_map(mapping::record_id).collect();
        if ids.is_empty() {
            return Ok(None);
        }
        let path = self.object.vendor.path;
        let url = format!(
            "{}/crm/v4/associations/{path}/{to}/batch/read",
            self.conn.base
        );
        let request = search::associations_request(&ids);
        Ok(Some(
            self.conn.ctx.http.post_json(&url, &request).await?.body,
        ))
    }

    /// Maps one live record to a record, a reject, a delete (a deal no longer won, in an
    /// incremental read, which has no sweep) or nothing (the same in a full refresh, whose sweep
    /// deletes a subscription it no longer sees).
    fn map_record(&self, raw: Value) -> Mapped {
        let Some(id) = mapping::record_id(&raw) else {
            let reason = format!("{} record without an `id`", self.object.name);
            return self.emit.reject(None, reason, raw);
        };
        let instance = self.emit.instance;
        let entity = match self.object.name {
            crate::COMPANIES => mapping::map_company(&raw).map(|a| Some(Entity::Account(a))),
            DEALS => {
                let (won, pipeline_label) = self.deal_is_won(&raw);
                let m = mapping::DealMapping {
                    instance,
                    mapping: &self.conn.mapping,
                    default_currency: &self.conn.default_currency,
                    today: self.today,
                };
                mapping::map_deal(&raw, won, pipeline_label.as_deref(), &m)
                    .map(|s| s.map(Entity::Subscription))
            }
            _ => mapping::map_contact(&raw, instance).map(|p| Some(Entity::Person(p))),
        };
        let updated = mapping::updated_at(&raw);
        self.emit.mapped(id, raw, updated, entity)
    }

    /// The deal→contact associations of `deals` (`POST /crm/v4/associations/deals/contacts/
    /// batch/read`), one record per edge keyed `<deal id>-<contact id>`, modified when its
    /// deal was. A deal without contacts (a 207 listing it under `errors`) has none.
    async fn deal_contact_items(&self, deals: &[Value]) -> Result<Vec<Mapped>, ConnectorError> {
        let Some(response) = self.associations("contacts", deals).await? else {
            return Ok(Vec::new());
        };
        let modified: std::collections::HashMap<String, _> = deals
            .iter()
            .filter_map(|d| Some((mapping::record_id(d)?, mapping::updated_at(d))))
            .collect();
        let emit: &Emitter = &self.emit;
        let edges = mapping::deal_contact_edges(&response, emit.instance);
        Ok(edges
            .into_iter()
            .map(|edge| match edge {
                Ok(edge) => {
                    let updated = modified.get(&edge.deal).copied().flatten();
                    let id = format!("{}-{}", edge.deal, edge.contact);
                    let entity = Ok::<_, ConnectorError>(Some(Entity::DealContact(edge.entity)));
                    emit.mapped(id, edge.raw, updated, entity)
                }
                Err(raw) => {
                    let reason = "deal_contacts: association without a deal or contact id";
                    emit.reject(None, reason, raw)
                }
            })
            .collect())
    }
}

/// Maps a page of live records: each on its own, or, for deal contacts, the contacts of the
/// page's deals, batch-read through associations v4.
#[async_trait]
impl MapPage<Value> for Run<'_> {
    async fn map_page(&self, records: Vec<Value>) -> Result<Vec<Mapped>, ConnectorError> {
        if self.object.name == DEAL_CONTACTS {
            return self.deal_contact_items(&records).await;
        }
        Ok(records
            .into_iter()
            .map(|raw| self.map_record(raw))
            .collect())
    }
}

/// A record's last-modified time in epoch milliseconds: the object's modified property, else
/// `updatedAt`.
pub(crate) fn modified_ms(raw: &Value, object: Object) -> Option<i64> {
    raw.get("properties")
        .and_then(|p| p.get(modified_property(object)))
        .and_then(Value::as_str)
        .and_then(mapping::parse_datetime)
        .or_else(|| mapping::updated_at(raw))
        .map(|t| t.timestamp_millis())
}

/// One page of a list response: its records and the `after` token of the next.
pub(crate) fn parse_page(
    url: &str,
    mut body: Value,
) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
    let decode = |message: String| ConnectorError::Decode {
        url: url.to_owned(),
        message,
    };
    let next = pull::cursor_token(&body, "/paging/next/after").map_err(decode)?;
    match body.get_mut("results").map(Value::take) {
        Some(Value::Array(results)) => Ok((results, next)),
        _ => Err(decode("response has no `results` array".to_owned())),
    }
}

/// The list endpoint (`GET /crm/v3/objects/{objectType}`), live or archived records, paged by
/// the opaque `after` token kept in the state.
pub(crate) struct ListPages<'a> {
    pub(crate) run: &'a Run<'a>,
    pub(crate) archived: bool,
}

#[async_trait]
impl PageSource<Cursor> for ListPages<'_> {
    type Raw = Value;

    async fn next_page(&mut self, cursor: &mut Cursor) -> Result<Page<Value>, ConnectorError> {
        let (conn, object) = (self.run.conn, self.run.object);
        let url = conn.list_url(object);
        let mut query = vec![
            ("limit", conn.config.page_size.to_string()),
            ("properties", self.run.properties.join(",")),
        ];
        match object.vendor.associations {
            Some(assoc) if !self.archived => query.push(("associations", assoc.to_owned())),
            _ => {}
        }
        if self.archived {
            query.push(("archived", "true".to_owned()));
        }
        if let Some(after) = &cursor.after {
            query.push(("after", after.clone()));
        }
        let response = conn.ctx.http.get_json(&url, &query).await?;
        let (results, next) = parse_page(&url, response.body)?;
        pull::ensure_advanced(&url, cursor.after.as_deref(), next.as_deref())?;
        let more = next.is_some();
        if more {
            cursor.after = next;
        }
        Ok(Page::new(results, more))
    }
}

/// One window of changes through search (see `search` for why it seeks instead of paging).
/// `high` is set when the window has been read to its end: the newest modified time read.
pub(crate) struct SearchPages<'a> {
    pub(crate) run: &'a Run<'a>,
    pub(crate) window: Window,
    pub(crate) high: Option<i64>,
}

#[async_trait]
impl PageSource<Cursor> for SearchPages<'_> {
    type Raw = Value;

    async fn next_page(&mut self, cursor: &mut Cursor) -> Result<Page<Value>, ConnectorError> {
        let (run, object) = (self.run, self.run.object);
        let modified = modified_property(object);
        let limit = run.conn.config.search_page_size;
        let body = search::request(&self.window, modified, &run.properties, limit);
        let page = run.search(&body).await?;
        let mut results = page.records;
        // Search returns no associations: read the companies and put them where the list
        // endpoint would, so that one mapping serves both endpoints.
        if let Some(to) = object.vendor.associations
            && let Some(response) = run.associations(to, &results).await?
        {
            search::attach_companies(&mut results, &response, object.vendor.singular);
        }
        let keys: Vec<(String, Option<i64>)> = results
            .iter()
            .map(|r| {
                (
                    mapping::record_id(r).unwrap_or_default(),
                    modified_ms(r, object),
                )
            })
            .collect();
        let step = self
            .window
            .advance(&keys, page.more, modified)
            .map_err(|e| ConnectorError::Decode {
                url: run.search_url(),
                message: e.to_string(),
            })?;
        tracing::debug!(
            stream = object.name,
            from = self.window.from,
            "hubspot search page"
        );
        let fresh: Vec<Value> = results
            .into_iter()
            .zip(step.emit)
            .filter_map(|(raw, emit)| emit.then_some(raw))
            .collect();
        match step.done {
            None => cursor.window = Some(self.window.clone()),
            Some(high) => self.high = Some(high),
        }
        Ok(Page::new(fresh, step.done.is_none()).with_total(page.total))
    }
}
