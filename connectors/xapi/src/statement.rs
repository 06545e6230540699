//! Statement validation (xAPI 1.0.3, Data §2.2–2.4), normalisation and the equivalence a
//! resubmission is compared with. Every error names where in the statement it is and what is
//! wrong, e.g. `actor: an Agent needs exactly one of mbox, mbox_sha1sum, openid, account (found
//! mbox, account)`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

/// The ADL verb that voids a statement.
pub const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";

const STATEMENT_KEYS: &[&str] = &[
    "id",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
    "stored",
    "authority",
    "version",
    "attachments",
];
const SUB_STATEMENT_KEYS: &[&str] = &[
    "objectType",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
];
const IFIS: [&str; 4] = ["mbox", "mbox_sha1sum", "openid", "account"];

type Checked = Result<(), String>;

fn at(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{path}: expected a JSON object, got {}", kind_of(v)))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn only_keys(m: &Map<String, Value>, allowed: &[&str], path: &str) -> Checked {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "{}: unknown property (allowed: {})",
            at(path, k),
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

fn string<'a>(m: &'a Map<String, Value>, key: &str, path: &str) -> Result<Option<&'a str>, String> {
    match m.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(format!(
            "{}: expected a string, got {}",
            at(path, key),
            kind_of(v)
        )),
    }
}

fn boolean(m: &Map<String, Value>, key: &str, path: &str) -> Checked {
    match m.get(key) {
        None | Some(Value::Bool(_)) => Ok(()),
        Some(v) => Err(format!(
            "{}: expected a boolean, got {}",
            at(path, key),
            kind_of(v)
        )),
    }
}

/// An absolute IRI: a scheme (`letter *( letter / digit / + - . )`), a colon, and something
/// after it without whitespace.
pub fn is_iri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !s.chars().any(char::is_whitespace)
}

fn iri(m: &Map<String, Value>, key: &str, path: &str, required: bool) -> Checked {
    match string(m, key, path)? {
        Some(s) if is_iri(s) => Ok(()),
        Some(s) => Err(format!("{}: `{s}` is not an absolute IRI", at(path, key))),
        None if required => Err(format!("{}: required", at(path, key))),
        None => Ok(()),
    }
}

/// A UUID in its hyphenated form.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()
}

fn uuid_field(m: &Map<String, Value>, key: &str, path: &str) -> Checked {
    match string(m, key, path)? {
        Some(s) if is_uuid(s) => Ok(()),
        Some(s) => Err(format!("{}: `{s}` is not a UUID", at(path, key))),
        None => Ok(()),
    }
}

/// An ISO 8601 timestamp with a time zone (RFC 3339).
pub fn timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// How xAPI timestamps are written back: RFC 3339, UTC, milliseconds.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn language_map(m: &Map<String, Value>, key: &str, path: &str) -> Checked {
    let Some(v) = m.get(key) else { return Ok(()) };
    let lm = object(v, &at(path, key))?;
    for (lang, text) in lm {
        if lang.trim().is_empty() || !text.is_string() {
            return Err(format!(
                "{}: a language map maps language tags to strings",
                at(path, key)
            ));
        }
    }
    Ok(())
}

/// Which inverse functional identifiers an Agent or Group carries.
fn ifis(m: &Map<String, Value>) -> Vec<&'static str> {
    IFIS.into_iter().filter(|k| m.contains_key(*k)).collect()
}

fn check_ifi(m: &Map<String, Value>, path: &str) -> Checked {
    if let Some(mbox) = string(m, "mbox", path)? {
        let address = mbox
            .strip_prefix("mailto:")
            .ok_or_else(|| format!("{}: `{mbox}` must be a mailto: IRI", at(path, "mbox")))?;
        let valid = address
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
        if !valid {
            return Err(format!(
                "{}: `{mbox}` is not an email address",
                at(path, "mbox")
            ));
        }
    }
    if let Some(sha) = string(m, "mbox_sha1sum", path)?
        && !(sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(format!(
            "{}: expected 40 hexadecimal digits",
            at(path, "mbox_sha1sum")
        ));
    }
    iri(m, "openid", path, false)?;
    if let Some(account) = m.get("account") {
        let apath = at(path, "account");
        let a = object(account, &apath)?;
        only_keys(a, &["homePage", "name"], &apath)?;
        iri(a, "homePage", &apath, true)?;
        match string(a, "name", &apath)? {
            Some(n) if !n.is_empty() => {}
            _ => return Err(format!("{apath}.name: required")),
        }
    }
    Ok(())
}

/// An Agent or Group (`actor`, `authority`, `instructor`, an object of objectType Agent/Group).
pub fn agent_or_group(v: &Value, path: &str) -> Checked {
    let m = object(v, path)?;
    let kind = string(m, "objectType", path)?.unwrap_or("Agent");
    let found = ifis(m);
    match kind {
        "Agent" => {
            only_keys(
                m,
                &[
                    "objectType",
                    "name",
                    "mbox",
                    "mbox_sha1sum",
                    "openid",
                    "account",
                ],
                path,
            )?;
            if found.len() != 1 {
                return Err(format!(
                    "{path}: an Agent needs exactly one of mbox, mbox_sha1sum, openid, account (found {})",
                    if found.is_empty() {
                        "none".to_owned()
                    } else {
                        found.join(", ")
                    }
                ));
            }
        }
        "Group" => {
            only_keys(
                m,
                &[
                    "objectType",
                    "name",
                    "member",
                    "mbox",
                    "mbox_sha1sum",
                    "openid",
                    "account",
                ],
                path,
            )?;
            if found.len() > 1 {
                return Err(format!(
                    "{path}: a Group has at most one of mbox, mbox_sha1sum, openid, account (found {})",
                    found.join(", ")
                ));
            }
            match m.get("member") {
                None if found.is_empty() => {
                    return Err(format!("{path}: an anonymous Group needs a member list"));
                }
                None => {}
                Some(Value::Array(members)) => {
                    if found.is_empty() && members.is_empty() {
                        return Err(format!("{path}.member: an anonymous Group needs members"));
                    }
                    for (i, member) in members.iter().enumerate() {
                        let mpath = format!("{path}.member[{i}]");
                        let mm = object(member, &mpath)?;
                        if string(mm, "objectType", &mpath)? == Some("Group") {
                            return Err(format!("{mpath}: a Group's members are Agents"));
                        }
                        agent_or_group(member, &mpath)?;
                    }
                }
                Some(v) => {
                    return Err(format!(
                        "{path}.member: expected an array, got {}",
                        kind_of(v)
                    ));
                }
            }
        }
        other => {
            return Err(format!(
                "{}: `{other}` (expected Agent or Group)",
                at(path, "objectType")
            ));
        }
    }
    string(m, "name", path)?;
    check_ifi(m, path)
}

fn activity(v: &Value, path: &str) -> Checked {
    let m = object(v, path)?;
    only_keys(m, &["objectType", "id", "definition"], path)?;
    iri(m, "id", path, true)?;
    if let Some(def) = m.get("definition") {
        let dpath = at(path, "definition");
        let d = object(def, &dpath)?;
        language_map(d, "name", &dpath)?;
        language_map(d, "description", &dpath)?;
        iri(d, "type", &dpath, false)?;
        iri(d, "moreInfo", &dpath, false)?;
    }
    Ok(())
}

fn verb(v: Option<&Value>, path: &str) -> Checked {
    let path = at(path, "verb");
    let v = v.ok_or_else(|| format!("{path}: required"))?;
    let m = object(v, &path)?;
    only_keys(m, &["id", "display"], &path)?;
    iri(m, "id", &path, true)?;
    language_map(m, "display", &path)
}

fn result(v: &Value, path: &str) -> Checked {
    let m = object(v, path)?;
    only_keys(
        m,
        &[
            "score",
            "success",
            "completion",
            "response",
            "duration",
            "extensions",
        ],
        path,
    )?;
    boolean(m, "success", path)?;
    boolean(m, "completion", path)?;
    string(m, "response", path)?;
    if let Some(d) = string(m, "duration", path)?
        && !(d.starts_with('P') && d.len() > 1)
    {
        return Err(format!(
            "{}: `{d}` is not an ISO 8601 duration",
            at(path, "duration")
        ));
    }
    if let Some(score) = m.get("score") {
        let spath = at(path, "score");
        let s = object(score, &spath)?;
        only_keys(s, &["scaled", "raw", "min", "max"], &spath)?;
        let num = |k: &str| -> Result<Option<f64>, String> {
            match s.get(k) {
                None => Ok(None),
                Some(Value::Number(n)) => Ok(n.as_f64()),
                Some(v) => Err(format!(
                    "{spath}.{k}: expected a number, got {}",
                    kind_of(v)
                )),
            }
        };
        if let Some(scaled) = num("scaled")?
            && !(-1.0..=1.0).contains(&scaled)
        {
            return Err(format!("{spath}.scaled: {scaled} is outside −1..1"));
        }
        let (raw, min, max) = (num("raw")?, num("min")?, num("max")?);
        if let (Some(min), Some(max)) = (min, max)
            && min >= max
        {
            return Err(format!("{spath}: min {min} is not below max {max}"));
        }
        if let (Some(raw), Some(min)) = (raw, min)
            && raw < min
        {
            return Err(format!("{spath}.raw: {raw} is below min {min}"));
        }
        if let (Some(raw), Some(max)) = (raw, max)
            && raw > max
        {
            return Err(format!("{spath}.raw: {raw} is above max {max}"));
        }
    }
    extensions(m, path)
}

fn extensions(m: &Map<String, Value>, path: &str) -> Checked {
    let Some(ext) = m.get("extensions") else {
        return Ok(());
    };
    let epath = at(path, "extensions");
    for k in object(ext, &epath)?.keys() {
        if !is_iri(k) {
            return Err(format!("{epath}: key `{k}` is not an IRI"));
        }
    }
    Ok(())
}

fn context(v: &mut Value, path: &str) -> Checked {
    let m = v
        .as_object_mut()
        .ok_or_else(|| format!("{path}: expected a JSON object"))?;
    only_keys(
        m,
        &[
            "registration",
            "instructor",
            "team",
            "contextActivities",
            "revision",
            "platform",
            "language",
            "statement",
            "extensions",
        ],
        path,
    )?;
    uuid_field(m, "registration", path)?;
    if let Some(i) = m.get("instructor") {
        agent_or_group(i, &at(path, "instructor"))?;
    }
    if let Some(t) = m.get("team") {
        let tpath = at(path, "team");
        if object(t, &tpath)?.get("objectType").and_then(Value::as_str) != Some("Group") {
            return Err(format!("{tpath}: the team must be a Group"));
        }
        agent_or_group(t, &tpath)?;
    }
    string(m, "revision", path)?;
    string(m, "platform", path)?;
    string(m, "language", path)?;
    if let Some(s) = m.get("statement") {
        statement_ref(s, &at(path, "statement"))?;
    }
    extensions(m, path)?;
    if let Some(ca) = m.get_mut("contextActivities") {
        let cpath = at(path, "contextActivities");
        let cm = ca
            .as_object_mut()
            .ok_or_else(|| format!("{cpath}: expected a JSON object"))?;
        for (k, list) in cm.iter_mut() {
            if !matches!(k.as_str(), "parent" | "grouping" | "category" | "other") {
                return Err(format!(
                    "{cpath}.{k}: unknown property (allowed: parent, grouping, category, other)"
                ));
            }
            // A single activity is accepted and stored as a one-element array.
            if list.is_object() {
                *list = Value::Array(vec![list.take()]);
            }
            let items = list
                .as_array()
                .ok_or_else(|| format!("{cpath}.{k}: expected an activity or an array"))?;
            for (i, a) in items.iter().enumerate() {
                activity(a, &format!("{cpath}.{k}[{i}]"))?;
            }
        }
    }
    Ok(())
}

fn statement_ref(v: &Value, path: &str) -> Checked {
    let m = object(v, path)?;
    only_keys(m, &["objectType", "id"], path)?;
    if string(m, "objectType", path)? != Some("StatementRef") {
        return Err(format!("{path}.objectType: must be StatementRef"));
    }
    match string(m, "id", path)? {
        Some(id) if is_uuid(id) => Ok(()),
        Some(id) => Err(format!("{path}.id: `{id}` is not a UUID")),
        None => Err(format!("{path}.id: required")),
    }
}

fn statement_object(v: &mut Value, path: &str, sub: bool) -> Checked {
    let path = at(path, "object");
    let m = object(v, &path)?;
    match string(m, "objectType", &path)?.unwrap_or("Activity") {
        "Activity" => activity(v, &path),
        "Agent" | "Group" => agent_or_group(v, &path),
        "StatementRef" => statement_ref(v, &path),
        "SubStatement" if sub => Err(format!("{path}: a SubStatement cannot hold another")),
        "SubStatement" => {
            let m = object(v, &path)?;
            only_keys(m, SUB_STATEMENT_KEYS, &path)?;
            body(v, &path, true)
        }
        other => Err(format!(
            "{path}.objectType: `{other}` (expected Activity, Agent, Group, StatementRef or SubStatement)"
        )),
    }
}

/// The parts a statement and a SubStatement share.
fn body(v: &mut Value, path: &str, sub: bool) -> Checked {
    let m = object(v, path)?;
    let actor = m
        .get("actor")
        .ok_or_else(|| format!("{}: required", at(path, "actor")))?;
    agent_or_group(actor, &at(path, "actor"))?;
    verb(m.get("verb"), path)?;
    if let Some(r) = m.get("result") {
        result(r, &at(path, "result"))?;
    }
    if let Some(t) = string(m, "timestamp", path)?
        && timestamp(t).is_none()
    {
        return Err(format!(
            "{}: `{t}` is not an ISO 8601 timestamp with a time zone",
            at(path, "timestamp")
        ));
    }
    let m = v
        .as_object_mut()
        .ok_or_else(|| format!("{path}: expected a JSON object"))?;
    if let Some(c) = m.get_mut("context") {
        context(c, &at(path, "context"))?;
    }
    let o = m
        .get_mut("object")
        .ok_or_else(|| format!("{}: required", at(path, "object")))?;
    statement_object(o, path, sub)?;
    let m = object(v, path)?;
    // Context revision and platform only make sense about an activity.
    let about_activity = m
        .get("object")
        .and_then(|o| o.get("objectType"))
        .and_then(Value::as_str)
        .is_none_or(|t| t == "Activity");
    if !about_activity
        && let Some(c) = m.get("context").and_then(Value::as_object)
        && (c.contains_key("revision") || c.contains_key("platform"))
    {
        return Err(format!(
            "{}: revision and platform are only allowed when the object is an Activity",
            at(path, "context")
        ));
    }
    Ok(())
}

/// Validates a statement as a client sent it and normalises it in place (single context
/// activities become arrays). `stored` and `authority` from the client are accepted and
/// later overwritten by the LRS.
pub fn validate(v: &mut Value) -> Checked {
    let m = object(v, "statement")?;
    only_keys(m, STATEMENT_KEYS, "")?;
    uuid_field(m, "id", "")?;
    if let Some(version) = string(m, "version", "")?
        && !version_supported(version)
    {
        return Err(format!(
            "version: `{version}` (this LRS stores xAPI 1.0.x statements)"
        ));
    }
    if m.contains_key("attachments") {
        return Err(
            "attachments: statements with attachments are not accepted by this LRS".to_owned(),
        );
    }
    body(v, "", false)?;
    let m = object(v, "statement")?;
    let verb_id = m
        .get("verb")
        .and_then(|v| v.get("id"))
        .and_then(Value::as_str);
    if verb_id == Some(VOIDED) {
        let target = m.get("object").and_then(|o| o.get("objectType"));
        if target.and_then(Value::as_str) != Some("StatementRef") {
            return Err("object: a voiding statement's object must be a StatementRef".to_owned());
        }
    }
    Ok(())
}

/// Whether `v` (a request's `X-Experience-API-Version` or a statement's `version`) is an
/// xAPI 1.0.x version.
pub fn version_supported(v: &str) -> bool {
    match v.strip_prefix("1.0") {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('.')
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())),
        None => false,
    }
}

/// Whether `incoming` is the statement `stored` again (xAPI Data §2.3.1, as far as this LRS
/// goes): see [`canonical`]; a `timestamp` the client did not send (the LRS filled it in) is
/// not compared.
pub fn equivalent(stored: &Value, incoming: &Value) -> bool {
    let mut old = canonical(stored);
    if incoming.get("timestamp").is_none()
        && let Some(m) = old.as_object_mut()
    {
        m.remove("timestamp");
    }
    old == canonical(incoming)
}

/// The statement as compared for equivalence: without what the LRS sets or may set (`id`,
/// `stored`, `authority`, `version`), timestamps as instants, the registration UUID in lower
/// case, the order of context activities ignored.
pub fn canonical(v: &Value) -> Value {
    let mut c = v.clone();
    if let Some(m) = c.as_object_mut() {
        for k in ["id", "stored", "authority", "version"] {
            m.remove(k);
        }
        if let Some(reg) = m.get_mut("context").and_then(|c| c.get_mut("registration"))
            && let Some(text) = reg.as_str()
        {
            *reg = Value::String(text.to_ascii_lowercase());
        }
        if let Some(t) = m
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(timestamp)
        {
            m.insert("timestamp".into(), Value::String(format_time(t)));
        }
        if let Some(ca) = m
            .get_mut("context")
            .and_then(|c| c.get_mut("contextActivities"))
            .and_then(Value::as_object_mut)
        {
            for list in ca.values_mut() {
                if list.is_object() {
                    *list = Value::Array(vec![list.take()]);
                }
                if let Some(items) = list.as_array_mut() {
                    items.sort_by_key(|a| a.to_string());
                }
            }
        }
    }
    c
}

/// The key identifying an Agent (or identified Group) by its IFI, e.g. `mailto:ada@example.com`
/// or `account:https://lms.example.com|42`; `None` for an anonymous Group.
pub fn ifi_key(agent: &Value) -> Option<String> {
    let m = agent.as_object()?;
    if let Some(mbox) = m.get("mbox").and_then(Value::as_str) {
        return Some(mbox.to_ascii_lowercase());
    }
    if let Some(sha) = m.get("mbox_sha1sum").and_then(Value::as_str) {
        return Some(format!("sha1:{}", sha.to_ascii_lowercase()));
    }
    if let Some(openid) = m.get("openid").and_then(Value::as_str) {
        return Some(openid.to_owned());
    }
    let a = m.get("account")?;
    Some(format!(
        "account:{}|{}",
        a.get("homePage")?.as_str()?,
        a.get("name")?.as_str()?
    ))
}

/// How statements are returned (the `format` parameter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// As stored.
    #[default]
    Exact,
    /// Agents, Groups, Activities and Verbs reduced to what identifies them.
    Ids,
    /// Language maps reduced to the one language that suits the reader best.
    Canonical,
}

impl Format {
    /// Parses the parameter's value.
    pub fn parse(v: &str) -> Option<Self> {
        match v {
            "exact" => Some(Format::Exact),
            "ids" => Some(Format::Ids),
            "canonical" => Some(Format::Canonical),
            _ => None,
        }
    }
}

/// `s` in `format`; `language` is the reader's preferred language tag (`Accept-Language`),
/// for `canonical`.
pub fn formatted(s: &Value, format: Format, language: Option<&str>) -> Value {
    let mut out = s.clone();
    match format {
        Format::Exact => {}
        Format::Ids => ids_statement(&mut out),
        Format::Canonical => canonical_maps(&mut out, language),
    }
    out
}

fn ids_agent(v: &mut Value) {
    let Some(m) = v.as_object() else { return };
    let mut kept = Map::new();
    if let Some(t) = m.get("objectType") {
        kept.insert("objectType".into(), t.clone());
    }
    let ifi = IFIS.into_iter().find(|k| m.contains_key(*k));
    match ifi {
        Some(k) => {
            kept.insert(k.into(), m[k].clone());
        }
        None => {
            if let Some(Value::Array(members)) = m.get("member") {
                let mut members = members.clone();
                members.iter_mut().for_each(ids_agent);
                kept.insert("member".into(), Value::Array(members));
            }
        }
    }
    *v = Value::Object(kept);
}

fn ids_activity(v: &mut Value) {
    let Some(m) = v.as_object() else { return };
    let mut kept = Map::new();
    for k in ["objectType", "id"] {
        if let Some(x) = m.get(k) {
            kept.insert(k.into(), x.clone());
        }
    }
    *v = Value::Object(kept);
}

fn ids_statement(s: &mut Value) {
    let Some(m) = s.as_object_mut() else { return };
    for k in ["actor", "authority"] {
        if let Some(a) = m.get_mut(k) {
            ids_agent(a);
        }
    }
    if let Some(verb) = m.get_mut("verb")
        && let Some(id) = verb.get("id").cloned()
    {
        *verb = serde_json::json!({ "id": id });
    }
    if let Some(o) = m.get_mut("object") {
        match o
            .get("objectType")
            .and_then(Value::as_str)
            .unwrap_or("Activity")
        {
            "Activity" => ids_activity(o),
            "Agent" | "Group" => ids_agent(o),
            "SubStatement" => ids_statement(o),
            _ => {}
        }
    }
    if let Some(c) = m.get_mut("context").and_then(Value::as_object_mut) {
        for k in ["instructor", "team"] {
            if let Some(a) = c.get_mut(k) {
                ids_agent(a);
            }
        }
        if let Some(ca) = c
            .get_mut("contextActivities")
            .and_then(Value::as_object_mut)
        {
            for list in ca.values_mut() {
                if let Some(items) = list.as_array_mut() {
                    items.iter_mut().for_each(ids_activity);
                }
            }
        }
    }
}

/// The one entry of a language map a reader of `language` gets: the exact tag, else the same
/// primary language, else `en-US`, `en`, else the first.
fn one_language(map: &mut Value, language: Option<&str>) {
    let Some(m) = map.as_object() else { return };
    let primary = |tag: &str| tag.split('-').next().unwrap_or("").to_ascii_lowercase();
    let chosen = language
        .and_then(|l| {
            m.keys()
                .find(|k| k.eq_ignore_ascii_case(l))
                .or_else(|| m.keys().find(|k| primary(k) == primary(l)))
        })
        .or_else(|| m.keys().find(|k| k.as_str() == "en-US"))
        .or_else(|| m.keys().find(|k| primary(k) == "en"))
        .or_else(|| m.keys().next())
        .cloned();
    if let Some(k) = chosen {
        let v = m[&k].clone();
        let mut one = Map::new();
        one.insert(k, v);
        *map = Value::Object(one);
    }
}

fn canonical_maps(v: &mut Value, language: Option<&str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if matches!(k.as_str(), "display" | "name" | "description") && x.is_object() {
                    one_language(x, language);
                } else if k != "extensions" {
                    canonical_maps(x, language);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| canonical_maps(x, language)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "actor": {"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.com"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
            "object": {"id": "https://lms.example.com/courses/intro",
                       "definition": {"name": {"en-US": "Intro"}}},
            "result": {"score": {"scaled": 0.92, "raw": 92, "min": 0, "max": 100}, "success": true},
            "context": {"registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
                        "contextActivities": {"parent": {"id": "https://lms.example.com/p"}}},
            "timestamp": "2024-03-01T12:00:00.000Z"
        })
    }

    fn error_of(edit: impl FnOnce(&mut Value)) -> String {
        let mut s = good();
        edit(&mut s);
        validate(&mut s).expect_err("invalid")
    }

    #[test]
    fn a_good_statement_validates_and_single_context_activities_become_arrays() {
        let mut s = good();
        validate(&mut s).unwrap();
        assert!(s["context"]["contextActivities"]["parent"].is_array());
    }

    #[test]
    fn each_problem_is_named() {
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|s| {
                    s["actor"]["account"] = json!({"homePage": "https://x.io", "name": "1"})
                }),
                "actor: an Agent needs exactly one of mbox, mbox_sha1sum, openid, account (found mbox, account)",
            ),
            (
                Box::new(|s| {
                    s["actor"].as_object_mut().unwrap().remove("mbox");
                }),
                "found none",
            ),
            (
                Box::new(|s| s["actor"]["mbox"] = json!("ada@example.com")),
                "must be a mailto: IRI",
            ),
            (
                Box::new(|s| s["verb"]["id"] = json!("completed")),
                "verb.id: `completed` is not an absolute IRI",
            ),
            (
                Box::new(|s| {
                    s.as_object_mut().unwrap().remove("object");
                }),
                "object: required",
            ),
            (
                Box::new(|s| s["result"]["score"]["scaled"] = json!(1.5)),
                "result.score.scaled: 1.5 is outside −1..1",
            ),
            (
                Box::new(|s| s["result"]["score"]["raw"] = json!(101)),
                "result.score.raw: 101 is above max 100",
            ),
            (
                Box::new(|s| s["id"] = json!("nope")),
                "id: `nope` is not a UUID",
            ),
            (
                Box::new(|s| s["context"]["registration"] = json!("x")),
                "context.registration: `x` is not a UUID",
            ),
            (
                Box::new(|s| s["timestamp"] = json!("yesterday")),
                "timestamp: `yesterday`",
            ),
            (
                Box::new(|s| s["colour"] = json!(1)),
                "colour: unknown property",
            ),
            (
                Box::new(|s| s["verb"]["id"] = json!(VOIDED)),
                "a voiding statement's object must be a StatementRef",
            ),
            (
                Box::new(|s| s["version"] = json!("2.0.0")),
                "version: `2.0.0`",
            ),
        ];
        for (edit, expected) in cases {
            let e = error_of(edit);
            assert!(e.contains(expected), "`{e}` should contain `{expected}`");
        }
    }

    #[test]
    fn equivalence_ignores_what_the_lrs_sets_and_the_form_of_timestamps() {
        let a = good();
        let mut b = good();
        b["stored"] = json!("2025-01-01T00:00:00Z");
        b["authority"] = json!({"mbox": "mailto:x@y.z"});
        b["version"] = json!("1.0.3");
        b["timestamp"] = json!("2024-03-01T13:00:00+01:00");
        b["context"]["contextActivities"]["parent"] = json!([{"id": "https://lms.example.com/p"}]);
        assert_eq!(canonical(&a), canonical(&b));
        b["result"]["success"] = json!(false);
        assert_ne!(canonical(&a), canonical(&b));
        // A timestamp the LRS filled in is not held against a resubmission without one.
        let mut without = good();
        without.as_object_mut().unwrap().remove("timestamp");
        assert!(equivalent(&a, &without));
        assert!(!equivalent(&without, &a));
    }

    #[test]
    fn ids_and_canonical_formats() {
        let mut s = good();
        validate(&mut s).unwrap();
        s["verb"]["display"] = json!({"en-US": "completed", "de-DE": "abgeschlossen"});
        let ids = formatted(&s, Format::Ids, None);
        assert_eq!(
            ids["actor"],
            json!({"objectType": "Agent", "mbox": "mailto:ada@example.com"})
        );
        assert_eq!(
            ids["verb"],
            json!({"id": "http://adlnet.gov/expapi/verbs/completed"})
        );
        assert_eq!(
            ids["object"],
            json!({"id": "https://lms.example.com/courses/intro"})
        );
        assert_eq!(ids["result"], s["result"]);
        let de = formatted(&s, Format::Canonical, Some("de"));
        assert_eq!(de["verb"]["display"], json!({"de-DE": "abgeschlossen"}));
        assert_eq!(
            de["actor"]["name"],
            json!("Ada"),
            "a person's name is no language map"
        );
        let other = formatted(&s, Format::Canonical, Some("fr-FR"));
        assert_eq!(other["verb"]["display"], json!({"en-US": "completed"}));
        assert_eq!(formatted(&s, Format::Exact, None), s);
    }

    #[test]
    fn versions_and_iris() {
        assert!(
            version_supported("1.0.3") && version_supported("1.0") && version_supported("1.0.0")
        );
        assert!(
            !version_supported("2.0.0") && !version_supported("1.0.") && !version_supported("1.01")
        );
        assert!(is_iri("http://adlnet.gov/expapi/verbs/passed") && is_iri("urn:x:y"));
        assert!(!is_iri("passed") && !is_iri("http://a b") && !is_iri("1http:x"));
    }
}
