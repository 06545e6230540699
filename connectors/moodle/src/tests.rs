use super::*;
use serde_json::json;

fn build(settings: Value) -> Result<Box<dyn Connector>, ConnectorError> {
    use tributary_connector::DynKind;
    DECLARATION.build(
        "lms",
        settings,
        tributary_connector::HttpClientConfig::default(),
    )
}

#[test]
fn config_is_validated_naming_the_key() {
    let ok = json!({ "endpoint": "https://moodle.example.edu", "token": "t" });
    assert!(build(ok).is_ok());
    let cases = [
        (json!({ "token": "t" }), "endpoint"),
        (
            json!({ "endpoint": "https://m.example", "token": " " }),
            "token",
        ),
        (
            json!({ "endpoint": "https://m.example", "token": "t", "page_size": 0 }),
            "page_size",
        ),
        (
            json!({ "endpoint": "https://m.example", "token": "t", "courses": { "map": { "x": { "tags": [""] } } } }),
            "courses.map",
        ),
        (
            json!({ "endpoint": "https://m.example", "token": "t", "wstoken": "t" }),
            "wstoken",
        ),
    ];
    for (settings, key) in cases {
        let err = build(settings).err().expect("refused").to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[test]
fn every_stream_is_a_full_refresh_swept_by_key_diff() {
    let specs = MoodleKind::streams();
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["courses", "users", "enrollments"]);
    for s in specs {
        assert_eq!(s.modes, vec![SyncMode::FullRefresh]);
        assert_eq!(s.delete_strategy, DeleteStrategy::KeyDiff);
    }
}
