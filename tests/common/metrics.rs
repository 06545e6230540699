//! A strict-enough reader of the OpenMetrics text `/metrics` serves, to prove it is valid and
//! to look series up.

use std::collections::BTreeMap;

/// One sample: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses an exposition; panics naming the first line that breaks the format: each line is
/// `# TYPE|HELP|UNIT <family> …`, a sample of a family typed before it, or the final `# EOF`.
pub fn parse(text: &str) -> Vec<Sample> {
    let mut families: BTreeMap<&str, &str> = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "ends with # EOF");
    let mut samples = Vec::new();
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap_or_default();
            let family = parts.next().unwrap_or_default();
            assert!(is_name(family), "{line:?}");
            match kind {
                "TYPE" => {
                    let ty = parts.next().unwrap_or_default();
                    assert!(
                        ["counter", "gauge", "histogram", "info"].contains(&ty),
                        "{line:?}"
                    );
                    assert!(families.insert(family, ty).is_none(), "{line:?} twice");
                }
                "HELP" | "UNIT" => {}
                _ => panic!("{line:?}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample value");
        let value = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("{line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let mut rest = rest.strip_suffix('}').expect("labels close");
                let mut labels = BTreeMap::new();
                while !rest.is_empty() {
                    let (key, after) = rest.split_once("=\"").expect("label=\"value\"");
                    assert!(is_name(key), "{line:?}");
                    let mut value = String::new();
                    let mut end = None;
                    let mut chars = after.char_indices();
                    while let Some((i, c)) = chars.next() {
                        match c {
                            '\\' => match chars.next().map(|(_, c)| c) {
                                Some('n') => value.push('\n'),
                                Some(c @ ('\\' | '"')) => value.push(c),
                                _ => panic!("bad escape in {line:?}"),
                            },
                            '"' => {
                                end = Some(i);
                                break;
                            }
                            c => value.push(c),
                        }
                    }
                    let end = end.expect("label value closes");
                    labels.insert(key.to_owned(), value);
                    rest = &after[end + 1..];
                    rest = rest.strip_prefix(',').unwrap_or(rest);
                }
                (name, labels)
            }
        };
        let family = ["_total", "_bucket", "_sum", "_count", "_info"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| families.contains_key(f)))
            .unwrap_or(name);
        assert!(families.contains_key(family), "{name} has no TYPE");
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

/// The value of the one sample `name` with exactly `labels`.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let found: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == name && s.labels == want)
        .map(|s| s.value)
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} twice");
    found.first().copied()
}
