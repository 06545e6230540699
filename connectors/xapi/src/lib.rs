//! An xAPI (Experience API 1.0.3) statements endpoint — a Learning Record Store subset — as a
//! push source. See the README for the routes, the semantics this LRS chose and its limits.
//!
//! One request is validated whole; what it stores goes to the engine as one commit (stream
//! `statements`): every statement as a [`LearningEvent`] whose raw payload is the statement
//! as stored (with `id`, `stored`, `authority`, `version`), the actor's [`Person`], the
//! activity's [`Course`], and the [`Enrollment`] of each (actor, activity) pair the request
//! touched, folded from all its live statements ([`fold`]). The gateway acknowledges only
//! after that commit.

pub mod fold;
pub mod statement;

use async_trait::async_trait;
use base64::Engine;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use tributary_connector::learning::{CourseCatalog, CourseFacts};
use tributary_connector::{
    Accepted, BuiltPush, ConnectorError, DeleteStrategy, Method, PushError, PushItem, PushKind,
    PushRequest, PushResponse, PushSource, ReadItem, RecordKind, RecordPageRequest, StoredRecord,
    StreamSpec, SyncMode,
};
use tributary_model::{
    CourseKind, Entity, EntityKind, ExternalRef, IdentityHint, IdentityHintKind, LearningEvent,
    Person, SourceRecord, normalize_email,
};

use fold::{PairState, Summary};
use statement::{Format, VOIDED, format_time, ifi_key, is_iri, is_uuid, timestamp};
use tributary_connector::push::basic_auth;

/// The kind name and the `system` of every external reference.
pub const KIND: &str = "xapi";
/// The single stream.
pub const STREAM: &str = "statements";
/// The xAPI version this LRS implements.
pub const VERSION: &str = "1.0.3";
const VERSION_HEADER: &str = "X-Experience-API-Version";
/// The most statements one page of a list returns (`limit=0` means this).
pub const MAX_LIMIT: u64 = 500;
/// Store pages a list request reads at most while filtering, before it answers with what it
/// found and a `more` link that continues from there.
const SCAN_PAGES: usize = 8;

/// `[connectors.<name>]` of kind `xapi`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XapiConfig {
    /// Where the LRS is mounted (its xAPI base path): `{path}/statements`, `{path}/about`.
    /// Default `/xapi`; two instances need two paths.
    #[serde(default = "default_path")]
    pub path: String,
    /// The `homePage` of the `authority` the LRS stamps on every statement (its `name` is the
    /// push key's name). Default `urn:tributary`.
    #[serde(default = "default_authority")]
    pub authority_home_page: String,
    /// The `account.homePage` under which actors' `account.name` is a CRM contact id (an LMS
    /// that identifies learners by CRM id): such actors get a `crm_contact_id` identity hint.
    #[serde(default)]
    pub crm_home_page: Option<String>,
    /// The most statements one request may carry. Default 1,000.
    #[serde(default = "default_max_statements")]
    pub max_statements: usize,
    /// Course metadata (kind, level, tags, features) keyed by activity id.
    #[serde(default)]
    pub courses: CourseCatalog,
}

fn default_path() -> String {
    "/xapi".to_owned()
}
fn default_authority() -> String {
    "urn:tributary".to_owned()
}
fn default_max_statements() -> usize {
    1_000
}

/// The `xapi` kind for the binary's registry.
pub struct XapiKind;

/// The registry entry.
pub static DECLARATION: XapiKind = XapiKind;

/// The stream this source writes.
pub fn streams() -> Vec<StreamSpec> {
    vec![StreamSpec {
        name: STREAM.to_owned(),
        entity: EntityKind::LearningEvent,
        cursor_field: Some("stored".to_owned()),
        modes: vec![SyncMode::Incremental],
        delete_strategy: DeleteStrategy::NativeFeed,
    }]
}

impl PushKind for XapiKind {
    fn name(&self) -> &'static str {
        KIND
    }
    fn summary(&self) -> &'static str {
        "xAPI 1.0.3 statements endpoint (Learning Record Store subset, push)"
    }
    fn auth_methods(&self) -> &'static [&'static str] {
        &["HTTP basic: user = push key name, password = push key"]
    }
    fn streams(&self) -> Vec<StreamSpec> {
        streams()
    }
    fn build(&self, instance: &str, settings: Value) -> Result<BuiltPush, ConnectorError> {
        let config: XapiConfig =
            serde_json::from_value(settings).map_err(|e| ConnectorError::Config {
                instance: instance.to_owned(),
                message: e.to_string(),
            })?;
        let source = XapiSource::new(instance, config)?;
        Ok(BuiltPush {
            prefix: source.config.path.clone(),
            source: Arc::new(source),
        })
    }
}

/// One LRS instance.
#[derive(Debug, Clone)]
pub struct XapiSource {
    instance: String,
    config: XapiConfig,
}

impl XapiSource {
    /// An instance named `instance`; refuses a bad path or course mapping.
    pub fn new(instance: &str, mut config: XapiConfig) -> Result<Self, ConnectorError> {
        let bad = |message: String| ConnectorError::Config {
            instance: instance.to_owned(),
            message,
        };
        let path = config.path.trim_end_matches('/').to_owned();
        if !path.starts_with('/') || path.len() < 2 || path.contains(['?', '#', ' ']) {
            return Err(bad(format!(
                "path `{}` must start with `/` and name a path, e.g. `/xapi`",
                config.path
            )));
        }
        config.path = path;
        if !is_iri(&config.authority_home_page) {
            return Err(bad(format!(
                "authority_home_page `{}` is not an absolute IRI",
                config.authority_home_page
            )));
        }
        if config.max_statements == 0 {
            return Err(bad("max_statements must be at least 1".to_owned()));
        }
        config.courses.validate("courses").map_err(bad)?;
        Ok(Self {
            instance: instance.to_owned(),
            config,
        })
    }

    fn reference(&self, object: &str, id: &str) -> ExternalRef {
        ExternalRef::new(KIND, &self.instance, object, id)
    }
}

fn statements_kind() -> RecordKind {
    RecordKind {
        object: "statements".to_owned(),
        entity: EntityKind::LearningEvent,
    }
}

fn people_kind() -> RecordKind {
    RecordKind {
        object: "agents".to_owned(),
        entity: EntityKind::Person,
    }
}

/// `into` described again by `actor`: its properties replace those of `into`, except that an
/// actor without a `name` keeps the name `into` has.
fn merge_actor(into: &mut Value, actor: &Value) {
    let name = into.get("name").cloned();
    *into = actor.clone();
    if let (Some(name), Some(m)) = (name, into.as_object_mut())
        && !m.contains_key("name")
    {
        m.insert("name".into(), name);
    }
}

fn enrollments_kind() -> RecordKind {
    RecordKind {
        object: "enrollments".to_owned(),
        entity: EntityKind::Enrollment,
    }
}

/// The `X-Experience-API-Version` of a request, when it is a supported one.
fn request_version(req: &PushRequest) -> Result<String, PushError> {
    let value = req
        .headers
        .get(VERSION_HEADER)
        .ok_or_else(|| PushError::BadRequest(format!("the {VERSION_HEADER} header is required")))?;
    let v = value.to_str().unwrap_or("").trim();
    if statement::version_supported(v) {
        Ok(v.to_owned())
    } else {
        Err(PushError::BadRequest(format!(
            "{VERSION_HEADER} `{v}` is not supported (this LRS speaks 1.0.x)"
        )))
    }
}

fn query_params(req: &PushRequest) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pair in req.query.as_deref().unwrap_or("").split('&') {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(decode(k), decode(v));
    }
    out
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A statement accepted in this request, with what it maps to.
struct Incoming {
    id: String,
    /// As the client sent it (validated and normalised), for comparison with a stored copy.
    received: Value,
    /// As it is stored: with `id`, `stored`, `authority`, `version` and `timestamp`.
    statement: Value,
    verb: String,
    stored: DateTime<Utc>,
}

/// A list query, also what a `more` token carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verb: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    activity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    registration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    until: Option<DateTime<Utc>>,
    limit: u64,
    ascending: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<(DateTime<Utc>, String)>,
    #[serde(default)]
    format: Format,
}

impl ListQuery {
    fn matches(&self, s: &Value) -> bool {
        if let Some(verb) = &self.verb
            && s.pointer("/verb/id").and_then(Value::as_str) != Some(verb)
        {
            return false;
        }
        if let Some(agent) = &self.agent {
            let actor = s.get("actor");
            let direct = actor.and_then(ifi_key).as_deref() == Some(agent.as_str());
            let member = actor
                .and_then(|a| a.get("member"))
                .and_then(Value::as_array)
                .is_some_and(|m| m.iter().any(|x| ifi_key(x).as_deref() == Some(agent)));
            let object = s.get("object").and_then(ifi_key).as_deref() == Some(agent.as_str());
            if !(direct || member || object) {
                return false;
            }
        }
        if let Some(activity) = &self.activity {
            let object_type = s.pointer("/object/objectType").and_then(Value::as_str);
            if object_type.is_some_and(|t| t != "Activity")
                || s.pointer("/object/id").and_then(Value::as_str) != Some(activity)
            {
                return false;
            }
        }
        if let Some(reg) = &self.registration
            && s.pointer("/context/registration")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref()
                != Some(reg.as_str())
        {
            return false;
        }
        true
    }
}

impl XapiSource {
    /// A statements response: the version echoed, and `X-Experience-API-Consistent-Through`
    /// (xAPI asks for it on every statements response). Statements are committed before
    /// they are acknowledged, but a commit in flight may become visible after a later one,
    /// hence the margin.
    fn respond(&self, version: &str, r: PushResponse) -> PushResponse {
        let consistent = Utc::now() - chrono::Duration::seconds(5);
        r.with_header(VERSION_HEADER, version).with_header(
            "X-Experience-API-Consistent-Through",
            format_time(consistent),
        )
    }

    async fn authenticate(&self, req: &PushRequest) -> Result<String, PushError> {
        let (user, password) = basic_auth(&req.headers)
            .ok_or_else(|| PushError::Unauthorized("HTTP basic credentials required".to_owned()))?;
        let credential = req.credentials.require(Some(&password)).await?;
        if credential.name != user {
            return Err(PushError::Unauthorized(
                "the user name must be the push key's name".to_owned(),
            ));
        }
        Ok(credential.name)
    }

    /// POST and PUT: validates every statement, assigns ids, checks ids against what is
    /// stored, and returns the items to commit with the ids in request order.
    async fn store_statements(
        &self,
        req: &PushRequest,
        mut statements: Vec<Value>,
        key_name: &str,
    ) -> Result<(Vec<PushItem>, Vec<String>), PushError> {
        if statements.is_empty() {
            return Err(PushError::BadRequest("no statements".to_owned()));
        }
        if statements.len() > self.config.max_statements {
            return Err(PushError::TooLarge {
                limit_bytes: self.max_body_bytes(),
                message: format!(
                    "{} statements in one request (at most {})",
                    statements.len(),
                    self.config.max_statements
                ),
            });
        }
        // All or nothing (xAPI): every invalid statement is named, by index, and nothing of
        // the request is stored; the client fixes or drops them and sends the batch again.
        let mut problems = Vec::new();
        for (i, s) in statements.iter_mut().enumerate() {
            if let Err(reason) = statement::validate(s) {
                problems.push(json!({"index": i, "id": s.get("id"), "reason": reason}));
            }
        }
        if !problems.is_empty() {
            return Err(PushError::BadRequest(invalid_message(&problems)));
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut incoming = Vec::with_capacity(statements.len());
        let stored_at = Utc::now();
        for (i, mut s) in statements.into_iter().enumerate() {
            let received = s.clone();
            let id = match s.get("id").and_then(Value::as_str) {
                Some(id) => id.to_ascii_lowercase(),
                None => uuid::Uuid::new_v4().to_string(),
            };
            if let Some(first) = seen.insert(id.clone(), i) {
                return Err(PushError::BadRequest(format!(
                    "statements {first} and {i} have the same id {id}"
                )));
            }
            let Some(m) = s.as_object_mut() else { continue };
            m.insert("id".into(), Value::String(id.clone()));
            m.insert("stored".into(), Value::String(format_time(stored_at)));
            m.insert(
                "authority".into(),
                json!({"objectType": "Agent", "account": {
                    "homePage": self.config.authority_home_page, "name": key_name}}),
            );
            m.entry("version")
                .or_insert_with(|| Value::String("1.0.0".into()));
            m.entry("timestamp")
                .or_insert_with(|| Value::String(format_time(stored_at)));
            let verb = s
                .pointer("/verb/id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            incoming.push(Incoming {
                id,
                received,
                statement: s,
                verb,
                stored: stored_at,
            });
        }
        let ids: Vec<String> = incoming.iter().map(|s| s.id.clone()).collect();
        // Voided targets are read with the new ids.
        let targets: Vec<String> = incoming
            .iter()
            .filter(|s| s.verb == VOIDED)
            .filter_map(|s| s.statement.pointer("/object/id").and_then(Value::as_str))
            .map(str::to_ascii_lowercase)
            .collect();
        let mut wanted = ids.clone();
        wanted.extend(targets.iter().cloned());
        let existing: HashMap<String, StoredRecord> = req
            .records
            .get(&statements_kind(), &wanted)
            .await?
            .into_iter()
            .map(|r| (r.external_id.clone(), r))
            .collect();
        // An id already stored: the same statement again is a no-op, another one a conflict.
        let mut fresh = Vec::with_capacity(incoming.len());
        for s in incoming {
            match existing.get(&s.id) {
                Some(old) if statement::equivalent(&old.raw, &s.received) => {}
                Some(_) => {
                    return Err(PushError::Conflict(format!(
                        "statement {} is already stored with different content",
                        s.id
                    )));
                }
                None => fresh.push(s),
            }
        }
        self.items(fresh, &existing, req)
            .await
            .map(|items| (items, ids))
    }

    /// The items of the new statements: learning events, people, courses, voided targets,
    /// and the enrollments of the pairs they touch.
    async fn items(
        &self,
        fresh: Vec<Incoming>,
        existing: &HashMap<String, StoredRecord>,
        req: &PushRequest,
    ) -> Result<Vec<PushItem>, PushError> {
        let mut items = Vec::new();
        let push = |items: &mut Vec<PushItem>, item: ReadItem| {
            items.push(PushItem {
                stream: STREAM.to_owned(),
                item,
            })
        };
        let batch: HashMap<&str, &Incoming> = fresh.iter().map(|s| (s.id.as_str(), s)).collect();
        // Pair → statements added, statements voided.
        let mut pairs: BTreeMap<(String, String), (Vec<Summary>, Vec<String>)> = BTreeMap::new();
        let mut voided_in_batch: HashSet<String> = HashSet::new();
        // Learner IFI → the actor as last described (a later statement's name wins; one
        // without a name keeps the name an earlier one gave).
        let mut actors: BTreeMap<String, Value> = BTreeMap::new();
        for s in &fresh {
            if s.verb == VOIDED {
                let target = s
                    .statement
                    .pointer("/object/id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let (raw, stored_at, in_batch) =
                    match (existing.get(&target), batch.get(target.as_str())) {
                        (Some(old), _) if !old.deleted => {
                            (old.raw.clone(), old.updated_at.unwrap_or(s.stored), false)
                        }
                        (None, Some(new)) => (new.statement.clone(), new.stored, true),
                        // Unknown or already voided: nothing to void (xAPI: not a reason to refuse).
                        _ => continue,
                    };
                if raw.pointer("/verb/id").and_then(Value::as_str) == Some(VOIDED) {
                    return Err(PushError::BadRequest(format!(
                        "statement {}: statement {target} is itself a voiding statement and cannot be voided",
                        s.id
                    )));
                }
                if in_batch {
                    // Its record below is written voided.
                    voided_in_batch.insert(target.clone());
                } else {
                    let mut record = self.event(&raw, stored_at);
                    if let Entity::LearningEvent(e) = &mut record.entity {
                        e.voided = true;
                    }
                    push(&mut items, ReadItem::Record(Box::new(record)));
                }
                push(
                    &mut items,
                    ReadItem::Delete(self.reference("statements", &target)),
                );
                if let Some(pair) = enrollment_pair(&raw) {
                    pairs.entry(pair).or_default().1.push(target);
                }
            }
        }
        for s in &fresh {
            let mut event = self.event(&s.statement, s.stored);
            if voided_in_batch.contains(&s.id)
                && let Entity::LearningEvent(e) = &mut event.entity
            {
                e.voided = true;
            }
            push(&mut items, ReadItem::Record(Box::new(event)));
            if let (Some(key), Some(actor)) = (learner(&s.statement), s.statement.get("actor")) {
                merge_actor(actors.entry(key).or_insert(Value::Null), actor);
            }
            if let Some(course) = self.course(&s.statement) {
                push(&mut items, ReadItem::Record(Box::new(course)));
            }
            if fold::step(&s.verb).is_some()
                && let Some(pair) = enrollment_pair(&s.statement)
            {
                pairs
                    .entry(pair)
                    .or_default()
                    .0
                    .push(summary(&s.id, &s.statement));
            }
        }
        let unnamed: Vec<String> = actors
            .iter()
            .filter(|(_, a)| a.get("name").is_none())
            .map(|(k, _)| k.clone())
            .collect();
        for stored in req.records.get(&people_kind(), &unnamed).await? {
            if let Some(actor) = actors.get_mut(&stored.external_id) {
                let mut merged = stored.raw;
                merge_actor(&mut merged, actor);
                *actor = merged;
            }
        }
        for actor in actors.values() {
            if let Some(person) = self.person(actor) {
                push(&mut items, ReadItem::Record(Box::new(person)));
            }
        }
        if pairs.is_empty() {
            return Ok(items);
        }
        let ids: Vec<String> = pairs
            .keys()
            .map(|(actor, activity)| fold::pair_id(actor, activity))
            .collect();
        let prior: HashMap<String, PairState> = req
            .records
            .get(&enrollments_kind(), &ids)
            .await?
            .into_iter()
            .filter(|r| !r.deleted)
            .filter_map(|r| fold::stored_state(&r.raw).map(|s| (r.external_id, s)))
            .collect();
        let now = fresh.first().map(|s| s.stored).unwrap_or_else(Utc::now);
        for ((actor, activity), (added, voided)) in pairs {
            let id = fold::pair_id(&actor, &activity);
            let mut state = prior.get(&id).cloned().unwrap_or_else(|| PairState {
                actor: actor.clone(),
                activity: activity.clone(),
                statements: Vec::new(),
            });
            state.apply(&added, &voided);
            let reference = self.reference("enrollments", &id);
            match state.enrollment(
                self.reference("agents", &actor),
                self.reference("activities", &activity),
            ) {
                Some(enrollment) => push(
                    &mut items,
                    ReadItem::Record(Box::new(SourceRecord {
                        external_ref: reference,
                        source_updated_at: Some(now),
                        raw: serde_json::to_value(&state).unwrap_or(Value::Null),
                        entity: Entity::Enrollment(enrollment),
                    })),
                ),
                None => push(&mut items, ReadItem::Delete(reference)),
            }
        }
        Ok(items)
    }

    fn event(&self, s: &Value, stored: DateTime<Utc>) -> SourceRecord {
        let id = s.get("id").and_then(Value::as_str).unwrap_or_default();
        let stored_at = s
            .get("stored")
            .and_then(Value::as_str)
            .and_then(timestamp)
            .unwrap_or(stored);
        let occurred_at = s
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(timestamp)
            .unwrap_or(stored_at);
        let actor = learner(s);
        let activity = activity_id(s);
        SourceRecord {
            external_ref: self.reference("statements", id),
            source_updated_at: Some(stored_at),
            raw: s.clone(),
            entity: Entity::LearningEvent(LearningEvent {
                person: actor.map(|a| self.reference("agents", &a)),
                course: activity.map(|a| self.reference("activities", &a)),
                verb: s
                    .pointer("/verb/id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                occurred_at,
                stored_at,
                score: score_percent(s),
                success: s.pointer("/result/success").and_then(Value::as_bool),
                completion: s.pointer("/result/completion").and_then(Value::as_bool),
                registration: s
                    .pointer("/context/registration")
                    .and_then(Value::as_str)
                    .map(str::to_ascii_lowercase),
                voided: false,
            }),
        }
    }

    fn person(&self, actor: &Value) -> Option<SourceRecord> {
        if actor.get("objectType").and_then(Value::as_str) == Some("Group") {
            return None;
        }
        let key = ifi_key(actor)?;
        let email = actor
            .get("mbox")
            .and_then(Value::as_str)
            .and_then(|m| m.strip_prefix("mailto:"))
            .and_then(normalize_email);
        let account_name = actor.pointer("/account/name").and_then(Value::as_str);
        let name = actor
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
            .map(str::to_owned)
            .or_else(|| email.clone())
            .or_else(|| account_name.map(str::to_owned))
            .unwrap_or_else(|| key.clone());
        let mut hints = Vec::new();
        if let (Some(crm), Some(home), Some(name)) = (
            self.config.crm_home_page.as_deref(),
            actor.pointer("/account/homePage").and_then(Value::as_str),
            account_name,
        ) && crm.trim_end_matches('/') == home.trim_end_matches('/')
        {
            hints.extend(IdentityHint::from_field(
                IdentityHintKind::CrmContactId,
                "account.name",
                name,
            ));
        }
        Some(SourceRecord {
            external_ref: self.reference("agents", &key),
            source_updated_at: None,
            raw: actor.clone(),
            entity: Entity::Person(Person {
                name,
                email,
                title: None,
                role: None,
                account: None,
                first_seen_at: None,
                hints,
            }),
        })
    }

    /// The activity's course, when the statement defines its name (a bare activity id only
    /// links, so a later statement without a definition does not erase the title).
    fn course(&self, s: &Value) -> Option<SourceRecord> {
        let id = activity_id(s)?;
        let definition = s.pointer("/object/definition")?;
        let title = language_text(definition.get("name")?)?;
        let kind = match definition.get("type").and_then(Value::as_str) {
            Some("http://adlnet.gov/expapi/activities/meeting") => Some(CourseKind::Ilt),
            Some("http://id.tincanapi.com/activitytype/webinar") => Some(CourseKind::Webinar),
            _ => None,
        };
        let course = self.config.courses.course(CourseFacts {
            keys: vec![id.clone()],
            title,
            kind,
            ..CourseFacts::default()
        });
        Some(SourceRecord {
            external_ref: self.reference("activities", &id),
            source_updated_at: None,
            raw: s.get("object").cloned().unwrap_or(Value::Null),
            entity: Entity::Course(course),
        })
    }

    async fn get(&self, req: &PushRequest, version: &str) -> Result<PushResponse, PushError> {
        let params = query_params(req);
        let single = |key: &str| params.get(key).map(|v| v.to_ascii_lowercase());
        let (by_id, voided) = match (single("statementId"), single("voidedStatementId")) {
            (Some(_), Some(_)) => {
                return Err(PushError::BadRequest(
                    "give statementId or voidedStatementId, not both".to_owned(),
                ));
            }
            (Some(id), None) => (Some(id), false),
            (None, Some(id)) => (Some(id), true),
            (None, None) => (None, false),
        };
        if let Some(id) = by_id {
            if let Some(other) = params.keys().find(|k| {
                !matches!(
                    k.as_str(),
                    "statementId" | "voidedStatementId" | "format" | "attachments"
                )
            }) {
                return Err(PushError::BadRequest(format!(
                    "`{other}` cannot be combined with a statement id"
                )));
            }
            if !is_uuid(&id) {
                return Err(PushError::BadRequest(format!("`{id}` is not a UUID")));
            }
            let found = req
                .records
                .get(&statements_kind(), std::slice::from_ref(&id))
                .await?;
            let Some(record) = found.into_iter().find(|r| r.deleted == voided) else {
                return Err(PushError::NotFound(format!(
                    "no {}statement {id}",
                    if voided { "voided " } else { "" }
                )));
            };
            let format = match params.get("format") {
                Some(v) => Format::parse(v).ok_or_else(|| {
                    PushError::BadRequest(format!("format: `{v}` (exact, ids or canonical)"))
                })?,
                None => Format::Exact,
            };
            let body = statement::formatted(&record.raw, format, language(req).as_deref());
            let mut response = PushResponse::json(200, &body);
            if let Some(at) = record.updated_at {
                response =
                    response.with_header("Last-Modified", at.to_rfc2822().replace("+0000", "GMT"));
            }
            return Ok(self.respond(version, response));
        }
        let query = match params.get("more") {
            Some(token) => decode_more(token)?,
            None => self.list_query(&params)?,
        };
        let (statements, next) = self.list(req, &query).await?;
        let language = language(req);
        let statements: Vec<Value> = statements
            .iter()
            .map(|s| statement::formatted(s, query.format, language.as_deref()))
            .collect();
        let more = next
            .map(|q| {
                format!(
                    "{}/statements?more={}",
                    self.config.path,
                    encode(&encode_more(&q))
                )
            })
            .unwrap_or_default();
        let body = json!({"statements": statements, "more": more});
        // Statements are committed before they are acknowledged; one whose commit is still
        // under way (stored a moment ago) may appear later than newer ones, hence the margin.
        Ok(self.respond(version, PushResponse::json(200, &body)))
    }

    fn list_query(&self, params: &BTreeMap<String, String>) -> Result<ListQuery, PushError> {
        let bad = |m: String| PushError::BadRequest(m);
        let mut q = ListQuery {
            limit: MAX_LIMIT,
            ..ListQuery::default()
        };
        for (k, v) in params {
            match k.as_str() {
                "agent" => {
                    let agent: Value = serde_json::from_str(v)
                        .map_err(|e| bad(format!("agent: not JSON ({e})")))?;
                    statement::agent_or_group(&agent, "agent").map_err(bad)?;
                    q.agent =
                        Some(ifi_key(&agent).ok_or_else(|| {
                            bad("agent: an identified Agent or Group".to_owned())
                        })?);
                }
                "verb" if is_iri(v) => q.verb = Some(v.clone()),
                "activity" if is_iri(v) => q.activity = Some(v.clone()),
                "verb" | "activity" => return Err(bad(format!("{k}: `{v}` is not an IRI"))),
                "registration" if is_uuid(v) => q.registration = Some(v.to_ascii_lowercase()),
                "registration" => return Err(bad(format!("registration: `{v}` is not a UUID"))),
                "since" | "until" => {
                    let t = timestamp(v)
                        .ok_or_else(|| bad(format!("{k}: `{v}` is not an ISO 8601 timestamp")))?;
                    if k == "since" {
                        q.since = Some(t);
                    } else {
                        q.until = Some(t);
                    }
                }
                "limit" => {
                    let n: u64 = v
                        .parse()
                        .map_err(|_| bad(format!("limit: `{v}` is not a count")))?;
                    q.limit = if n == 0 { MAX_LIMIT } else { n.min(MAX_LIMIT) };
                }
                "ascending" => q.ascending = flag(k, v)?,
                "related_activities" | "related_agents" => {
                    if flag(k, v)? {
                        return Err(bad(format!("{k}=true is not supported by this LRS")));
                    }
                }
                "format" => {
                    q.format = Format::parse(v)
                        .ok_or_else(|| bad(format!("format: `{v}` (exact, ids or canonical)")))?;
                }
                "attachments" => {
                    if flag(k, v)? {
                        return Err(bad(
                            "attachments=true: this LRS stores no attachments".to_owned()
                        ));
                    }
                }
                other => return Err(bad(format!("unknown parameter `{other}`"))),
            }
        }
        Ok(q)
    }

    async fn list(
        &self,
        req: &PushRequest,
        q: &ListQuery,
    ) -> Result<(Vec<Value>, Option<ListQuery>), PushError> {
        let mut out = Vec::new();
        let mut after = q.after.clone();
        for _ in 0..SCAN_PAGES {
            let page = req
                .records
                .page(
                    &statements_kind(),
                    &RecordPageRequest {
                        since: q.since,
                        until: q.until,
                        after: after.clone(),
                        ascending: q.ascending,
                        limit: q.limit,
                        include_deleted: false,
                    },
                )
                .await?;
            let full = page.len() as u64 == q.limit;
            for record in page {
                let Some(at) = record.updated_at else {
                    continue;
                };
                after = Some((at, record.external_id.clone()));
                if q.matches(&record.raw) {
                    out.push(record.raw);
                    if out.len() as u64 == q.limit {
                        return Ok((out, Some(ListQuery { after, ..q.clone() })));
                    }
                }
            }
            if !full {
                return Ok((out, None));
            }
        }
        // Read as far as one request may: answer with what matched, and continue from there.
        Ok((out, Some(ListQuery { after, ..q.clone() })))
    }
}

/// A boolean parameter; any case (clients that format a Python `True` send `True`).
/// The reader's first `Accept-Language` tag, for `format=canonical`.
fn language(req: &PushRequest) -> Option<String> {
    let header = req.headers.get("accept-language")?.to_str().ok()?;
    let first = header.split(',').next()?.split(';').next()?.trim();
    (!first.is_empty() && first != "*").then(|| first.to_owned())
}

fn flag(k: &str, v: &str) -> Result<bool, PushError> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(PushError::BadRequest(format!("{k}: `{v}` (true or false)"))),
    }
}

fn encode_more(q: &ListQuery) -> String {
    let json = serde_json::to_vec(q).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_more(token: &str) -> Result<ListQuery, PushError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| PushError::BadRequest("more: not a continuation this LRS issued".to_owned()))
}

fn invalid_message(problems: &[Value]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| {
            format!(
                "statement {}: {}",
                p["index"],
                p["reason"].as_str().unwrap_or("")
            )
        })
        .collect();
    format!(
        "{} invalid statement(s), nothing stored: {}",
        problems.len(),
        lines.join("; ")
    )
}

fn activity_id(s: &Value) -> Option<String> {
    let object = s.get("object")?;
    match object.get("objectType").and_then(Value::as_str) {
        None | Some("Activity") => object.get("id")?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// The learner's key: the actor's IFI when the actor is an Agent (a Group is not a learner).
fn learner(s: &Value) -> Option<String> {
    let actor = s.get("actor")?;
    if actor.get("objectType").and_then(Value::as_str) == Some("Group") {
        return None;
    }
    ifi_key(actor)
}

fn enrollment_pair(s: &Value) -> Option<(String, String)> {
    Some((learner(s)?, activity_id(s)?))
}

fn summary(id: &str, s: &Value) -> Summary {
    Summary {
        id: id.to_owned(),
        verb: s
            .pointer("/verb/id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        timestamp: s
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(timestamp)
            .unwrap_or_else(Utc::now),
        score: score_percent(s),
        success: s.pointer("/result/success").and_then(Value::as_bool),
        completion: s.pointer("/result/completion").and_then(Value::as_bool),
    }
}

/// `result.score` in percent: `scaled` × 100, else `raw` within `min..max` (0 when no min).
fn score_percent(s: &Value) -> Option<Decimal> {
    let score = s.pointer("/result/score")?;
    let num = |k: &str| score.get(k).and_then(Value::as_f64);
    let percent = match (num("scaled"), num("raw"), num("min"), num("max")) {
        (Some(scaled), ..) => scaled * 100.0,
        (None, Some(raw), min, Some(max)) => {
            let min = min.unwrap_or(0.0);
            if max <= min {
                return None;
            }
            (raw - min) / (max - min) * 100.0
        }
        _ => return None,
    };
    Decimal::from_f64(percent).map(|d| d.round_dp(2).normalize())
}

fn language_text(map: &Value) -> Option<String> {
    let m = map.as_object()?;
    ["en-US", "en", "en-GB", "und"]
        .iter()
        .find_map(|k| m.get(*k))
        .or_else(|| m.values().next())
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

#[async_trait]
impl PushSource for XapiSource {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn instance(&self) -> &str {
        &self.instance
    }

    fn streams(&self) -> Vec<StreamSpec> {
        streams()
    }

    fn max_body_bytes(&self) -> usize {
        // About 10 kB per statement, the largest batch this instance accepts.
        (self.config.max_statements * 10_240).max(1 << 20)
    }

    async fn accept(&self, req: PushRequest) -> Result<Accepted, PushError> {
        let path = req.path.trim_end_matches('/');
        if path == "/about" {
            if req.method != Method::GET && req.method != Method::HEAD {
                return Err(PushError::MethodNotAllowed("GET /about".to_owned()));
            }
            return Ok(Accepted {
                items: vec![],
                response: PushResponse::json(
                    200,
                    &json!({"version": ["1.0.3", "1.0.2", "1.0.1", "1.0.0"], "extensions": {}}),
                )
                .with_header(VERSION_HEADER, VERSION),
            });
        }
        if path != "/statements" {
            return Err(PushError::NotFound(format!(
                "{}{} (this LRS serves statements and about)",
                self.config.path, req.path
            )));
        }
        let version = request_version(&req)?;
        let key_name = self.authenticate(&req).await?;
        let parse = |body: &[u8]| -> Result<Value, PushError> {
            serde_json::from_slice(body)
                .map_err(|e| PushError::BadRequest(format!("the body is not JSON: {e}")))
        };
        if let Some(ct) = req
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            && ct.starts_with("multipart/")
            && req.method != Method::GET
        {
            return Err(PushError::BadRequest(
                "multipart/mixed (attachments) is not accepted by this LRS".to_owned(),
            ));
        }
        match req.method {
            Method::GET | Method::HEAD => Ok(Accepted {
                items: vec![],
                response: self.get(&req, &version).await?,
            }),
            Method::POST => {
                let body = parse(&req.body)?;
                let statements = match body {
                    Value::Array(list) => list,
                    single => vec![single],
                };
                let (items, ids) = self.store_statements(&req, statements, &key_name).await?;
                Ok(Accepted {
                    items,
                    response: self.respond(&version, PushResponse::json(200, &json!(ids))),
                })
            }
            Method::PUT => {
                let params = query_params(&req);
                let id = params
                    .get("statementId")
                    .map(|s| s.to_ascii_lowercase())
                    .ok_or_else(|| {
                        PushError::BadRequest("PUT needs the statementId parameter".to_owned())
                    })?;
                if !is_uuid(&id) {
                    return Err(PushError::BadRequest(format!(
                        "statementId: `{id}` is not a UUID"
                    )));
                }
                let mut body = parse(&req.body)?;
                if body.is_array() {
                    return Err(PushError::BadRequest(
                        "PUT stores one statement; POST a batch".to_owned(),
                    ));
                }
                match body.get("id").and_then(Value::as_str) {
                    Some(given) if given.to_ascii_lowercase() != id => {
                        return Err(PushError::BadRequest(format!(
                            "the statement's id {given} differs from statementId {id}"
                        )));
                    }
                    _ => {}
                }
                if let Some(m) = body.as_object_mut() {
                    m.insert("id".into(), Value::String(id));
                }
                let (items, _) = self.store_statements(&req, vec![body], &key_name).await?;
                Ok(Accepted {
                    items,
                    response: self.respond(&version, PushResponse::empty(204)),
                })
            }
            _ => Err(PushError::MethodNotAllowed(
                "statements take GET, PUT and POST".to_owned(),
            )),
        }
    }

    /// Enrollments fold from what earlier requests stored: requests are taken one at a time
    /// per gateway process (see the README on concurrency).
    fn serialized(&self) -> bool {
        true
    }

    fn error_response(&self, error: &PushError) -> PushResponse {
        let mut response = PushResponse::json(
            error.status(),
            &json!({"error": true, "code": error.status(), "message": error.to_string()}),
        )
        .with_header(VERSION_HEADER, VERSION);
        if matches!(error, PushError::Unauthorized(_)) {
            response = response.with_header("WWW-Authenticate", "Basic realm=\"xAPI\"");
        }
        response
    }
}

#[cfg(test)]
mod tests;
