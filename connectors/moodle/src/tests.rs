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

#[test]
fn the_example_config_section_builds() {
    let example = include_str!("../../../tributary.example.toml");
    let start = example
        .find("# [connectors.moodle-prod]")
        .expect("a moodle section in tributary.example.toml");
    let section: String = example[start..]
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| !l.trim_start().starts_with("kind = \"moodle\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let section = section.replace("{ env = \"MOODLE_TOKEN\" }", "\"t\"");
    let doc: toml::Table = toml::from_str(&section).expect("the section parses");
    let settings = doc["connectors"]["moodle-prod"].clone();
    let settings = serde_json::to_value(settings).expect("json");
    let connector = build(settings).expect("every documented key is accepted");
    assert_eq!(connector.kind(), "moodle");
}
