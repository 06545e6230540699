//! The driver against an in-process fake pager: a list of pages served by index, the index of
//! the next page kept in the state.

use super::*;
use crate::HeaderValue;
use futures::StreamExt;
use serde_json::json;
use tributary_model::{Account, Entity};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct FakeState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<i64>,
    #[serde(flatten)]
    tally: Tally,
}

impl PullState for FakeState {
    fn is_incremental(&self) -> bool {
        self.since.is_some()
    }
}

struct FakePager {
    pages: Vec<Vec<Value>>,
    total: Option<u64>,
    fetched: Vec<usize>,
    fail_at: Option<usize>,
}

impl FakePager {
    fn new(pages: Vec<Vec<Value>>, total: Option<u64>) -> Self {
        Self {
            pages,
            total,
            fetched: Vec::new(),
            fail_at: None,
        }
    }
}

#[async_trait]
impl PageSource<FakeState> for FakePager {
    type Raw = Value;

    async fn next_page(&mut self, state: &mut FakeState) -> Result<Page<Value>, ConnectorError> {
        let at = state.page.unwrap_or(0);
        self.fetched.push(at);
        if self.fail_at == Some(at) {
            return Err(ConnectorError::Transient {
                url: format!("fake/{at}"),
                message: "connection reset".to_owned(),
            });
        }
        let records = self.pages.get(at).cloned().unwrap_or_default();
        let more = at + 1 < self.pages.len();
        state.page = more.then_some(at + 1);
        Ok(Page::new(records, more).with_total(self.total))
    }
}

fn pages(n: usize, per: usize) -> Vec<Vec<Value>> {
    (0..n)
        .map(|p| (0..per).map(|i| json!({"id": p * per + i})).collect())
        .collect()
}

const EMIT: Emitter<'static> = Emitter {
    system: "fake",
    instance: "f",
    stream: "things",
    incremental: false,
};

/// Maps `{"id"}` to an account named after it; `{"bad": …}` fails; `{"gone": …}` maps to no
/// entity.
fn map(raw: Value) -> Mapped {
    let Some(id) = raw.get("id").and_then(crate::map::id_text) else {
        return EMIT.reject(None, "record without an `id`", raw);
    };
    let entity = if raw.get("bad").is_some() {
        Err("bad value")
    } else if raw.get("gone").is_some() {
        Ok(None)
    } else {
        Ok(Some(Entity::Account(Account::named(id.clone()))))
    };
    EMIT.mapped(id, raw, None, entity)
}

fn tally(s: &mut FakeState) -> &mut Tally {
    &mut s.tally
}

async fn run(source: &mut FakePager, state: &mut FakeState) -> Vec<Result<ReadItem, String>> {
    let mapper = PerRecord(map);
    let phase = Phase {
        vendor: "fake",
        stream: "things",
        name: "listing",
        state,
        tally: Some(tally),
    };
    read_pages(phase, source, &mapper)
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
        .await
}

/// A compact trace: `r<id>` record, `x` reject, `d<id>` delete, `s` skip, `c<state>` checkpoint,
/// `n<source>/<read>` count, `t<more>` expected total, `e` error.
fn trace(items: &[Result<ReadItem, String>]) -> Vec<String> {
    items
        .iter()
        .map(|i| match i {
            Ok(ReadItem::Record(r)) => format!("r{}", r.external_ref.external_id),
            Ok(ReadItem::Reject(_)) => "x".to_owned(),
            Ok(ReadItem::Delete(r)) => format!("d{}", r.external_id),
            Ok(ReadItem::Skip) => "s".to_owned(),
            Ok(ReadItem::Checkpoint(s)) => format!("c{}", s.0),
            Ok(ReadItem::Complete(s)) => format!("done{}", s.0),
            Ok(ReadItem::Count(c)) => format!("n{}/{}", c.source, c.read),
            Ok(ReadItem::Expect(n)) => format!("t{n}"),
            Err(_) => "e".to_owned(),
        })
        .collect()
}

#[tokio::test]
async fn a_checkpoint_follows_every_page_but_the_last_and_the_count_ends_the_phase() {
    let mut source = FakePager::new(pages(3, 2), Some(6));
    let mut state = FakeState::default();
    let items = run(&mut source, &mut state).await;
    assert_eq!(
        trace(&items),
        [
            "t6",
            "r0",
            "r1",
            r#"c{"page":1,"read":2,"total":6}"#,
            "r2",
            "r3",
            r#"c{"page":2,"read":4,"total":6}"#,
            "r4",
            "r5",
            "n6/6"
        ]
    );
    assert_eq!(source.fetched, [0, 1, 2]);
    // The phase's last state is left for the vendor: no next page, the tally complete.
    assert_eq!(state.page, None);
    assert_eq!(state.tally.read, 6);
}

#[tokio::test]
async fn a_resumed_phase_starts_at_its_checkpoint_and_counts_the_whole_phase() {
    let mut source = FakePager::new(pages(3, 2), Some(6));
    let mut state = FakeState {
        page: Some(2),
        tally: Tally {
            total: Some(6),
            read: 4,
        },
        ..FakeState::default()
    };
    let items = run(&mut source, &mut state).await;
    // The bar's total is what is left: 2 of the 6.
    assert_eq!(trace(&items), ["t2", "r4", "r5", "n6/6"]);
    assert_eq!(
        source.fetched,
        [2],
        "nothing before the checkpoint is fetched again"
    );
}

#[tokio::test]
async fn rejects_and_skips_do_not_stop_the_read_and_a_shortfall_is_counted() {
    let pages = vec![
        vec![
            json!({"id": 1}),
            json!({"bad": 1, "id": 2}),
            json!({"x": 1}),
        ],
        vec![json!({"id": 3, "gone": true}), json!({"id": 4})],
    ];
    let mut source = FakePager::new(pages, Some(9));
    let mut state = FakeState::default();
    let items = run(&mut source, &mut state).await;
    assert_eq!(
        trace(&items),
        [
            "t9",
            "r1",
            "x",
            "x",
            r#"c{"page":1,"read":3,"total":9}"#,
            "s",
            "r4",
            "n9/5"
        ]
    );
    match &items[2] {
        Ok(ReadItem::Reject(r)) => {
            assert_eq!(r.external_id.as_deref(), Some("2"));
            assert_eq!(r.reason, "bad value");
            assert_eq!(r.raw, json!({"bad": 1, "id": 2}));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_incremental_emitter_deletes_what_no_longer_maps_and_no_total_means_no_count() {
    let emit = Emitter {
        incremental: true,
        ..EMIT
    };
    let mapper = PerRecord(move |raw: Value| {
        let id = raw["id"].to_string();
        emit.mapped(id, raw, None, Ok::<_, String>(None))
    });
    let mut source = FakePager::new(pages(1, 2), None);
    let mut state = FakeState::default();
    let phase = Phase {
        vendor: "fake",
        stream: "things",
        name: "listing",
        state: &mut state,
        tally: None,
    };
    let items: Vec<_> = read_pages(phase, &mut source, &mapper)
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
        .await;
    assert_eq!(trace(&items), ["d0", "d1"]);
}

#[tokio::test]
async fn a_failed_page_ends_the_stream_after_the_last_checkpoint() {
    let mut source = FakePager::new(pages(3, 1), Some(3));
    source.fail_at = Some(2);
    let mut state = FakeState::default();
    let items = run(&mut source, &mut state).await;
    assert_eq!(
        trace(&items),
        [
            "t3",
            "r0",
            r#"c{"page":1,"read":1,"total":3}"#,
            "r1",
            r#"c{"page":2,"read":2,"total":3}"#,
            "e"
        ]
    );
}

#[test]
fn starting_cursor_rules() {
    let state = |v: Value| Some(StreamState(v));
    let full = SyncMode::FullRefresh;
    let inc = SyncMode::Incremental;
    let cut = FakeState {
        page: Some(3),
        ..FakeState::default()
    };
    let mark = FakeState {
        since: Some(5),
        ..FakeState::default()
    };
    let check = |mode, saved: Option<StreamState>, expected: Start<FakeState>| {
        assert_eq!(
            start::<FakeState>("things", mode, saved.clone()),
            expected,
            "{mode:?} {saved:?}"
        );
    };
    check(full, None, Start::Fresh);
    check(full, state(Value::Null), Start::Fresh);
    check(full, state(json!({"page": 3})), Start::Resume(cut.clone()));
    // A refresh from incremental state starts over: its sweep must not see a partial read.
    check(full, state(json!({"since": 5})), Start::Fresh);
    check(inc, state(json!({"since": 5})), Start::Resume(mark));
    check(inc, None, Start::Fresh);
    // After a cut-off refresh an incremental run reads everything first.
    check(inc, state(json!({"page": 3})), Start::Fresh);
    // Garbage starts over.
    check(inc, state(json!([1])), Start::Fresh);
}

#[test]
fn finishing_hands_the_next_mark_or_starts_over() {
    let mark = StreamState(json!({"since": 9}));
    assert_eq!(
        finish(SyncMode::FullRefresh, Some(mark.clone())),
        ReadItem::Complete(mark.clone())
    );
    assert_eq!(
        finish(SyncMode::Incremental, Some(mark.clone())),
        ReadItem::Checkpoint(mark)
    );
    for mode in [SyncMode::FullRefresh, SyncMode::Incremental] {
        assert_eq!(
            finish(mode, None),
            ReadItem::Checkpoint(StreamState(Value::Null))
        );
    }
}

#[test]
fn declarations_make_specs() {
    const TABLE: [StreamDecl<&str>; 2] = [
        StreamDecl {
            name: "a",
            entity: EntityKind::Account,
            cursor_field: Some("m"),
            modes: INCREMENTAL_FIRST,
            delete_strategy: DeleteStrategy::NativeFeed,
            vendor: "/a",
        },
        StreamDecl {
            name: "rates",
            entity: EntityKind::FxRate,
            cursor_field: None,
            modes: &[SyncMode::FullRefresh],
            delete_strategy: DeleteStrategy::KeyDiff,
            vendor: "/r",
        },
    ];
    let a = StreamDecl::find(&TABLE, "a").unwrap();
    assert_eq!(a.vendor, "/a");
    assert_eq!(a.spec().cursor_field.as_deref(), Some("m"));
    assert_eq!(a.spec().modes, INCREMENTAL_FIRST);
    let rates = StreamDecl::find(&TABLE, "rates").unwrap();
    assert_eq!(rates.mode(SyncMode::Incremental), SyncMode::FullRefresh);
    assert!(StreamDecl::find(&TABLE, "b").is_none());
}

#[test]
fn cursor_tokens_and_their_advance() {
    let body = |v: Value| json!({"paging": {"next": {"after": v}}});
    let at = "/paging/next/after";
    assert_eq!(
        cursor_token(&body(json!("9")), at),
        Ok(Some("9".to_owned()))
    );
    assert_eq!(cursor_token(&body(json!(9)), at), Ok(Some("9".to_owned())));
    assert_eq!(cursor_token(&json!({"results": []}), at), Ok(None));
    assert!(cursor_token(&body(json!({})), at).is_err());
    assert!(ensure_advanced("u", Some("9"), Some("10")).is_ok());
    assert!(ensure_advanced("u", Some("9"), None).is_ok());
    assert!(matches!(
        ensure_advanced("u", Some("9"), Some("9")),
        Err(ConnectorError::Decode { .. })
    ));
}

#[test]
fn offsets_stop_at_a_short_page_or_the_total() {
    let first = OffsetLimit {
        offset: 0,
        limit: 50,
    };
    assert_eq!(
        first.next(50, None),
        Some(OffsetLimit {
            offset: 50,
            limit: 50
        })
    );
    assert_eq!(first.next(49, None), None);
    assert_eq!(first.next(0, None), None);
    assert_eq!(first.next(50, Some(50)), None);
    assert_eq!(first.next(50, Some(51)).map(|o| o.offset), Some(50));
}

#[test]
fn link_headers_name_the_next_page() {
    let mut headers = HeaderMap::new();
    headers.append(
        "link",
        HeaderValue::from_static(
            r#"<https://c/api/v1/courses?page=1>; rel="current", <https://c/api/v1/courses?page=2>; rel="next""#,
        ),
    );
    assert_eq!(
        link_next(&headers).as_deref(),
        Some("https://c/api/v1/courses?page=2")
    );
    let mut last = HeaderMap::new();
    last.append(
        "link",
        HeaderValue::from_static(r#"<https://c/x?page=9>; rel="last""#),
    );
    assert_eq!(link_next(&last), None);
    assert_eq!(link_next(&HeaderMap::new()), None);
}

#[test]
fn next_urls_resolve_against_the_instance() {
    assert_eq!(
        next_url("https://na1.sf.com/", "/services/data/v62.0/query/01g-2000"),
        "https://na1.sf.com/services/data/v62.0/query/01g-2000"
    );
    assert_eq!(
        next_url("https://x", "https://y/api/v1/users?page=2"),
        "https://y/api/v1/users?page=2"
    );
}

#[test]
fn lookbacks_read_behind_the_mark() {
    let mark = DateTime::parse_from_rfc3339("2024-03-01T00:05:00Z")
        .unwrap()
        .to_utc();
    assert_eq!(
        lookback(mark, 300).to_rfc3339(),
        "2024-03-01T00:00:00+00:00"
    );
    assert_eq!(lookback(mark, u64::MAX), mark);
    assert_eq!(lookback_ms(10_000, 3), 7_000);
    assert_eq!(lookback_ms(1_000, 300), 0);
}
