//! The source against an in-memory store: what it accepted is applied as the engine would
//! commit it, and read back through the same `StoredRecords` interface the gateway offers.

use super::*;
use std::sync::Mutex;
use tributary_connector::{
    CredentialVerifier, Credentials, HeaderMap, RecordReadError, RecordReader, StoredRecords,
    VerifiedCredential, VerifyError,
};

#[derive(Default)]
struct Memory {
    rows: Mutex<BTreeMap<(String, String), (StoredRecord, Entity)>>,
}

impl Memory {
    fn commit(&self, items: Vec<PushItem>) {
        let mut rows = self.rows.lock().unwrap();
        let mut deletes = Vec::new();
        for item in items {
            match item.item {
                ReadItem::Record(r) => {
                    let key = (
                        r.external_ref.object.clone(),
                        r.external_ref.external_id.clone(),
                    );
                    rows.insert(
                        key,
                        (
                            StoredRecord {
                                external_id: r.external_ref.external_id.clone(),
                                raw: r.raw.clone(),
                                updated_at: r.source_updated_at,
                                deleted: false,
                            },
                            r.entity.clone(),
                        ),
                    );
                }
                ReadItem::Delete(r) => deletes.push((r.object, r.external_id)),
                _ => {}
            }
        }
        for key in deletes {
            if let Some(row) = rows.get_mut(&key) {
                row.0.deleted = true;
            }
        }
    }

    fn entity(&self, object: &str, id: &str) -> Option<(bool, Entity)> {
        let rows = self.rows.lock().unwrap();
        rows.get(&(object.to_owned(), id.to_owned()))
            .map(|(r, e)| (r.deleted, e.clone()))
    }
}

#[async_trait]
impl RecordReader for Memory {
    async fn get(
        &self,
        kind: &RecordKind,
        ids: &[String],
    ) -> Result<Vec<StoredRecord>, RecordReadError> {
        let rows = self.rows.lock().unwrap();
        Ok(ids
            .iter()
            .filter_map(|id| rows.get(&(kind.object.clone(), id.clone())))
            .map(|(r, _)| r.clone())
            .collect())
    }

    async fn page(
        &self,
        kind: &RecordKind,
        page: &RecordPageRequest,
    ) -> Result<Vec<StoredRecord>, RecordReadError> {
        let rows = self.rows.lock().unwrap();
        let mut all: Vec<StoredRecord> = rows
            .iter()
            .filter(|((object, _), (r, _))| {
                object == &kind.object && (page.include_deleted || !r.deleted)
            })
            .map(|(_, (r, _))| r.clone())
            .filter(|r| r.updated_at.is_some())
            .collect();
        all.sort_by_key(|r| (r.updated_at, r.external_id.clone()));
        if !page.ascending {
            all.reverse();
        }
        Ok(all
            .into_iter()
            .filter(|r| {
                let key = (r.updated_at.unwrap(), r.external_id.clone());
                page.since.is_none_or(|s| key.0 > s)
                    && page.until.is_none_or(|u| key.0 <= u)
                    && page
                        .after
                        .as_ref()
                        .is_none_or(|a| if page.ascending { key > *a } else { key < *a })
            })
            .take(page.limit as usize)
            .collect())
    }
}

struct Key;

#[async_trait]
impl CredentialVerifier for Key {
    async fn verify(&self, secret: &str) -> Result<Option<VerifiedCredential>, VerifyError> {
        Ok((secret == "trb_secret").then(|| VerifiedCredential {
            name: "lms".to_owned(),
        }))
    }
}

struct Lrs {
    source: XapiSource,
    memory: Arc<Memory>,
}

impl Lrs {
    fn new() -> Self {
        let config: XapiConfig = serde_json::from_value(json!({})).unwrap();
        Lrs {
            source: XapiSource::new("lrs", config).unwrap(),
            memory: Arc::new(Memory::default()),
        }
    }

    async fn send(
        &self,
        method: Method,
        query: Option<&str>,
        body: Value,
        version: Option<&str>,
        auth: &str,
    ) -> Result<PushResponse, PushError> {
        use base64::Engine;
        let mut headers = HeaderMap::new();
        if let Some(v) = version {
            headers.insert(VERSION_HEADER, v.parse().unwrap());
        }
        let basic = base64::engine::general_purpose::STANDARD.encode(auth);
        headers.insert("authorization", format!("Basic {basic}").parse().unwrap());
        let request = PushRequest {
            method,
            path: "/statements".to_owned(),
            query: query.map(str::to_owned),
            headers,
            body: if body.is_null() {
                vec![]
            } else {
                body.to_string().into_bytes()
            },
            credentials: Credentials::new(Arc::new(Key)),
            records: StoredRecords::new(self.memory.clone()),
        };
        let accepted = self.source.accept(request).await?;
        self.memory.commit(accepted.items);
        Ok(accepted.response)
    }

    async fn post(&self, body: Value) -> Result<PushResponse, PushError> {
        self.send(Method::POST, None, body, Some("1.0.3"), "lms:trb_secret")
            .await
    }

    async fn put(&self, id: &str, body: Value) -> Result<PushResponse, PushError> {
        self.send(
            Method::PUT,
            Some(&format!("statementId={id}")),
            body,
            Some("1.0.3"),
            "lms:trb_secret",
        )
        .await
    }

    async fn get(&self, query: &str) -> Result<Value, PushError> {
        let r = self
            .send(
                Method::GET,
                Some(query),
                Value::Null,
                Some("1.0.3"),
                "lms:trb_secret",
            )
            .await?;
        assert_eq!(r.status, 200);
        Ok(serde_json::from_slice(&r.body).unwrap())
    }
}

fn st(id: Option<&str>, email: &str, verb: &str, course: &str, day: u32) -> Value {
    let mut s = json!({
        "actor": {"mbox": format!("mailto:{email}"), "name": email},
        "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}")},
        "object": {"id": format!("https://lms.example.com/{course}"),
                   "definition": {"name": {"en-US": course}}},
        "timestamp": format!("2024-03-{day:02}T12:00:00Z"),
    });
    if let Some(id) = id {
        s["id"] = json!(id);
    }
    s
}

const A: &str = "fd41c918-b88b-4b20-a0a5-a4c32391aaa0";
const B: &str = "fd41c918-b88b-4b20-a0a5-a4c32391aaa1";
const C: &str = "fd41c918-b88b-4b20-a0a5-a4c32391aaa2";

#[tokio::test]
async fn the_version_header_and_credentials_are_required() {
    let lrs = Lrs::new();
    let s = st(None, "ada@example.com", "launched", "intro", 1);
    let no_version = lrs
        .send(Method::POST, None, s.clone(), None, "lms:trb_secret")
        .await;
    assert!(
        matches!(no_version, Err(PushError::BadRequest(m)) if m.contains("X-Experience-API-Version"))
    );
    let v2 = lrs
        .send(
            Method::POST,
            None,
            s.clone(),
            Some("2.0.0"),
            "lms:trb_secret",
        )
        .await;
    assert!(matches!(v2, Err(PushError::BadRequest(_))));
    let wrong = lrs
        .send(Method::POST, None, s.clone(), Some("1.0.3"), "lms:nope")
        .await;
    assert!(matches!(wrong, Err(PushError::Unauthorized(_))));
    let other_user = lrs
        .send(Method::POST, None, s.clone(), Some("1.0.3"), "x:trb_secret")
        .await;
    assert!(matches!(other_user, Err(PushError::Unauthorized(_))));
    let ok = lrs
        .send(Method::POST, None, s, Some("1.0.1"), "lms:trb_secret")
        .await
        .unwrap();
    assert!(
        ok.headers
            .contains(&(VERSION_HEADER.to_owned(), "1.0.1".to_owned()))
    );
}

#[tokio::test]
async fn a_batch_with_invalid_statements_names_each_and_stores_nothing() {
    let lrs = Lrs::new();
    let mut bad = st(None, "ada@example.com", "passed", "intro", 2);
    bad["result"] = json!({"score": {"scaled": 2}});
    let batch = json!([st(Some(A), "ada@example.com", "registered", "intro", 1), bad,
                       {"actor": {"mbox": "mailto:x@y.io"}, "verb": {"id": "x"}, "object": {"id": "urn:a"}}]);
    let Err(PushError::BadRequest(message)) = lrs.post(batch).await else {
        panic!("refused")
    };
    assert!(
        message.contains("statement 1: result.score.scaled: 2 is outside −1..1"),
        "{message}"
    );
    assert!(
        message.contains("statement 2: verb.id: `x` is not an absolute IRI"),
        "{message}"
    );
    assert!(lrs.memory.rows.lock().unwrap().is_empty());
}

#[tokio::test]
async fn statements_fold_into_enrollments_replays_are_idempotent_and_conflicts_refused() {
    let lrs = Lrs::new();
    let r = lrs
        .post(json!([
            st(Some(A), "Ada@Example.com", "registered", "intro", 1),
            st(Some(B), "ada@example.com", "launched", "intro", 2)
        ]))
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!([A, B])
    );
    let mut passed = st(Some(C), "ada@example.com", "passed", "intro", 4);
    passed["result"] = json!({"score": {"scaled": 0.875}, "success": true, "completion": true});
    assert_eq!(lrs.put(C, passed.clone()).await.unwrap().status, 204);
    // Replayed: no-op.
    assert_eq!(lrs.put(C, passed.clone()).await.unwrap().status, 204);
    lrs.post(json!([st(
        Some(A),
        "Ada@Example.com",
        "registered",
        "intro",
        1
    )]))
    .await
    .unwrap();
    let pair = fold::pair_id("mailto:ada@example.com", "https://lms.example.com/intro");
    let Some((false, Entity::Enrollment(e))) = lrs.memory.entity("enrollments", &pair) else {
        panic!("enrollment")
    };
    assert_eq!(e.status, tributary_model::EnrollmentStatus::Completed);
    assert_eq!(
        (e.passed, e.score),
        (Some(true), Some(Decimal::new(8750, 2)))
    );
    assert!(e.started_at.is_some());
    // Conflicts.
    passed["result"]["success"] = json!(false);
    assert!(matches!(
        lrs.put(C, passed.clone()).await,
        Err(PushError::Conflict(_))
    ));
    passed["id"] = json!(C);
    assert!(matches!(
        lrs.post(passed).await,
        Err(PushError::Conflict(_))
    ));
    // Read back.
    let got = lrs.get(&format!("statementId={C}")).await.unwrap();
    assert_eq!(got["id"], json!(C));
    assert_eq!(got["authority"]["account"]["name"], json!("lms"));
    assert!(got["stored"].is_string());
    let Some((false, Entity::Person(p))) = lrs.memory.entity("agents", "mailto:ada@example.com")
    else {
        panic!("person")
    };
    assert_eq!(p.email.as_deref(), Some("ada@example.com"));
}

#[tokio::test]
async fn voiding_hides_a_statement_and_refolds_its_enrollment() {
    let lrs = Lrs::new();
    let mut passed = st(Some(B), "ada@example.com", "passed", "intro", 4);
    passed["result"] = json!({"success": true});
    lrs.post(json!([
        st(Some(A), "ada@example.com", "registered", "intro", 1),
        passed
    ]))
    .await
    .unwrap();
    let void = json!({"actor": {"mbox": "mailto:admin@example.com"},
        "verb": {"id": VOIDED}, "object": {"objectType": "StatementRef", "id": B}});
    lrs.post(void).await.unwrap();
    assert!(matches!(
        lrs.get(&format!("statementId={B}")).await,
        Err(PushError::NotFound(_))
    ));
    assert_eq!(
        lrs.get(&format!("voidedStatementId={B}")).await.unwrap()["id"],
        json!(B)
    );
    let list = lrs
        .get("verb=http%3A%2F%2Fadlnet.gov%2Fexpapi%2Fverbs%2Fpassed")
        .await
        .unwrap();
    assert_eq!(list["statements"], json!([]));
    let pair = fold::pair_id("mailto:ada@example.com", "https://lms.example.com/intro");
    let Some((false, Entity::Enrollment(e))) = lrs.memory.entity("enrollments", &pair) else {
        panic!("enrollment")
    };
    assert_eq!(
        (e.status, e.passed),
        (tributary_model::EnrollmentStatus::Enrolled, None)
    );
    let Some((true, Entity::LearningEvent(ev))) = lrs.memory.entity("statements", B) else {
        panic!("voided event kept")
    };
    assert!(ev.voided);
}

#[tokio::test]
async fn lists_filter_and_page_with_more() {
    let lrs = Lrs::new();
    for day in 1..=9 {
        let who = if day % 2 == 0 {
            "bob@example.com"
        } else {
            "ada@example.com"
        };
        lrs.post(st(None, who, "attempted", "intro", day))
            .await
            .unwrap();
        // Distinct stored times.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let agent = encode(&json!({"mbox": "mailto:ada@example.com"}).to_string());
    let mut query = format!("agent={agent}&limit=2&ascending=true");
    let mut days = Vec::new();
    loop {
        let page = lrs.get(&query).await.unwrap();
        for s in page["statements"].as_array().unwrap() {
            days.push(s["timestamp"].as_str().unwrap()[8..10].to_owned());
        }
        let more = page["more"].as_str().unwrap();
        if more.is_empty() {
            break;
        }
        query = more.split_once('?').unwrap().1.to_owned();
    }
    assert_eq!(days, ["01", "03", "05", "07", "09"]);
    let newest = lrs.get("limit=1").await.unwrap();
    assert_eq!(
        newest["statements"][0]["timestamp"],
        json!("2024-03-09T12:00:00Z")
    );
}

#[tokio::test]
async fn a_statement_voided_in_its_own_batch_is_kept_voided() {
    let lrs = Lrs::new();
    let void = json!({"actor": {"mbox": "mailto:admin@example.com"},
        "verb": {"id": VOIDED}, "object": {"objectType": "StatementRef", "id": A}});
    lrs.post(json!([
        st(Some(A), "ada@example.com", "registered", "intro", 1),
        void
    ]))
    .await
    .unwrap();
    let Some((true, Entity::LearningEvent(ev))) = lrs.memory.entity("statements", A) else {
        panic!("voided event kept")
    };
    assert!(ev.voided);
    let pair = fold::pair_id("mailto:ada@example.com", "https://lms.example.com/intro");
    assert!(matches!(
        lrs.memory.entity("enrollments", &pair),
        None | Some((true, _))
    ));
    // A voiding statement cannot be voided.
    let void_id = lrs
        .get("verb=http%3A%2F%2Fadlnet.gov%2Fexpapi%2Fverbs%2Fvoided")
        .await
        .unwrap()["statements"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let again = json!({"actor": {"mbox": "mailto:admin@example.com"},
        "verb": {"id": VOIDED}, "object": {"objectType": "StatementRef", "id": void_id}});
    assert!(
        matches!(lrs.post(again).await, Err(PushError::BadRequest(m)) if m.contains("cannot be voided"))
    );
}

#[tokio::test]
async fn an_actor_account_on_the_crm_home_page_is_a_contact_id_hint() {
    let config: XapiConfig =
        serde_json::from_value(json!({"crm_home_page": "https://crm.example.com/"})).unwrap();
    let lrs = Lrs {
        source: XapiSource::new("lrs", config).unwrap(),
        memory: Arc::new(Memory::default()),
    };
    let mut s = st(None, "x@example.com", "launched", "intro", 1);
    s["actor"] = json!({"account": {"homePage": "https://crm.example.com", "name": "1042"},
                        "name": "Ada"});
    lrs.post(s).await.unwrap();
    let Some((false, Entity::Person(p))) = lrs
        .memory
        .entity("agents", "account:https://crm.example.com|1042")
    else {
        panic!("person")
    };
    assert_eq!((p.name.as_str(), p.email.as_deref()), ("Ada", None));
    assert_eq!(
        p.hints,
        vec![
            IdentityHint::from_field(IdentityHintKind::CrmContactId, "account.name", "1042")
                .unwrap()
        ]
    );
    // Another home page is no hint.
    let mut s = st(None, "x@example.com", "launched", "intro", 1);
    s["actor"] = json!({"account": {"homePage": "https://lms.example.com", "name": "7"}});
    lrs.post(s).await.unwrap();
    let Some((false, Entity::Person(p))) = lrs
        .memory
        .entity("agents", "account:https://lms.example.com|7")
    else {
        panic!("person")
    };
    assert!(p.hints.is_empty());
}

#[test]
fn bad_configurations_are_refused_with_the_key() {
    for (settings, expected) in [
        (json!({"path": "xapi"}), "path `xapi` must start with `/`"),
        (json!({"path": "/"}), "path `/` must start with `/`"),
        (
            json!({"authority_home_page": "lrs"}),
            "authority_home_page `lrs`",
        ),
        (json!({"max_statements": 0}), "max_statements"),
    ] {
        let e = DECLARATION
            .build("lrs", settings)
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains(expected), "`{e}` should name `{expected}`");
    }
    assert!(DECLARATION.build("lrs", json!({"colour": 1})).is_err());
    let built = DECLARATION
        .build("lrs", json!({"path": "/lrs/xapi/"}))
        .unwrap();
    assert_eq!(built.prefix, "/lrs/xapi");
}

#[tokio::test]
async fn a_learner_keeps_the_name_an_earlier_statement_gave() {
    let lrs = Lrs::new();
    let named = st(None, "ada@example.com", "registered", "intro", 1);
    let mut unnamed = st(None, "ada@example.com", "launched", "intro", 2);
    unnamed["actor"] = json!({"mbox": "mailto:ada@example.com"});
    lrs.post(json!([named])).await.unwrap();
    lrs.post(json!([unnamed.clone()])).await.unwrap();
    let person = |lrs: &Lrs| match lrs.memory.entity("agents", "mailto:ada@example.com") {
        Some((false, Entity::Person(p))) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        person(&lrs).name,
        "ada@example.com",
        "the first statement's name"
    );
    let mut renamed = st(None, "ada@example.com", "attempted", "intro", 3);
    renamed["actor"]["name"] = json!("Ada Lovelace");
    lrs.post(json!([renamed, unnamed.clone()])).await.unwrap();
    assert_eq!(person(&lrs).name, "Ada Lovelace", "within a batch");
    let mut later = unnamed;
    later["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/completed");
    lrs.post(json!([later])).await.unwrap();
    assert_eq!(person(&lrs).name, "Ada Lovelace", "from the stored actor");
}
