//! The REST query API (`GET /services/data/<version>/query` and `/queryAll`) as a page source
//! of the SDK's pull driver, and the mapping of its records to items. The expiring
//! `nextRecordsUrl` stays inside [`QueryPages`]; the state holds the keyset position instead.
//! Before each next batch the daily-request reserve is checked (`reserve_api_requests`).

use crate::setup::Run;
use crate::{CONTACT, CONTACT_ROLE, CONTRACT, OPPORTUNITY, Object, RATES};
use crate::{SalesforceConnector, mapping};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::Value;
use tributary_connector::map::Fields;
use tributary_connector::pull::keyset::{Keyset, Position};
use tributary_connector::pull::{self, Emitter, Mapped, Page, PageSource};
use tributary_connector::{
    ConnectorError, DailyReserve, HeaderName, HeaderValue, HttpRequest, daily_remaining,
};
use tributary_model::Entity;

/// The SOQL of a read of `fields` from `from` (inclusive) on.
pub(crate) fn soql_for(object: Object, fields: &[String], from: Option<DateTime<Utc>>) -> String {
    let filter = from
        .map(|t| format!(" WHERE SystemModstamp >= {}", soql_datetime(t)))
        .unwrap_or_default();
    format!(
        "SELECT {} FROM {}{filter} ORDER BY SystemModstamp ASC, Id ASC",
        fields.join(", "),
        object.name
    )
}

/// A SOQL datetime literal, truncated to the second (so `>=` still includes the instant).
fn soql_datetime(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One batch of a query response.
#[derive(Deserialize)]
pub(crate) struct Batch {
    done: bool,
    /// Where the next batch is, until the query is done.
    #[serde(rename = "nextRecordsUrl")]
    pub(crate) next: Option<String>,
    /// The rows of the whole query.
    #[serde(rename = "totalSize")]
    pub(crate) total: Option<u64>,
    pub(crate) records: Vec<Value>,
    /// Daily API requests left, from `Sforce-Limit-Info`.
    #[serde(skip)]
    api_remaining: Option<u64>,
}

pub(crate) fn parse_batch(url: &str, body: Value) -> Result<Batch, ConnectorError> {
    let decode = |message: String| ConnectorError::Decode {
        url: url.to_owned(),
        message,
    };
    let mut batch: Batch =
        serde_json::from_value(body).map_err(|e| decode(format!("not a query response: {e}")))?;
    let done = batch.done;
    batch.next = batch.next.filter(|next| !done && !next.is_empty());
    if !done && batch.next.is_none() {
        return Err(decode(
            "`done` is false but there is no `nextRecordsUrl`".to_owned(),
        ));
    }
    Ok(batch)
}

impl SalesforceConnector {
    /// Every row of a small query, all batches.
    pub(crate) async fn query_all_rows(&self, soql: String) -> Result<Vec<Value>, ConnectorError> {
        let mut batch = self.first_batch(soql, false).await?;
        let mut rows = std::mem::take(&mut batch.records);
        while let Some(next) = batch.next.take() {
            batch = self.next_batch(&next).await?;
            rows.append(&mut batch.records);
        }
        Ok(rows)
    }

    /// The first batch of `soql` through `query` or `queryAll`, asking for `batch_size`
    /// records per batch (`Sforce-Query-Options`; later batches keep the query's size).
    pub(crate) async fn first_batch(
        &self,
        soql: String,
        all: bool,
    ) -> Result<Batch, ConnectorError> {
        let base = self.instance_url().await?;
        let resource = if all { "queryAll" } else { "query" };
        let url = format!(
            "{base}/services/data/{}/{resource}",
            self.config.api_version
        );
        let options = HeaderValue::from_str(&format!("batchSize={}", self.config.batch_size))
            .map_err(|e| self.config_error(format!("batch_size: {e}")))?;
        let request = HttpRequest::get(&url)
            .query("q", soql)
            .header(HeaderName::from_static("sforce-query-options"), options);
        let response = self.ctx.http.send(&request).await?;
        let api_remaining = daily_remaining(&response.headers);
        Ok(Batch {
            api_remaining,
            ..parse_batch(&url, response.body)?
        })
    }

    /// A further batch at `nextRecordsUrl`, relative to the instance.
    async fn next_batch(&self, next: &str) -> Result<Batch, ConnectorError> {
        let url = pull::next_url(&self.instance_url().await?, next);
        let response = self.ctx.http.get_json(&url, &[]).await?;
        let api_remaining = daily_remaining(&response.headers);
        Ok(Batch {
            api_remaining,
            ..parse_batch(&url, response.body)?
        })
    }

    /// Refuses to go on when the org's daily API requests are down to `reserve_api_requests`.
    pub(crate) fn keep_reserve(&self, remaining: Option<u64>) -> Result<(), ConnectorError> {
        let requests = self.config.reserve_api_requests;
        let reserve = DailyReserve {
            requests,
            key: "reserve_api_requests",
        };
        reserve.check(&self.config.endpoint, remaining)
    }

    /// Where REST calls go: the token response's `instance_url`, else `endpoint`.
    pub(crate) async fn instance_url(&self) -> Result<String, ConnectorError> {
        self.ctx.http.instance_url(&self.config.endpoint).await
    }

    /// The record/delete/reject step of a read of `object`.
    pub(crate) fn emitter(&self, object: Object, incremental: bool) -> Emitter<'_> {
        Emitter {
            system: mapping::SYSTEM,
            instance: &self.ctx.instance,
            stream: object.name,
            incremental,
        }
    }

    /// One record as an item: a reject without an `Id` or stamp; a soft-deleted row is a
    /// delete (incremental; a full refresh through `query` never sees one); else what the
    /// mapping makes of it (a not-won opportunity: nothing in a full refresh, a delete in an
    /// incremental run).
    pub(crate) fn map_record(
        &self,
        object: Object,
        run: &Run,
        emit: &Emitter,
        raw: Value,
    ) -> Mapped {
        let Some(Position { modstamp, id }) = mapping::position(&raw) else {
            let reason = format!(
                "{} record without an `Id` or a valid `SystemModstamp`",
                object.name
            );
            return emit.reject(mapping::record_id(&raw), reason, raw);
        };
        if mapping::is_deleted(&raw) {
            return if emit.incremental {
                emit.delete(id)
            } else {
                Mapped::Skip
            };
        }
        let (instance, mapping) = (self.ctx.instance.as_str(), &self.mapping);
        let (currency, today) = (&self.default_currency, run.today);
        let entity = match object.name {
            CONTACT => mapping::map_contact(&raw, instance).map(|p| Some(Entity::Person(p))),
            OPPORTUNITY => mapping::map_opportunity(&raw, instance, mapping, currency, today)
                .map(|s| s.map(Entity::Subscription)),
            CONTRACT => mapping::map_contract(&raw, instance, mapping, currency, today)
                .map(|s| s.map(Entity::Subscription)),
            CONTACT_ROLE => {
                mapping::map_contact_role(&raw, instance).map(|d| Some(Entity::DealContact(d)))
            }
            RATES => match &run.corporate {
                Some(base) => mapping::map_dated_rate(&raw, base).map(|r| r.map(Entity::FxRate)),
                None => Err(Fields::new(&raw, RATES, &id).error(
                    "IsoCode",
                    None,
                    "the org's corporate currency is not known",
                )),
            },
            _ => mapping::map_account(&raw).map(|mut a| {
                // The owner as people know them; an unknown user stays an id.
                a.owner = a.owner.map(|id| run.owners.get(&id).cloned().unwrap_or(id));
                Some(Entity::Account(a))
            }),
        };
        emit.mapped(id, raw, Some(modstamp), entity)
    }
}

/// The batches of one query: the first (fetched before the read chose REST over Bulk), then
/// one per `nextRecordsUrl`, with the reserve checked before each.
pub(crate) struct QueryPages<'a> {
    conn: &'a SalesforceConnector,
    /// The first batch, until it is served.
    first: Option<Batch>,
    /// The last batch's `nextRecordsUrl`: an expiring cursor, never saved in the state.
    next: Option<String>,
    /// Daily API requests left after the last batch.
    api_remaining: Option<u64>,
}

impl<'a> QueryPages<'a> {
    pub(crate) fn new(conn: &'a SalesforceConnector, first: Batch) -> Self {
        Self {
            conn,
            first: Some(first),
            next: None,
            api_remaining: None,
        }
    }
}

#[async_trait]
impl PageSource<Keyset> for QueryPages<'_> {
    type Raw = Value;

    async fn next_page(&mut self, cursor: &mut Keyset) -> Result<Page<Value>, ConnectorError> {
        // Only the first batch carries the query's count: `totalSize` is the whole query's.
        let (batch, total) = match (self.first.take(), self.next.take()) {
            (Some(first), _) => {
                let total = first.total;
                (first, total)
            }
            (None, Some(next)) => {
                self.conn.keep_reserve(self.api_remaining)?;
                (self.conn.next_batch(&next).await?, None)
            }
            // The driver stops after a batch without a next one.
            (None, None) => return Ok(Page::new(Vec::new(), false)),
        };
        self.next = batch.next;
        self.api_remaining = batch.api_remaining;
        let more = self.next.is_some();
        Ok(cursor
            .page(batch.records, mapping::position, more)
            .with_total(total))
    }
}
