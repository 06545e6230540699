//! Requests and paging: DRF envelopes or bare arrays, `next` followed as an opaque URL, the
//! per-learner requests, and the stream state.

use crate::SkilljarConnector;
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tributary_connector::ConnectorError;
use tributary_connector::map::id_text;
use tributary_connector::pull::{Page, PageSource, PullState, Tally, ensure_advanced, next_url};

/// The state of a read after a page: which listing of the stream it is in (the courses stream
/// reads two per domain), the next page's URL relative to `endpoint` (DRF page URLs stay valid,
/// so a resumed read asks for it again), and the listing's count so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Position {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub listing: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default)]
    pub tally: Tally,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Position {
    pub fn tally(&mut self) -> &mut Tally {
        &mut self.tally
    }
}

impl PullState for Position {
    fn is_incremental(&self) -> bool {
        false
    }
}

/// A path segment, percent-encoded.
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A next URL as the state keeps it: from `/v1/` on, so a resumed read asks the configured
/// endpoint (the absolute URL is followed as given within a run).
fn relative(next: &str) -> String {
    next.find("/v1/")
        .map_or_else(|| next.to_owned(), |i| next[i..].to_owned())
}

/// One page of a list: its records, the next URL and the count, from a DRF envelope or a bare
/// array.
pub(crate) struct ListPage {
    pub results: Vec<Value>,
    pub next: Option<String>,
    pub count: Option<u64>,
}

pub(crate) fn envelope(body: Value, url: &str) -> Result<ListPage, ConnectorError> {
    let decode = |message: &str| ConnectorError::Decode {
        url: url.to_owned(),
        message: message.to_owned(),
    };
    match body {
        Value::Array(results) => Ok(ListPage {
            results,
            next: None,
            count: None,
        }),
        Value::Object(mut o) => {
            let results = match o.remove("results") {
                Some(Value::Array(r)) => r,
                _ => return Err(decode("the page has no `results` array")),
            };
            let next = match o.remove("next") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.is_empty() => None,
                Some(Value::String(s)) => Some(s),
                Some(_) => return Err(decode("`next` is neither a URL nor null")),
            };
            let count = o.get("count").and_then(Value::as_u64);
            Ok(ListPage {
                results,
                next,
                count,
            })
        }
        _ => Err(decode("expected a page object or an array")),
    }
}

impl SkilljarConnector {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A page of a list endpoint; a 404 is a configuration problem, not an empty list.
    async fn list_page(
        &self,
        url: &str,
        query: &[(&str, String)],
    ) -> Result<ListPage, ConnectorError> {
        match self.ctx.http.get_json(url, query).await {
            Ok(response) => envelope(response.body, url),
            Err(ConnectorError::Http {
                url, status: 404, ..
            }) => Err(ConnectorError::config(
                &self.ctx.instance,
                format!(
                    "Skilljar answered 404 for the list endpoint {url}: this deployment does not \
                     serve it, or `endpoint` or `domains` is wrong"
                ),
            )),
            Err(e) => Err(e),
        }
    }

    /// Every record of a list, following `next`.
    async fn list_all(&self, path: &str) -> Result<Vec<Value>, ConnectorError> {
        let first = self.url(path);
        let page_size = self.config.page_size.to_string();
        let mut page = self.list_page(&first, &[("page_size", page_size)]).await?;
        let mut all = std::mem::take(&mut page.results);
        let mut current = first;
        while let Some(next) = page.next.take() {
            ensure_advanced(&current, Some(&current), Some(&next))?;
            page = self.list_page(&next, &[]).await?;
            all.append(&mut page.results);
            current = next;
        }
        Ok(all)
    }

    /// Every record of a per-learner list, or `None` when Skilljar answers 404 (the learner
    /// was deleted since the listing named them).
    async fn user_list(&self, path: &str) -> Result<Option<Vec<Value>>, ConnectorError> {
        match self.list_all(path).await {
            Ok(all) => Ok(Some(all)),
            Err(ConnectorError::Config { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The configured domains, or every domain of the organisation.
    pub(crate) async fn domains(&self) -> Result<Vec<String>, ConnectorError> {
        if !self.config.domains.is_empty() {
            return Ok(self.config.domains.clone());
        }
        Ok(self
            .list_all("/v1/domains")
            .await?
            .iter()
            .filter_map(|d| d.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }

    /// Each path's courses (course ids, in order), by path id.
    pub(crate) async fn path_courses(
        &self,
    ) -> Result<BTreeMap<String, Vec<String>>, ConnectorError> {
        let mut out = BTreeMap::new();
        for path in self.list_all("/v1/paths").await? {
            let Some(id) = path.get("id").and_then(id_text) else {
                continue;
            };
            let items = self
                .list_all(&format!("/v1/paths/{}/path-items", segment(&id)))
                .await?;
            let courses = items
                .iter()
                .filter_map(|i| i.pointer("/course/id").and_then(id_text))
                .collect();
            out.insert(id, courses);
        }
        Ok(out)
    }

    /// A learner's sign-up field values on each domain, each with its `domain_name`.
    async fn signup_fields(
        &self,
        user: &str,
        domains: &[String],
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut out = Vec::new();
        for d in domains {
            let path = format!(
                "/v1/domains/{}/users/{}/signup-fields",
                segment(d),
                segment(user)
            );
            for mut v in self.user_list(&path).await?.unwrap_or_default() {
                v["domain_name"] = json!(d);
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Every path enrollment of every published path on `domains`, by learner id: one list
    /// per published path (`/v1/domains/{domain}/published-paths/{id}/published-path-enrollments`)
    /// instead of one request per learner. Each entry is `(published path id, path id,
    /// enrollment)`.
    pub(crate) async fn path_enrollments(
        &self,
        domains: &[String],
    ) -> Result<PathEnrollments, ConnectorError> {
        let mut out: PathEnrollments = BTreeMap::new();
        for d in domains {
            let d = segment(d);
            for pp in self
                .list_all(&format!("/v1/domains/{d}/published-paths"))
                .await?
            {
                let Some(published) = pp.get("id").and_then(id_text) else {
                    continue;
                };
                let path = pp.pointer("/path/id").and_then(id_text);
                let list = format!(
                    "/v1/domains/{d}/published-paths/{}/published-path-enrollments",
                    segment(&published)
                );
                for e in self.list_all(&list).await? {
                    if let Some(user) = e.pointer("/user/id").and_then(id_text) {
                        out.entry(user)
                            .or_default()
                            .push((published.clone(), path.clone(), e));
                    }
                }
            }
        }
        Ok(out)
    }

    /// A learner's course progress records (each with `user_id`) and, per published path, the
    /// composite the path mapping reads; nothing when the learner vanished.
    async fn progress(
        &self,
        user: &str,
        learning: &Learning,
    ) -> Result<Vec<Value>, ConnectorError> {
        let u = segment(user);
        let Some(mut courses) = self
            .user_list(&format!("/v1/users/{u}/published-courses"))
            .await?
        else {
            return Ok(Vec::new());
        };
        let mut by_path: BTreeMap<&str, (Option<&String>, Vec<&Value>)> = BTreeMap::new();
        for (published, path, e) in learning.enrollments.get(user).into_iter().flatten() {
            let entry = by_path.entry(published.as_str()).or_default();
            entry.0 = entry.0.or(path.as_ref());
            entry.1.push(e);
        }
        let mut composites = Vec::with_capacity(by_path.len());
        for (published, (path, enrollments)) in by_path {
            let parts = path
                .and_then(|p| learning.paths.get(p))
                .cloned()
                .unwrap_or_default();
            let progress: Vec<&Value> = courses
                .iter()
                .filter(|c| {
                    c.pointer("/course/id")
                        .and_then(id_text)
                        .is_some_and(|id| parts.contains(&id))
                })
                .collect();
            composites.push(json!({
                "user_id": user,
                "published_path_id": published,
                "enrollments": enrollments,
                "path_courses": parts,
                "course_progress": progress,
            }));
        }
        for c in &mut courses {
            if let Value::Object(o) = c {
                o.insert("user_id".to_owned(), json!(user));
            }
        }
        courses.extend(composites);
        Ok(courses)
    }
}

/// Path enrollments by learner id: `(published path id, path id, enrollment)`.
pub(crate) type PathEnrollments = BTreeMap<String, Vec<(String, Option<String>, Value)>>;

/// What the enrollments stream reads before the learners: each path's courses (course ids by
/// path id) and every path enrollment by learner.
pub(crate) struct Learning {
    pub paths: BTreeMap<String, Vec<String>>,
    pub enrollments: PathEnrollments,
}

/// What a listing of learners fetches for each learner on a page.
pub(crate) enum PerUser {
    /// Nothing: the listing's records are the records.
    None,
    /// Sign-up fields on these domains, added to the overview as `signup_fields`.
    SignupFields(Vec<String>),
    /// Course progress, and the learner's path enrollments from [`Learning`]; the learner's
    /// records replace the overview.
    Progress(Learning),
}

/// The pages of one list endpoint, with the per-learner requests of each page.
pub(crate) struct Listing<'a> {
    conn: &'a SkilljarConnector,
    first: String,
    query: Vec<(&'static str, String)>,
    per_user: PerUser,
    /// Whether the list's `count` is the stream's source count.
    counts: bool,
    /// The vendor's next URL, followed as given within this run.
    next: Option<String>,
}

impl<'a> Listing<'a> {
    pub fn new(
        conn: &'a SkilljarConnector,
        path: &str,
        query: &[(&'static str, &str)],
        per_user: PerUser,
        counts: bool,
    ) -> Self {
        let mut q: Vec<(&'static str, String)> =
            query.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        q.push(("page_size", conn.config.page_size.to_string()));
        Self {
            conn,
            first: conn.url(path),
            query: q,
            per_user,
            counts,
            next: None,
        }
    }

    async fn each_user(&self, results: Vec<Value>) -> Result<Vec<Value>, ConnectorError> {
        let conn = self.conn;
        let n = conn.config.user_concurrency as usize;
        match &self.per_user {
            PerUser::None => Ok(results),
            PerUser::SignupFields(domains) if domains.is_empty() => Ok(results),
            PerUser::SignupFields(domains) => {
                futures::stream::iter(results.into_iter().map(|mut overview| async move {
                    if let Some(id) = overview.pointer("/user/id").and_then(id_text) {
                        overview["signup_fields"] =
                            Value::Array(conn.signup_fields(&id, domains).await?);
                    }
                    Ok::<_, ConnectorError>(overview)
                }))
                .buffered(n)
                .try_collect()
                .await
            }
            PerUser::Progress(learning) => {
                let per_user: Vec<Vec<Value>> =
                    futures::stream::iter(results.into_iter().map(|overview| async move {
                        match overview.pointer("/user/id").and_then(id_text) {
                            Some(id) => conn.progress(&id, learning).await,
                            // The users stream rejects it; nothing to read here.
                            None => Ok(Vec::new()),
                        }
                    }))
                    .buffered(n)
                    .try_collect()
                    .await?;
                Ok(per_user.into_iter().flatten().collect())
            }
        }
    }
}

#[async_trait]
impl PageSource<Position> for Listing<'_> {
    type Raw = Value;

    async fn next_page(&mut self, state: &mut Position) -> Result<Page<Value>, ConnectorError> {
        let conn = self.conn;
        let (url, query) = match (self.next.take(), &state.next) {
            (Some(next), _) => (next, Vec::new()),
            (None, Some(saved)) => (next_url(&conn.base, saved), Vec::new()),
            (None, None) => (self.first.clone(), self.query.clone()),
        };
        let page = conn.list_page(&url, &query).await?;
        if let Some(next) = &page.next {
            ensure_advanced(&url, Some(&url), Some(next))?;
        }
        state.next = page.next.as_deref().map(relative);
        self.next = page.next;
        let more = self.next.is_some();
        let total = if self.counts { page.count } else { None };
        let records = self.each_user(page.results).await?;
        Ok(Page::new(records, more).with_total(total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_envelopes_or_bare_arrays_and_next_is_kept_relative_to_the_endpoint() {
        let page = envelope(
            json!({"count": 3, "next": "https://api.skilljar.com/v1/users?page=2", "previous": null,
                   "results": [{"id": "a"}]}),
            "u",
        )
        .expect("an envelope");
        assert_eq!((page.results.len(), page.count), (1, Some(3)));
        assert_eq!(
            page.next.as_deref().map(relative).as_deref(),
            Some("/v1/users?page=2")
        );
        let bare = envelope(json!([{"id": "a"}, {"id": "b"}]), "u").expect("a bare array");
        assert_eq!((bare.results.len(), bare.next, bare.count), (2, None, None));
        let cursor = envelope(json!({"next": "/v1/users?cursor=abc", "results": []}), "u")
            .expect("a cursor page without count");
        assert_eq!(cursor.next.as_deref(), Some("/v1/users?cursor=abc"));
        assert!(envelope(json!({"detail": "Not found."}), "u").is_err());
        assert!(envelope(json!({"results": [], "next": 3}), "u").is_err());
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }
}
